import * as tf from '@tensorflow/tfjs-core';
import { scoped } from '../lib/tensors.js';
import { UserError } from '../lib/errors.js';
import { type Samples, sampleSize } from '../lib/samples.js';
import { initialValues } from './keras-init.js';
import { type ConvGeometry, Forward, type Padding, im2col, uniformSegments } from './layers.js';
import { type LayerNode, type LayersModelConfig, type ParsedTopology, configValue, layerWeightRoles, parseTopology } from './layers-topology.js';
import type { Batch, Model, TappedForward, Taps } from './model.js';
import type { Param, ParamSpec } from './params.js';

export type { LayersModelConfig } from './layers-topology.js';

/** Keras / tfjs-layers activation functions by name (snake_case or camelCase), in tfjs-core ops. */
const ACTIVATION_FNS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  sigmoid: (x) => tf.sigmoid(x),
  hard_sigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  tanh: (x) => tf.tanh(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  softmax: (x) => tf.softmax(x),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  mish: (x) => tf.mul(x, tf.tanh(tf.softplus(x))),
  gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
  gelu_new: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))))),
};

/** The activation named in a layer config (absent: linear). */
function activation(name: unknown, layer: string): (x: tf.Tensor) => tf.Tensor {
  if (name === undefined || name === null) return ACTIVATION_FNS.linear;
  const key = String(name).replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  const f = ACTIVATION_FNS[key];
  if (!f) throw new UserError(`layer '${layer}': activation '${String(name)}' is not supported (supported: ${Object.keys(ACTIVATION_FNS).join(', ')})`);
  return f;
}

/** An int or a list of ints from a layer config, as a pair. */
function pair(v: unknown, dflt: number): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return a.length === 1 ? [a[0], a[0]] : [a[0], a[1]];
}

/** The stand-in layer names use when a weight is missing or wrong, for errors. */
const weightName = (layer: string, role: string) => `${layer}/${role}`;

/**
 * A tfjs-layers network (Sequential or functional, one input, one output) as an ntk-ts Model, interpreted from
 * its topology: θ = the trainable weights, in layer order; frozen layers and BatchNorm moving statistics are
 * constants of the function, which runs in inference mode (dropout off, BatchNorm with its moving statistics).
 * Dense, convolution and Embedding layers are linear records of the structured rules (an Embedding is the
 * dense layer one-hot(i)·E), normalisation gains/offsets and depthwise kernels channelwise records with exact
 * per-sample gradients; the structured path checks that these cover all of θ. Keras layers are in the standard
 * parameterisation (z = a W + b). `init(seed)` re-draws θ with each layer's own initialiser from ntk-ts' seeded
 * stream; the constants keep their values.
 */
export class LayersNetwork implements Model {
  readonly config: LayersModelConfig;
  readonly outputSize: number;
  readonly paramSpecs: ParamSpec[] = [];
  private readonly constants = new Map<string, Float32Array>();
  private readonly shapes = new Map<string, number[]>();
  /** Vocabulary size of an Embedding that reads the model input (its indices are checked). */
  private readonly vocabulary: number | null = null;

  constructor(config: LayersModelConfig) {
    this.config = config;
    for (const l of config.layers) {
      for (const w of l.weights) {
        this.shapes.set(w.name, w.shape);
        if (w.trainable) this.paramSpecs.push({ name: w.name, shape: w.shape });
        else {
          const v = config.constants[w.name];
          if (!v || v.length !== w.shape.reduce((a, b) => a * b, 1)) throw new UserError(`${config.name}: constant weight ${w.name} is missing or has the wrong size`);
          this.constants.set(w.name, Float32Array.from(v));
        }
      }
    }
    const first = config.layers.find((l) => l.className === 'Embedding' && (l.inbound.length === 0 || config.layers.find((q) => q.name === l.inbound[0])?.className === 'InputLayer'));
    if (first) this.vocabulary = Number(configValue(first.config)('input_dim'));
    // Run one zero sample through the network: shapes are checked (a wrong weight shape or an unsupported
    // setting is a UserError naming the layer now, not later) and K is read off the output.
    this.outputSize = scoped(() => {
      const x = tf.zeros([1, ...config.inputShape]);
      const out = this.forward(new Forward(this.paramSpecs.map((p) => tf.zeros(p.shape)), null, false), { n: 1, x });
      return out.shape[1];
    });
  }

  init(seed: string | number): Param[] {
    return this.config.layers.flatMap((l) => l.weights.filter((w) => w.trainable).map((w) => ({
      name: w.name, shape: w.shape, values: initialValues(w.initializer, w.shape, `${seed}/${w.name}`, `${this.config.name}: ${w.name}`),
    })));
  }

  checkSamples(s: Samples, flag: string): void {
    if (s.kind !== 'vectors') throw new UserError(`${flag}: the layers model '${this.config.name}' takes arrays, not graphs`);
    const want = this.config.inputShape.reduce((a, b) => a * b, 1);
    if (sampleSize(s) !== want) {
      throw new UserError(`${flag}: ${s.source ?? 'the data'} has samples of shape [${s.sampleShape}] (${sampleSize(s)} values) but the model '${this.config.name}' takes inputs of shape [${this.config.inputShape}] (${want} values)`);
    }
    if (this.vocabulary !== null) {
      const V = this.vocabulary;
      const bad = s.x.findIndex((v) => !(Number.isInteger(v) && v >= 0 && v < V));
      if (bad >= 0) throw new UserError(`${flag}: value ${s.x[bad]} at flat index ${bad} is not an integer index in [0, ${V}) for the model's Embedding`);
    }
  }

  batch(s: Samples): Batch {
    if (s.kind !== 'vectors') throw new UserError('a layers model takes arrays, not graphs');
    return { n: s.n, x: tf.tensor(s.x, [s.n, ...this.config.inputShape], 'float32') };
  }

  apply(params: tf.Tensor[], b: Batch): tf.Tensor2D {
    return this.forward(new Forward(params, null, false, true), b);
  }

  applyTapped(params: tf.Tensor[], b: Batch, taps: Taps): TappedForward {
    const fw = new Forward(params, taps, true);
    const out = this.forward(fw, b);
    return { out, linear: fw.linear, channelwise: fw.channelwiseRecords };
  }

  /** Outputs [n, K] of the network, the trainable weights taken from `fw` in order. */
  private forward(fw: Forward, b: Batch): tf.Tensor2D {
    const outs = new Map<string, tf.Tensor>();
    for (const l of this.config.layers) {
      const ins = l.inbound.length === 0 ? [b.x] : l.inbound.map((name) => outs.get(name)!);
      try {
        outs.set(l.name, this.layer(l, ins, fw));
      } catch (e) {
        if (e instanceof UserError || process.env.NTK_DEBUG) throw e;
        throw new UserError(`${this.config.name}: layer '${l.name}' (${l.className}) fails on inputs ${ins.map((t) => `[${t.shape}]`).join(', ')}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    fw.done();
    const y = outs.get(this.config.output)!;
    return tf.reshape(y, [b.n, -1]) as tf.Tensor2D;
  }

  /** Where a layer's weights come from: θ through `fw` when trainable, else a Forward over its constants. */
  private weightsOf(l: LayerNode, fw: Forward): Forward {
    const frozen = l.weights.filter((w) => !w.trainable && w.role !== 'moving_mean' && w.role !== 'moving_variance');
    if (frozen.length === 0) return fw;
    return new Forward(frozen.map((w) => tf.tensor(this.constants.get(w.name)!, w.shape)), null, false);
  }

  private constant(l: LayerNode, role: string): tf.Tensor {
    const name = weightName(l.name, role);
    return tf.tensor(this.constants.get(name)!, this.shapes.get(name)!);
  }

  private has(l: LayerNode, role: string): boolean {
    return l.weights.some((w) => w.role === role);
  }

  private layer(l: LayerNode, ins: tf.Tensor[], fw: Forward): tf.Tensor {
    const get = configValue(l.config);
    const x = ins[0];
    const n = x.shape[0];
    const unit = { wScale: 1, bScale: 1 };
    switch (l.className) {
      case 'InputLayer':
      case 'Dropout':
      case 'SpatialDropout1D':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
      case 'AlphaDropout':
        return x;
      case 'Activation':
        return activation(get('activation'), l.name)(x);
      case 'ReLU': {
        const slope = Number(get('negative_slope') ?? 0), max = get('max_value'), th = Number(get('threshold') ?? 0);
        if (th !== 0) throw new UserError(`layer '${l.name}': ReLU with a threshold is not supported`);
        const y = slope !== 0 ? tf.leakyRelu(x, slope) : tf.relu(x);
        return max === null || max === undefined ? y : tf.minimum(y, Number(max));
      }
      case 'LeakyReLU':
        return tf.leakyRelu(x, Number(get('alpha') ?? get('negative_slope') ?? 0.3));
      case 'ELU': {
        const alpha = Number(get('alpha') ?? 1);
        return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(x), 1), alpha));
      }
      case 'Softmax': {
        const axis = get('axis');
        if (axis !== undefined && axis !== -1 && axis !== x.rank - 1) throw new UserError(`layer '${l.name}': Softmax over axis ${String(axis)}; only the last axis is supported`);
        return tf.softmax(x);
      }
      case 'Flatten':
        return tf.reshape(x, [n, -1]);
      case 'Reshape':
        return tf.reshape(x, [n, ...(get('target_shape') as number[])]);
      case 'Dense': {
        const din = x.shape[x.rank - 1];
        const rows = x.size / din;
        const segments = x.rank === 2 ? null : uniformSegments(n, rows / n);
        const z = this.weightsOf(l, fw).dense(tf.reshape(x, [rows, din]) as tf.Tensor2D, unit, this.has(l, 'bias'), segments);
        return activation(get('activation'), l.name)(tf.reshape(z, [...x.shape.slice(0, -1), z.shape[1]]));
      }
      case 'Conv1D':
      case 'Conv2D': {
        const one = l.className === 'Conv1D';
        if (one && get('padding') === 'causal') throw new UserError(`layer '${l.name}': causal padding is not supported`);
        const x4 = (one ? tf.reshape(x, [n, 1, x.shape[1]!, x.shape[2]!]) : x) as tf.Tensor4D;
        const [kh, kw] = one ? [1, pair(get('kernel_size'), 1)[0]] : pair(get('kernel_size'), 1);
        const geo = this.geometry(get, one);
        const z = this.weightsOf(l, fw).conv(x4, kh, kw, geo, geo.padding, unit, this.has(l, 'bias'));
        return activation(get('activation'), l.name)(one ? tf.reshape(z, [n, z.shape[2], z.shape[3]]) : z);
      }
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const [kh, kw] = pair(get('kernel_size'), 1);
        // The multiplier from the kernel [kh, kw, C, m] itself: tfjs' SeparableConv2D config omits depth_multiplier.
        const m = l.weights.find((q) => q.role === 'depthwise_kernel')!.shape[3];
        const geo = this.geometry(get, false);
        const w = this.weightsOf(l, fw);
        const x4 = x as tf.Tensor4D;
        const C = x4.shape[3];
        const { patches, ho, wo } = im2col(x4, kh, kw, geo.strides, geo.padding, geo.dilations);
        const R = n * ho * wo, T = kh * kw;
        // u[r, t, c·m + j] = patch[r, t, c]: the depthwise kernel [kh, kw, C, m] read as [T, C·m].
        const u = (m === 1 ? patches : tf.reshape(tf.tile(tf.reshape(patches, [R, T, C, 1]), [1, 1, 1, m]), [R, T * C * m])) as tf.Tensor2D;
        const seg = uniformSegments(n, ho * wo);
        const sep = l.className === 'SeparableConv2D';
        let z = w.channelwise(u, C * m, T, unit, true, !sep && this.has(l, 'bias'), seg, R);
        if (sep) z = w.dense(z, unit, this.has(l, 'bias'), seg);
        return activation(get('activation'), l.name)(tf.reshape(z, [n, ho, wo, z.shape[1]]));
      }
      case 'BatchNormalization':
      case 'LayerNormalization': {
        const axis = get('axis');
        const ax = Array.isArray(axis) ? (axis.length === 1 ? axis[0] : NaN) : axis ?? -1;
        if (ax !== -1 && ax !== x.rank - 1) throw new UserError(`layer '${l.name}': ${l.className} over axis ${JSON.stringify(axis)}; only the last (channels) axis is supported`);
        const eps = Number(get('epsilon') ?? 1e-3);
        const C = x.shape[x.rank - 1];
        let xh: tf.Tensor;
        if (l.className === 'BatchNormalization') xh = tf.div(tf.sub(x, this.constant(l, 'moving_mean')), tf.sqrt(tf.add(this.constant(l, 'moving_variance'), eps)));
        else {
          const { mean, variance } = tf.moments(x, x.rank - 1, true);
          xh = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
        }
        const gain = this.has(l, 'gamma'), offset = this.has(l, 'beta');
        if (!gain && !offset) return xh;
        const R = xh.size / C;
        const z = this.weightsOf(l, fw).channelwise(tf.reshape(xh, [R, C]) as tf.Tensor2D, C, 1, unit, gain, offset, x.rank === 2 ? null : uniformSegments(n, R / n), R);
        return tf.reshape(z, x.shape);
      }
      case 'Embedding': {
        if (get('mask_zero') === true) throw new UserError(`layer '${l.name}': Embedding with mask_zero is not supported`);
        const V = Number(get('input_dim'));
        const idx = tf.cast(tf.reshape(x, [-1]), 'int32') as tf.Tensor1D;
        const R = idx.size;
        const z = this.weightsOf(l, fw).dense(tf.oneHot(idx, V).toFloat() as tf.Tensor2D, { wScale: 1, bScale: 0 }, false, x.rank === 1 ? null : uniformSegments(n, R / n));
        return tf.reshape(z, [...x.shape, z.shape[1]]);
      }
      case 'MaxPooling1D':
      case 'MaxPooling2D':
      case 'AveragePooling1D':
      case 'AveragePooling2D': {
        const one = l.className.endsWith('1D');
        const pool = one ? [1, pair(get('pool_size'), 2)[0]] as [number, number] : pair(get('pool_size'), 2);
        const st = get('strides') ?? get('pool_size');
        const strides = one ? [1, pair(st, pool[1])[0]] as [number, number] : pair(st, 2);
        const pad = String(get('padding') ?? 'valid') as Padding;
        const x4 = (one ? tf.reshape(x, [n, 1, x.shape[1]!, x.shape[2]!]) : x) as tf.Tensor4D;
        const y = l.className.startsWith('Max') ? tf.maxPool(x4, pool, strides, pad) : tf.avgPool(x4, pool, strides, pad);
        return one ? tf.reshape(y, [n, y.shape[2], y.shape[3]]) : y;
      }
      case 'GlobalAveragePooling1D':
      case 'GlobalAveragePooling2D':
        return tf.mean(x, l.className.endsWith('1D') ? [1] : [1, 2]);
      case 'GlobalMaxPooling1D':
      case 'GlobalMaxPooling2D':
        return tf.max(x, l.className.endsWith('1D') ? [1] : [1, 2]);
      case 'ZeroPadding1D': {
        const [a, b] = pair(get('padding'), 1);
        return tf.pad(x, [[0, 0], [a, b], [0, 0]]);
      }
      case 'ZeroPadding2D': {
        const p = get('padding') ?? 1;
        const [[t, bo], [le, r]] = typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray((p as unknown[])[0]) ? (p as [[number, number], [number, number]]) : [[(p as number[])[0], (p as number[])[0]], [(p as number[])[1], (p as number[])[1]]];
        return tf.pad(x, [[0, 0], [t, bo], [le, r], [0, 0]]);
      }
      case 'Add':
        return ins.slice(1).reduce((a, c) => tf.add(a, c), x);
      case 'Subtract':
        if (ins.length !== 2) throw new UserError(`layer '${l.name}': Subtract takes two inputs`);
        return tf.sub(x, ins[1]);
      case 'Multiply':
        return ins.slice(1).reduce((a, c) => tf.mul(a, c), x);
      case 'Average':
        return tf.div(ins.slice(1).reduce((a, c) => tf.add(a, c), x), ins.length);
      case 'Maximum':
        return ins.slice(1).reduce((a, c) => tf.maximum(a, c), x);
      case 'Minimum':
        return ins.slice(1).reduce((a, c) => tf.minimum(a, c), x);
      case 'Concatenate': {
        const axis = Number(get('axis') ?? -1);
        return tf.concat(ins, axis < 0 ? x.rank + axis : axis);
      }
      default:
        throw new UserError(`layer '${l.name}' of class ${l.className} is not supported`);
    }
  }

  private geometry(get: (k: string) => unknown, one: boolean): ConvGeometry {
    const padding = String(get('padding') ?? 'valid');
    if (padding !== 'valid' && padding !== 'same') throw new UserError(`padding '${padding}' is not supported (valid, same)`);
    const s = pair(get('strides'), 1), d = pair(get('dilation_rate'), 1);
    return { strides: one ? [1, s[0]] : s, dilations: one ? [1, d[0]] : d, padding };
  }
}

/** A source of weight values by layer and role: its shape and values, or null when absent. */
export type WeightLookup = (layer: string, role: string) => { shape: number[]; values: Float32Array } | null;

/**
 * The ntk-ts model of a parsed topology and its weights: θ (the trainable weights, in layer order) as params, the
 * other weights as constants of the configuration. `what` names the source in errors.
 */
export function layersNetwork(t: ParsedTopology, lookup: WeightLookup, what: string): { model: LayersNetwork; params: Param[] } {
  const constants: Record<string, number[]> = {};
  const params: Param[] = [];
  const layers: LayerNode[] = t.layers.map((l) => ({
    ...l,
    weights: layerWeightRoles(l).map((r) => {
      const name = weightName(l.name, r.role);
      const w = lookup(l.name, r.role);
      if (!w) throw new UserError(`${what}: weight ${name} of layer '${l.name}' (${l.className}) is missing`);
      if (w.values.length !== w.shape.reduce((a, b) => a * b, 1)) throw new UserError(`${what}: weight ${name} has ${w.values.length} values for shape [${w.shape}]`);
      if (!w.values.every(Number.isFinite)) throw new UserError(`${what}: weight ${name} has a non-finite value`);
      if (r.trainable) params.push({ name, shape: w.shape, values: w.values });
      else constants[name] = Array.from(w.values);
      return { name, role: r.role, shape: w.shape, trainable: r.trainable, initializer: r.initializer };
    }),
  }));
  const integerInput = layers.some((l) => l.className === 'Embedding' && (l.inbound.length === 0 || layers.find((q) => q.name === l.inbound[0])?.className === 'InputLayer'));
  const config: LayersModelConfig = { model: 'layers', name: t.name, inputShape: t.inputShape, integerInput, layers, output: t.output, constants };
  return { model: new LayersNetwork(config), params };
}

/** The part of a tfjs-layers LayersModel that fromLayersModel reads (structural, so no tfjs-layers import is needed). */
export interface LayersModelLike {
  toJSON(unused?: unknown, returnString?: boolean): unknown;
  layers: { name: string; weights: { name: string; originalName?: string; shape: (number | null)[]; read(): tf.Tensor }[] }[];
}

/**
 * Any tfjs-layers model (tf.Sequential or functional tf.LayersModel, one input and one output) as an ntk-ts
 * model at its current weights: `{ model, params }` with params = θ, the trainable weights. Unsupported layers
 * are a UserError naming the layer class and the way out (fromFunction).
 */
export function fromLayersModel(m: LayersModelLike): { model: LayersNetwork; params: Param[] } {
  const t = parseTopology(m.toJSON(null, false), 'fromLayersModel');
  const byLayer = new Map(m.layers.map((l) => [l.name, l]));
  return layersNetwork(t, (layer, role) => {
    // tfjs makes weight names unique (conv/kernel_1 for a second model with a layer 'conv'); originalName keeps
    // the layer/role form.
    const v = byLayer.get(layer)?.weights.find((w) => {
      const name = (w.originalName ?? w.name).replace(/_\d+$/, '');
      return name === `${layer}/${role}` || name.endsWith(`/${role}`) || name === role;
    });
    if (!v) return null;
    return { shape: v.shape as number[], values: Float32Array.from(v.read().dataSync() as Float32Array) };
  }, 'fromLayersModel');
}

/**
 * The network of a topology and weights named as in a model.json manifest (`layer/weight`, possibly with a
 * `:0` suffix or an enclosing scope `outer/layer/weight`): `{ model, params }` as fromLayersModel.
 */
export function layersNetworkFromNamedWeights(topology: unknown, weights: Map<string, { shape: number[]; values: Float32Array }>, what: string): { model: LayersNetwork; params: Param[] } {
  const t = parseTopology(topology, what);
  const byName = new Map([...weights].map(([k, v]) => [k.replace(/:\d+$/, ''), v]));
  return layersNetwork(t, (layer, role) => {
    const exact = byName.get(`${layer}/${role}`);
    if (exact) return exact;
    const hits = [...byName.keys()].filter((k) => k.endsWith(`/${layer}/${role}`));
    return hits.length === 1 ? byName.get(hits[0])! : null;
  }, what);
}
