import type { ExplorerSettings } from './explorer.js';

/* Messages between the explorer page and its Web Worker, which runs the engine off the UI thread. */

export interface TrainSettings {
  optimiser: 'gd' | 'adam';
  lr: number;
  epochs: number;
  loss: 'mse' | 'cross-entropy';
}

export type Request =
  | { id: number; type: 'kernel'; settings: ExplorerSettings }
  | { id: number; type: 'sweep'; settings: ExplorerSettings; widths: number[]; seeds: number }
  | { id: number; type: 'train'; settings: ExplorerSettings; train: TrainSettings }
  | { id: number; type: 'export' };

/** A kernel ready to draw: [rows, cols] row-major, with what made it. */
export interface KernelResult {
  kernel: Float32Array;
  rows: number;
  /** The analytic NTK∞ in the same output mode, where a closed form exists. */
  analytic: Float32Array | null;
  analyticWhat: string | null;
  /** ‖Θ − Θ∞‖_F / ‖Θ∞‖_F. */
  relativeDifference: number | null;
  seconds: number;
  implementation: string;
  parameters: number;
}

export interface SweepPoint {
  width: number;
  /** Mean and standard error over the networks of ‖Θ_s − Θ∞‖_F / ‖Θ∞‖_F. */
  error: number;
  stderr: number;
  /** Relative error of the Monte-Carlo mean of the networks' kernels. */
  meanKernelError: number;
}

export interface TrainPoint {
  epoch: number;
  loss: number;
  relativeChange: number;
  alignment: number;
  topEigenvalues: number[];
  kernel: Float32Array;
  rows: number;
}

export type Reply =
  | { id: number; type: 'ready'; backend: string; engine: string; digits: number; webgl: string | null }
  | { id: number; type: 'progress'; label: string; done: number; total: number }
  | { id: number; type: 'kernel'; result: KernelResult }
  | { id: number; type: 'sweep-point'; point: SweepPoint }
  | { id: number; type: 'sweep'; points: SweepPoint[]; slope: number | null }
  | { id: number; type: 'train-point'; point: TrainPoint }
  | { id: number; type: 'train'; seconds: number }
  | { id: number; type: 'export'; npy: Uint8Array; params: string; metadata: string }
  | { id: number; type: 'error'; message: string };
