import { UserError } from '../lib/errors.js';
import type { InitializerSpec } from './keras-init.js';

/**
 * The Keras / tfjs-layers model topology (what `model.toJSON()`, `model.save()` and the Keras-to-tfjs converter
 * write) read into a plain, serialisable description: layers in topological order, each with its class, its
 * config, the layers it reads from and the weights it owns. Pure data, so that the same description rebuilds
 * the network in a worker thread or from a params file.
 */

/** One weight of a layer: name `layer/weight`, shape, whether it is in θ, and how to re-initialise it. */
export interface WeightSpec {
  name: string;
  /** The weight's own name in the layer (kernel, bias, gamma, moving_mean, ...). */
  role: string;
  shape: number[];
  trainable: boolean;
  initializer?: InitializerSpec | string;
}

export interface LayerNode {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** Names of the layers whose (single) output this layer reads, in argument order. */
  inbound: string[];
  weights: WeightSpec[];
}

/** The config of a tfjs-layers network inside ntk-ts (stored in params files, sent to worker threads). */
export interface LayersModelConfig {
  model: 'layers';
  name: string;
  /** Shape of one input sample (the model's input shape without the batch dimension). */
  inputShape: number[];
  /** Whether the input holds integer indices (an Embedding reads it). */
  integerInput: boolean;
  layers: LayerNode[];
  output: string;
  /** Values of the weights that are not in θ (frozen layers, BatchNorm moving statistics), by weight name. */
  constants: Record<string, number[]>;
}

/** Layer classes the adapter runs, and the weights each owns (in Keras' order). */
const WEIGHTS: Record<string, (c: (k: string) => unknown) => string[]> = {
  Dense: (c) => ['kernel', ...(c('use_bias') !== false ? ['bias'] : [])],
  Conv1D: (c) => ['kernel', ...(c('use_bias') !== false ? ['bias'] : [])],
  Conv2D: (c) => ['kernel', ...(c('use_bias') !== false ? ['bias'] : [])],
  DepthwiseConv2D: (c) => ['depthwise_kernel', ...(c('use_bias') !== false ? ['bias'] : [])],
  SeparableConv2D: (c) => ['depthwise_kernel', 'pointwise_kernel', ...(c('use_bias') !== false ? ['bias'] : [])],
  BatchNormalization: (c) => [...(c('scale') !== false ? ['gamma'] : []), ...(c('center') !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'],
  LayerNormalization: (c) => [...(c('scale') !== false ? ['gamma'] : []), ...(c('center') !== false ? ['beta'] : [])],
  Embedding: () => ['embeddings'],
};

/** Layers without weights. */
export const WEIGHTLESS = [
  'InputLayer', 'Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise',
  'GaussianDropout', 'AlphaDropout', 'Flatten', 'Reshape', 'MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'ZeroPadding1D', 'ZeroPadding2D',
  'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate',
];
const ALIASES: Record<string, string> = { MaxPool1D: 'MaxPooling1D', MaxPool2D: 'MaxPooling2D', AvgPool1D: 'AveragePooling1D', AvgPool2D: 'AveragePooling2D', Convolution1D: 'Conv1D', Convolution2D: 'Conv2D', SeparableConvolution2D: 'SeparableConv2D', GlobalAvgPool2D: 'GlobalAveragePooling2D', GlobalMaxPool2D: 'GlobalMaxPooling2D' };
export const SUPPORTED_LAYERS = [...Object.keys(WEIGHTS), ...WEIGHTLESS];

const INITIALIZER_KEY: Record<string, string> = {
  kernel: 'kernel_initializer', bias: 'bias_initializer', depthwise_kernel: 'depthwise_initializer', pointwise_kernel: 'pointwise_initializer',
  gamma: 'gamma_initializer', beta: 'beta_initializer', moving_mean: 'moving_mean_initializer', moving_variance: 'moving_variance_initializer',
  embeddings: 'embeddings_initializer',
};

const snakeToCamel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A layer config value by its Keras (snake_case) key, or tfjs' camelCase one. */
export const configValue = (cfg: Record<string, unknown>) => (key: string): unknown => cfg[key] ?? cfg[snakeToCamel(key)];

/** Names of the layers a Keras-2 or Keras-3 `inbound_nodes` entry reads, or null for none. */
function inboundNames(nodes: unknown, layer: string, what: string): string[] {
  if (!Array.isArray(nodes) || nodes.length === 0) return [];
  if (nodes.length > 1) throw new UserError(`${what}: layer '${layer}' is applied ${nodes.length} times (a shared layer); ntk-ts reads each layer once — write the network with fromFunction instead`);
  const names: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      // Keras 2: [name, nodeIndex, tensorIndex, kwargs]
      if (typeof v[0] === 'string' && typeof v[1] === 'number' && typeof v[2] === 'number') {
        if (v[2] !== 0) throw new UserError(`${what}: layer '${layer}' reads output ${v[2]} of '${v[0]}'; only single-output layers are supported`);
        names.push(v[0]);
        return;
      }
      v.forEach(walk);
    } else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const hist = (o.config as Record<string, unknown> | undefined)?.keras_history;
      if (Array.isArray(hist)) return walk(hist);
      if ('args' in o) walk(o.args);
    }
  };
  walk(nodes[0]);
  return names;
}

/** Per-sample shape from a batch shape [null, ...]: every inner dimension must be a fixed positive integer. */
function sampleShape(batchShape: unknown, what: string, layer: string): number[] {
  if (!Array.isArray(batchShape) || batchShape.length < 2) throw new UserError(`${what}: layer '${layer}' has no usable input shape (batch_input_shape ${JSON.stringify(batchShape)})`);
  const s = batchShape.slice(1);
  if (!s.every((d) => Number.isInteger(d) && (d as number) >= 1)) {
    throw new UserError(`${what}: the input shape ${JSON.stringify(batchShape)} has an open dimension; ntk-ts needs a fixed input shape`);
  }
  return s as number[];
}

export interface ParsedTopology {
  name: string;
  inputShape: number[];
  layers: Omit<LayerNode, 'weights'>[];
  output: string;
}

/**
 * Read a model topology (the `modelTopology` of model.json, or `model.toJSON(null, false)`): a Sequential or a
 * functional model with one input and one output, every layer of a supported class, channels-last data.
 * `what` names the source in errors (a file, or 'fromLayersModel').
 */
export function parseTopology(topology: unknown, what: string): ParsedTopology {
  let t = topology as Record<string, unknown> | null;
  if (t && typeof t === 'object' && 'model_config' in t) t = t.model_config as Record<string, unknown>;
  if (!t || typeof t !== 'object' || typeof t.class_name !== 'string') throw new UserError(`${what}: expected a Keras model topology with "class_name" and "config"`);
  const cls = t.class_name;
  const cfg = (t.config ?? {}) as Record<string, unknown> | unknown[];
  const rawLayers = (Array.isArray(cfg) ? cfg : (cfg as Record<string, unknown>).layers) as Record<string, unknown>[] | undefined;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) throw new UserError(`${what}: the model has no layers`);
  const name = (!Array.isArray(cfg) && typeof cfg.name === 'string' ? cfg.name : cls) as string;
  const layers: Omit<LayerNode, 'weights'>[] = [];
  let inputShape: number[] | null = null;
  const sequential = cls === 'Sequential';
  if (!sequential && cls !== 'Model' && cls !== 'Functional') throw new UserError(`${what}: model class '${cls}' is not supported (expected Sequential, Model or Functional)`);
  for (const raw of rawLayers) {
    const lc = (raw.config ?? {}) as Record<string, unknown>;
    const lname = String(lc.name ?? raw.name ?? `layer_${layers.length}`);
    let className = String(raw.class_name);
    className = ALIASES[className] ?? className;
    if (className === 'Sequential' || className === 'Model' || className === 'Functional') {
      throw new UserError(`${what}: layer '${lname}' is a nested model; flatten it into one Sequential or functional model, or use fromFunction`);
    }
    if (!SUPPORTED_LAYERS.includes(className)) {
      throw new UserError(`${what}: layer '${lname}' of class ${className} is not supported (supported: ${SUPPORTED_LAYERS.join(', ')}); write the network as f(params, x) and use fromFunction`);
    }
    const get = configValue(lc);
    const df = get('data_format');
    if (df !== undefined && df !== null && df !== 'channels_last' && df !== 'channelsLast') throw new UserError(`${what}: layer '${lname}' uses data_format ${String(df)}; only channels_last is supported`);
    const shape = get('batch_input_shape') ?? get('batch_shape');
    if (shape !== undefined && shape !== null && inputShape === null) inputShape = sampleShape(shape, what, lname);
    let inbound: string[];
    if (sequential) inbound = className === 'InputLayer' || layers.length === 0 ? [] : [layers[layers.length - 1].name];
    else inbound = inboundNames(raw.inbound_nodes, lname, what);
    if (sequential && className === 'InputLayer' && layers.length > 0) throw new UserError(`${what}: InputLayer '${lname}' is not the first layer`);
    layers.push({ name: lname, className, config: lc, inbound });
  }
  if (inputShape === null) throw new UserError(`${what}: no input shape (batch_input_shape) in the topology; build the model with an input shape`);
  const names = new Set(layers.map((l) => l.name));
  if (names.size !== layers.length) throw new UserError(`${what}: layer names are not unique`);
  let output = layers[layers.length - 1].name;
  if (!sequential) {
    const c = cfg as Record<string, unknown>;
    const ins = c.input_layers as unknown[], outs = c.output_layers as unknown[];
    if (!Array.isArray(ins) || ins.length !== 1) throw new UserError(`${what}: the model has ${Array.isArray(ins) ? ins.length : 'no'} inputs; ntk-ts takes models with one input`);
    if (!Array.isArray(outs) || outs.length !== 1) throw new UserError(`${what}: the model has ${Array.isArray(outs) ? outs.length : 'no'} outputs; ntk-ts takes models with one output (K = its size)`);
    const o = (Array.isArray(outs[0]) ? outs[0] : outs) as unknown[];
    output = String(o[0]);
    if (!names.has(output)) throw new UserError(`${what}: output layer '${output}' is not among the layers`);
    // Topological order check: every layer reads layers listed before it.
    const seen = new Set<string>();
    for (const l of layers) {
      for (const i of l.inbound) if (!seen.has(i)) throw new UserError(`${what}: layer '${l.name}' reads '${i}', which is not an earlier layer`);
      if (l.inbound.length === 0 && l.className !== 'InputLayer') throw new UserError(`${what}: layer '${l.name}' has no input`);
      seen.add(l.name);
    }
  }
  return { name, inputShape, layers, output };
}

/** The weights a layer owns, by role in Keras' order, with trainability (a frozen layer's weights are constants). */
export function layerWeightRoles(l: Omit<LayerNode, 'weights'>): { role: string; trainable: boolean; initializer?: InitializerSpec | string }[] {
  const f = WEIGHTS[l.className];
  if (!f) return [];
  const get = configValue(l.config);
  const frozen = get('trainable') === false;
  return f(get).map((role) => ({
    role,
    trainable: !frozen && role !== 'moving_mean' && role !== 'moving_variance',
    initializer: get(INITIALIZER_KEY[role]) as InitializerSpec | string | undefined,
  }));
}
