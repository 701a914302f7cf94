import type * as tf from '@tensorflow/tfjs-core';
import type { Samples } from '../lib/samples.js';
import { type CommonConfig, Forward, initParams } from './layers.js';
import type { Batch, Model, TappedForward, Taps } from './model.js';
import type { Param, ParamSpec } from './params.js';

/**
 * A model written once as `run(forward, batch)` over the layer helpers of `Forward`: the same code gives the
 * plain function f(params, x) (parameters differentiable, fast convolutions) and the tapped pass the structured
 * kernel rules read (linear layers recorded, taps added, parameters constant). Parameters are initialised from
 * `paramSpecs` in order.
 */
export abstract class LayeredModel implements Model {
  abstract readonly config: CommonConfig & { model: string };
  abstract readonly outputSize: number;
  readonly paramSpecs: ParamSpec[] = [];

  init(seed: string | number): Param[] {
    return initParams(this.paramSpecs, this.config, seed);
  }

  apply(params: tf.Tensor[], b: Batch): tf.Tensor2D {
    return this.run(new Forward(params, null, false, true), b).out;
  }

  applyTapped(params: tf.Tensor[], b: Batch, taps: Taps): TappedForward {
    const fw = new Forward(params, taps, true);
    return { channelwise: fw.channelwiseRecords, ...this.run(fw, b) };
  }

  abstract checkSamples(s: Samples, flag: string): void;
  abstract batch(s: Samples): Batch;
  protected abstract run(fw: Forward, b: Batch): TappedForward;
}
