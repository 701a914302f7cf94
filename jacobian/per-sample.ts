import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/tensors.js';
import { nativeEngine } from '../lib/matrix-engine.js';
import { type Samples, sliceSamples } from '../lib/samples.js';
import type { Model } from '../models/model.js';

/**
 * Per-sample Jacobians J[i, k, p] = ∂f_k(x_i)/∂θ_p by reverse-mode autodiff (tf.grads), one
 * vector–Jacobian product per (sample, output) through `model.apply`: the generic path that works for any
 * model and is the oracle of every structured rule. θ is the concatenation of the flattened parameter
 * tensors in order. Returns J as [n, K, P] row-major.
 */
export function perSampleJacobians(model: Model, params: tf.Tensor[], s: Samples): Float32Array {
  const K = model.outputSize;
  const n = s.n;
  const P = params.reduce((acc, p) => acc + p.size, 0);
  const J = new Float32Array(n * K * P);
  for (let i = 0; i < n; i++) {
    scoped(() => {
      const b = model.batch(sliceSamples(s, i, 1));
      const g = tf.grads((...ps: tf.Tensor[]) => model.apply(ps, b));
      for (let k = 0; k < K; k++) {
        scoped(() => {
          const sel = new Float32Array(K);
          sel[k] = 1;
          let off = (i * K + k) * P;
          for (const t of g(params, tf.tensor2d(sel, [1, K]))) {
            J.set(t.dataSync() as Float32Array, off);
            off += t.size;
          }
        });
      }
    });
  }
  return J;
}

/**
 * Contract two Jacobian tiles, einsum-style: full = einsum('akp,blp->akbl') reshaped to [n1·K, n2·K];
 * trace = mean_k einsum('akp,bkp->ab') [n1, n2]; diagonal = einsum('akp,bkp->abk') [n1, n2, K].
 * On the native engine each is one A·Bᵀ product per output (full: one of all rows); on tfjs the second operand
 * is transposed explicitly before tf.matMul because the wasm backend's matMul with transposeB is ~10× slower
 * than on a pre-transposed operand.
 */
export function contractJacobians(
  J1: Float32Array, n1: number, J2: Float32Array, n2: number, K: number, P: number,
  mode: 'full' | 'trace' | 'diagonal',
): Float32Array {
  const ne = nativeEngine();
  if (ne) {
    if (mode === 'full') return ne.matMul(J1, J2, n1 * K, P, n2 * K, true);
    const rows = (J: Float32Array, n: number, k: number) => {
      const out = new Float32Array(n * P);
      for (let i = 0; i < n; i++) out.set(J.subarray((i * K + k) * P, (i * K + k + 1) * P), i * P);
      return out;
    };
    const out = new Float32Array(n1 * n2 * (mode === 'trace' ? 1 : K));
    for (let k = 0; k < K; k++) {
      const t = ne.matMul(rows(J1, n1, k), rows(J2, n2, k), n1, P, n2, true);
      if (mode === 'trace') for (let q = 0; q < n1 * n2; q++) out[q] += t[q] / K;
      else for (let q = 0; q < n1 * n2; q++) out[q * K + k] = t[q];
    }
    return out;
  }
  return scoped(() => {
    if (mode === 'full') {
      const a = tf.tensor2d(J1, [n1 * K, P]);
      const bT = tf.transpose(tf.tensor2d(J2, [n2 * K, P]));
      return tf.matMul(a, bT).dataSync() as Float32Array;
    }
    // [n, K, P] → [K, n, P] batched products give Θ[k][i, j] for every k.
    const a = tf.transpose(tf.tensor3d(J1, [n1, K, P]), [1, 0, 2]);
    const bT = tf.transpose(tf.tensor3d(J2, [n2, K, P]), [1, 2, 0]);
    const perK = tf.matMul(a, bT); // [K, n1, n2]
    if (mode === 'trace') return tf.mean(perK, 0).dataSync() as Float32Array;
    return tf.transpose(perK, [1, 2, 0]).dataSync() as Float32Array;
  });
}
