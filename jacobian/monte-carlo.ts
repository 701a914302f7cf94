import { UserError } from '../lib/errors.js';
import { noProgress, type ProgressFactory } from '../lib/progress.js';
import { derivedSeed } from '../lib/rng.js';
import type { Model } from '../models/model.js';
import type { Samples } from '../lib/samples.js';
import { type KernelInfo, type KernelOptions, empiricalKernel } from './empirical.js';

/** Streaming per-entry mean and variance (Welford 1962), in float64. */
export class Welford {
  readonly mean: Float64Array;
  private readonly m2: Float64Array;
  count = 0;

  constructor(size: number) {
    this.mean = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }

  add(v: ArrayLike<number>): void {
    if (v.length !== this.mean.length) throw new Error(`Welford.add: expected ${this.mean.length} values, got ${v.length}`);
    this.count++;
    const c = this.count;
    const mean = this.mean;
    const m2 = this.m2;
    for (let i = 0; i < mean.length; i++) {
      const d = v[i] - mean[i];
      mean[i] += d / c;
      m2[i] += d * (v[i] - mean[i]);
    }
  }

  /** Standard error of the mean per entry, √(s²/S) with s² the unbiased sample variance; needs S ≥ 2. */
  stderr(): Float64Array {
    const c = this.count;
    if (c < 2) throw new Error('Welford.stderr: needs at least two samples');
    const se = new Float64Array(this.mean.length);
    for (let i = 0; i < se.length; i++) se[i] = Math.sqrt(this.m2[i] / (c - 1) / c);
    return se;
  }
}

/** A snapshot of the running estimate after S networks. */
export interface MonteCarloReport {
  seeds: number;
  mean: Float64Array;
  stderr: Float64Array;
}

export interface MonteCarloOptions extends KernelOptions {
  /** Number of independently initialised networks S (≥ 2). */
  seeds: number;
  /** Base seed; network s uses derivedSeed(seed, s). */
  seed: number;
  /** Also report the estimate after these numbers of networks (each ≤ seeds). */
  reportAt?: number[];
  onReport?: (r: MonteCarloReport) => void;
  /** Progress over the S networks (the per-network bar is switched off). */
  progress?: ProgressFactory;
}

/**
 * Monte-Carlo estimate of the infinite-width kernel: the mean of the empirical kernels of S networks with
 * independent initialisations, E_θ[Θ_θ(x, x')], with the per-entry standard error √(Var/S). Streaming: only
 * the running mean and second moment (float64) and one kernel are held at a time. At every S in `reportAt`
 * (and at the end) a report with the current mean and standard error is passed to `onReport`, the way
 * neural-tangents' monte_carlo_kernel_fn yields estimates for a list of sample counts.
 */
export function monteCarloKernel(model: Model, x1: Samples, x2: Samples | null, opts: MonteCarloOptions): MonteCarloReport & { shape: number[]; info: KernelInfo } {
  const S = opts.seeds;
  if (!(Number.isInteger(S) && S >= 2)) throw new UserError(`--seeds: expected an integer ≥ 2 (the standard error needs two networks); got ${S}`);
  const reportAt = [...new Set(opts.reportAt ?? [])].sort((a, b) => a - b);
  for (const r of reportAt) {
    if (!(Number.isInteger(r) && r >= 2 && r <= S)) throw new UserError(`--report-at: expected integers from 2 to --seeds (${S}); got ${r}`);
  }
  const bar = (opts.progress ?? noProgress)(`Monte-Carlo ${opts.kind ?? 'ntk'} over ${S} networks`, S);
  let acc: Welford | null = null;
  let shape: number[] = [];
  let info: KernelInfo | null = null;
  try {
    for (let s = 0; s < S; s++) {
      const params = model.init(derivedSeed(opts.seed, s));
      const r = empiricalKernel(model, params, x1, x2, { ...opts, progress: noProgress });
      acc ??= new Welford(r.kernel.data.length);
      shape = r.kernel.shape;
      info = r.info;
      acc.add(r.kernel.data);
      if (reportAt.includes(s + 1) && s + 1 < S) opts.onReport?.({ seeds: s + 1, mean: acc.mean.slice(), stderr: acc.stderr() });
      bar.update(s + 1);
    }
  } finally {
    bar.stop();
  }
  const final = { seeds: S, mean: acc!.mean, stderr: acc!.stderr() };
  opts.onReport?.(final);
  return { ...final, shape, info: info! };
}
