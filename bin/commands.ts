import type { Argv } from 'yargs';
import { initBackend } from '../lib/backend.js';
import { type Dataset, featureDim, loadData } from '../lib/data.js';
import { UserError } from '../lib/errors.js';
import { metadataPath, writeFilesAtomically, writeNpyWithMetadata } from '../lib/files.js';
import { npyChunks } from '../lib/npy.js';
import { noProgress, stderrProgress } from '../lib/progress.js';
import { toolVersion } from '../lib/version.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import type { Model } from '../models/model.js';
import { type Param, checkParams, paramsToJson, parseParamsFile } from '../models/params.js';
import { type ModelFlags, buildModel, parseWidths } from '../models/registry.js';
import { empiricalKernel, expandPerOutput } from '../jacobian/empirical.js';
import { type Implementation, type KernelKind, checkMode } from '../jacobian/kernel-types.js';
import { type MonteCarloReport, monteCarloKernel } from '../jacobian/monte-carlo.js';

type Command = (y: Argv) => Argv;
type Args = Record<string, unknown>;

const modelOptions = (y: Argv) =>
  y
    .option('model', { type: 'string', default: 'mlp', describe: 'architecture: mlp' })
    .option('widths', { type: 'string', describe: 'layer widths input,hidden...,outputs (default 784,100,100,100,10)' })
    .option('activation', { type: 'string', default: 'relu', describe: 'relu | erf | tanh | identity' })
    .option('parameterization', { type: 'string', default: 'ntk', describe: 'ntk | standard' })
    .option('w-std', { type: 'number', default: Math.SQRT2, describe: 'σ_w: weight scale' })
    .option('b-std', { type: 'number', default: 0.1, describe: 'σ_b: bias scale' })
    .option('bias', { type: 'boolean', default: true, describe: 'use biases (--no-bias to drop them)' });

const dataOptions = (y: Argv) =>
  y
    .option('data', { type: 'string', default: 'mnist', describe: 'mnist | mnist:test | npy:PATH ([N, d] float) | csv:PATH (numeric, optional header)' })
    .option('n', { type: 'number', describe: 'number of samples of --data (mnist default 500; files: all)' })
    .option('data2', { type: 'string', describe: 'second input set for a cross kernel K(x1, x2) (same forms as --data)' })
    .option('n2', { type: 'number', describe: 'number of samples of --data2' })
    .option('data-seed', { type: 'number', default: 0, describe: 'seed of the disjoint MNIST train/test split' });

const kernelOptions = (y: Argv) =>
  y
    .option('kind', { type: 'string', default: 'ntk', describe: 'ntk | nngp (conjugate kernel of the last hidden layer)' })
    .option('outputs', { type: 'string', default: 'full', describe: 'full [N1·K, N2·K] | trace [N1, N2] | diagonal [N1, N2, K]' })
    .option('implementation', { type: 'string', default: 'auto', describe: 'auto | jacobian (per-sample Jacobians) | structured (per-layer rule)' })
    .option('tile', { type: 'number', describe: 'samples per tile (bounds memory); default from a memory budget' });

const commonOptions = (y: Argv) =>
  y
    .option('backend', { type: 'string', default: 'auto', describe: 'auto (tensorflow → wasm → cpu) | tensorflow | wasm | cpu' })
    .option('out', { type: 'string', demandOption: true, describe: 'output .npy; metadata goes to the .json beside it' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' });

const num = (a: Args, k: string) => a[k] as number | undefined;
const str = (a: Args, k: string) => a[k] as string;

function modelFlags(a: Args): ModelFlags {
  return {
    model: str(a, 'model'),
    widths: (a.widths as string | undefined) ?? '784,100,100,100,10',
    activation: str(a, 'activation'),
    parameterization: str(a, 'parameterization'),
    wStd: num(a, 'w-std'),
    bStd: num(a, 'b-std'),
    bias: a.bias as boolean,
  };
}

function checkInteger(v: number | undefined, flag: string, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new UserError(`${flag}: expected an integer ≥ ${min}; got ${v}`);
}

/** Load --data (and --data2) and check that their features fit the model's input size. */
function loadInputs(a: Args, inputSize: number): { d1: Dataset; d2: Dataset | null } {
  checkInteger(num(a, 'n'), '--n', 1);
  checkInteger(num(a, 'n2'), '--n2', 1);
  const dataSeed = num(a, 'data-seed') ?? 0;
  const d1 = loadData(str(a, 'data'), { n: num(a, 'n'), dataSeed, flag: '--data' });
  const d2 = a.data2 ? loadData(str(a, 'data2'), { n: num(a, 'n2'), dataSeed, flag: '--data2' }) : null;
  for (const [d, flag] of [[d1, '--data'], [d2, '--data2']] as const) {
    if (d && featureDim(d) !== inputSize) {
      throw new UserError(`${flag}: ${d.source} has ${featureDim(d)} features per sample but the model's input width is ${inputSize} (first of --widths)`);
    }
  }
  return { d1, d2 };
}

const dataMeta = (d: Dataset | null) => (d ? { source: d.source, n: d.n, sampleShape: d.sampleShape } : null);

/** Model and parameters: from --load-params (config from the file), or built from flags and seeded. */
function modelAndParams(a: Args): { model: Model; params: Param[]; paramsFrom: string } {
  const file = a['load-params'] as string | undefined;
  if (!file) {
    const model = buildModel(modelFlags(a));
    checkInteger(num(a, 'seed'), '--seed', 0);
    return { model, params: model.init(num(a, 'seed') ?? 0), paramsFrom: `init seed ${num(a, 'seed') ?? 0}` };
  }
  const { config, params } = parseParamsFile(file);
  const model = buildModel({ ...(config as object), model: String(config.model) } as ModelFlags);
  if (a.widths !== undefined && parseWidths(a.widths as string).join(',') !== (model.config as unknown as { widths: number[] }).widths.join(',')) {
    throw new UserError(`--widths: ${a.widths} differs from the widths in --load-params ${file}; drop one of them`);
  }
  checkParams(params, model.paramSpecs, `--load-params ${file}`);
  return { model, params, paramsFrom: `file ${file}` };
}

const progressFor = (a: Args) => (a.quiet ? noProgress : stderrProgress());

const kernelCommand: Command = (y) =>
  y.command(
    'kernel',
    'empirical NTK (or NNGP) of one network at initialisation or at loaded parameters',
    (c) =>
      commonOptions(kernelOptions(dataOptions(modelOptions(c))))
        .option('seed', { type: 'number', default: 0, describe: 'initialisation seed' })
        .option('save-params', { type: 'string', describe: 'write the parameters used to this JSON file' })
        .option('load-params', { type: 'string', describe: 'use the parameters (and model config) of this JSON file' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      if (!/\.npy$/i.test(out)) throw new UserError(`--out: expected a path ending in .npy; got '${out}'`);
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      const { model, params, paramsFrom } = modelAndParams(a);
      const { d1, d2 } = loadInputs(a, model.inputSize);
      const backend = await initBackend(str(a, 'backend'));
      const tc = performance.now();
      const { kernel, info } = empiricalKernel(model, params, d1, d2, {
        kind, mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile'), progress: progressFor(a),
      });
      const computeSeconds = (performance.now() - tc) / 1000;
      const files: { path: string; data: Buffer | string | Buffer[] }[] = [];
      const saveParams = a['save-params'] as string | undefined;
      if (saveParams) files.push({ path: saveParams, data: paramsToJson(model.config, params) });
      const meta = {
        tool: toolVersion(), command: 'kernel', kind, outputs: mode, config: model.config, params: paramsFrom, seed: num(a, 'seed'),
        backend, implementation: info.implementation, tile: info.tile, tiles: info.tiles, symmetric: info.symmetric,
        stageSeconds: Object.fromEntries(Object.entries(info.timing).map(([k, v]) => [k, round(v)])),
        data: dataMeta(d1), data2: dataMeta(d2), K: kernel.K, shape: kernel.shape, dtype: 'float32', layout: layoutOf(mode),
        computeSeconds: round(computeSeconds), totalSeconds: round((performance.now() - t0) / 1000),
      };
      writeFilesAtomically([
        ...files,
        { path: out, data: npyChunks({ data: kernel.data, shape: kernel.shape }) },
        { path: metadataPath(out), data: JSON.stringify(meta, null, 2) + '\n' },
      ]);
      if (!a.quiet) process.stderr.write(`wrote ${out} [${kernel.shape}] (${backend}, ${info.implementation}, ${computeSeconds.toFixed(2)} s)\n`);
    },
  );

const infiniteCommand: Command = (y) =>
  y.command(
    'infinite',
    'Monte-Carlo NTK∞ (or NNGP∞): mean of S networks\' kernels with per-entry standard errors',
    (c) =>
      commonOptions(kernelOptions(dataOptions(modelOptions(c))))
        .option('seeds', { type: 'number', default: 16, describe: 'number of networks S (≥ 2)' })
        .option('seed', { type: 'number', default: 0, describe: 'base seed; network s uses seed "SEED/s"' })
        .option('stderr-out', { type: 'string', describe: 'write the per-entry standard error here (.npy)' })
        .option('report-at', { type: 'string', describe: 'also report the estimate after these S, e.g. 4,16,64' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      const seOut = a['stderr-out'] as string | undefined;
      for (const [p, flag] of [[out, '--out'], [seOut, '--stderr-out']] as const) {
        if (p !== undefined && !/\.npy$/i.test(p)) throw new UserError(`${flag}: expected a path ending in .npy; got '${p}'`);
      }
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      checkInteger(num(a, 'seed'), '--seed', 0);
      const model = buildModel(modelFlags(a));
      const { d1, d2 } = loadInputs(a, model.inputSize);
      const reportAt = a['report-at'] === undefined ? [] : parseIntList(str(a, 'report-at'), '--report-at');
      const backend = await initBackend(str(a, 'backend'));
      const oracle = analyticOracle(model, d1, d2, kind, mode);
      const reports: object[] = [];
      const onReport = (r: MonteCarloReport) => reports.push(summarise(r, oracle));
      const tc = performance.now();
      const mc = monteCarloKernel(model, d1, d2, {
        kind, mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile'),
        seeds: num(a, 'seeds')!, seed: num(a, 'seed') ?? 0, reportAt, onReport, progress: progressFor(a),
      });
      const computeSeconds = (performance.now() - tc) / 1000;
      const meta = {
        tool: toolVersion(), command: 'infinite', kind, outputs: mode, config: model.config, seeds: mc.seeds, seed: num(a, 'seed'),
        networkSeeds: `"${num(a, 'seed')}/s" for s = 0..${mc.seeds - 1}`, backend, implementation: mc.info.implementation, tile: mc.info.tile,
        data: dataMeta(d1), data2: dataMeta(d2), K: model.outputSize, shape: mc.shape, dtype: 'float64', layout: layoutOf(mode),
        stderrFile: seOut ?? null, reports, analyticOracle: oracle ? oracle.what : 'none for this configuration',
        computeSeconds: round(computeSeconds), totalSeconds: round((performance.now() - t0) / 1000),
      };
      const arrays = [{ path: out, array: { data: mc.mean, shape: mc.shape } }];
      if (seOut) arrays.push({ path: seOut, array: { data: mc.stderr, shape: mc.shape } });
      writeNpyWithMetadata(out, arrays, meta);
      if (!a.quiet) {
        const last = reports[reports.length - 1] as Record<string, number>;
        process.stderr.write(`wrote ${out} [${mc.shape}] from ${mc.seeds} networks (${backend}); relative stderr ${last.relativeStderr.toPrecision(3)}` +
          (last.relativeErrorToAnalytic !== undefined ? `, relative error to analytic ${last.relativeErrorToAnalytic.toPrecision(3)}` : '') + '\n');
      }
    },
  );

const analyticCommand: Command = (y) =>
  y.command(
    'analytic',
    'analytic infinite-width NTK or NNGP of a fully-connected net (relu, erf, identity), float64',
    (c) =>
      commonOptions(dataOptions(c))
        .option('model', { type: 'string', default: 'mlp', describe: 'mlp' })
        .option('depth', { type: 'number', describe: 'number of hidden layers L (or give --widths)' })
        .option('widths', { type: 'string', describe: 'layer widths; sets the input size, depth and K' })
        .option('activation', { type: 'string', default: 'relu' })
        .option('w-std', { type: 'number', default: Math.SQRT2 })
        .option('b-std', { type: 'number', default: 0.1 })
        .option('kind', { type: 'string', default: 'ntk', describe: 'ntk | nngp' })
        .option('outputs', { type: 'string', default: 'trace', describe: 'trace [N1, N2] (per output) | full (⊗ I_K) | diagonal' })
        .option('k', { type: 'number', describe: 'number of outputs K for full/diagonal (default: last of --widths, else 1)' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      if (!/\.npy$/i.test(out)) throw new UserError(`--out: expected a path ending in .npy; got '${out}'`);
      if (str(a, 'model') !== 'mlp') throw new UserError(`--model: the analytic kernel is implemented for mlp; got '${str(a, 'model')}'`);
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      const widths = a.widths !== undefined ? parseWidths(str(a, 'widths')) : null;
      const depth = num(a, 'depth') ?? (widths ? widths.length - 2 : undefined);
      if (depth === undefined) throw new UserError('--depth: required (or give --widths)');
      checkInteger(depth, '--depth', 0);
      const K = num(a, 'k') ?? (widths ? widths[widths.length - 1] : 1);
      checkInteger(K, '--k', 1);
      const probe = loadData(str(a, 'data'), { n: num(a, 'n'), dataSeed: num(a, 'data-seed') ?? 0, flag: '--data' });
      const { d1, d2 } = loadInputs(a, widths ? widths[0] : featureDim(probe));
      const cfg = { depth, activation: str(a, 'activation'), wStd: num(a, 'w-std')!, bStd: num(a, 'b-std')! };
      const b = d2 ?? d1;
      const r = analyticMlpKernel(cfg, d1.x, d1.n, b.x, b.n, featureDim(d1));
      const per = kind === 'ntk' ? r.ntk : r.nngp;
      const data = mode === 'trace' ? per : Float64Array.from(expandPerOutput(per, d1.n, b.n, K, mode));
      const shape = mode === 'full' ? [d1.n * K, b.n * K] : mode === 'trace' ? [d1.n, b.n] : [d1.n, b.n, K];
      const meta = {
        tool: toolVersion(), command: 'analytic', kind, outputs: mode, config: { model: 'mlp', ...cfg, parameterization: 'ntk' }, K,
        data: dataMeta(d1), data2: dataMeta(d2), shape, dtype: 'float64', layout: layoutOf(mode), totalSeconds: round((performance.now() - t0) / 1000),
      };
      writeNpyWithMetadata(out, [{ path: out, array: { data, shape } }], meta);
      if (!a.quiet) process.stderr.write(`wrote ${out} [${shape}]\n`);
    },
  );

function checkKind(k: string): KernelKind {
  if (k !== 'ntk' && k !== 'nngp') throw new UserError(`--kind: expected ntk or nngp; got '${k}'`);
  return k;
}

function parseIntList(s: string, flag: string): number[] {
  const parts = String(s).split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UserError(`${flag}: expected integers separated by commas; got '${s}'`);
  return parts.map(Number);
}

const layoutOf = (mode: string) =>
  mode === 'full' ? 'row i*K+k, column j*K+k2: Theta(x_i, x_j)[k, k2]' : mode === 'trace' ? 'mean over k of Theta(x_i, x_j)[k, k]' : '[i, j, k] = Theta(x_i, x_j)[k, k]';

const round = (s: number) => Math.round(s * 1000) / 1000;

/** The analytic kernel in the output layout of the Monte-Carlo estimate, when a closed form exists. */
function analyticOracle(model: Model, d1: Dataset, d2: Dataset | null, kind: KernelKind, mode: 'full' | 'trace' | 'diagonal'): { what: string; data: Float64Array } | null {
  const c = model.config as { model: string; widths?: number[]; activation?: string; parameterization?: string; wStd?: number; bStd?: number; bias?: boolean };
  if (c.model !== 'mlp' || c.parameterization !== 'ntk' || !['relu', 'erf', 'identity'].includes(c.activation ?? '') || !c.widths) return null;
  const b = d2 ?? d1;
  const r = analyticMlpKernel({ depth: c.widths.length - 2, activation: c.activation!, wStd: c.wStd!, bStd: c.bias ? c.bStd! : 0 }, d1.x, d1.n, b.x, b.n, featureDim(d1));
  const per = kind === 'ntk' ? r.ntk : r.nngp;
  const K = model.outputSize;
  return { what: `analytic ${kind} of the infinite-width mlp (depth ${c.widths.length - 2}, ${c.activation})`, data: mode === 'trace' ? per : Float64Array.from(expandPerOutput(per, d1.n, b.n, K, mode)) };
}

/** Summary of one Monte-Carlo report: relative standard error and, with an oracle, the error and z-scores. */
export function summarise(r: MonteCarloReport, oracle: { data: Float64Array } | null): Record<string, number> {
  let m2 = 0, se2 = 0;
  for (let i = 0; i < r.mean.length; i++) {
    m2 += r.mean[i] * r.mean[i];
    se2 += r.stderr[i] * r.stderr[i];
  }
  const s: Record<string, number> = { seeds: r.seeds, relativeStderr: Math.sqrt(se2 / m2) };
  if (oracle) {
    let e2 = 0, o2 = 0, within2 = 0, count = 0;
    for (let i = 0; i < r.mean.length; i++) {
      const e = r.mean[i] - oracle.data[i];
      e2 += e * e;
      o2 += oracle.data[i] * oracle.data[i];
      if (r.stderr[i] > 0) {
        count++;
        if (Math.abs(e) <= 2 * r.stderr[i]) within2++;
      }
    }
    s.relativeErrorToAnalytic = Math.sqrt(e2 / o2);
    s.shareWithin2Stderr = count ? within2 / count : NaN;
  }
  return s;
}

export const commands: Command[] = [kernelCommand, infiniteCommand, analyticCommand];
