import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import { NormalRng } from '../lib/rng.js';
import type { DenseRecord, Model, TappedForward } from './model.js';
import type { Param, ParamSpec } from './params.js';

export type Activation = 'relu' | 'erf' | 'tanh' | 'identity';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'erf', 'tanh', 'identity'];
export type Parameterization = 'ntk' | 'standard';

/** Configuration of a fully-connected network; this object is stored verbatim in params files. */
export interface MlpConfig {
  model: 'mlp';
  /** [n0 (input), n1, ..., nL (hidden), K (outputs)]. */
  widths: number[];
  activation: Activation;
  parameterization: Parameterization;
  wStd: number;
  bStd: number;
  bias: boolean;
}

export const DEFAULT_MLP: Omit<MlpConfig, 'widths'> = {
  model: 'mlp',
  activation: 'relu',
  parameterization: 'ntk',
  wStd: Math.SQRT2,
  bStd: 0.1,
  bias: true,
};

/** Validate an MLP config; every problem is a UserError naming the flag. */
export function checkMlpConfig(c: MlpConfig): MlpConfig {
  if (!Array.isArray(c.widths) || c.widths.length < 2 || !c.widths.every((w) => Number.isInteger(w) && w >= 1)) {
    throw new UserError(`--widths: expected at least two positive integers (input,...,outputs), e.g. 784,100,10; got ${JSON.stringify(c.widths)}`);
  }
  if (!ACTIVATIONS.includes(c.activation)) throw new UserError(`--activation: expected one of ${ACTIVATIONS.join(', ')}; got '${c.activation}'`);
  if (c.parameterization !== 'ntk' && c.parameterization !== 'standard') {
    throw new UserError(`--parameterization: expected ntk or standard; got '${c.parameterization}'`);
  }
  if (!(Number.isFinite(c.wStd) && c.wStd > 0)) throw new UserError(`--w-std: expected a positive number; got ${c.wStd}`);
  if (!(Number.isFinite(c.bStd) && c.bStd >= 0)) throw new UserError(`--b-std: expected a non-negative number; got ${c.bStd}`);
  return c;
}

export function activate(a: Activation, z: tf.Tensor): tf.Tensor {
  switch (a) {
    case 'relu': return tf.relu(z);
    case 'erf': return tf.erf(z);
    case 'tanh': return tf.tanh(z);
    case 'identity': return z;
  }
}

/**
 * Fully-connected network. Dense layer l (l = 0..L, L hidden layers) computes
 *   z_l = wScale_l · (a_l W_l) + bScale_l · b_l,   a_0 = x,  a_{l+1} = φ(z_l),  f(x) = z_L,
 * with W_l [n_l, n_{l+1}], b_l [n_{l+1}]. NTK parameterisation (Jacot et al.): W, b ~ N(0, 1),
 * wScale = σ_w/√n_l, bScale = σ_b. Standard parameterisation: W ~ N(0, σ_w²/n_l), b ~ N(0, σ_b²),
 * wScale = bScale = 1. Both give the same function distribution at init; their NTKs differ.
 */
export class Mlp implements Model {
  readonly config: MlpConfig;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramSpecs: ParamSpec[];

  constructor(config: MlpConfig) {
    this.config = checkMlpConfig({ ...config });
    const w = this.config.widths;
    this.inputSize = w[0];
    this.outputSize = w[w.length - 1];
    this.paramSpecs = [];
    for (let l = 0; l + 1 < w.length; l++) {
      this.paramSpecs.push({ name: `dense_${l}/kernel`, shape: [w[l], w[l + 1]] });
      if (this.config.bias) this.paramSpecs.push({ name: `dense_${l}/bias`, shape: [w[l + 1]] });
    }
  }

  get depth(): number {
    return this.config.widths.length - 2;
  }

  /** wScale and bScale of layer l (see the class comment). */
  scales(l: number): { wScale: number; bScale: number } {
    const c = this.config;
    if (c.parameterization === 'standard') return { wScale: 1, bScale: c.bias ? 1 : 0 };
    return { wScale: c.wStd / Math.sqrt(c.widths[l]), bScale: c.bias ? c.bStd : 0 };
  }

  init(seed: string | number): Param[] {
    const rng = new NormalRng(seed);
    const c = this.config;
    return this.paramSpecs.map((s) => {
      const size = s.shape.reduce((a, b) => a * b, 1);
      const isKernel = s.name.endsWith('/kernel');
      let std = 1;
      if (c.parameterization === 'standard') std = isKernel ? c.wStd / Math.sqrt(s.shape[0]) : c.bStd;
      return { name: s.name, shape: s.shape, values: rng.normals(size, std) };
    });
  }

  apply(params: tf.Tensor[], x: tf.Tensor2D): tf.Tensor2D {
    return this.applyTapped(params, x, null).out;
  }

  tapShapes(n: number): number[][] {
    return this.config.widths.slice(1).map((w) => [n, w]);
  }

  applyTapped(params: tf.Tensor[], x: tf.Tensor2D, taps: tf.Tensor[] | null): TappedForward {
    const c = this.config;
    const layers = c.widths.length - 1;
    const dense: DenseRecord[] = [];
    let a: tf.Tensor2D = x;
    let h: tf.Tensor2D = x;
    let p = 0;
    for (let l = 0; l < layers; l++) {
      const { wScale, bScale } = this.scales(l);
      const W = params[p++] as tf.Tensor2D;
      dense.push({ input: a, wScale, bScale });
      let z: tf.Tensor2D = tf.mul(tf.matMul(a, W), wScale);
      if (c.bias) z = tf.add(z, tf.mul(params[p++], bScale));
      if (taps) z = tf.add(z, taps[l]);
      if (l + 1 < layers) {
        h = activate(c.activation, z) as tf.Tensor2D;
        a = h;
      } else {
        const ckScale = c.wStd / Math.sqrt(c.widths[l]);
        return { out: z, dense, ck: { features: h, scale: ckScale, offset: c.bias ? c.bStd : 0 } };
      }
    }
    throw new Error('unreachable: an MLP has at least one layer');
  }
}
