import { UserError } from '../lib/errors.js';
import { type VectorSamples, vectors } from '../lib/samples.js';
import { type ModelFlags, modelFromFlags } from '../models/registry.js';
import type { Model } from '../models/model.js';
import type { OutputMode } from '../jacobian/kernel-types.js';

/*
 * The explorer's settings and how they become a model and data: shared by the page's Web Worker and the Node
 * side of the browser test, so both build the same network from the same settings (through the CLI's
 * modelFromFlags, whose UserErrors the page shows as messages).
 */

export type Architecture = 'mlp' | 'cnn' | 'resnet';
export type DataName = 'mnist' | 'circle';

export interface ExplorerSettings {
  architecture: Architecture;
  data: DataName;
  /** Samples (digits or points on the circle). */
  n: number;
  /** Hidden layers of the MLP; residual branches of the residual MLP (ignored by the CNN). */
  depth: number;
  /** Hidden width (MLP, residual MLP) or channels of both convolutions (the seed CNN). */
  width: number;
  activation: string;
  parameterization: string;
  mode: OutputMode;
  seed: number;
}

export const DEFAULT_SETTINGS: ExplorerSettings = {
  architecture: 'mlp', data: 'mnist', n: 20, depth: 3, width: 100, activation: 'relu', parameterization: 'ntk', mode: 'full', seed: 0,
};

/** The digits shipped with the page: N × 784 grey levels in [0, 1] and their labels (loadMnist's first N). */
export interface Digits {
  x: Float32Array;
  labels: Int32Array;
  n: number;
}

/** Data with integer labels (MNIST digits; on the circle, the sign of seeds/001's target sin 2γ + cos γ). */
export interface LabelledData {
  x: VectorSamples;
  labels: Int32Array;
  classes: number;
}

/**
 * n points x = (cos γ, sin γ) at equally spaced angles γ = 2πi/n (the inputs of seeds/001), labelled 1 where
 * sin 2γ + cos γ ≥ 0, else 0.
 */
export function circleData(n: number): LabelledData {
  const x = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (2 * Math.PI * i) / n;
    x[2 * i] = Math.cos(g);
    x[2 * i + 1] = Math.sin(g);
    labels[i] = Math.sin(2 * g) + Math.cos(g) >= 0 ? 1 : 0;
  }
  return { x: vectors(x, n, [2]), labels, classes: 2 };
}

/** Check the settings and build the data (the first n shipped digits, or n points on the circle). */
export function explorerData(s: ExplorerSettings, digits: Digits | null): LabelledData {
  if (!(Number.isInteger(s.n) && s.n >= 2)) throw new UserError(`samples: expected an integer ≥ 2; got ${s.n}`);
  if (s.data === 'circle') return circleData(s.n);
  if (s.data !== 'mnist') throw new UserError(`data: expected mnist or circle; got '${s.data}'`);
  if (!digits) throw new UserError('data: the MNIST digits are not loaded');
  if (s.n > digits.n) throw new UserError(`samples: the page ships ${digits.n} digits; got ${s.n}`);
  return { x: vectors(digits.x.slice(0, s.n * 784), s.n, [784]), labels: digits.labels.slice(0, s.n), classes: 10 };
}

/** The CLI flags of the settings' network for inputs of `inputSize` features and `classes` outputs. */
export function explorerFlags(s: ExplorerSettings, inputSize: number, classes: number, width = s.width): ModelFlags {
  if (!(Number.isInteger(width) && width >= 1)) throw new UserError(`width: expected a positive integer; got ${width}`);
  if (!(Number.isInteger(s.depth) && s.depth >= 1)) throw new UserError(`depth: expected a positive integer; got ${s.depth}`);
  const common = { activation: s.activation, parameterization: s.parameterization };
  if (s.architecture === 'mlp') return { model: 'mlp', ...common, widths: [inputSize, ...new Array(s.depth).fill(width), classes] };
  if (s.architecture === 'resnet') return { model: 'resnet', ...common, variant: 'mlp', inputSize, width, branches: s.depth, k: classes };
  if (s.architecture === 'cnn') {
    if (inputSize !== 784) throw new UserError(`the seed CNN takes 28×28 images (MNIST); the ${s.data} data have ${inputSize} features`);
    return { model: 'cnn', ...common, preset: 'seed-cnn', channels: `${width},${width}` };
  }
  throw new UserError(`architecture: expected mlp, cnn or resnet; got '${String(s.architecture)}'`);
}

/** The settings' model for the given data (at `width`, for the width sweep). */
export function explorerModel(s: ExplorerSettings, d: LabelledData, width = s.width): Model {
  const m = modelFromFlags(explorerFlags(s, d.x.sampleShape[0], d.classes, width), d.x);
  if (m.outputSize !== d.classes) throw new UserError(`the network has ${m.outputSize} outputs for ${d.classes} classes`);
  return m;
}
