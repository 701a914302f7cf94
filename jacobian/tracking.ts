import { type KernelMetrics, kernelMetrics } from '../lib/kernel-metrics.js';
import { meanDiagonal } from '../lib/kernel-regression.js';
import type { Samples } from '../lib/samples.js';
import type { Model } from '../models/model.js';
import type { Param } from '../models/params.js';
import { empiricalKernel } from './empirical.js';
import { hasCkFeatures } from './structured.js';
import { reduceFull } from './kernel-types.js';

/** One tracked step: the NTK (full multi-output) and CK (per output) metrics on the probe set. */
export interface TrackPoint {
  epoch: number;
  ntk: KernelMetrics;
  /** Absent for a model without conjugate-kernel features (fromFunction, layers models). */
  ck?: KernelMetrics;
  /** Mean diagonal of the NTK on the probe set (the kernel's scale; grows during training). */
  ntkMeanDiagonal: number;
}

/**
 * Kernel tracking through training: at each call the empirical NTK (full, [P·K, P·K]) and, where the model has
 * one, the conjugate kernel (empirical NNGP, [P, P]) of the current parameters on a fixed probe set of P samples are computed and compared
 * with those of the first call (normally θ0): kernel distance, relative Frobenius change, norm ratio, effective
 * rank and top eigenvalues of each; centred kernel-target alignment with the probe's one-hot labels [P, K], for
 * the NTK through its trace over outputs Σ_k Θ_kk [P, P] (the per-sample kernel the labels live on).
 */
export class KernelTracker {
  readonly points: TrackPoint[] = [];
  private ntk0: Float32Array | null = null;
  private ck0: Float32Array | null = null;
  private readonly targets: Float64Array;
  /** The NTK of the latest call, [P·K, P·K]. */
  lastNtk: Float32Array | null = null;
  private readonly withCk: boolean;

  constructor(private readonly model: Model, private readonly probe: Samples, labels: ArrayLike<number>, private readonly topK = 5) {
    this.withCk = hasCkFeatures(model, probe);
    const K = model.outputSize;
    this.targets = new Float64Array(probe.n * K);
    for (let i = 0; i < probe.n; i++) this.targets[i * K + labels[i]] = 1;
  }

  record(epoch: number, params: Param[]): TrackPoint {
    const P = this.probe.n, K = this.model.outputSize;
    const ntk = empiricalKernel(this.model, params, this.probe, null, { mode: 'full' }).kernel.data;
    const ck = this.withCk ? empiricalKernel(this.model, params, this.probe, null, { kind: 'nngp', mode: 'trace' }).kernel.data : null;
    this.ntk0 ??= ntk;
    this.lastNtk = ntk;
    if (ck) this.ck0 ??= ck;
    const point: TrackPoint = {
      epoch,
      ntk: kernelMetrics(this.ntk0, ntk, P * K, this.targets, K, this.topK, { K: reduceFull(ntk, P, P, K, 'trace'), n: P }),
      ck: ck ? kernelMetrics(this.ck0!, ck, P, this.targets, K, this.topK) : undefined,
      ntkMeanDiagonal: meanDiagonal(ntk, P * K),
    };
    this.points.push(point);
    return point;
  }
}
