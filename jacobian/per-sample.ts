import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/backend.js';
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
 * The second operand is transposed explicitly before tf.matMul because the wasm backend's matMul with
 * transposeB is ~10× slower than on a pre-transposed operand.
 */
export function contractJacobians(
  J1: Float32Array, n1: number, J2: Float32Array, n2: number, K: number, P: number,
  mode: 'full' | 'trace' | 'diagonal',
): Float32Array {
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
