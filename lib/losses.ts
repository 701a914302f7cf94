import * as tf from '@tensorflow/tfjs-core';

export const LOSSES = ['cross-entropy', 'mse'] as const;
export type LossName = (typeof LOSSES)[number];

/**
 * Mean softmax cross-entropy −(1/n) Σ_i Σ_k y_ik log softmax(f_i)_k of logits f [n, K] against targets
 * y [n, K] (one-hot or probabilities), through logSoftmax so that large logits do not overflow.
 */
export function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.div(tf.sum(tf.mul(y, tf.logSoftmax(logits))), logits.shape[0])) as tf.Scalar;
}

/** Mean squared error (1/2n) Σ_i ‖f_i − y_i‖² (the ½ makes its gradient flow the NTK dynamics of seeds/001). */
export function meanSquaredError(f: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.div(tf.sum(tf.square(tf.sub(f, y))), 2 * f.shape[0]) as tf.Scalar;
}

export function lossFunction(name: LossName): (f: tf.Tensor2D, y: tf.Tensor2D) => tf.Scalar {
  return name === 'mse' ? meanSquaredError : crossEntropy;
}
