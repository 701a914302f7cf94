import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import type { Samples } from '../lib/samples.js';
import { type CommonConfig, Forward, type Padding, activate, checkCommon, convGeometry, linearScales, linearSpecs } from './layers.js';
import type { Batch, TappedForward } from './model.js';
import { LayeredModel } from './layered.js';
import { checkVectorSamples } from './mlp.js';

/** One convolution: square kernel, output channels, stride, padding. */
export interface ConvSpec {
  kernel: number;
  channels: number;
  stride: number;
  padding: Padding;
}

/**
 * Convolutional network (NHWC). Convolutions with activations, then a head:
 *   'conv'    the last entry of `convs` is the output layer (no activation); it must leave a 1×1×K map (the
 *             seeds/003 CNN: 28×28×1 → 5×5 → 5×5 → 20×20 valid → 1×1×10);
 *   'flatten' flatten the last feature map, dense layer to K;
 *   'gap'     global average pooling over positions, dense layer to K.
 * Convolution fan-in is C_in·k_h·k_w (NTK parameterisation wScale = σ_w/√fan_in).
 */
export interface CnnConfig extends CommonConfig {
  model: 'cnn';
  imageShape: [number, number, number];
  convs: ConvSpec[];
  head: 'conv' | 'flatten' | 'gap';
  outputs: number;
  preset?: string;
}

/** The CNN of seeds/003: channels 1→c1→c2→10 with valid 5×5, 5×5 and 20×20 convolutions (default c = 20, 20). */
export function seedCnnConfig(channels: [number, number] = [20, 20], common: CommonConfig): CnnConfig {
  return {
    model: 'cnn', preset: 'seed-cnn', ...common, imageShape: [28, 28, 1], head: 'conv', outputs: 10,
    convs: [
      { kernel: 5, channels: channels[0], stride: 1, padding: 'valid' },
      { kernel: 5, channels: channels[1], stride: 1, padding: 'valid' },
      { kernel: 20, channels: 10, stride: 1, padding: 'valid' },
    ],
  };
}

export class Cnn extends LayeredModel {
  readonly config: CnnConfig;
  readonly outputSize: number;
  /** Feature-map shape after each convolution. */
  readonly maps: [number, number, number][] = [];

  constructor(config: CnnConfig) {
    super();
    const c = (this.config = { ...config });
    checkCommon(c);
    const [H, W, C] = c.imageShape ?? [];
    if (![H, W, C].every((v) => Number.isInteger(v) && v >= 1)) throw new UserError(`--image-shape: expected three positive integers H,W,C; got ${JSON.stringify(c.imageShape)}`);
    if (!Array.isArray(c.convs) || c.convs.length === 0) throw new UserError('--channels: the cnn needs at least one convolution');
    if (!['conv', 'flatten', 'gap'].includes(c.head)) throw new UserError(`--head: expected conv, flatten or gap; got '${c.head}'`);
    if (!(Number.isInteger(c.outputs) && c.outputs >= 1)) throw new UserError(`--k: expected a positive integer number of outputs; got ${c.outputs}`);
    let shape: [number, number, number] = [H, W, C];
    c.convs.forEach((s, i) => {
      if (!(Number.isInteger(s.kernel) && s.kernel >= 1 && Number.isInteger(s.channels) && s.channels >= 1 && Number.isInteger(s.stride) && s.stride >= 1)) {
        throw new UserError(`convolution ${i}: kernel, channels and stride must be positive integers; got ${JSON.stringify(s)}`);
      }
      if (s.padding !== 'valid' && s.padding !== 'same') throw new UserError(`--padding: expected valid or same; got '${s.padding}'`);
      const gh = convGeometry(shape[0], s.kernel, s.stride, s.padding);
      const gw = convGeometry(shape[1], s.kernel, s.stride, s.padding);
      if (gh.out < 1 || gw.out < 1) throw new UserError(`convolution ${i}: a ${s.kernel}×${s.kernel} kernel does not fit the ${shape[0]}×${shape[1]} map`);
      this.paramSpecs.push(...linearSpecs(`conv_${i}`, [s.kernel, s.kernel, shape[2], s.channels], c.bias));
      shape = [gh.out, gw.out, s.channels];
      this.maps.push(shape);
    });
    if (c.head === 'conv') {
      if (shape[0] !== 1 || shape[1] !== 1) throw new UserError(`--head conv: the last convolution must leave a 1×1 map, it leaves ${shape[0]}×${shape[1]}`);
      if (shape[2] !== c.outputs) throw new UserError(`--head conv: the last convolution has ${shape[2]} channels but --k is ${c.outputs}`);
    } else {
      const fanIn = c.head === 'gap' ? shape[2] : shape[0] * shape[1] * shape[2];
      this.paramSpecs.push(...linearSpecs('dense_head', [fanIn, c.outputs], c.bias));
    }
    this.outputSize = c.outputs;
  }

  get inputSize(): number {
    return this.config.imageShape.reduce((a, b) => a * b, 1);
  }

  checkSamples(s: Samples, flag: string): void {
    checkVectorSamples(s, this.inputSize, flag, `the cnn (image ${this.config.imageShape.join('×')})`);
  }

  batch(s: Samples): Batch {
    if (s.kind !== 'vectors') throw new UserError('the cnn takes images, not graphs');
    return { n: s.n, x: tf.tensor4d(s.x, [s.n, ...this.config.imageShape]) };
  }

  protected run(fw: Forward, b: Batch): TappedForward {
    const c = this.config;
    const n = b.n;
    let h = b.x as tf.Tensor4D;
    let inC = c.imageShape[2];
    const last = c.convs.length - 1;
    for (let i = 0; i <= last; i++) {
      const s = c.convs[i];
      const fanIn = s.kernel * s.kernel * inC;
      const z = fw.conv(h, s.kernel, s.kernel, s.stride, s.padding, linearScales(c, fanIn), c.bias);
      if (i === last && c.head === 'conv') {
        fw.done();
        const feats = tf.reshape(h, [n, -1]) as tf.Tensor2D;
        return { out: tf.reshape(z, [n, c.outputs]) as tf.Tensor2D, linear: fw.linear, ck: { features: feats, scale: c.wStd / Math.sqrt(fanIn), offset: c.bias ? c.bStd : 0 } };
      }
      h = activate(c.activation, z) as tf.Tensor4D;
      inC = s.channels;
    }
    const feats = (c.head === 'gap' ? tf.mean(h, [1, 2]) : tf.reshape(h, [n, -1])) as tf.Tensor2D;
    const out = fw.dense(feats, linearScales(c, feats.shape[1]), c.bias, null);
    fw.done();
    return { out, linear: fw.linear, ck: { features: feats, scale: c.wStd / Math.sqrt(feats.shape[1]), offset: c.bias ? c.bStd : 0 } };
  }
}
