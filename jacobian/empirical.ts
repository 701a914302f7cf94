import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/tensors.js';
import { UserError } from '../lib/errors.js';
import { noProgress, type ProgressFactory } from '../lib/progress.js';
import type { Model } from '../models/model.js';
import { type Param, paramCount, paramTensors } from '../models/params.js';
import { type Implementation, type Kernel, type KernelKind, type OutputMode, kernelShape, kernelSize, mirrorTile, placeTile, type TileSink } from './kernel-types.js';
import { contractJacobians, perSampleJacobians } from './per-sample.js';
import { type LayerRule, type StageTiming, type TileFeatures, chooseRules, ckFeatures, disposeTileFeatures, layerShapes, newTiming, stageClock, structuredCoverage, structuredTile, tileFeatures } from './structured.js';
import { type Samples, sliceSamples } from '../lib/samples.js';

export interface KernelOptions {
  kind?: KernelKind;
  mode?: OutputMode;
  implementation?: Implementation;
  /** Samples per tile (rows and columns). Default: chosen from the memory each path needs. */
  tile?: number;
  /** Structured path: use this rule for every layer instead of the cheaper one per layer (for tests and studies). */
  rule?: LayerRule;
  progress?: ProgressFactory;
  /**
   * Stream finished tiles here instead of filling an in-memory kernel (out-of-core output, shards); the
   * returned kernel's data is then empty. Mirrored blocks of a symmetric kernel are the sink's to write.
   */
  sink?: TileSink;
  /** Compute only the tile pairs p with p mod count = index (in planKernel's order): one shard of many. */
  shard?: { index: number; count: number };
  /**
   * planKernel's plan for these same samples and options, when the caller already made it (planning runs a probe
   * forward pass for the coverage check; the kernel command plans once to choose its threads).
   */
  plan?: KernelPlan;
}

/** What was actually done, for the metadata. */
export interface KernelInfo {
  implementation: 'jacobian' | 'structured' | 'features';
  tile: number;
  tiles: number;
  symmetric: boolean;
  /** Rule of each linear layer (structured path). */
  rules?: LayerRule[];
  /** Seconds per stage (structured path): features, products (matMul), combine (fused Hadamard sum), mirror;
   * with workers, features, products and combine are summed over the threads (features overlap products). */
  timing: StageTiming;
  /** Worker threads used (1: the calling thread). */
  workers?: number;
  /** Why `auto` did not take the structured path although the model has layer records (else absent). */
  notice?: string;
}

/** Bytes a tile may use for its largest intermediate, used for the default tile size. */
const TILE_BUDGET_FLOATS = 40e6;

/**
 * Resolve `auto`: the structured per-layer rule needs O(Σ_l (n·K)²·fanOut_l) FLOPs against
 * O(n·K·(backward pass) + (n·K)²·P) for per-sample Jacobians, so it wins whenever the model exposes its dense
 * layers (every built-in model does); the Jacobian path stays the oracle.
 */
export function resolveImplementation(impl: Implementation, model: Model): 'jacobian' | 'structured' {
  if (impl === 'jacobian' || impl === 'structured') return impl;
  if (impl !== 'auto') throw new UserError(`--implementation: expected auto, jacobian or structured; got '${impl}'`);
  return typeof model.applyTapped === 'function' ? 'structured' : 'jacobian';
}

/**
 * The implementation a kernel of `model` on `probe`'s kind of samples really uses: `resolveImplementation`,
 * then the coverage check of the structured rules (structuredCoverage). Under `auto` a model whose records
 * miss a parameter steps aside for the Jacobian path with a notice; asked for `structured` explicitly, it is
 * a UserError. Never a kernel that silently drops parameters.
 */
export function settleImplementation(impl: Implementation, model: Model, probe: Samples): { impl: 'jacobian' | 'structured'; notice?: string } {
  const r = resolveImplementation(impl, model);
  if (r === 'jacobian') return { impl: r };
  const problem = structuredCoverage(model, sliceSamples(probe, 0, Math.min(1, probe.n)));
  if (problem === null) return { impl: r };
  if (impl === 'structured') throw new UserError(`--implementation structured: ${problem}; use --implementation jacobian or auto`);
  return { impl: 'jacobian', notice: `structured rules step aside (${problem}): the kernel is computed from per-sample Jacobians` };
}

/**
 * Default tile: for the Jacobian path, the largest tile whose Jacobian [tile, K, P] stays within budget; for
 * the structured path, tiles of the output block [tile·K, tile·K] within budget. For a symmetric kernel
 * (x2 = x1) about four tiles per side, so that the mirrored lower triangle saves work.
 */
export function defaultTile(impl: 'jacobian' | 'structured', n: number, K: number, P: number, symmetric: boolean): number {
  const cap = impl === 'jacobian' ? Math.floor(TILE_BUDGET_FLOATS / (K * P)) : Math.floor(Math.sqrt(TILE_BUDGET_FLOATS) / K);
  let t = Math.max(1, Math.min(n, cap));
  // Measured on wasm for N = 500, K = 10: 4 tiles per side (10 of 16 blocks computed) beat 2 (3 of 4) and 1;
  // blocks below ~1000 rows lose more to matMul efficiency than the mirror saves.
  if (symmetric && impl === 'structured') t = Math.min(t, Math.max(Math.ceil(n / 4), Math.ceil(1000 / K)));
  return t;
}

/**
 * Empirical kernel of `model` at `params` between inputs x1 and x2 (x2 omitted: x1 with itself, computed on
 * the upper triangle of tiles and mirrored).
 * kind 'ntk': Θ(x, x')[k, k'] = Σ_p ∂f_k(x)/∂θ_p ∂f_k'(x')/∂θ_p, by the structured per-layer rule or by
 * contracting per-sample Jacobians [n, K, P]. kind 'nngp': the conjugate kernel
 * CK(x, x') = σ_w²/n_L h(x)·h(x') + σ_b² of the last hidden layer h, per output (full = CK ⊗ I_K).
 * Output modes as in `Kernel`. Memory is bounded by the tile size: only [tile·K, tile·K] blocks and
 * per-sample layer features (structured) or one Jacobian tile per side (jacobian) are held besides the output.
 */
/** What every kernel computation settles first: checked inputs, implementation, tiles and tile pairs. */
export interface KernelPlan {
  mode: OutputMode;
  K: number;
  symmetric: boolean;
  /** x2, or x1 for a kernel of x1 with itself. */
  b: Samples;
  impl: 'jacobian' | 'structured';
  tile: number;
  rowTiles: number;
  colTiles: number;
  /** Tile pairs (row, column) to compute: the upper triangle when symmetric. */
  pairs: [number, number][];
  /** Set when the structured path stepped aside (see settleImplementation). */
  notice?: string;
}

export function planKernel(model: Model, x1: Samples, x2: Samples | null, opts: KernelOptions): KernelPlan {
  const kind = opts.kind ?? 'ntk';
  const mode = opts.mode ?? 'full';
  const K = model.outputSize;
  const symmetric = x2 === null;
  const b = x2 ?? x1;
  model.checkSamples(x1, 'x1');
  model.checkSamples(b, 'x2');
  const P = paramCount(model.paramSpecs);
  const settled = kind === 'nngp' || x1.n === 0 ? { impl: 'structured' as const } : settleImplementation(opts.implementation ?? 'auto', model, x1);
  const impl = kind === 'nngp' || x1.n > 0 ? settled.impl : resolveImplementation(opts.implementation ?? 'auto', model);
  const tile = opts.tile ?? defaultTile(impl, Math.max(x1.n, b.n), K, P, symmetric);
  if (!(Number.isInteger(tile) && tile >= 1)) throw new UserError(`--tile: expected a positive integer; got ${tile}`);
  const rowTiles = Math.ceil(x1.n / tile);
  const colTiles = Math.ceil(b.n / tile);
  const pairs: [number, number][] = [];
  for (let r = 0; r < rowTiles; r++) for (let c = symmetric ? r : 0; c < colTiles; c++) pairs.push([r, c]);
  return { mode, K, symmetric, b, impl, tile, rowTiles, colTiles, pairs, notice: settled.notice };
}

/**
 * Rule of each linear layer: `rule` for all when given, else the cheaper per layer for tiles of `tile`
 * samples, with the rows per sample read off a tapped forward pass of a few samples (a whole tile would cost
 * one more forward pass of the block).
 */
export function planRules(model: Model, ps: tf.Tensor[], x1: Samples, tile: number, rule?: LayerRule): LayerRule[] {
  const shapes = layerShapes(model, ps, sliceSamples(x1, 0, Math.min(tile, x1.n, 8)));
  return rule ? shapes.map(() => rule) : chooseRules(shapes, Math.min(tile, x1.n), model.outputSize);
}

/** A UserError at the first non-finite kernel entry: no silent NaN leaves the tool. */
export function checkFiniteKernel(out: Float32Array, kind: string): void {
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new UserError(`the ${kind} kernel has a non-finite entry (${out[i]}) at flat index ${i}: inputs or parameters overflow float32`);
  }
}

export function empiricalKernel(model: Model, params: Param[], x1: Samples, x2: Samples | null, opts: KernelOptions = {}): { kernel: Kernel; info: KernelInfo } {
  const kind = opts.kind ?? 'ntk';
  const plan = opts.plan ?? planKernel(model, x1, x2, opts);
  const { mode, K, symmetric, b, impl, tile } = plan;
  const sink = opts.sink;
  const pairs = opts.shard ? plan.pairs.filter((_, p) => p % opts.shard!.count === opts.shard!.index) : plan.pairs;
  const out = new Float32Array(sink ? 0 : kernelSize(mode, x1.n, b.n, K));
  const emit = (data: Float32Array, r0: number, nr: number, c0: number, nc: number, mirror: boolean) => {
    if (sink) {
      checkFiniteKernel(data, kind);
      sink(data, r0, nr, c0, nc, mirror);
    } else placeTile(out, mode, b.n, K, data, r0, nr, c0, nc, mirror);
  };
  const bar = (opts.progress ?? noProgress)(`${kind} kernel [${impl}]`, pairs.length);
  const ps = paramTensors(params);
  const timing = newTiming();
  let rules: LayerRule[] | undefined;
  const part = (s: Samples, t: number) => sliceSamples(s, t * tile, Math.min(tile, s.n - t * tile));
  try {
    if (kind === 'nngp') {
      const ck1 = ckFeatures(model, ps, x1);
      const ck2 = symmetric ? ck1 : ckFeatures(model, ps, b);
      pairs.forEach(([r, c], t) => {
        const r0 = r * tile, nr = Math.min(tile, x1.n - r0), c0 = c * tile, nc = Math.min(tile, b.n - c0);
        const ck = scoped(() => {
          const h1 = tf.tensor2d(ck1.h.subarray(r0 * ck1.width, (r0 + nr) * ck1.width), [nr, ck1.width]);
          const h2T = tf.transpose(tf.tensor2d(ck2.h.subarray(c0 * ck2.width, (c0 + nc) * ck2.width), [nc, ck2.width]));
          return tf.add(tf.mul(tf.matMul(h1, h2T), ck1.scale * ck1.scale), ck1.offset * ck1.offset).dataSync() as Float32Array;
        });
        emit(expandPerOutput(ck, nr, nc, K, mode), r0, nr, c0, nc, symmetric && r !== c);
        bar.update(t + 1);
      });
    } else if (impl === 'structured') {
      const clock = stageClock(timing);
      rules = planRules(model, ps, x1, tile, opts.rule);
      const feats = (s: Samples): TileFeatures[] =>
        Array.from({ length: Math.ceil(s.n / tile) }, (_, t) => tileFeatures(model, ps, part(s, t), rules!));
      const f1 = feats(x1);
      const f2 = symmetric ? f1 : feats(b);
      clock('features');
      try {
        pairs.forEach(([r, c], t) => {
          if (sink) {
            const buf = new Float32Array(kernelSize(mode, f1[r].n, f2[c].n, K));
            structuredTile(f1[r], f2[c], K, mode, { out: buf, n2: f2[c].n, r0: 0, c0: 0 }, timing);
            emit(buf, r * tile, f1[r].n, c * tile, f2[c].n, symmetric && r !== c);
          } else {
            structuredTile(f1[r], f2[c], K, mode, { out, n2: b.n, r0: r * tile, c0: c * tile }, timing);
            const m0 = performance.now();
            if (symmetric && r !== c) mirrorTile(out, mode, b.n, K, r * tile, f1[r].n, c * tile, f2[c].n);
            timing.mirror += (performance.now() - m0) / 1000;
          }
          // A row block's cached tensors are not needed once its last tile pair is done.
          if (c === plan.colTiles - 1 && !symmetric && !opts.shard) disposeTileFeatures(f1[r]);
          bar.update(t + 1);
        });
      } finally {
        [...f1, ...f2].forEach(disposeTileFeatures);
      }
    } else {
      let cachedRow = -1;
      let J1: Float32Array = new Float32Array(0);
      pairs.forEach(([r, c], t) => {
        const s1 = part(x1, r), s2 = part(b, c);
        if (cachedRow !== r) {
          J1 = perSampleJacobians(model, ps, s1);
          cachedRow = r;
        }
        const J2 = symmetric && r === c ? J1 : perSampleJacobians(model, ps, s2);
        emit(contractJacobians(J1, s1.n, J2, s2.n, K, J1.length / (s1.n * K), mode), r * tile, s1.n, c * tile, s2.n, symmetric && r !== c);
        bar.update(t + 1);
      });
    }
  } finally {
    ps.forEach((p) => p.dispose());
    bar.stop();
  }
  if (!sink) checkFiniteKernel(out, kind);
  return {
    kernel: { data: out, shape: kernelShape(mode, x1.n, b.n, K), mode, kind, n1: x1.n, n2: b.n, K },
    info: { implementation: kind === 'nngp' ? 'features' : impl, tile, tiles: pairs.length, symmetric, rules, timing, notice: plan.notice },
  };
}

/** A per-output kernel [nr, nc] in the given output mode: full = k ⊗ I_K, trace = k, diagonal = k per k. */
export function expandPerOutput(k: ArrayLike<number>, nr: number, nc: number, K: number, mode: OutputMode): Float32Array {
  if (mode === 'trace') return Float32Array.from(k);
  if (mode === 'diagonal') {
    const o = new Float32Array(nr * nc * K);
    for (let t = 0; t < nr * nc; t++) o.fill(k[t], t * K, (t + 1) * K);
    return o;
  }
  const o = new Float32Array(nr * K * nc * K);
  const ld = nc * K;
  for (let i = 0; i < nr; i++) for (let j = 0; j < nc; j++) for (let q = 0; q < K; q++) o[(i * K + q) * ld + j * K + q] = k[i * nc + j];
  return o;
}
