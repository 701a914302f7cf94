import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import type { Samples } from '../lib/samples.js';
import { type CommonConfig, Forward, activate, checkCommon, linearScales, linearSpecs } from './layers.js';
import type { Batch, TappedForward } from './model.js';
import { LayeredModel } from './layered.js';
import { checkVectorSamples } from './mlp.js';

/**
 * Residual networks (seeds/002: m branches, each of depth d, width n).
 * 'mlp':  h_0 = dense_in(x);  h ← h + α·branch(h) for each of the m branches, branch(h) =
 *         dense_d ∘ φ ∘ … ∘ φ ∘ dense_1 (φ(h)) (pre-activation, d dense layers);  f = dense_out(φ(h)).
 * 'conv': stem = 3×3 'same' convolution to `width` channels; m blocks h ← h + α·conv(φ(conv(φ(h)))) with 3×3
 *         'same' convolutions (d = 2 fixed); then φ, global average pooling and a dense head.
 * α defaults to 1/√m so that the residual stream stays O(1) for many branches.
 */
export interface ResNetConfig extends CommonConfig {
  model: 'resnet';
  variant: 'mlp' | 'conv';
  /** mlp: input size; conv: ignored (imageShape). */
  inputSize: number;
  imageShape?: [number, number, number];
  width: number;
  branches: number;
  branchDepth: number;
  alpha: number;
  outputs: number;
}

export class ResNet extends LayeredModel {
  readonly config: ResNetConfig;
  readonly outputSize: number;

  constructor(config: ResNetConfig) {
    super();
    const c = (this.config = { ...config });
    checkCommon(c);
    const pos = (v: number, flag: string) => {
      if (!(Number.isInteger(v) && v >= 1)) throw new UserError(`${flag}: expected a positive integer; got ${v}`);
    };
    pos(c.width, '--width');
    pos(c.branches, '--branches');
    pos(c.branchDepth, '--branch-depth');
    pos(c.outputs, '--k');
    if (!(Number.isFinite(c.alpha) && c.alpha > 0)) throw new UserError(`--alpha: expected a positive number; got ${c.alpha}`);
    if (c.variant === 'mlp') {
      pos(c.inputSize, '--input-size');
      this.paramSpecs.push(...linearSpecs('dense_in', [c.inputSize, c.width], c.bias));
      for (let m = 0; m < c.branches; m++) {
        for (let d = 0; d < c.branchDepth; d++) this.paramSpecs.push(...linearSpecs(`branch_${m}/dense_${d}`, [c.width, c.width], c.bias));
      }
      this.paramSpecs.push(...linearSpecs('dense_out', [c.width, c.outputs], c.bias));
    } else if (c.variant === 'conv') {
      const s = c.imageShape;
      if (!s || !s.every((v) => Number.isInteger(v) && v >= 1)) throw new UserError(`--image-shape: expected H,W,C; got ${JSON.stringify(s)}`);
      if (c.branchDepth !== 2) throw new UserError(`--branch-depth: the convolutional ResNet has blocks of 2 convolutions; got ${c.branchDepth}`);
      this.paramSpecs.push(...linearSpecs('stem', [3, 3, s[2], c.width], c.bias));
      for (let m = 0; m < c.branches; m++) {
        for (let d = 0; d < 2; d++) this.paramSpecs.push(...linearSpecs(`block_${m}/conv_${d}`, [3, 3, c.width, c.width], c.bias));
      }
      this.paramSpecs.push(...linearSpecs('dense_head', [c.width, c.outputs], c.bias));
    } else {
      throw new UserError(`--variant: expected mlp or conv; got '${c.variant}'`);
    }
    this.outputSize = c.outputs;
  }

  private get sampleSize(): number {
    return this.config.variant === 'mlp' ? this.config.inputSize : this.config.imageShape!.reduce((a, b) => a * b, 1);
  }

  checkSamples(s: Samples, flag: string): void {
    checkVectorSamples(s, this.sampleSize, flag, `the ${this.config.variant} resnet`);
  }

  batch(s: Samples): Batch {
    if (s.kind !== 'vectors') throw new UserError('the resnet takes vectors or images, not graphs');
    const c = this.config;
    return { n: s.n, x: c.variant === 'mlp' ? tf.tensor2d(s.x, [s.n, c.inputSize]) : tf.tensor4d(s.x, [s.n, ...c.imageShape!]) };
  }

  protected run(fw: Forward, b: Batch): TappedForward {
    const c = this.config;
    const phi = (t: tf.Tensor) => activate(c.activation, t);
    const s = linearScales(c, c.width);
    let feats: tf.Tensor2D;
    if (c.variant === 'mlp') {
      let h = fw.dense(b.x as tf.Tensor2D, linearScales(c, c.inputSize), c.bias, null);
      for (let m = 0; m < c.branches; m++) {
        let z = h;
        for (let d = 0; d < c.branchDepth; d++) z = fw.dense(phi(z) as tf.Tensor2D, s, c.bias, null);
        h = tf.add(h, tf.mul(z, c.alpha));
      }
      feats = phi(h) as tf.Tensor2D;
    } else {
      const s3 = linearScales(c, 9 * c.width);
      let h = fw.conv(b.x as tf.Tensor4D, 3, 3, 1, 'same', linearScales(c, 9 * c.imageShape![2]), c.bias);
      for (let m = 0; m < c.branches; m++) {
        const z = fw.conv(phi(fw.conv(phi(h) as tf.Tensor4D, 3, 3, 1, 'same', s3, c.bias)) as tf.Tensor4D, 3, 3, 1, 'same', s3, c.bias);
        h = tf.add(h, tf.mul(z, c.alpha));
      }
      feats = tf.mean(phi(h), [1, 2]) as tf.Tensor2D;
    }
    const out = fw.dense(feats, s, c.bias, null);
    fw.done();
    return { out, linear: fw.linear, ck: { features: feats, scale: c.wStd / Math.sqrt(c.width), offset: c.bias ? c.bStd : 0 } };
  }
}
