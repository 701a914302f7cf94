import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import { type Samples, sampleSize } from '../lib/samples.js';
import { type Activation, type CommonConfig, Forward, type Parameterization, activate, checkCommon, linearScales, linearSpecs } from './layers.js';
import type { Batch, TappedForward } from './model.js';
import { LayeredModel } from './layered.js';

export { ACTIVATIONS, type Activation, type Parameterization } from './layers.js';

/** Configuration of a fully-connected network; this object is stored verbatim in params files. */
export interface MlpConfig extends CommonConfig {
  model: 'mlp';
  /** [n0 (input), n1, ..., nL (hidden), K (outputs)]. */
  widths: number[];
  activation: Activation;
  parameterization: Parameterization;
}

export const DEFAULT_COMMON: CommonConfig = { activation: 'relu', parameterization: 'ntk', wStd: Math.SQRT2, bStd: 0.1, bias: true };
export const DEFAULT_MLP: Omit<MlpConfig, 'widths'> = { model: 'mlp', ...DEFAULT_COMMON };

/** Validate an MLP config; every problem is a UserError naming the flag. */
export function checkMlpConfig(c: MlpConfig): MlpConfig {
  if (!Array.isArray(c.widths) || c.widths.length < 2 || !c.widths.every((w) => Number.isInteger(w) && w >= 1)) {
    throw new UserError(`--widths: expected at least two positive integers (input,...,outputs), e.g. 784,100,10; got ${JSON.stringify(c.widths)}`);
  }
  checkCommon(c);
  return c;
}

/** Throw a UserError unless vector samples of `size` features each are given. */
export function checkVectorSamples(s: Samples, size: number, flag: string, what: string): void {
  if (s.kind !== 'vectors') throw new UserError(`${flag}: ${what} takes vectors or images, not graphs`);
  if (sampleSize(s) !== size) {
    throw new UserError(`${flag}: ${s.source ?? 'the data'} has ${sampleSize(s)} features per sample but ${what} expects ${size}`);
  }
}

/**
 * Fully-connected network. Dense layer l (l = 0..L, L hidden layers) computes
 *   z_l = wScale_l · (a_l W_l) + bScale_l · b_l,   a_0 = x,  a_{l+1} = φ(z_l),  f(x) = z_L,
 * with W_l [n_l, n_{l+1}], b_l [n_{l+1}]. NTK parameterisation (Jacot et al.): W, b ~ N(0, 1),
 * wScale = σ_w/√n_l, bScale = σ_b. Standard parameterisation: W ~ N(0, σ_w²/n_l), b ~ N(0, σ_b²),
 * wScale = bScale = 1. Both give the same function distribution at init; their NTKs differ.
 */
export class Mlp extends LayeredModel {
  readonly config: MlpConfig;
  readonly inputSize: number;
  readonly outputSize: number;

  constructor(config: MlpConfig) {
    super();
    this.config = checkMlpConfig({ ...config });
    const w = this.config.widths;
    this.inputSize = w[0];
    this.outputSize = w[w.length - 1];
    for (let l = 0; l + 1 < w.length; l++) this.paramSpecs.push(...linearSpecs(`dense_${l}`, [w[l], w[l + 1]], this.config.bias));
  }

  checkSamples(s: Samples, flag: string): void {
    checkVectorSamples(s, this.inputSize, flag, `the mlp (first of --widths)`);
  }

  batch(s: Samples): Batch {
    if (s.kind !== 'vectors') throw new UserError('the mlp takes vectors, not graphs');
    return { n: s.n, x: tf.tensor2d(s.x, [s.n, this.inputSize]) };
  }

  protected run(fw: Forward, b: Batch): TappedForward {
    const c = this.config;
    const L = c.widths.length - 1;
    let a = b.x as tf.Tensor2D;
    for (let l = 0; l < L; l++) {
      const z = fw.dense(a, linearScales(c, c.widths[l]), c.bias, null);
      if (l + 1 === L) {
        fw.done();
        return { out: z, linear: fw.linear, ck: { features: a, scale: c.wStd / Math.sqrt(c.widths[l]), offset: c.bias ? c.bStd : 0 } };
      }
      a = activate(c.activation, z) as tf.Tensor2D;
    }
    throw new Error('unreachable: an MLP has at least one layer');
  }
}
