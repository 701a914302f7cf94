import type { Argv } from 'yargs';
import type { KernelKind } from '../../jacobian/kernel-types.js';
import { type LoadedData, loadData } from '../../lib/data.js';
import type { Model } from '../../models/model.js';
import { type ModelFlags, modelFromConfig, modelFromFlags, parseWidths } from '../../models/registry.js';
import { type Param, checkParams } from '../../models/params.js';
import { parseParamsFile } from '../../models/params-file.js';
import * as path from 'node:path';
import { UserError } from '../../lib/errors.js';
import { readModelJson } from '../../lib/model-json.js';
import { layersNetworkFromNamedWeights } from '../../models/layers-network.js';
import { noProgress } from '../../lib/progress.js';
import { stderrProgress } from '../../lib/progress-bar.js';

/** Flags shared by the commands: yargs option groups, typed access to parsed arguments, and the checks and
 * loaders every command applies to them (integers, --data/--data2, model and parameters). */
export type Command = (y: Argv) => Argv;
export type Args = Record<string, unknown>;

export const modelOptions = (y: Argv) =>
  y
    .option('model', { type: 'string', describe: 'architecture: mlp (default) | cnn | resnet | gnn' })
    .option('model-json', { type: 'string', describe: 'your own network: a tfjs-layers model.json (weight shards beside it); replaces --model and its flags' })
    .option('widths', { type: 'string', describe: 'mlp: layer widths input,hidden...,outputs (default 784,100,100,100,10)' })
    .option('activation', { type: 'string', describe: 'relu (default) | erf | tanh | identity' })
    .option('parameterization', { type: 'string', describe: 'ntk (default) | standard' })
    .option('w-std', { type: 'number', describe: 'σ_w: weight scale (default √2)' })
    .option('b-std', { type: 'number', describe: 'σ_b: bias scale (default 0.1)' })
    .option('bias', { type: 'boolean', describe: 'use biases (default; --no-bias to drop them)' })
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
    .option('aggregation', { type: 'string', describe: 'gnn: sum (default) | mean | gcn (D^-1/2 (A+I) D^-1/2)' })
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
    model: (a.model as string | undefined) ?? 'mlp',
    widths: a.widths as string | undefined,
    activation: a.activation as string | undefined,
    parameterization: a.parameterization as string | undefined,
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
  if (a.data2 === undefined && a.n2 !== undefined) throw new UserError('--n2: only with --data2 (the second input set); give --data2 or drop --n2');
  const d1 = loadData(str(a, 'data'), { n: num(a, 'n'), dataSeed, flag: '--data' });
  const d2 = a.data2 !== undefined ? loadData(str(a, 'data2'), { n: num(a, 'n2'), dataSeed, flag: '--data2', nFlag: '--n2' }) : null;
  return { d1, d2 };
}

/** Check that the data fit the model (one clear line naming the flag otherwise). */
export function checkFit(model: Model, d1: LoadedData, d2: LoadedData | null): void {
  model.checkSamples(d1, '--data');
  if (d2) model.checkSamples(d2, '--data2');
}

/** The model flags (yargs names) each architecture uses; any other model flag given is refused, not ignored. */
const COMMON_MODEL_FLAGS = ['activation', 'parameterization', 'w-std', 'b-std', 'bias'];
export const MODEL_FLAGS: Record<string, string[]> = {
  mlp: ['widths', ...COMMON_MODEL_FLAGS],
  cnn: [...COMMON_MODEL_FLAGS, 'k', 'preset', 'channels', 'kernel-sizes', 'strides', 'padding', 'head', 'image-shape'],
  resnet: [...COMMON_MODEL_FLAGS, 'k', 'variant', 'input-size', 'width', 'branches', 'branch-depth', 'alpha', 'image-shape'],
  gnn: [...COMMON_MODEL_FLAGS, 'k', 'hidden', 'blocks', 'mlp-layers', 'aggregation', 'jk', 'feature-dim'],
};
const ALL_MODEL_FLAGS = [...new Set(['model', ...Object.values(MODEL_FLAGS).flat()])];

/** Refuse model flags that `model` (from --model) does not use. */
export function checkModelFlags(a: Args, model: string, extra: string[] = []): void {
  const uses = MODEL_FLAGS[model];
  if (!uses) return; // an unknown --model is reported by the registry
  const foreign = ALL_MODEL_FLAGS.find((f) => f !== 'model' && a[f] !== undefined && !uses.includes(f) && !extra.includes(f));
  if (foreign) throw new UserError(`--${foreign}: not used by --model ${model}; drop it (the ${model} takes ${[...uses, ...extra].map((f) => `--${f}`).join(', ')})`);
}

/** The params file's value for a model flag, in the flag's form, for the conflict check of --load-params. */
function configValue(config: Record<string, unknown>, flag: string): unknown {
  const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const v = config[key];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The network of --model-json and its weights (θ = its trainable weights); conflicting flags are refused. */
export function modelFromJson(a: Args): { model: Model; params: Param[]; file: string } {
  const file = str(a, 'model-json');
  if (a['load-params'] !== undefined) throw new UserError(`--model-json and --load-params both name the network; give one (a params file saved from a model.json run rebuilds it alone)`);
  const clash = ALL_MODEL_FLAGS.find((f) => a[f] !== undefined);
  if (clash) throw new UserError(`--${clash}: the network comes from --model-json ${file}; drop --${clash}`);
  const { topology, weights } = readModelJson(file);
  const { model, params } = layersNetworkFromNamedWeights(topology, weights, `--model-json ${file}`);
  return { model, params, file };
}

/** The network of the flags for re-initialisation (Monte-Carlo): --model-json's topology, or the built-in model flags. */
export function modelForSeeds(a: Args, data: LoadedData): Model {
  if (a['model-json'] !== undefined) return modelFromJson(a).model;
  const flags = modelFlags(a);
  checkModelFlags(a, flags.model);
  return modelFromFlags(flags, data);
}

/**
 * Model and parameters: from --model-json (its weights), --load-params (config from the file), or built from flags and seeded. `fits` sees the
 * model before its parameters are drawn or checked, to refuse sizes that cannot fit.
 */
export function modelAndParams(a: Args, data: LoadedData, fits: (model: Model, flag: string) => void = () => {}): { model: Model; params: Param[]; paramsFrom: string } {
  const file = a['load-params'] as string | undefined;
  if (a['model-json'] !== undefined) {
    const r = modelFromJson(a);
    return { model: r.model, params: r.params, paramsFrom: `model.json ${path.basename(r.file)} (its weights)` };
  }
  if (!file) {
    const flags = modelFlags(a);
    checkModelFlags(a, flags.model);
    const model = modelFromFlags(flags, data);
    fits(model, a.widths !== undefined ? `--widths ${a.widths}` : `--model ${flags.model}`);
    checkInteger(num(a, 'seed'), '--seed', 0);
    return { model, params: model.init(num(a, 'seed') ?? 0), paramsFrom: `init seed ${num(a, 'seed') ?? 0}` };
  }
  if (a.seed !== undefined && a.seed !== 0) throw new UserError(`--seed: not used with --load-params ${file} (the parameters come from the file); drop one of them`);
  const { config, params } = parseParamsFile(file);
  const model = modelFromConfig(config, `--load-params ${file}`);
  // A model flag given beside a params file must say what the file says: a different value is refused, not ignored.
  for (const f of ALL_MODEL_FLAGS) {
    if (a[f] === undefined) continue;
    const given = f === 'widths' ? parseWidths(a.widths as string).join(',') : a[f];
    const inFile = configValue(model.config as unknown as Record<string, unknown>, f);
    if (String(given) !== String(inFile)) {
      throw new UserError(`--${f}: ${a[f]} ${inFile === undefined ? 'is not part of the model' : `differs from ${inFile}`} in --load-params ${file}; drop one of them`);
    }
  }
  fits(model, `--load-params ${file}`);
  checkParams(params, model.paramSpecs, `--load-params ${file}`);
  return { model, params, paramsFrom: `file ${file}` };
}

export const progressFor = (a: Args) => (a.quiet ? noProgress : stderrProgress());

export function checkKind(k: string): KernelKind {
  if (k !== 'ntk' && k !== 'nngp') throw new UserError(`--kind: expected ntk or nngp; got '${k}'`);
  return k;
}
