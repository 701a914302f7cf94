import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Args, type Command, checkInteger, num, progressFor, runOptions, str } from './flags.js';
import type { GraphDataset } from '../../lib/graphs.js';
import { type MnistStudyOptions, mnistDefaults, renderMnistStudy, runMnistStudy } from '../../experiments/mnist.js';
import { ABLATION_VARIANTS, type MnistAblationOptions, mnistAblationDefaults, runMnistAblation } from '../../experiments/mnist-ablation.js';
import type { StudyModel } from '../../experiments/mnist-job.js';
import { UserError } from '../../lib/errors.js';
import { convergenceDefaults, runConvergence } from '../../experiments/convergence.js';
import { initBackend } from '../../lib/backend.js';
import { lantkDefaults, runLantk } from '../../experiments/lantk.js';
import { loadData } from '../../lib/data.js';
import { loadTableFolder } from '../../lib/tabular.js';
import { lognormalDefaults, runLognormal } from '../../experiments/lognormal.js';
import { parseIntList } from '../../models/registry.js';
import { runGntkStudy } from '../../experiments/gntk.js';
import { GRAPH_BENCHMARKS, PAPER_GRID, type PaperMethod, SVM_C_GRID, loadBenchmark, runGntkPaper, writeGntkPaperFiles } from '../../experiments/gntk-paper.js';
import { runResnetVsFfnet } from '../../experiments/resnet-vs-ffnet.js';
import { runTabular } from '../../experiments/tabular.js';
import { loadSvm } from '../../lib/svm.js';

/** The flags each experiment accepts besides --quick, --seed, --out-dir, --backend and --quiet. */
const EXPERIMENT_FLAGS: Record<string, string[]> = {
  'resnet-vs-ffnet': ['seeds', 'width'],
  mnist: ['seeds', 'render-only', 'n', 'data-seed', 'models', 'channels', 'mlp-epochs', 'cnn-epochs', 'mlp-batch-size', 'cnn-batch-size', 'mlp-lr', 'cnn-lr', 'mlp-inf-seeds', 'cnn-inf-seeds', 'ce-steps', 'ce-lr', 'ridge', 'probe', 'workers'],
  'mnist-ablation': ['seeds', 'n', 'models', 'variants', 'mlp-epochs', 'cnn-epochs', 'mlp-batch-size', 'cnn-batch-size', 'mlp-lr', 'cnn-lr', 'mlp-inf-seeds', 'cnn-inf-seeds', 'ce-steps', 'ce-lr', 'workers'],
  convergence: ['widths', 'seeds', 'train-seeds', 'steps', 'lr', 'grid'],
  lognormal: ['seeds', 'width', 'depths'],
  gntk: ['data', 'dataset-name', 'folds', 'seeds', 'width', 'hidden', 'blocks', 'mlp-layers', 'aggregation', 'jk', 'epochs', 'lr'],
  lantk: ['pairs', 'n', 'seeds', 'epochs'],
  tabular: ['data-dir', 'folds', 'seeds', 'width', 'epochs', 'lr'],
  'gntk-paper': ['datasets', 'data-dir', 'folds', 'inner-folds', 'layer-grid', 'block-grid', 'aggregations', 'c-decades', 'cache-dir', 'render-only', 'methods', 'hidden', 'blocks', 'epochs', 'lr', 'workers'],
};
const EXPERIMENTS = Object.keys(EXPERIMENT_FLAGS);
const ALL_EXPERIMENT_FLAGS = [...new Set(Object.values(EXPERIMENT_FLAGS).flat())];

function positive(v: number | undefined, flag: string): number | undefined {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UserError(`${flag}: expected a positive number; got ${v}`);
  return v;
}

/** An integer flag, checked against its minimum; undefined when not given. */
function intFlag(a: Args, flag: string, min: number): number | undefined {
  const v = num(a, flag);
  checkInteger(v, `--${flag}`, min);
  return v;
}

/** `--models` of the MNIST experiments: a comma-separated subset of mlp,cnn, without repeats. */
function studyModels(a: Args, dflt: StudyModel[]): StudyModel[] {
  const models = a.models === undefined ? dflt : String(a.models).split(',').map((m) => m.trim());
  for (const m of models) if (m !== 'mlp' && m !== 'cnn') throw new UserError(`--models: expected a comma-separated list of mlp and cnn; got '${a.models}'`);
  return [...new Set(models)] as StudyModel[];
}

/** A model's training schedule and Monte-Carlo size from its --mlp-* / --cnn-* flags over the defaults `d`. */
function schedule(a: Args, m: StudyModel, d: { epochs: number; batchSize: number; lr: number; infSeeds: number }) {
  return {
    epochs: intFlag(a, `${m}-epochs`, 0) ?? d.epochs,
    batchSize: intFlag(a, `${m}-batch-size`, 1) ?? d.batchSize,
    lr: positive(num(a, `${m}-lr`), `--${m}-lr`) ?? d.lr,
    infSeeds: intFlag(a, `${m}-inf-seeds`, 2) ?? d.infSeeds,
  };
}

/** The options of `ntk experiment mnist`: the defaults of the full or quick study, overridden by flags. */
function mnistOptions(a: Args, outDir: string, backend: string): MnistStudyOptions {
  const d = mnistDefaults(Boolean(a.quick));
  const seeds = intFlag(a, 'seeds', 1) ?? d.seeds.length;
  const base = intFlag(a, 'seed', 0) ?? 0;
  const channels = a.channels === undefined ? d.channels : parseIntList(String(a.channels), '--channels');
  if (channels.length !== 2) throw new UserError(`--channels: expected two channel counts C1,C2 (the seed's CNN); got '${a.channels}'`);
  const ridge = num(a, 'ridge');
  if (ridge !== undefined && !(ridge >= 0)) throw new UserError(`--ridge: expected a number ≥ 0; got ${ridge}`);
  return {
    ...d,
    models: studyModels(a, d.models),
    seeds: Array.from({ length: seeds }, (_, i) => base + i),
    n: intFlag(a, 'n', 2) ?? d.n,
    dataSeed: intFlag(a, 'data-seed', 0) ?? d.dataSeed,
    channels: channels as [number, number],
    mlp: schedule(a, 'mlp', d.mlp),
    cnn: schedule(a, 'cnn', d.cnn),
    ceSteps: intFlag(a, 'ce-steps', 1) ?? d.ceSteps,
    ceLr: positive(num(a, 'ce-lr'), '--ce-lr') ?? d.ceLr,
    ridge: ridge ?? d.ridge,
    probe: intFlag(a, 'probe', 2) ?? d.probe,
    workers: intFlag(a, 'workers', 1) ?? d.workers,
    outDir, backend, progress: progressFor(a),
  };
}

/** The options of `ntk experiment mnist-ablation`; the report's command line is rebuilt from the flags given. */
function ablationOptions(a: Args, outDir: string, backend: string): MnistAblationOptions {
  const d = mnistAblationDefaults(Boolean(a.quick));
  const seeds = intFlag(a, 'seeds', 2) ?? d.seeds.length;
  const base = intFlag(a, 'seed', 0) ?? 0;
  const variants = a.variants === undefined ? d.variants : String(a.variants).split(',').map((v) => v.trim());
  for (const v of variants) if (!(v in ABLATION_VARIANTS)) throw new UserError(`--variants: expected a comma-separated list of ${Object.keys(ABLATION_VARIANTS).join(', ')}; got '${v}'`);
  const n = intFlag(a, 'n', 10) ?? d.n;
  // The MLP trains full-batch, as in the study, whatever n is.
  const sch = (m: StudyModel) => schedule(a, m, { epochs: d.epochs[m], batchSize: m === 'mlp' ? n : d.batchSize[m], lr: d.lr[m], infSeeds: d.infSeeds[m] });
  const mlp = sch('mlp'), cnn = sch('cnn');
  const given = ['quick', 'seed', ...EXPERIMENT_FLAGS['mnist-ablation']].filter((f) => a[f] !== undefined && a[f] !== false && !(f === 'seed' && a[f] === 0));
  return {
    models: studyModels(a, d.models), seeds: Array.from({ length: seeds }, (_, i) => base + i), n,
    epochs: { mlp: mlp.epochs, cnn: cnn.epochs }, batchSize: { mlp: mlp.batchSize, cnn: cnn.batchSize }, lr: { mlp: mlp.lr, cnn: cnn.lr },
    infSeeds: { mlp: mlp.infSeeds, cnn: cnn.infSeeds }, ceSteps: intFlag(a, 'ce-steps', 1) ?? d.ceSteps, ceLr: positive(num(a, 'ce-lr'), '--ce-lr') ?? d.ceLr,
    variants: [...new Set(variants)], workers: intFlag(a, 'workers', 1) ?? d.workers, backend, outDir, progress: progressFor(a),
    command: ['ntk experiment mnist-ablation', ...given.map((f) => (a[f] === true ? `--${f}` : `--${f} ${a[f]}`))].join(' '),
  };
}

/** convergence, lognormal, gntk, lantk and tabular: their defaults (full or --quick) overridden by flags. */
function otherStudy(name: string, a: Args, outDir: string, backend: string): { files: string[] } {
  const quick = Boolean(a.quick);
  const int = (flag: string, min: number) => intFlag(a, flag, min);
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

/**
 * `ntk experiment gntk-paper`: Du et al.'s protocol on the named benchmarks, with readouts and scores cached per
 * (dataset, recursion group) under --cache-dir so that a rerun with the same flags resumes where the last one stopped.
 */
async function gntkPaper(a: Args, outDir: string): Promise<string[]> {
  const files = [path.join(outDir, 'summary.json'), path.join(outDir, 'report.md')];
  if (a['render-only']) {
    const file = files[0];
    if (!fs.existsSync(file)) throw new UserError(`--render-only: no ${file} to render`);
    writeGntkPaperFiles(outDir, JSON.parse(fs.readFileSync(file, 'utf8')));
    return files;
  }
  const list = (flag: string, dflt: number[]) => (a[flag] === undefined ? dflt : parseIntList(String(a[flag]), `--${flag}`));
  const aggs = a.aggregations === undefined ? PAPER_GRID.aggregation : String(a.aggregations).split(',');
  for (const g of aggs) if (g !== 'sum' && g !== 'mean') throw new UserError(`--aggregations: expected sum and/or mean, comma-separated; got '${a.aggregations}'`);
  const int = (flag: string, dflt: number, min: number) => intFlag(a, flag, min) ?? dflt;
  const dir = (a['data-dir'] as string | undefined) ?? '../shared/datasets/graphs';
  const names = ((a.datasets as string | undefined) ?? 'MUTAG,PTC').split(',').map((x) => x.trim());
  const datasets = names.map((name) => ({ name, data: loadBenchmark(name, dir, '--data-dir') }));
  const methods = ((a.methods as string | undefined) ?? 'GNTK,WL').split(',').map((m) => m.trim().toUpperCase());
  for (const m of methods) if (!['GNTK', 'WL', 'GIN', 'GCN'].includes(m)) throw new UserError(`--methods: expected some of GNTK, WL, GIN, GCN, comma-separated; got '${a.methods}'`);
  const nets = methods.includes('GIN') || methods.includes('GCN');
  const backend = nets ? await initBackend(str(a, 'backend')) : undefined;
  const cacheDir = a['cache-dir'] === '' ? null : (a['cache-dir'] as string | undefined) ?? path.join(outDir, 'cache');
  await runGntkPaper({
    datasets, folds: int('folds', 10, 2), innerFolds: int('inner-folds', 3, 2), seed: int('seed', 0, 0), wlIterations: [1, 2, 3, 4, 5],
    cs: a['c-decades'] ? SVM_C_GRID.filter((_, i) => i % 2 === 0) : SVM_C_GRID,
    grid: { ...PAPER_GRID, mlpLayers: list('layer-grid', PAPER_GRID.mlpLayers), blocks: list('block-grid', PAPER_GRID.blocks), aggregation: [...new Set(aggs)] as ('sum' | 'mean')[] },
    methods: methods as PaperMethod[], backend,
    networks: { hidden: int('hidden', 64, 1), blocks: int('blocks', 2, 1), epochs: int('epochs', 50, 1), lr: positive(num(a, 'lr'), '--lr') ?? 1e-2, batchSize: 32 },
    workers: intFlag(a, 'workers', 1), outDir, cacheDir, progress: progressFor(a), log: (l) => (a.quiet ? undefined : process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${l}\n`)),
  });
  return files;
}

export const experimentCommand: Command = (y) =>
  y.command(
    'experiment <name>',
    `run a study and write its report into results/<name>/ (${Object.keys(EXPERIMENT_FLAGS).join(' | ')})`,
    (c) =>
      runOptions(c)
        .positional('name', { type: 'string', describe: EXPERIMENTS.join(' | ') })
        .option('seeds', { type: 'number', describe: 'resnet-vs-ffnet/lognormal: initialisations per net (200/1000); mnist, mnist-ablation, lantk: number of seeds (3); convergence: initialisations per width (10); gntk: Monte-Carlo nets (8)' })
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
        .option('hidden', { type: 'number', describe: 'gntk, gntk-paper: width of the trained GIN (and GCN) (64)' })
        .option('blocks', { type: 'number', describe: 'gntk: GIN blocks (2); gntk-paper: GIN blocks and GCN layers (2)' })
        .option('mlp-layers', { type: 'number', describe: 'gntk: MLP layers per block (2)' })
        .option('aggregation', { type: 'string', describe: 'gntk: sum | mean (sum)' })
        .option('jk', { type: 'boolean', describe: 'gntk: jumping knowledge (default true)' })
        .option('epochs', { type: 'number', describe: 'gntk: GIN epochs (50); lantk: net epochs (300)' })
        .option('datasets', { type: 'string', describe: `gntk-paper: benchmarks, comma-separated, of ${Object.keys(GRAPH_BENCHMARKS).join(', ')} (default MUTAG,PTC)` })
        .option('methods', { type: 'string', describe: 'gntk-paper: GNTK,WL (default), GIN, GCN; a run updates only these methods of a dataset already in summary.json' })
        .option('inner-folds', { type: 'number', describe: 'gntk-paper: inner folds of the nested CV (3)' })
        .option('layer-grid', { type: 'string', describe: 'gntk-paper: MLP layers per block to search (1,2,3)' })
        .option('block-grid', { type: 'string', describe: 'gntk-paper: block counts to search (1,2,3,4,5,6)' })
        .option('aggregations', { type: 'string', describe: 'gntk-paper: sum,mean (both)' })
        .option('c-decades', { type: 'boolean', describe: 'gntk-paper: C on whole decades 1e-2..1e4 (7 values) instead of half-decades (13)' })
        .option('cache-dir', { type: 'string', describe: 'gntk-paper: readout, row-chunk and score cache, reused by a rerun (default <out-dir>/cache; \'\' for none)' })
        .option('data-dir', { type: 'string', describe: 'gntk-paper: folder of the graph benchmarks (default ../shared/datasets/graphs); tabular: folder of *.csv tables and/or NAME/NAME_R.dat folders (default ../shared/datasets/uci)' })
        .option('pairs', { type: 'string', describe: 'lantk: digit pairs (default 3-5,4-9,7-9)' })
        .option('seed', { type: 'number', default: 0, describe: 'first seed' })
        .option('quick', { type: 'boolean', default: false, describe: 'small smoke-test run' })
        .option('out-dir', { type: 'string', describe: 'output folder (default results/<name>; gntk-paper: results/gntk/paper; mnist-ablation: results/mnist)' })
        .option('n', { type: 'number', describe: 'mnist: train and test digits each (default 500; --quick 100; mnist-ablation 200); lantk: per pair (400)' })
        .option('data-seed', { type: 'number', describe: 'mnist: seed of the train/test split (default 0)' })
        .option('models', { type: 'string', describe: 'mnist: mlp,cnn (default both; mnist-ablation mlp)' })
        .option('channels', { type: 'string', describe: 'mnist: CNN channels C1,C2 (default 20,20)' })
        .option('mlp-epochs', { type: 'number', describe: 'mnist: MLP epochs (default 5000; mnist-ablation 1000)' })
        .option('cnn-epochs', { type: 'number', describe: 'mnist: CNN epochs (default 40; mnist-ablation 20)' })
        .option('mlp-batch-size', { type: 'number', describe: 'mnist: MLP minibatch (default 500 = full batch)' })
        .option('cnn-batch-size', { type: 'number', describe: 'mnist: CNN minibatch (default 50)' })
        .option('mlp-lr', { type: 'number', describe: 'mnist: MLP Adam learning rate (default 1e-3)' })
        .option('cnn-lr', { type: 'number', describe: 'mnist: CNN Adam learning rate (default 3e-3)' })
        .option('mlp-inf-seeds', { type: 'number', describe: 'mnist: nets averaged for the MLP NTK∞ (default 16; mnist-ablation 8)' })
        .option('cnn-inf-seeds', { type: 'number', describe: 'mnist: nets averaged for the CNTK∞ (default 4)' })
        .option('ce-steps', { type: 'number', describe: 'mnist: Adam steps of the cross-entropy kernel regressors (default 5000; mnist-ablation 2000)' })
        .option('ce-lr', { type: 'number', describe: 'mnist: their learning rate (default 1e-2)' })
        .option('ridge', { type: 'number', describe: 'mnist: ridge λ relative to the mean diagonal (default 1e-6)' })
        .option('probe', { type: 'number', describe: 'mnist: probe digits for kernel tracking (default 50)' })
        .option('workers', { type: 'number', describe: 'mnist, mnist-ablation: worker threads for the (model, seed) runs; gntk-paper: threads of the GNTK recursion and of the SVM (its architecture × fold jobs) (default: cores; same results)' })
        .option('variants', { type: 'string', describe: `mnist-ablation: the choices to change, one at a time (default all: ${Object.keys(ABLATION_VARIANTS).join(',')})` })
        .option('render-only', { type: 'boolean', describe: 'mnist, gntk-paper: re-render report and figures from <out-dir>/results.json, computing nothing' }),
    async (a: Args) => {
      const name = str(a, 'name');
      if (!EXPERIMENTS.includes(name)) throw new UserError(`experiment: unknown experiment '${name}'; expected ${EXPERIMENTS.join(' or ')}`);
      const outDir = (a['out-dir'] as string | undefined) ?? `results/${name}`;
      const foreign = ALL_EXPERIMENT_FLAGS.find((f) => a[f] !== undefined && !EXPERIMENT_FLAGS[name].includes(f));
      if (foreign) throw new UserError(`--${foreign}: not an option of experiment ${name}`);
      if (name === 'mnist-ablation') {
        const opts = ablationOptions(a, (a['out-dir'] as string | undefined) ?? 'results/mnist', str(a, 'backend'));
        opts.backend = await initBackend(opts.backend);
        const r = await runMnistAblation(opts);
        if (!a.quiet) process.stderr.write(`wrote ${r.files.join(', ')} in ${r.seconds.toFixed(0)} s (${opts.backend})\n`);
        return;
      }
      if (name === 'gntk-paper') {
        const files = await gntkPaper(a, (a['out-dir'] as string | undefined) ?? 'results/gntk/paper');
        if (!a.quiet) process.stderr.write(`wrote ${files.join(', ')}\n`);
        return;
      }
      if (name !== 'mnist' && name !== 'resnet-vs-ffnet') {
        if (name === 'tabular') await loadSvm();
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
