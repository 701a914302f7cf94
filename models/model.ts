import * as tf from '@tensorflow/tfjs-core';
import type { Samples } from '../lib/samples.js';
import type { Param, ParamSpec } from './params.js';

/**
 * Graph batch: one row per class of equivalent nodes of each graph (graphQuotient; every node its own class when
 * not reduced), the rows of all graphs stacked, and Ā = A + I between classes as weighted edges (the mean and gcn
 * scalings are applied per row through invDeg).
 */
export interface GraphBatch {
  /** Weighted edges between rows, the identity of Ā = A + I included: aggregation is out[dst] = Σ weight·h[src]. */
  src: Int32Array;
  dst: Int32Array;
  weight: Float32Array;
  /** Row offsets: graph g owns rows [segments[g], segments[g+1]). */
  segments: Int32Array;
  /** Nodes each row stands for: the readout Σ_u h_u is Σ_rows size·h. */
  size: Float32Array;
  /** 1/(degree+1) per row [R, 1], for mean aggregation (one value for every node of a class). */
  invDeg: tf.Tensor2D;
}

/** The model's input tensors for n samples. */
export interface Batch {
  n: number;
  /** Vector models: [n, ...sampleShape]; graph models: node features [R, F]. */
  x: tf.Tensor;
  graph?: GraphBatch;
}

/** What every record of a tapped forward pass has (see LinearRecord and ChannelwiseRecord). */
export interface RecordBase {
  /** Rows of sample i: [segments[i], segments[i+1]); null: row i is sample i. */
  segments: Int32Array | null;
  wScale: number;
  /** 0 when the record has no bias / offset. */
  bScale: number;
  /** [R, fanOut]: the shape of the record's output, and of its tap. */
  outShape: [number, number];
  /** The tap added to the output, when the pass created its own zero taps ('zeros'). */
  tap?: tf.Tensor;
  /** Indices in the parameter list of the parameters the record uses (a linear layer: kernel, then bias when it
   * has one; a channelwise record: gain, then offset): what the structured path checks its coverage of θ
   * against. Records without it are checked by parameter count only. */
  params?: number[];
}

/**
 * What the structured NTK rules need of one weight-sharing linear layer z_r = wScale·(a_r W) + bScale·b,
 * applied to every row r of its input: a dense layer has one row per sample; a convolution one row per output
 * position (its input patch); a graph layer one row per node. Rows of sample i are
 * [segments[i], segments[i+1]) (segments null: row i is sample i). The layer's NTK contribution is
 *   Θ_l[(i,k),(j,k')] = Σ_{r∈i, s∈j} (wScale² a_r·a_s + bScale²)·(g_rk·g_sk'),  g_rk = ∂f_k(x_i)/∂z_r.
 */
export interface LinearRecord extends RecordBase {
  input: tf.Tensor2D;
}

/**
 * A parameter used channel by channel (normalisation gains and offsets, depthwise kernels): for every row r of
 * its input (rows of sample i in [segments[i], segments[i+1]), as for LinearRecord)
 *   z_r[c] = wScale·Σ_t u_r[t, c]·γ[t, c] + bScale·β[c],   u [R, T·C] with index t·C + c, γ [T, C], β [C].
 * No rule of the Gram kind exists for it, so its exact per-sample gradients are formed:
 *   ∂f_k(x_i)/∂γ[t, c] = wScale·Σ_{r∈i} g_rk[c]·u_r[t, c],   ∂f_k(x_i)/∂β[c] = bScale·Σ_{r∈i} g_rk[c],
 * g_rk = ∂f_k/∂z_r read through a tap on z, and added to the explicit gradients whose Gram the kernel takes.
 */
export interface ChannelwiseRecord extends RecordBase {
  /** u [R, T·C]; null when the record has no gain (an offset β only). */
  input: tf.Tensor2D | null;
  /** T: 1 for a gain, kh·kw for a depthwise kernel. */
  taps: number;
}

/** Taps of a tapped forward pass: given tensors (one per record, in the order the records were made, linear and
 * channelwise together), zero taps created by the pass, or none. */
export type Taps = tf.Tensor[] | 'zeros' | null;

/** Result of a tapped forward pass. */
export interface TappedForward {
  /** Network outputs [n, K]. */
  out: tf.Tensor2D;
  /** One record per linear layer, in forward order. */
  linear: LinearRecord[];
  /** Parameters used channel by channel (none for the built-in families). */
  channelwise?: ChannelwiseRecord[];
  /** Conjugate-kernel features per sample: CK(x, x') = scale²·h(x)·h(x') + offset² (absent where the network
   * has no such last hidden layer; `--kind nngp` then refuses the model). */
  ck?: { features: tf.Tensor2D; scale: number; offset: number };
}

/**
 * A network as pure functions of its parameters θ (a flat ordered list of named tensors): the neural-tangents
 * "init/apply" idea. `applyTapped` (optional) exposes what the structured kernel rules need (each linear layer's
 * input rows and an additive tap on its output, and the parameters used channel by channel), without knowing
 * about kernels; a model without it is served by the generic per-sample-Jacobian path. The structured path
 * checks that the records cover every parameter of θ exactly once, and otherwise steps aside for that path.
 */
export interface Model {
  readonly config: { model: string };
  /** Number of outputs K. */
  readonly outputSize: number;
  readonly paramSpecs: ParamSpec[];
  /** Seeded initialisation: the same seed gives the same values bit for bit. */
  init(seed: string | number): Param[];
  /** Throw a UserError naming `flag` unless the samples fit the model's input. */
  checkSamples(s: Samples, flag: string): void;
  /** Tensors of the given samples (created in the caller's tfjs scope). */
  batch(s: Samples): Batch;
  /** f(params, x): [n, K]. */
  apply(params: tf.Tensor[], b: Batch): tf.Tensor2D;
  /**
   * The same function computed as a sequence of recorded linear layers; taps[l] (shape outShape of record l)
   * is added to linear layer l's output (null: no taps; 'zeros': each layer creates a zero tap of its output's
   * shape and records it, so that cotangents can be taken without a prior pass to learn the shapes).
   */
  applyTapped?(params: tf.Tensor[], b: Batch, taps: Taps): TappedForward;
}
