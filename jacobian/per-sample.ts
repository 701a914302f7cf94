import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/backend.js';

/** Any network function f(params, x): [n, d] → [n, K], e.g. `model.apply`. */
export type NetFn = (params: tf.Tensor[], x: tf.Tensor2D) => tf.Tensor2D;

/**
 * Per-sample Jacobians J[i, k, p] = ∂f_k(x_i)/∂θ_p by reverse-mode autodiff (tf.grads), one
 * vector–Jacobian product per (sample, output): this is the generic path that works for any f and is the
 * oracle of every structured rule. θ is the concatenation of the flattened parameter tensors in order.
 * x is [n, d] row-major; returns J as [n, K, P] row-major.
 */
export function perSampleJacobians(f: NetFn, params: tf.Tensor[], x: Float32Array, n: number, d: number, K: number): Float32Array {
  const P = params.reduce((s, p) => s + p.size, 0);
  const J = new Float32Array(n * K * P);
  const eye = tf.eye(K);
  for (let i = 0; i < n; i++) {
    const xi = tf.tensor2d(x.subarray(i * d, (i + 1) * d), [1, d]);
    const g = tf.grads((...ps: tf.Tensor[]) => f(ps, xi));
    for (let k = 0; k < K; k++) {
      scoped(() => {
        const dy = tf.slice(eye, [k, 0], [1, K]);
        const gs = g(params, dy);
        let off = (i * K + k) * P;
        for (const t of gs) {
          J.set(t.dataSync() as Float32Array, off);
          off += t.size;
        }
      });
    }
    xi.dispose();
  }
  eye.dispose();
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
