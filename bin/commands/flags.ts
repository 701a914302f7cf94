import type { Argv } from 'yargs';
import type { KernelKind } from '../../jacobian/kernel-types.js';
import { type LoadedData, loadData } from '../../lib/data.js';
import type { Model } from '../../models/model.js';
import { type ModelFlags, modelFromConfig, modelFromFlags, parseWidths } from '../../models/registry.js';
import { type Param, checkParams, parseParamsFile } from '../../models/params.js';
import * as path from 'node:path';
import { UserError } from '../../lib/errors.js';
import { readModelJson } from '../../lib/model-json.js';
import { layersNetworkFromNamedWeights } from '../../models/layers-network.js';
import { noProgress, stderrProgress } from '../../lib/progress.js';

/** Flags shared by the commands: yargs option groups, typed access to parsed arguments, and the checks and
 * loaders every command applies to them (integers, --data/--data2, model and parameters). */
export type Command = (y: Argv) => Argv;
export type Args = Record<string, unknown>;

export const modelOptions = (y: Argv) =>
  y
    .option('model', { type: 'string', default: 'mlp', describe: 'architecture: mlp | cnn | resnet | gnn' })
    .option('model-json', { type: 'string', describe: 'your own network: a tfjs-layers model.json (weight shards beside it); replaces --model and its flags' })
    .option('widths', { type: 'string', describe: 'mlp: layer widths input,hidden...,outputs (default 784,100,100,100,10)' })
    .option('activation', { type: 'string', default: 'relu', describe: 'relu | erf | tanh | identity' })
    .option('parameterization', { type: 'string', default: 'ntk', describe: 'ntk | standard' })
    .option('w-std', { type: 'number', default: Math.SQRT2, describe: 'σ_w: weight scale' })
    .option('b-std', { type: 'number', default: 0.1, describe: 'σ_b: bias scale' })
    .option('bias', { type: 'boolean', default: true, describe: 'use biases (--no-bias to drop them)' })
    .option('k', { type: 'number', describe: 'number of outputs K (cnn/resnet default 10, gnn default 1)' })
    .option('preset', { type: 'string', describe: 'cnn: seed-cnn = the CNN of seeds/003 (28×28×1, 5×5, 5×5, 20×20 valid)' })
    .option('channels', { type: 'string', describe: 'cnn: channels per convolution (seed-cnn: the two hidden ones, default 20,20)' })
    .option('kernel-sizes', { type: 'string', describe: 'cnn: kernel size per convolution or one for all (default 3)' })
    .option('strides', { type: 'string', describe: 'cnn: stride per convolution or one for all (default 1)' })
    .option('padding', { type: 'string', describe: 'cnn: valid | same (default same)' })
    .option('head', { type: 'string', describe: 'cnn: gap (global average pool + dense, default) | flatten | conv' })
    .option('image-shape', { type: 'string', describe: 'cnn/conv resnet: H,W,C of the images (default from the data, else 28,28,1)' })
    .option('variant', { type: 'string', describe: 'resnet: mlp (residual MLP, default) | conv' })
    .option('input-size', { type: 'number', describe: 'resnet mlp: input size (default from the data)' })
    .option('width', { type: 'number', describe: 'resnet: width n (default 100)' })
    .option('branches', { type: 'number', describe: 'resnet: number of residual branches m (default 4)' })
    .option('branch-depth', { type: 'number', describe: 'resnet: layers per branch d (default 2)' })
    .option('alpha', { type: 'number', describe: 'resnet: branch scale α (default 1/√m)' })
    .option('hidden', { type: 'number', describe: 'gnn: hidden width (default 64)' })
    .option('blocks', { type: 'number', describe: 'gnn: number of GIN blocks (default 2)' })
    .option('mlp-layers', { type: 'number', describe: 'gnn: dense layers per block R (default 2)' })
    .option('aggregation', { type: 'string', describe: 'gnn: sum (default) | mean' })
    .option('jk', { type: 'boolean', describe: 'gnn: jumping knowledge (concatenate the readouts of all blocks)' })
    .option('feature-dim', { type: 'number', describe: 'gnn: node feature size (default from the data)' });

export const dataOptions = (y: Argv) =>
  y
    .option('data', { type: 'string', default: 'mnist', describe: 'mnist | mnist:test | npy:PATH ([N, d] or [N, H, W, C] float) | csv:PATH (numeric, optional header) | graphs:PATH (GIN text format) | synthetic-graphs[:N]' })
    .option('n', { type: 'number', describe: 'number of samples of --data (mnist default 500; files: all)' })
    .option('data2', { type: 'string', describe: 'second input set for a cross kernel K(x1, x2) (same forms as --data)' })
    .option('n2', { type: 'number', describe: 'number of samples of --data2' })
    .option('data-seed', { type: 'number', default: 0, describe: 'seed of the disjoint MNIST train/test split' });

export const kernelOptions = (y: Argv) =>
  y
    .option('kind', { type: 'string', default: 'ntk', describe: 'ntk | nngp (conjugate kernel of the last hidden layer)' })
    .option('outputs', { type: 'string', default: 'full', describe: 'full [N1·K, N2·K] | trace [N1, N2] | diagonal [N1, N2, K]' })
    .option('implementation', { type: 'string', default: 'auto', describe: 'auto | jacobian (per-sample Jacobians) | structured (per-layer rule)' })
    .option('tile', { type: 'number', describe: 'samples per tile (bounds memory); default from a memory budget' });

/** --backend and --quiet, which every command takes. */
export const runOptions = <T>(y: Argv<T>, backend = 'auto (tensorflow → wasm → cpu) | tensorflow | wasm | cpu') =>
  y
    .option('backend', { type: 'string', default: 'auto', describe: backend })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' });

export const commonOptions = (y: Argv) =>
  runOptions(y).option('out', { type: 'string', demandOption: true, describe: 'output .npy; metadata goes to the .json beside it' });

export const num = (a: Args, k: string) => a[k] as number | undefined;
export const str = (a: Args, k: string) => a[k] as string;

export function modelFlags(a: Args): ModelFlags {
  return {
    model: str(a, 'model'),
    widths: a.widths as string | undefined,
    activation: str(a, 'activation'),
    parameterization: str(a, 'parameterization'),
    wStd: num(a, 'w-std'),
    bStd: num(a, 'b-std'),
    bias: a.bias as boolean,
    k: num(a, 'k'),
    preset: a.preset as string | undefined,
    channels: a.channels as string | undefined,
    kernelSizes: a['kernel-sizes'] as string | undefined,
    strides: a.strides as string | undefined,
    padding: a.padding as string | undefined,
    head: a.head as string | undefined,
    imageShape: a['image-shape'] as string | undefined,
    variant: a.variant as string | undefined,
    inputSize: num(a, 'input-size'),
    width: num(a, 'width'),
    branches: num(a, 'branches'),
    branchDepth: num(a, 'branch-depth'),
    alpha: num(a, 'alpha'),
    hidden: num(a, 'hidden'),
    blocks: num(a, 'blocks'),
    mlpLayers: num(a, 'mlp-layers'),
    aggregation: a.aggregation as string | undefined,
    jk: a.jk as boolean | undefined,
    featureDim: num(a, 'feature-dim'),
  };
}

export function checkInteger(v: number | undefined, flag: string, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new UserError(`${flag}: expected an integer ≥ ${min}; got ${v}`);
}

/** Load --data (and --data2). */
export function loadInputs(a: Args): { d1: LoadedData; d2: LoadedData | null } {
  checkInteger(num(a, 'n'), '--n', 1);
  checkInteger(num(a, 'n2'), '--n2', 1);
  const dataSeed = num(a, 'data-seed') ?? 0;
  const d1 = loadData(str(a, 'data'), { n: num(a, 'n'), dataSeed, flag: '--data' });
  const d2 = a.data2 ? loadData(str(a, 'data2'), { n: num(a, 'n2'), dataSeed, flag: '--data2' }) : null;
  return { d1, d2 };
}

/** Check that the data fit the model (one clear line naming the flag otherwise). */
export function checkFit(model: Model, d1: LoadedData, d2: LoadedData | null): void {
  model.checkSamples(d1, '--data');
  if (d2) model.checkSamples(d2, '--data2');
}

/** Architecture flags that have no default: given together with --model-json they would be ignored, so they are refused. */
const ARCHITECTURE_FLAGS = ['widths', 'k', 'preset', 'channels', 'kernel-sizes', 'strides', 'padding', 'head', 'image-shape', 'variant', 'input-size', 'width', 'branches', 'branch-depth', 'alpha', 'hidden', 'blocks', 'mlp-layers', 'aggregation', 'jk', 'feature-dim'];

/** The network of --model-json and its weights (θ = its trainable weights); conflicting flags are refused. */
export function modelFromJson(a: Args): { model: Model; params: Param[]; file: string } {
  const file = str(a, 'model-json');
  if (a['load-params'] !== undefined) throw new UserError(`--model-json and --load-params both name the network; give one (a params file saved from a model.json run rebuilds it alone)`);
  const clash = ARCHITECTURE_FLAGS.find((f) => a[f] !== undefined);
  if (clash) throw new UserError(`--${clash}: the network comes from --model-json ${file}; drop --${clash}`);
  const { topology, weights } = readModelJson(file);
  const { model, params } = layersNetworkFromNamedWeights(topology, weights, `--model-json ${file}`);
  return { model, params, file };
}

/** The network of the flags for re-initialisation (Monte-Carlo): --model-json's topology, or the built-in model flags. */
export function modelForSeeds(a: Args, data: LoadedData): Model {
  return a['model-json'] !== undefined ? modelFromJson(a).model : modelFromFlags(modelFlags(a), data);
}

/** Model and parameters: from --model-json (its weights), --load-params (config from the file), or built from flags and seeded. */
export function modelAndParams(a: Args, data: LoadedData): { model: Model; params: Param[]; paramsFrom: string } {
  const file = a['load-params'] as string | undefined;
  if (a['model-json'] !== undefined) {
    const r = modelFromJson(a);
    return { model: r.model, params: r.params, paramsFrom: `model.json ${path.basename(r.file)} (its weights)` };
  }
  if (!file) {
    const model = modelFromFlags(modelFlags(a), data);
    checkInteger(num(a, 'seed'), '--seed', 0);
    return { model, params: model.init(num(a, 'seed') ?? 0), paramsFrom: `init seed ${num(a, 'seed') ?? 0}` };
  }
  const { config, params } = parseParamsFile(file);
  const model = modelFromConfig(config, `--load-params ${file}`);
  if (a.widths !== undefined && model.config.model === 'mlp' && parseWidths(a.widths as string).join(',') !== (model.config as unknown as { widths: number[] }).widths.join(',')) {
    throw new UserError(`--widths: ${a.widths} differs from the widths in --load-params ${file}; drop one of them`);
  }
  checkParams(params, model.paramSpecs, `--load-params ${file}`);
  return { model, params, paramsFrom: `file ${file}` };
}

export const progressFor = (a: Args) => (a.quiet ? noProgress : stderrProgress());

export function checkKind(k: string): KernelKind {
  if (k !== 'ntk' && k !== 'nngp') throw new UserError(`--kind: expected ntk or nngp; got '${k}'`);
  return k;
}
