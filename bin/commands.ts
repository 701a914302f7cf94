import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Argv } from 'yargs';
import yargs from 'yargs';
import * as path from 'node:path';
import { initBackend } from '../lib/backend.js';
import { currentEngine } from '../lib/matrix-engine.js';
import { type LoadedData, featureDim, loadData } from '../lib/data.js';
import { UserError } from '../lib/errors.js';
import { metadataPath, writeFilesAtomically, writeNpyWithMetadata } from '../lib/files.js';
import { NpyFileWriter } from '../lib/npy-file.js';
import { type ShardInfo, fileTileSink, mergeShards, parseShard } from '../jacobian/out-of-core.js';
import { npyChunks, readNpy } from '../lib/npy.js';
import { compareKernels } from '../lib/kernel-metrics.js';
import { noProgress, stderrProgress } from '../lib/progress.js';
import { toolVersion } from '../lib/version.js';
import { type MnistStudyOptions, mnistDefaults, renderMnistStudy, runMnistStudy } from '../experiments/mnist.js';
import { runResnetVsFfnet } from '../experiments/resnet-vs-ffnet.js';
import { convergenceDefaults, runConvergence } from '../experiments/convergence.js';
import { runGntkStudy } from '../experiments/gntk.js';
import { lantkDefaults, runLantk } from '../experiments/lantk.js';
import { lognormalDefaults, runLognormal } from '../experiments/lognormal.js';
import type { GraphDataset } from '../lib/graphs.js';
import { loadTableFolder } from '../lib/tabular.js';
import { runTabular } from '../experiments/tabular.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import { analyticGntk } from '../models/gnn-analytic.js';
import type { Gnn } from '../models/gnn.js';
import type { GraphSamples } from '../lib/samples.js';
import type { Model } from '../models/model.js';
import { type Param, checkParams, paramsToJson, parseParamsFile } from '../models/params.js';
import { type ModelFlags, modelFromConfig, modelFromFlags, parseIntList, parseWidths } from '../models/registry.js';
import { type KernelInfo, empiricalKernel, expandPerOutput, planKernel, resolveImplementation } from '../jacobian/empirical.js';
import { parallelStructuredKernel } from '../jacobian/parallel.js';
import { type Implementation, type KernelKind, checkMode, kernelShape } from '../jacobian/kernel-types.js';
import { type MonteCarloReport, monteCarloKernel } from '../jacobian/monte-carlo.js';

type Command = (y: Argv) => Argv;
type Args = Record<string, unknown>;

const modelOptions = (y: Argv) =>
  y
    .option('model', { type: 'string', default: 'mlp', describe: 'architecture: mlp | cnn | resnet | gnn' })
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

const dataOptions = (y: Argv) =>
  y
    .option('data', { type: 'string', default: 'mnist', describe: 'mnist | mnist:test | npy:PATH ([N, d] or [N, H, W, C] float) | csv:PATH (numeric, optional header) | graphs:PATH (GIN text format) | synthetic-graphs[:N]' })
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

/** --backend and --quiet, which every command takes. */
const runOptions = <T>(y: Argv<T>, backend = 'auto (tensorflow → wasm → cpu) | tensorflow | wasm | cpu') =>
  y
    .option('backend', { type: 'string', default: 'auto', describe: backend })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' });

const commonOptions = (y: Argv) =>
  runOptions(y).option('out', { type: 'string', demandOption: true, describe: 'output .npy; metadata goes to the .json beside it' });

const num = (a: Args, k: string) => a[k] as number | undefined;
const str = (a: Args, k: string) => a[k] as string;

function modelFlags(a: Args): ModelFlags {
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

function checkInteger(v: number | undefined, flag: string, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new UserError(`${flag}: expected an integer ≥ ${min}; got ${v}`);
}

/** Load --data (and --data2). */
function loadInputs(a: Args): { d1: LoadedData; d2: LoadedData | null } {
  checkInteger(num(a, 'n'), '--n', 1);
  checkInteger(num(a, 'n2'), '--n2', 1);
  const dataSeed = num(a, 'data-seed') ?? 0;
  const d1 = loadData(str(a, 'data'), { n: num(a, 'n'), dataSeed, flag: '--data' });
  const d2 = a.data2 ? loadData(str(a, 'data2'), { n: num(a, 'n2'), dataSeed, flag: '--data2' }) : null;
  return { d1, d2 };
}

/** Check that the data fit the model (one clear line naming the flag otherwise). */
function checkFit(model: Model, d1: LoadedData, d2: LoadedData | null): void {
  model.checkSamples(d1, '--data');
  if (d2) model.checkSamples(d2, '--data2');
}

const dataMeta = (d: LoadedData | null) => (d ? { source: d.source, n: d.n, ...(d.kind === 'vectors' ? { sampleShape: d.sampleShape } : { featureDim: d.featureDim }) } : null);

/** Model and parameters: from --load-params (config from the file), or built from flags and seeded. */
function modelAndParams(a: Args, data: LoadedData): { model: Model; params: Param[]; paramsFrom: string } {
  const file = a['load-params'] as string | undefined;
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

const progressFor = (a: Args) => (a.quiet ? noProgress : stderrProgress());

const kernelCommand: Command = (y) =>
  y.command(
    'kernel',
    'empirical NTK (or NNGP) of one network at initialisation or at loaded parameters',
    (c) =>
      commonOptions(kernelOptions(dataOptions(modelOptions(c))))
        .option('seed', { type: 'number', default: 0, describe: 'initialisation seed' })
        .option('save-params', { type: 'string', describe: 'write the parameters used to this JSON file' })
        .option('load-params', { type: 'string', describe: 'use the parameters (and model config) of this JSON file' })
        .option('workers', { type: 'number', default: os.availableParallelism(), describe: 'threads for the structured ntk (each with its own backend; default: the number of cores); same kernel bit for bit' })
        .option('memory', { type: 'number', describe: 'out-of-core: write the kernel tile by tile into --out on disk (never held in memory), tiles sized for this budget in MB' })
        .option('shard', { type: 'string', describe: 'I/N: compute only shard I of N (tile pairs p with p mod N = I) into --out; assemble with ntk merge' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      checkNpyPath(out, '--out');
      if (a.memory !== undefined || a.shard !== undefined) return streamKernel(a, out, t0);
      const r = await computeKernel(a);
      const { kernel, info, model, params, backend } = r;
      const saveParams = a['save-params'] as string | undefined;
      const meta = {
        ...kernelRunMeta(a, r, info, kernel.shape), workers: info.workers ?? 1,
        stageSeconds: Object.fromEntries(Object.entries(info.timing).map(([k, v]) => [k, round(v)])),
        computeSeconds: round(r.computeSeconds), totalSeconds: round((performance.now() - t0) / 1000),
      };
      writeNpyWithMetadata(out, [{ path: out, array: { data: kernel.data, shape: kernel.shape } }], meta,
        saveParams ? [{ path: saveParams, data: paramsToJson(model.config, params) }] : []);
      if (!a.quiet) process.stderr.write(`wrote ${out} [${kernel.shape}] (${backend}, ${info.implementation}, ${r.computeSeconds.toFixed(2)} s)\n`);
    },
  );

/** The metadata every `kernel` output records: what was computed, from what, on which backend and how. */
function kernelRunMeta(a: Args, p: Pick<Awaited<ReturnType<typeof prepareKernel>>, 'mode' | 'kind' | 'd1' | 'd2' | 'model' | 'paramsFrom' | 'backend'>, info: KernelInfo, shape: number[]) {
  return {
    tool: toolVersion(), command: 'kernel', kind: p.kind, outputs: p.mode, config: p.model.config, params: p.paramsFrom, seed: num(a, 'seed'), backend: p.backend, engine: currentEngine(),
    implementation: info.implementation, tile: info.tile, tiles: info.tiles, symmetric: info.symmetric, rules: info.rules ?? null,
    data: dataMeta(p.d1), data2: dataMeta(p.d2), K: p.model.outputSize, shape, dtype: 'float32', layout: layoutOf(p.mode),
  };
}

/** What every kernel computation of the `kernel` flags needs first: checked modes, inputs, model, params, backend. */
async function prepareKernel(a: Args) {
  const mode = checkMode(str(a, 'outputs'));
  const kind = checkKind(str(a, 'kind'));
  const { d1, d2 } = loadInputs(a);
  const { model, params, paramsFrom } = modelAndParams(a, d1);
  checkFit(model, d1, d2);
  const backend = await initBackend(str(a, 'backend'));
  return { mode, kind, d1, d2, model, params, paramsFrom, backend };
}

/**
 * `kernel --memory MB` / `--shard I/N`: the kernel goes to disk tile by tile (positional writes into the .npy), so
 * its size is bounded by the disk, not by memory; the tile is chosen so that a tile's buffers (about 16 bytes per
 * entry of a [tile·K]² block) take at most a quarter of the budget. One thread (tiles are written in order).
 */
async function streamKernel(a: Args, out: string, t0: number): Promise<void> {
  const mb = num(a, 'memory');
  if (mb !== undefined && !(mb >= 64)) throw new UserError(`--memory: expected a budget of at least 64 (MB); got ${mb}`);
  const shard = a.shard === undefined ? undefined : parseShard(str(a, 'shard'));
  const { mode, kind, d1, d2, model, params, paramsFrom, backend } = await prepareKernel(a);
  const K = model.outputSize;
  const e = mode === 'full' ? K : 1;
  const budgetTile = mb === undefined ? undefined : Math.max(1, Math.floor(Math.sqrt((mb * 2 ** 20) / 4 / 16) / e));
  const tile = num(a, 'tile') ?? (budgetTile === undefined ? undefined : Math.min(budgetTile, Math.max(d1.n, d2?.n ?? d1.n)));
  const kopts = { kind, mode, implementation: str(a, 'implementation') as Implementation, tile, progress: progressFor(a), shard };
  const plan = planKernel(model, d1, d2, kopts);
  const shape = kernelShape(mode, d1.n, plan.b.n, K);
  const writer = new NpyFileWriter(out, shape);
  let info;
  try {
    info = empiricalKernel(model, params, d1, d2, { ...kopts, tile: plan.tile, sink: fileTileSink(writer, mode, plan.b.n, K) }).info;
  } catch (err) {
    writer.abort();
    throw err;
  }
  const fingerprint = JSON.stringify({ config: model.config, params: paramsFrom, kind, mode, data: dataMeta(d1), data2: dataMeta(d2), backend, implementation: info.implementation, tool: toolVersion() });
  const shardInfo: ShardInfo | null = shard ? { ...shard, pairs: plan.pairs.filter((_, p) => p % shard.count === shard.index), tile: plan.tile, mode, K, n1: d1.n, n2: plan.b.n, symmetric: plan.symmetric, shape, fingerprint } : null;
  const meta = {
    ...kernelRunMeta(a, { mode, kind, d1, d2, model, paramsFrom, backend }, info, shape),
    outOfCore: true, memoryBudgetMB: mb ?? null, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), shard: shardInfo,
    totalSeconds: round((performance.now() - t0) / 1000),
  };
  try {
    writeFilesAtomically([{ path: metadataPath(out), data: JSON.stringify(meta, null, 2) + '\n' }]);
  } catch (err) {
    writer.abort();
    throw err;
  }
  writer.commit();
  if (!a.quiet) process.stderr.write(`wrote ${out} [${shape}] tile by tile (${backend}, tile ${plan.tile}, ${info.tiles} tile pairs${shard ? `, shard ${shard.index}/${shard.count}` : ''}, peak RSS ${meta.peakRssMB} MB)\n`);
}

const mergeCommand: Command = (y) =>
  y.command(
    'merge <shards..>',
    'assemble the shards written by kernel --shard I/N into one .npy (positional copies; memory stays at one row)',
    (c) =>
      runOptions(c, 'accepted for uniformity; merging computes nothing')
        .positional('shards', { type: 'string', array: true, describe: 'shard .npy files (their .json metadata beside them)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output .npy (metadata .json beside it)' }),
    (a: Args) => {
      const out = str(a, 'out');
      checkNpyPath(out, '--out');
      const shards = (a.shards as string[]).map((p) => {
        let meta: { shard?: ShardInfo };
        try {
          meta = JSON.parse(fs.readFileSync(metadataPath(p), 'utf8'));
        } catch (e) {
          throw new UserError(`merge: cannot read the metadata of ${p} (${metadataPath(p)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]})`);
        }
        if (!meta.shard) throw new UserError(`merge: ${p} is not a shard (its metadata has no shard field)`);
        return { path: p, info: meta.shard, meta };
      });
      const r = mergeShards(shards, out);
      const { shard: _s, ...rest } = shards[0].meta as Record<string, unknown>;
      writeFilesAtomically([{ path: metadataPath(out), data: JSON.stringify({ ...rest, command: 'merge', mergedFrom: shards.map((s) => s.path), tiles: r.tiles }, null, 2) + '\n' }]);
      if (!a.quiet) process.stderr.write(`wrote ${out} from ${shards.length} shards (${r.tiles} tile pairs)\n`);
    },
  );

/** The kernel of the `kernel` command's flags (validated), computed on the chosen backend; nothing written. */
async function computeKernel(a: Args) {
  checkInteger(num(a, 'workers'), '--workers', 1);
  const { mode, kind, d1, d2, model, params, paramsFrom, backend } = await prepareKernel(a);
  const tc = performance.now();
  const kopts = { kind, mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile'), progress: progressFor(a) };
  const workers = num(a, 'workers') ?? 1;
  // Threads pay only when there are several tile pairs to share out (one tile is one thread's work).
  const parallel = workers > 1 && kind === 'ntk' && resolveImplementation(kopts.implementation, model) === 'structured' && planKernel(model, d1, d2, kopts).pairs.length > 1;
  const { kernel, info } = parallel
    ? await parallelStructuredKernel(model, params, d1, d2, { ...kopts, workers, backend })
    : empiricalKernel(model, params, d1, d2, kopts);
  return { kernel, info, model, params, paramsFrom, backend, d1, d2, mode, kind, computeSeconds: (performance.now() - tc) / 1000 };
}

/**
 * A golden snapshot's config (an object of `kernel` flags, e.g. {"model": "cnn", "channels": "4,4", "n": 6}) as
 * parsed `kernel` arguments: the same defaults and validation as the command line.
 */
function kernelArgsFromConfig(config: Record<string, unknown>, what: string): Args {
  const argv: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (['out', 'backend', 'quiet', 'save-params', 'workers'].includes(k)) throw new UserError(`${what}: '${k}' does not belong in a snapshot config`);
    if (typeof v === 'boolean') argv.push(v ? `--${k}` : `--no-${k}`);
    else argv.push(`--${k}`, String(v));
  }
  return commonOptions(kernelOptions(dataOptions(modelOptions(yargs([])))))
    .option('seed', { type: 'number', default: 0 })
    .option('load-params', { type: 'string' })
    .strict()
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      throw new UserError(`${what}: ${err?.message ?? msg ?? 'invalid config'}`);
    })
    .parseSync([...argv, '--out', 'unused.npy']) as Args;
}

const snapshotCommand: Command = (y) =>
  y.command(
    'snapshot',
    'record a golden kernel: compute the kernel of a config and store it with its config, backend and tool version',
    (c) =>
      runOptions(c)
        .option('config', { type: 'string', demandOption: true, describe: 'JSON object of kernel flags, e.g. {"model":"mlp","widths":"784,32,10","n":8}' })
        .option('out', { type: 'string', demandOption: true, describe: 'snapshot folder (kernel.npy + snapshot.json)' })
        .option('rel-tol', { type: 'number', default: 1e-5, describe: 'tolerance of ntk check: relative Frobenius and max-abs error (relative to max |K|)' }),
    async (a: Args) => {
      const file = str(a, 'config');
      let config: Record<string, unknown>;
      try {
        config = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new UserError(`--config ${file}: cannot read a JSON object (${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]})`);
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UserError(`--config ${file}: expected a JSON object of kernel flags`);
      const tol = num(a, 'rel-tol')!;
      if (!(tol > 0)) throw new UserError(`--rel-tol: expected a positive number; got ${tol}`);
      const ka = kernelArgsFromConfig(config, `--config ${file}`);
      ka.backend = str(a, 'backend');
      ka.quiet = true;
      const r = await computeKernel(ka);
      const dir = str(a, 'out');
      writeFilesAtomically([
        { path: path.join(dir, 'kernel.npy'), data: npyChunks({ data: r.kernel.data, shape: r.kernel.shape }) },
        { path: path.join(dir, 'snapshot.json'), data: JSON.stringify({ tool: toolVersion(), config, backend: r.backend, engine: currentEngine(), modelConfig: r.model.config, kind: r.kind, outputs: r.mode, shape: r.kernel.shape, tolerance: { relativeFrobenius: tol, maxAbs: tol }, created: new Date().toISOString() }, null, 2) + '\n' },
      ]);
      if (!a.quiet) process.stderr.write(`wrote snapshot ${dir} [${r.kernel.shape}] (${r.backend})\n`);
    },
  );

const checkCommand: Command = (y) =>
  y.command(
    'check <dir>',
    'recompute every golden snapshot under <dir> and compare; exit 1 on a regression',
    (c) =>
      runOptions(c)
        .positional('dir', { type: 'string', describe: 'folder of snapshot folders' }),
    async (a: Args) => {
      const dir = str(a, 'dir');
      let names: string[];
      try {
        names = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'snapshot.json'))).sort();
      } catch (e) {
        throw new UserError(`check ${dir}: cannot read folder (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
      if (names.length === 0) throw new UserError(`check ${dir}: no snapshot folders (NAME/snapshot.json) found`);
      const rows: string[][] = [];
      let failed = 0;
      for (const name of names) {
        const sdir = path.join(dir, name);
        const snap = JSON.parse(fs.readFileSync(path.join(sdir, 'snapshot.json'), 'utf8'));
        const golden = readNpy(path.join(sdir, 'kernel.npy'));
        const ka = kernelArgsFromConfig(snap.config, `${sdir}/snapshot.json`);
        ka.backend = str(a, 'backend');
        ka.quiet = true;
        const r = await computeKernel(ka);
        const cmp = compareKernels(golden.data, r.kernel.data);
        const same = golden.shape.join(',') === r.kernel.shape.join(',');
        const ok = same && cmp.relativeFrobenius <= snap.tolerance.relativeFrobenius && cmp.maxAbs <= snap.tolerance.maxAbs;
        if (!ok) failed++;
        rows.push([name, `${snap.kind}/${snap.outputs}`, r.kernel.shape.join('×'), `${snap.backend}→${r.backend}`, cmp.relativeFrobenius.toExponential(2), cmp.maxAbs.toExponential(2), snap.tolerance.relativeFrobenius.toExponential(0), ok ? 'ok' : same ? 'REGRESSION' : 'SHAPE CHANGED']);
      }
      const head = ['snapshot', 'kernel', 'shape', 'backend', 'rel. Frobenius', 'max abs / max|K|', 'tolerance', 'status'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ');
      process.stdout.write([line(head), line(w.map((k) => '-'.repeat(k))), ...rows.map(line)].join('\n') + '\n');
      process.stdout.write(failed ? `${failed} of ${names.length} snapshots regressed\n` : `all ${names.length} snapshots within tolerance\n`);
      if (failed) process.exitCode = 1;
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
      checkNpyPath(out, '--out');
      if (seOut !== undefined) checkNpyPath(seOut, '--stderr-out');
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      checkInteger(num(a, 'seed'), '--seed', 0);
      const { d1, d2 } = loadInputs(a);
      const model = modelFromFlags(modelFlags(a), d1);
      checkFit(model, d1, d2);
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
        networkSeeds: `"${num(a, 'seed')}/s" for s = 0..${mc.seeds - 1}`, backend, engine: currentEngine(), implementation: mc.info.implementation, tile: mc.info.tile,
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
    'analytic infinite-width NTK or NNGP (mlp: relu, erf, identity; gnn: the GNTK), float64',
    (c) =>
      commonOptions(dataOptions(modelOptions(c)))
        .option('depth', { type: 'number', describe: 'mlp: number of hidden layers L (or give --widths)' })
        .option('kind', { type: 'string', default: 'ntk', describe: 'ntk | nngp' })
        .option('outputs', { type: 'string', default: 'trace', describe: 'trace [N1, N2] (per output) | full (⊗ I_K) | diagonal' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      checkNpyPath(out, '--out');
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      const { d1, d2 } = loadInputs(a);
      let K: number;
      let per: Float64Array;
      let config: object;
      if (str(a, 'model') === 'mlp') {
        if (d1.kind !== 'vectors' || (d2 && d2.kind !== 'vectors')) throw new UserError('--data: the mlp takes vectors, not graphs');
        const widths = a.widths !== undefined ? parseWidths(str(a, 'widths')) : null;
        const depth = num(a, 'depth') ?? (widths ? widths.length - 2 : undefined);
        if (depth === undefined) throw new UserError('--depth: required (or give --widths)');
        checkInteger(depth, '--depth', 0);
        if (widths && widths[0] !== featureDim(d1)) throw new UserError(`--data: ${d1.source} has ${featureDim(d1)} features per sample but --widths starts with ${widths[0]}`);
        K = num(a, 'k') ?? (widths ? widths[widths.length - 1] : 1);
        const cfg = { depth, activation: str(a, 'activation'), wStd: num(a, 'w-std')!, bStd: a.bias ? num(a, 'b-std')! : 0 };
        const b = d2 ?? d1;
        if (b.kind !== 'vectors' || featureDim(b) !== featureDim(d1)) throw new UserError('--data2: must have the same number of features as --data');
        const r = analyticMlpKernel(cfg, d1.x, d1.n, b.x, b.n, featureDim(d1));
        per = kind === 'ntk' ? r.ntk : r.nngp;
        config = { model: 'mlp', ...cfg, parameterization: 'ntk' };
      } else if (str(a, 'model') === 'gnn') {
        const model = modelFromFlags(modelFlags(a), d1) as Gnn;
        checkFit(model, d1, d2);
        K = model.outputSize;
        const c = model.config;
        const cfg = { blocks: c.blocks, mlpLayers: c.mlpLayers, aggregation: c.aggregation, jk: c.jk, activation: c.activation, wStd: c.wStd, bStd: c.bias ? c.bStd : 0 };
        const g1 = (d1 as GraphSamples).graphs, g2 = ((d2 ?? d1) as GraphSamples).graphs;
        const r = analyticGntk(cfg, g1, g2, c.featureDim);
        per = kind === 'ntk' ? r.ntk : r.nngp;
        config = { model: 'gnn', ...cfg, featureDim: c.featureDim, parameterization: 'ntk' };
      } else {
        throw new UserError(`--model: the analytic kernel is implemented for mlp and gnn; got '${str(a, 'model')}'`);
      }
      checkInteger(K, '--k', 1);
      const n2 = (d2 ?? d1).n;
      const data = mode === 'trace' ? per : Float64Array.from(expandPerOutput(per, d1.n, n2, K, mode));
      const shape = kernelShape(mode, d1.n, n2, K);
      const meta = {
        tool: toolVersion(), command: 'analytic', kind, outputs: mode, config, K,
        data: dataMeta(d1), data2: dataMeta(d2), shape, dtype: 'float64', layout: layoutOf(mode), totalSeconds: round((performance.now() - t0) / 1000),
      };
      writeNpyWithMetadata(out, [{ path: out, array: { data, shape } }], meta);
      if (!a.quiet) process.stderr.write(`wrote ${out} [${shape}]\n`);
    },
  );

function checkNpyPath(p: string, flag: string): void {
  if (!/\.npy$/i.test(p)) throw new UserError(`${flag}: expected a path ending in .npy; got '${p}'`);
}

function checkKind(k: string): KernelKind {
  if (k !== 'ntk' && k !== 'nngp') throw new UserError(`--kind: expected ntk or nngp; got '${k}'`);
  return k;
}

const layoutOf = (mode: string) =>
  mode === 'full' ? 'row i*K+k, column j*K+k2: Theta(x_i, x_j)[k, k2]' : mode === 'trace' ? 'mean over k of Theta(x_i, x_j)[k, k]' : '[i, j, k] = Theta(x_i, x_j)[k, k]';

const round = (s: number) => Math.round(s * 1000) / 1000;

/** The analytic kernel in the output layout of the Monte-Carlo estimate, when a closed form exists. */
function analyticOracle(model: Model, d1: LoadedData, d2: LoadedData | null, kind: KernelKind, mode: 'full' | 'trace' | 'diagonal'): { what: string; data: Float64Array } | null {
  const c = model.config as unknown as { model: string; widths?: number[]; activation: string; parameterization: string; wStd: number; bStd: number; bias: boolean };
  if (c.parameterization !== 'ntk' || !['relu', 'erf', 'identity'].includes(c.activation)) return null;
  const b = d2 ?? d1;
  let r: { ntk: Float64Array; nngp: Float64Array };
  let what: string;
  if (c.model === 'mlp' && d1.kind === 'vectors' && b.kind === 'vectors') {
    const depth = c.widths!.length - 2;
    r = analyticMlpKernel({ depth, activation: c.activation, wStd: c.wStd, bStd: c.bias ? c.bStd : 0 }, d1.x, d1.n, b.x, b.n, featureDim(d1));
    what = `analytic ${kind} of the infinite-width mlp (depth ${depth}, ${c.activation})`;
  } else if (c.model === 'gnn' && d1.kind === 'graphs' && b.kind === 'graphs') {
    const g = (model as Gnn).config;
    r = analyticGntk({ blocks: g.blocks, mlpLayers: g.mlpLayers, aggregation: g.aggregation, jk: g.jk, activation: g.activation, wStd: g.wStd, bStd: g.bias ? g.bStd : 0 }, d1.graphs, b.graphs, g.featureDim);
    what = `analytic GNTK ${kind} of the infinite-width gnn (${g.blocks} blocks × ${g.mlpLayers} layers, ${g.aggregation}${g.jk ? ', jk' : ''})`;
  } else {
    return null;
  }
  const per = kind === 'ntk' ? r.ntk : r.nngp;
  return { what, data: mode === 'trace' ? per : Float64Array.from(expandPerOutput(per, d1.n, b.n, model.outputSize, mode)) };
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

/** The flags each experiment accepts besides --quick, --seed, --out-dir, --backend and --quiet. */
const EXPERIMENT_FLAGS: Record<string, string[]> = {
  'resnet-vs-ffnet': ['seeds', 'width'],
  mnist: ['seeds', 'render-only', 'n', 'data-seed', 'models', 'channels', 'mlp-epochs', 'cnn-epochs', 'mlp-batch-size', 'cnn-batch-size', 'mlp-lr', 'cnn-lr', 'mlp-inf-seeds', 'cnn-inf-seeds', 'ce-steps', 'ce-lr', 'ridge', 'probe', 'workers'],
  convergence: ['widths', 'seeds', 'train-seeds', 'steps', 'lr', 'grid'],
  lognormal: ['seeds', 'width', 'depths'],
  gntk: ['data', 'dataset-name', 'folds', 'seeds', 'width', 'hidden', 'blocks', 'mlp-layers', 'aggregation', 'jk', 'epochs', 'lr'],
  lantk: ['pairs', 'n', 'seeds', 'epochs'],
  tabular: ['data-dir', 'folds', 'seeds', 'width', 'epochs', 'lr'],
};
const EXPERIMENTS = Object.keys(EXPERIMENT_FLAGS);
const ALL_EXPERIMENT_FLAGS = [...new Set(Object.values(EXPERIMENT_FLAGS).flat())];

function positive(v: number | undefined, flag: string): number | undefined {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UserError(`${flag}: expected a positive number; got ${v}`);
  return v;
}

/** The options of `ntk experiment mnist`: the defaults of the full or quick study, overridden by flags. */
function mnistOptions(a: Args, outDir: string, backend: string): MnistStudyOptions {
  const d = mnistDefaults(Boolean(a.quick));
  const int = (flag: string, min: number) => {
    const v = num(a, flag);
    checkInteger(v, `--${flag}`, min);
    return v;
  };
  const seeds = int('seeds', 1) ?? d.seeds.length;
  const base = int('seed', 0) ?? 0;
  const models = a.models === undefined ? d.models : String(a.models).split(',').map((m) => m.trim());
  for (const m of models) if (m !== 'mlp' && m !== 'cnn') throw new UserError(`--models: expected a comma-separated list of mlp and cnn; got '${a.models}'`);
  const channels = a.channels === undefined ? d.channels : parseIntList(String(a.channels), '--channels');
  if (channels.length !== 2) throw new UserError(`--channels: expected two channel counts C1,C2 (the seed's CNN); got '${a.channels}'`);
  const sched = (m: 'mlp' | 'cnn') => ({
    epochs: int(`${m}-epochs`, 0) ?? d[m].epochs,
    batchSize: int(`${m}-batch-size`, 1) ?? d[m].batchSize,
    lr: positive(num(a, `${m}-lr`), `--${m}-lr`) ?? d[m].lr,
    infSeeds: int(`${m}-inf-seeds`, 2) ?? d[m].infSeeds,
  });
  const ridge = num(a, 'ridge');
  if (ridge !== undefined && !(ridge >= 0)) throw new UserError(`--ridge: expected a number ≥ 0; got ${ridge}`);
  return {
    ...d,
    models: [...new Set(models)] as ('mlp' | 'cnn')[],
    seeds: Array.from({ length: seeds }, (_, i) => base + i),
    n: int('n', 2) ?? d.n,
    dataSeed: int('data-seed', 0) ?? d.dataSeed,
    channels: channels as [number, number],
    mlp: sched('mlp'),
    cnn: sched('cnn'),
    ceSteps: int('ce-steps', 1) ?? d.ceSteps,
    ceLr: positive(num(a, 'ce-lr'), '--ce-lr') ?? d.ceLr,
    ridge: ridge ?? d.ridge,
    probe: int('probe', 2) ?? d.probe,
    workers: int('workers', 1) ?? d.workers,
    outDir, backend, progress: progressFor(a),
  };
}

/** convergence, lognormal, gntk, lantk and tabular: their defaults (full or --quick) overridden by flags. */
function otherStudy(name: string, a: Args, outDir: string, backend: string): { files: string[] } {
  const quick = Boolean(a.quick);
  const int = (flag: string, min: number) => {
    const v = num(a, flag);
    checkInteger(v, `--${flag}`, min);
    return v;
  };
  const seed = int('seed', 0) ?? 0;
  const common = { outDir, backend, progress: progressFor(a), quick };
  if (name === 'convergence') {
    const d = convergenceDefaults(quick);
    return runConvergence({
      ...d, ...common, seed,
      widths: a.widths === undefined ? d.widths : parseIntList(str(a, 'widths'), '--widths', 2),
      seeds: int('seeds', 2) ?? d.seeds, trainSeeds: int('train-seeds', 1) ?? d.trainSeeds, steps: int('steps', 0) ?? d.steps,
      lr: positive(num(a, 'lr'), '--lr') ?? d.lr, grid: int('grid', 4) ?? d.grid,
    });
  }
  if (name === 'lognormal') {
    const d = lognormalDefaults(quick);
    return runLognormal({
      ...d, ...common, seed, seeds: int('seeds', 10) ?? d.seeds, width: int('width', 1) ?? d.width,
      depths: a.depths === undefined ? d.depths : parseIntList(str(a, 'depths'), '--depths'),
    });
  }
  if (name === 'gntk') {
    const specs = ((a.data as string | undefined) ?? (quick ? 'synthetic-graphs:60' : 'synthetic-graphs:200')).split(',').map((x) => x.trim());
    const names = a['dataset-name'] === undefined ? [] : String(a['dataset-name']).split(',');
    const datasets = specs.map((spec, i) => {
      if (!/^(graphs:|synthetic-graphs)/.test(spec)) throw new UserError(`--data: experiment gntk takes graphs:PATH or synthetic-graphs[:N] (comma-separated for several); got '${spec}'`);
      const fileName = spec.startsWith('graphs:') ? path.basename(spec.slice(7)).replace(/\.[^.]*$/, '') : 'synthetic';
      return { data: loadData(spec, { flag: '--data' }) as GraphDataset, name: names[i] ?? fileName };
    });
    const agg = (a.aggregation as string | undefined) ?? 'sum';
    if (agg !== 'sum' && agg !== 'mean') throw new UserError(`--aggregation: expected sum or mean; got '${agg}'`);
    return runGntkStudy({
      ...common, seed, datasets, folds: int('folds', 2) ?? (quick ? 5 : 10),
      blocks: int('blocks', 1) ?? 2, mlpLayers: int('mlp-layers', 1) ?? 2, aggregation: agg, jk: (a.jk as boolean | undefined) ?? true,
      mcWidth: int('width', 1) ?? (quick ? 64 : 128), mcSeeds: int('seeds', 2) ?? (quick ? 4 : 8), ginWidth: int('hidden', 1) ?? (quick ? 32 : 64),
      epochs: int('epochs', 0) ?? (quick ? 15 : 50), batchSize: 32, lr: positive(num(a, 'lr'), '--lr') ?? 1e-2,
    });
  }
  if (name === 'tabular') {
    const dataDir = (a['data-dir'] as string | undefined) ?? '../shared/datasets/uci';
    let tables = loadTableFolder(dataDir, '--data-dir');
    if (quick) tables = tables.filter((t) => t.n <= 600);
    return runTabular({
      ...common, seed, tables, dataDir, folds: int('folds', 2) ?? 4, depths: quick ? [1, 3] : [1, 2, 3, 4, 5],
      width: int('width', 1) ?? (quick ? 128 : 256), netDepth: 2, mcSeeds: int('seeds', 2) ?? (quick ? 2 : 8),
      epochs: int('epochs', 0) ?? (quick ? 30 : 200), batchSize: 64, lr: positive(num(a, 'lr'), '--lr') ?? 1e-3,
    });
  }
  const d = lantkDefaults(quick);
  const pairs = a.pairs === undefined ? d.pairs : String(a.pairs).split(',').map((p) => {
    const m = /^\s*(\d)-(\d)\s*$/.exec(p);
    if (!m || m[1] === m[2]) throw new UserError(`--pairs: expected digit pairs like 3-5,4-9; got '${a.pairs}'`);
    return [Number(m[1]), Number(m[2])] as [number, number];
  });
  const seeds = int('seeds', 1) ?? d.dataSeeds.length;
  return runLantk({ ...d, ...common, pairs, n: int('n', 8) ?? d.n, dataSeeds: Array.from({ length: seeds }, (_, i) => seed + i), epochs: int('epochs', 0) ?? d.epochs });
}

const experimentCommand: Command = (y) =>
  y.command(
    'experiment <name>',
    `run a study and write its report into results/<name>/ (${Object.keys(EXPERIMENT_FLAGS).join(' | ')})`,
    (c) =>
      runOptions(c)
        .positional('name', { type: 'string', describe: EXPERIMENTS.join(' | ') })
        .option('seeds', { type: 'number', describe: 'resnet-vs-ffnet/lognormal: initialisations per net (200/1000); mnist, lantk: number of seeds (3); convergence: initialisations per width (10); gntk: Monte-Carlo nets (8)' })
        .option('width', { type: 'number', describe: 'resnet-vs-ffnet, lognormal: hidden width (64); gntk: width of the Monte-Carlo nets (128)' })
        .option('widths', { type: 'string', describe: 'convergence: widths (default 64,128,...,4096)' })
        .option('train-seeds', { type: 'number', describe: 'convergence: trained nets per width (2)' })
        .option('steps', { type: 'number', describe: 'convergence: GD steps (200)' })
        .option('lr', { type: 'number', describe: 'convergence: GD rate (1); gntk: Adam rate of the GIN (1e-2)' })
        .option('grid', { type: 'number', describe: 'convergence: points on the circle (64)' })
        .option('depths', { type: 'string', describe: 'lognormal: feedforward depths (5,20,100)' })
        .option('data', { type: 'string', describe: 'gntk: graphs:PATH (GIN/GNTK text format) or synthetic-graphs[:N], comma-separated for several (default synthetic-graphs:200)' })
        .option('dataset-name', { type: 'string', describe: 'gntk: dataset names in the table, comma-separated (default the file names)' })
        .option('folds', { type: 'number', describe: 'gntk: cross-validation folds (10)' })
        .option('hidden', { type: 'number', describe: 'gntk: width of the trained GIN (64)' })
        .option('blocks', { type: 'number', describe: 'gntk: GIN blocks (2)' })
        .option('mlp-layers', { type: 'number', describe: 'gntk: MLP layers per block (2)' })
        .option('aggregation', { type: 'string', describe: 'gntk: sum | mean (sum)' })
        .option('jk', { type: 'boolean', describe: 'gntk: jumping knowledge (default true)' })
        .option('epochs', { type: 'number', describe: 'gntk: GIN epochs (50); lantk: net epochs (300)' })
        .option('data-dir', { type: 'string', describe: 'tabular: folder of *.csv tables and/or NAME/NAME_R.dat folders (default ../shared/datasets/uci)' })
        .option('pairs', { type: 'string', describe: 'lantk: digit pairs (default 3-5,4-9,7-9)' })
        .option('seed', { type: 'number', default: 0, describe: 'first seed' })
        .option('quick', { type: 'boolean', default: false, describe: 'small smoke-test run' })
        .option('out-dir', { type: 'string', describe: 'output folder (default results/<name>)' })
        .option('n', { type: 'number', describe: 'mnist: train and test digits each (default 500; --quick 100); lantk: per pair (400)' })
        .option('data-seed', { type: 'number', describe: 'mnist: seed of the train/test split (default 0)' })
        .option('models', { type: 'string', describe: 'mnist: mlp,cnn (default both)' })
        .option('channels', { type: 'string', describe: 'mnist: CNN channels C1,C2 (default 20,20)' })
        .option('mlp-epochs', { type: 'number', describe: 'mnist: MLP epochs (default 5000)' })
        .option('cnn-epochs', { type: 'number', describe: 'mnist: CNN epochs (default 40)' })
        .option('mlp-batch-size', { type: 'number', describe: 'mnist: MLP minibatch (default 500 = full batch)' })
        .option('cnn-batch-size', { type: 'number', describe: 'mnist: CNN minibatch (default 50)' })
        .option('mlp-lr', { type: 'number', describe: 'mnist: MLP Adam learning rate (default 1e-3)' })
        .option('cnn-lr', { type: 'number', describe: 'mnist: CNN Adam learning rate (default 3e-3)' })
        .option('mlp-inf-seeds', { type: 'number', describe: 'mnist: nets averaged for the MLP NTK∞ (default 16)' })
        .option('cnn-inf-seeds', { type: 'number', describe: 'mnist: nets averaged for the CNTK∞ (default 4)' })
        .option('ce-steps', { type: 'number', describe: 'mnist: Adam steps of the cross-entropy kernel regressors (default 5000)' })
        .option('ce-lr', { type: 'number', describe: 'mnist: their learning rate (default 1e-2)' })
        .option('ridge', { type: 'number', describe: 'mnist: ridge λ relative to the mean diagonal (default 1e-6)' })
        .option('probe', { type: 'number', describe: 'mnist: probe digits for kernel tracking (default 50)' })
        .option('workers', { type: 'number', describe: 'mnist: worker threads for the (model, seed) runs (default: cores)' })
        .option('render-only', { type: 'boolean', describe: 'mnist: re-render report and figures from <out-dir>/results.json, computing nothing' }),
    async (a: Args) => {
      const name = str(a, 'name');
      if (!EXPERIMENTS.includes(name)) throw new UserError(`experiment: unknown experiment '${name}'; expected ${EXPERIMENTS.join(' or ')}`);
      const outDir = (a['out-dir'] as string | undefined) ?? `results/${name}`;
      const foreign = ALL_EXPERIMENT_FLAGS.find((f) => a[f] !== undefined && !EXPERIMENT_FLAGS[name].includes(f));
      if (foreign) throw new UserError(`--${foreign}: not an option of experiment ${name}`);
      if (name !== 'mnist' && name !== 'resnet-vs-ffnet') {
        const backend = await initBackend(str(a, 'backend'));
        const r = otherStudy(name, a, outDir, backend);
        if (!a.quiet) process.stderr.write(`wrote ${r.files.join(', ')}\n`);
        return;
      }
      if (name === 'mnist') {
        if (a['render-only']) {
          const files = renderMnistStudy(outDir);
          if (!a.quiet) process.stderr.write(`re-rendered ${files.length} files in ${outDir}\n`);
          return;
        }
        const opts = mnistOptions(a, outDir, str(a, 'backend'));
        opts.backend = await initBackend(opts.backend);
        const r = await runMnistStudy(opts);
        if (!a.quiet) process.stderr.write(`wrote ${r.files.length} files into ${outDir} in ${r.seconds.toFixed(0)} s (${opts.backend})\n`);
        return;
      }
      const seeds = num(a, 'seeds') ?? (a.quick ? 40 : 200);
      checkInteger(seeds, '--seeds', 3);
      const width = num(a, 'width') ?? 64;
      checkInteger(width, '--width', 1);
      const backend = await initBackend(str(a, 'backend'));
      const r = runResnetVsFfnet({ seeds, width, depth: 100, branches: 20, branchDepth: 5, seed: num(a, 'seed') ?? 0, outDir, backend, progress: progressFor(a) });
      if (!a.quiet) process.stderr.write(`wrote ${r.files.join(', ')}\n`);
    },
  );

export const commands: Command[] = [kernelCommand, infiniteCommand, analyticCommand, experimentCommand, snapshotCommand, checkCommand, mergeCommand];
