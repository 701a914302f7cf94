import { UserError } from '../lib/errors.js';
import { type Samples, sampleSize } from '../lib/samples.js';
import { Cnn, type CnnConfig, type ConvSpec, seedCnnConfig } from './cnn.js';
import { Gnn, type GnnConfig } from './gnn.js';
import type { Activation, CommonConfig, Padding, Parameterization } from './layers.js';
import { DEFAULT_COMMON, Mlp, type MlpConfig } from './mlp.js';
import type { Model } from './model.js';
import { ResNet, type ResNetConfig } from './resnet.js';
import { LayersNetwork, type LayersModelConfig } from './layers-network.js';

export const MODELS = ['mlp', 'cnn', 'resnet', 'gnn'] as const;

/** Model flags as they come from the CLI (strings for lists). */
export interface ModelFlags {
  model: string;
  widths?: string | number[];
  activation?: string;
  parameterization?: string;
  wStd?: number;
  bStd?: number;
  bias?: boolean;
  // cnn
  preset?: string;
  channels?: string;
  kernelSizes?: string;
  strides?: string;
  padding?: string;
  head?: string;
  imageShape?: string;
  k?: number;
  // resnet
  variant?: string;
  inputSize?: number;
  width?: number;
  branches?: number;
  branchDepth?: number;
  alpha?: number;
  // gnn
  hidden?: number;
  blocks?: number;
  mlpLayers?: number;
  aggregation?: string;
  jk?: boolean;
  featureDim?: number;
}

/** Parse "a,b,c" into positive integers; anything else is a UserError naming the flag. */
export function parseIntList(v: string | number[] | undefined, flag: string, minLength = 1): number[] {
  if (v === undefined) throw new UserError(`${flag}: required`);
  const parts = Array.isArray(v) ? v.map(String) : String(v).split(',').map((s) => s.trim());
  if (parts.length < minLength || parts.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s)))) {
    throw new UserError(`${flag}: expected ${minLength > 1 ? `at least ${minLength} ` : ''}positive integers separated by commas; got '${Array.isArray(v) ? v.join(',') : v}'`);
  }
  return parts.map(Number);
}

/** Parse "784,100,10" into widths (at least two positive integers). */
export const parseWidths = (w: string | number[] | undefined): number[] => parseIntList(w ?? '784,100,100,100,10', '--widths', 2);

function common(f: ModelFlags): CommonConfig {
  return {
    activation: (f.activation ?? DEFAULT_COMMON.activation) as Activation,
    parameterization: (f.parameterization ?? DEFAULT_COMMON.parameterization) as Parameterization,
    wStd: f.wStd ?? DEFAULT_COMMON.wStd,
    bStd: f.bStd ?? DEFAULT_COMMON.bStd,
    bias: f.bias ?? DEFAULT_COMMON.bias,
  };
}

/** Image shape: --image-shape, else the data's [H, W, C] sample shape, else 28,28,1 (MNIST). */
function imageShape(f: ModelFlags, data: Samples | null): [number, number, number] {
  if (f.imageShape !== undefined) {
    const s = parseIntList(f.imageShape, '--image-shape', 3);
    if (s.length !== 3) throw new UserError(`--image-shape: expected H,W,C; got '${f.imageShape}'`);
    return s as [number, number, number];
  }
  if (data?.kind === 'vectors' && data.sampleShape.length === 3) return data.sampleShape as [number, number, number];
  return [28, 28, 1];
}

/** Repeat a one-element list to length n, or check that it has length n. */
function perLayer(list: number[], n: number, flag: string): number[] {
  if (list.length === 1) return new Array(n).fill(list[0]);
  if (list.length !== n) throw new UserError(`${flag}: expected 1 or ${n} values (one per convolution); got ${list.length}`);
  return list;
}

/**
 * Build a model from CLI flags; sizes not given default from the data (input size, image shape, graph
 * feature dimension).
 */
export function modelFromFlags(f: ModelFlags, data: Samples | null): Model {
  const c = common(f);
  switch (f.model) {
    case 'mlp':
      return new Mlp({ model: 'mlp', ...c, widths: parseWidths(f.widths) });
    case 'cnn': {
      if (f.preset !== undefined && f.preset !== 'seed-cnn') throw new UserError(`--preset: expected seed-cnn; got '${f.preset}'`);
      if (f.preset === 'seed-cnn') {
        const ch = f.channels === undefined ? [20, 20] : parseIntList(f.channels, '--channels');
        if (ch.length !== 2) throw new UserError(`--channels: the seed-cnn preset takes two channel counts (e.g. 20,20 or 15,15); got '${f.channels}'`);
        return new Cnn(seedCnnConfig([ch[0], ch[1]], c));
      }
      const channels = parseIntList(f.channels ?? '32,32', '--channels');
      const ks = perLayer(parseIntList(f.kernelSizes ?? '3', '--kernel-sizes'), channels.length, '--kernel-sizes');
      const st = perLayer(parseIntList(f.strides ?? '1', '--strides'), channels.length, '--strides');
      const convs: ConvSpec[] = channels.map((ch, i) => ({ kernel: ks[i], channels: ch, stride: st[i], padding: (f.padding ?? 'same') as Padding }));
      return new Cnn({ model: 'cnn', ...c, imageShape: imageShape(f, data), convs, head: (f.head ?? 'gap') as CnnConfig['head'], outputs: f.k ?? 10 });
    }
    case 'resnet': {
      const variant = (f.variant ?? 'mlp') as ResNetConfig['variant'];
      const branches = f.branches ?? 4;
      const inputSize = f.inputSize ?? (data?.kind === 'vectors' ? sampleSize(data) : 784);
      return new ResNet({
        model: 'resnet', ...c, variant, inputSize, imageShape: variant === 'conv' ? imageShape(f, data) : undefined, width: f.width ?? 100,
        branches, branchDepth: f.branchDepth ?? 2, alpha: f.alpha ?? 1 / Math.sqrt(branches), outputs: f.k ?? 10,
      });
    }
    case 'gnn':
      return new Gnn({
        model: 'gnn', ...c, featureDim: f.featureDim ?? (data?.kind === 'graphs' ? data.featureDim : 8), hidden: f.hidden ?? 64,
        blocks: f.blocks ?? 2, mlpLayers: f.mlpLayers ?? 2, aggregation: (f.aggregation ?? 'sum') as GnnConfig['aggregation'], jk: f.jk ?? false, outputs: f.k ?? 1,
      });
    default:
      throw new UserError(`--model: unknown model '${f.model}'; expected one of ${MODELS.join(', ')}`);
  }
}

/** Rebuild a model from the "config" object stored in a params file. */
export function modelFromConfig(cfg: Record<string, unknown>, what: string): Model {
  try {
    switch (cfg.model) {
      case 'mlp': return new Mlp(cfg as unknown as MlpConfig);
      case 'cnn': return new Cnn(cfg as unknown as CnnConfig);
      case 'resnet': return new ResNet(cfg as unknown as ResNetConfig);
      case 'gnn': return new Gnn(cfg as unknown as GnnConfig);
      case 'layers': return new LayersNetwork(cfg as unknown as LayersModelConfig);
      default: throw new UserError(`unknown model '${String(cfg.model)}'; expected one of ${MODELS.join(', ')}`);
    }
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${what}: config: ${e.message}`);
    throw new UserError(`${what}: config is malformed (${(e as Error).message})`);
  }
}
