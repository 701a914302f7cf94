import * as tf from '@tensorflow/tfjs-core';
import { scoped, tensorView } from '../lib/backend.js';
import type { Model } from '../models/model.js';
import type { OutputMode } from './kernel-types.js';

/** Per-sample quantities of one dense layer that its NTK contribution is built from. */
export interface DenseFeatures {
  /** Layer input a [n, fanIn]. */
  input: Float32Array;
  fanIn: number;
  /** Output cotangents g[i, k, :] = ∂f_k(x_i)/∂z(x_i), [n, K, fanOut]. */
  cot: Float32Array;
  fanOut: number;
  wScale: number;
  bScale: number;
}

/**
 * Layer inputs and output cotangents of every dense layer for a batch of n samples. The cotangents come
 * from K reverse passes over the whole batch with zero "taps" added to each layer's output: since z(x_i)
 * depends on x_i alone, the gradient of Σ_i f_k(x_i) with respect to the tap row i is exactly the per-sample
 * cotangent ∂f_k(x_i)/∂z(x_i). No [n, K, P] Jacobian is ever formed.
 */
export function denseFeatures(model: Model, params: tf.Tensor[], x: Float32Array, n: number): DenseFeatures[] {
  const K = model.outputSize;
  return scoped(() => {
    const xt = tf.tensor2d(x, [n, model.inputSize]);
    const fw = model.applyTapped(params, xt, null);
    const shapes = model.tapShapes(n);
    const feats: DenseFeatures[] = fw.dense.map((r, l) => ({
      input: r.input.dataSync() as Float32Array,
      fanIn: r.input.shape[1],
      cot: new Float32Array(n * K * shapes[l][1]),
      fanOut: shapes[l][1],
      wScale: r.wScale,
      bScale: r.bScale,
    }));
    const taps = shapes.map((s) => tf.zeros(s));
    const g = tf.grads((...ts: tf.Tensor[]) => model.applyTapped(params, xt, ts).out);
    for (let k = 0; k < K; k++) {
      scoped(() => {
        const sel = new Float32Array(n * K);
        for (let i = 0; i < n; i++) sel[i * K + k] = 1;
        const dy = tf.tensor2d(sel, [n, K]);
        const cots = g(taps, dy);
        cots.forEach((c, l) => {
          const v = c.dataSync();
          const m = feats[l].fanOut;
          const dst = feats[l].cot;
          for (let i = 0; i < n; i++) dst.set(v.subarray(i * m, (i + 1) * m), (i * K + k) * m);
        });
      });
    }
    return feats;
  });
}

/** Rows [r0, r0+nr) of a row-major matrix with `cols` columns, as a tensor. */
const rowsOf = (a: Float32Array, r0: number, nr: number, cols: number) => tf.tensor2d(a.subarray(r0 * cols, (r0 + nr) * cols), [nr, cols]);

/** Rows of output k only, [ns, m], from cotangents laid out [n, K, m]. */
function outputRows(a: Float32Array, s0: number, ns: number, K: number, k: number, m: number): tf.Tensor2D {
  const buf = new Float32Array(ns * m);
  for (let i = 0; i < ns; i++) buf.set(a.subarray(((s0 + i) * K + k) * m, ((s0 + i) * K + k + 1) * m), i * m);
  return tf.tensor2d(buf, [ns, m]);
}

/** a bᵀ with b transposed explicitly: wasm's matMul with transposeB is ~10× slower. */
const gram = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.matMul(a, tf.transpose(b));

/** Seconds spent per stage of a kernel computation, accumulated over tiles. */
export type StageTiming = Record<'features' | 'products' | 'combine' | 'mirror', number>;

export const newTiming = (): StageTiming => ({ features: 0, products: 0, combine: 0, mirror: 0 });

/** A stopwatch that adds the time since its last call to the named stage (a no-op without `timing`). */
export function stageClock(timing?: StageTiming): (stage: keyof StageTiming) => void {
  let last = performance.now();
  return (stage) => {
    const now = performance.now();
    if (timing) timing[stage] += (now - last) / 1000;
    last = now;
  };
}

/** Where a tile goes: the whole output array, its number of column samples, and the tile's first row/column sample. */
export interface TileTarget {
  out: Float32Array;
  n2: number;
  r0: number;
  c0: number;
}

/**
 * One kernel tile from dense-layer features, by the per-layer rule
 *   Θ[(i,k),(j,k')] = Σ_l (wScale_l² a_l(x_i)·a_l(x_j) + bScale_l²) · g_l(x_i,k)·g_l(x_j,k'),
 * i over the nr samples of f1, j over the nc samples of f2, written into `t.out` at sample offsets
 * (t.r0, t.c0) in the layout of the output mode. The products a·a and g·g are tf.matMul; the Hadamard
 * combination of all layers is one fused JS pass over views of the products (each output entry is written
 * once, instead of one broadcast tfjs op per layer, each allocating a tile-sized tensor). trace uses one
 * product per layer with cotangents flattened to [n, K·fanOut] (Σ_k g_ik·g_jk), K× fewer FLOPs than full.
 */
export function structuredTile(f1: DenseFeatures[], nr: number, f2: DenseFeatures[], nc: number, K: number, mode: OutputMode, t: TileTarget, timing?: StageTiming): void {
  const clock = stageClock(timing);
  scoped(() => {
    const L = f1.length;
    const w2 = f1.map((f) => f.wScale * f.wScale);
    const b2 = f1.map((f) => f.bScale * f.bScale);
    const At = f1.map((f, l) => gram(rowsOf(f.input, 0, nr, f.fanIn), rowsOf(f2[l].input, 0, nc, f.fanIn)));
    const s = new Float64Array(L);
    if (mode === 'full') {
      const Gt = f1.map((f, l) => gram(rowsOf(f.cot, 0, nr * K, f.fanOut), rowsOf(f2[l].cot, 0, nc * K, f.fanOut)));
      const A = At.map(tensorView);
      const G = Gt.map(tensorView);
      clock('products');
      const ld = t.n2 * K;
      const gl = nc * K;
      for (let i = 0; i < nr; i++) {
        for (let k = 0; k < K; k++) {
          const orow = (t.r0 * K + i * K + k) * ld + t.c0 * K;
          const grow = (i * K + k) * gl;
          for (let j = 0; j < nc; j++) {
            for (let l = 0; l < L; l++) s[l] = w2[l] * A[l][i * nc + j] + b2[l];
            const o = orow + j * K;
            const g = grow + j * K;
            for (let kk = 0; kk < K; kk++) {
              let v = 0;
              for (let l = 0; l < L; l++) v += s[l] * G[l][g + kk];
              t.out[o + kk] = v;
            }
          }
        }
      }
      clock('combine');
      return;
    }
    if (mode === 'trace') {
      const Gt = f1.map((f, l) => gram(rowsOf(f.cot, 0, nr, K * f.fanOut), rowsOf(f2[l].cot, 0, nc, K * f.fanOut)));
      const A = At.map(tensorView);
      const G = Gt.map(tensorView);
      clock('products');
      for (let i = 0; i < nr; i++) {
        for (let j = 0; j < nc; j++) {
          let v = 0;
          for (let l = 0; l < L; l++) v += (w2[l] * A[l][i * nc + j] + b2[l]) * G[l][i * nc + j];
          t.out[(t.r0 + i) * t.n2 + t.c0 + j] = v / K;
        }
      }
      clock('combine');
      return;
    }
    for (let k = 0; k < K; k++) {
      const Gt = f1.map((f, l) => gram(outputRows(f.cot, 0, nr, K, k, f.fanOut), outputRows(f2[l].cot, 0, nc, K, k, f.fanOut)));
      const A = At.map(tensorView);
      const G = Gt.map(tensorView);
      clock('products');
      for (let i = 0; i < nr; i++) {
        for (let j = 0; j < nc; j++) {
          let v = 0;
          for (let l = 0; l < L; l++) v += (w2[l] * A[l][i * nc + j] + b2[l]) * G[l][i * nc + j];
          t.out[((t.r0 + i) * t.n2 + t.c0 + j) * K + k] = v;
        }
      }
      Gt.forEach((g) => g.dispose());
      clock('combine');
    }
  });
}

/**
 * Conjugate-kernel (empirical NNGP) tile: CK(x_i, x_j) = scale²·h(x_i)·h(x_j) + offset², h the last
 * hidden layer, given as [nr, nc]; the caller expands it to the output mode (full: CK ⊗ I_K).
 */
export function ckFeatures(model: Model, params: tf.Tensor[], x: Float32Array, n: number): { h: Float32Array; width: number; scale: number; offset: number } {
  return scoped(() => {
    const fw = model.applyTapped(params, tf.tensor2d(x, [n, model.inputSize]), null);
    return { h: fw.ck.features.dataSync() as Float32Array, width: fw.ck.features.shape[1], scale: fw.ck.scale, offset: fw.ck.offset };
  });
}
