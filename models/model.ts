import * as tf from '@tensorflow/tfjs-core';
import type { Param, ParamSpec } from './params.js';

/**
 * What the structured NTK path needs of one dense layer z = wScale·(a W) + bScale·b (+ tap): the layer's
 * input a [N, fanIn] and the two scales. The contribution of the layer to the NTK between samples i, j and
 * outputs k, k' is (wScale²·a_i·a_j + bScale²)·(g_ik·g_jk'), g = ∂f/∂z the output cotangent.
 */
export interface DenseRecord {
  input: tf.Tensor2D;
  wScale: number;
  /** 0 when the layer has no bias. */
  bScale: number;
}

/** Result of a tapped forward pass. */
export interface TappedForward {
  /** Network outputs [N, K]. */
  out: tf.Tensor2D;
  /** One record per dense layer, in forward order, matching the taps. */
  dense: DenseRecord[];
  /**
   * Conjugate-kernel features: CK(x, x') = ckScale²·h(x)·h(x') + ckOffset², h the last hidden layer [N, n_L].
   */
  ck: { features: tf.Tensor2D; scale: number; offset: number };
}

/**
 * A network as pure functions of its parameters (a flat ordered list of named tensors): the neural-tangents
 * "init/apply" idea. `applyTapped` exposes what the structured kernel rules need, without knowing about kernels.
 */
export interface Model {
  readonly config: { model: string };
  /** Per-sample input size (flattened). */
  readonly inputSize: number;
  /** Number of outputs K. */
  readonly outputSize: number;
  readonly paramSpecs: ParamSpec[];
  /** Seeded initialisation: the same seed gives the same values bit for bit. */
  init(seed: string | number): Param[];
  /** f(params, x): [N, inputSize] → [N, K]. */
  apply(params: tf.Tensor[], x: tf.Tensor2D): tf.Tensor2D;
  /** Shapes of the taps for a batch of n samples: one per dense layer, the shape of its output. */
  tapShapes(n: number): number[][];
  /** Forward pass that adds taps[l] to dense layer l's output (null: no taps) and records layer inputs. */
  applyTapped(params: tf.Tensor[], x: tf.Tensor2D, taps: tf.Tensor[] | null): TappedForward;
}
