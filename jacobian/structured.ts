import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/backend.js';
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

/**
 * One kernel tile from dense-layer features, by the per-layer rule
 *   Θ[(i,k),(j,k')] = Σ_l (wScale_l² a_l(x_i)·a_l(x_j) + bScale_l²) · g_l(x_i,k)·g_l(x_j,k'),
 * i over rows [r0, r0+nr) of f1, j over rows [c0, c0+nc) of f2. Products are tf.matMul on pre-transposed
 * operands; the Hadamard combination runs in a JS loop into one output array (cheaper on wasm than a chain
 * of broadcast tfjs ops, each of which allocates a tile-sized tensor). trace uses one product per layer with
 * the cotangents flattened to [n, K·fanOut] (Σ_k g_ik·g_jk), K× fewer FLOPs than full.
 */
export function structuredTile(
  f1: DenseFeatures[], r0: number, nr: number, f2: DenseFeatures[], c0: number, nc: number, K: number, mode: OutputMode,
): Float32Array {
  const size = mode === 'full' ? nr * K * nc * K : mode === 'trace' ? nr * nc : nr * nc * K;
  const out = new Float32Array(size);
  for (let l = 0; l < f1.length; l++) {
    const L1 = f1[l];
    const L2 = f2[l];
    const w2 = L1.wScale * L1.wScale;
    const b2 = L1.bScale * L1.bScale;
    const m = L1.fanOut;
    const A = scoped(() => tf.matMul(rowsOf(L1.input, r0, nr, L1.fanIn), tf.transpose(rowsOf(L2.input, c0, nc, L2.fanIn))).dataSync() as Float32Array);
    if (mode === 'full') {
      const G = scoped(() => tf.matMul(rowsOf(L1.cot, r0 * K, nr * K, m), tf.transpose(rowsOf(L2.cot, c0 * K, nc * K, m))).dataSync() as Float32Array);
      const ld = nc * K;
      for (let i = 0; i < nr; i++) {
        for (let k = 0; k < K; k++) {
          const row = (i * K + k) * ld;
          for (let j = 0; j < nc; j++) {
            const s = w2 * A[i * nc + j] + b2;
            const o = row + j * K;
            for (let kk = 0; kk < K; kk++) out[o + kk] += s * G[o + kk];
          }
        }
      }
    } else if (mode === 'trace') {
      const G = scoped(() => tf.matMul(rowsOf(L1.cot, r0, nr, K * m), tf.transpose(rowsOf(L2.cot, c0, nc, K * m))).dataSync() as Float32Array);
      for (let t = 0; t < nr * nc; t++) out[t] += ((w2 * A[t] + b2) * G[t]) / K;
    } else {
      for (let k = 0; k < K; k++) {
        const G = scoped(() => {
          const pick = (a: Float32Array, s0: number, ns: number) => {
            const buf = new Float32Array(ns * m);
            for (let i = 0; i < ns; i++) buf.set(a.subarray(((s0 + i) * K + k) * m, ((s0 + i) * K + k + 1) * m), i * m);
            return tf.tensor2d(buf, [ns, m]);
          };
          return tf.matMul(pick(L1.cot, r0, nr), tf.transpose(pick(L2.cot, c0, nc))).dataSync() as Float32Array;
        });
        for (let t = 0; t < nr * nc; t++) out[t * K + k] += (w2 * A[t] + b2) * G[t];
      }
    }
  }
  return out;
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
