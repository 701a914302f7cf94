import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/tensors.js';
import { UserError } from '../lib/errors.js';
import { type Samples, sampleSize } from '../lib/samples.js';
import type { Batch, Model } from './model.js';
import type { Param, ParamSpec } from './params.js';

/** A network as a pure function of its parameters and a batch of inputs: f(θ, x [n, ...inputShape]) → [n, K] (or [n, ...], flattened). */
export type NetworkFunction = (params: tf.Tensor[], x: tf.Tensor) => tf.Tensor;

export interface FunctionModelOptions {
  /** Shape of one input sample, e.g. [784] or [28, 28, 1]. */
  inputShape: number[];
  /** Seeded initialiser of θ (needed for Monte-Carlo NTK∞): the same seed must give the same values. */
  init?: (seed: string | number) => Param[];
  /** A name recorded in metadata (default 'function'). */
  name?: string;
}

export interface FunctionModelConfig {
  model: 'function';
  name: string;
  inputShape: number[];
}

/**
 * Any tfjs function f(θ, x) as an ntk-ts model (neural-tangents' `empirical_ntk_fn(f)` for the tfjs world). θ is
 * the list of parameter tensors, differentiated by tfjs autodiff: the generic per-sample-Jacobian path serves
 * its kernels (J [n, K, P], J Jᵀ), so any differentiable tfjs-core op is allowed. K is read off one forward pass
 * of a zero sample. Without `init`, Monte-Carlo NTK∞ is refused with a message that says so.
 */
export class FunctionModel implements Model {
  readonly config: FunctionModelConfig;
  readonly outputSize: number;
  readonly paramSpecs: ParamSpec[];

  constructor(private readonly f: NetworkFunction, specs: ParamSpec[], private readonly opts: FunctionModelOptions) {
    if (!Array.isArray(opts.inputShape) || !opts.inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new UserError(`fromFunction: inputShape must be a list of positive integers; got ${JSON.stringify(opts.inputShape)}`);
    }
    this.config = { model: 'function', name: opts.name ?? 'function', inputShape: opts.inputShape.slice() };
    this.paramSpecs = specs;
    this.outputSize = scoped(() => {
      const y = this.apply(specs.map((s) => tf.zeros(s.shape)), { n: 1, x: tf.zeros([1, ...opts.inputShape]) });
      return y.shape[1];
    });
  }

  init(seed: string | number): Param[] {
    if (!this.opts.init) throw new UserError(`the function model '${this.config.name}' has no initialiser: pass options.init to fromFunction to draw networks for Monte-Carlo NTK∞`);
    const ps = this.opts.init(seed);
    const bad = ps.length !== this.paramSpecs.length || ps.some((p, i) => p.shape.join(',') !== this.paramSpecs[i].shape.join(','));
    if (bad) throw new UserError(`the initialiser of '${this.config.name}' returned parameters of other shapes than the model's`);
    return ps;
  }

  checkSamples(s: Samples, flag: string): void {
    if (s.kind !== 'vectors') throw new UserError(`${flag}: the function model takes arrays, not graphs`);
    const want = this.opts.inputShape.reduce((a, b) => a * b, 1);
    if (sampleSize(s) !== want) throw new UserError(`${flag}: ${s.source ?? 'the data'} has samples of shape [${s.sampleShape}] but the function takes inputs of shape [${this.opts.inputShape}]`);
  }

  batch(s: Samples): Batch {
    if (s.kind !== 'vectors') throw new UserError('the function model takes arrays, not graphs');
    return { n: s.n, x: tf.tensor(s.x, [s.n, ...this.opts.inputShape], 'float32') };
  }

  apply(params: tf.Tensor[], b: Batch): tf.Tensor2D {
    const y = this.f(params, b.x);
    if (y.shape[0] !== b.n) throw new UserError(`the function '${this.config.name}' returned ${y.shape[0]} rows for ${b.n} samples`);
    return tf.reshape(y, [b.n, -1]) as tf.Tensor2D;
  }
}

/**
 * `fromFunction(f, params, options)`: the model of f and its parameter values θ (Param objects, or tensors named
 * param_0, param_1, ...). Returns `{ model, params }` for every part of the toolkit: empirical kernels (full,
 * trace, diagonal; cross kernels), Monte-Carlo NTK∞ (with options.init), training, tracking, kernel regression.
 */
export function fromFunction(f: NetworkFunction, params: Param[] | tf.Tensor[], options: FunctionModelOptions): { model: FunctionModel; params: Param[] } {
  const ps: Param[] = params.map((p, i) => (p instanceof tf.Tensor ? { name: `param_${i}`, shape: p.shape.slice(), values: Float32Array.from(p.dataSync() as Float32Array) } : p));
  return { model: new FunctionModel(f, ps.map((p) => ({ name: p.name, shape: p.shape })), options), params: ps };
}
