import * as fs from 'node:fs';
import * as path from 'node:path';
import { foldSplit, normaliseKernel, stratifiedFolds } from '../lib/cv.js';
import { writeFilesAtomically } from '../lib/files.js';
import { wlSubtreeKernel } from '../lib/graph-kernels.js';
import { type GraphDataset, loadGraphFile, withDegreeFeatures } from '../lib/graphs.js';
import { decodeNpy, npyChunks } from '../lib/npy.js';
import { type ProgressFactory, noProgress } from '../lib/progress.js';
import { UserError } from '../lib/errors.js';
import { mean, sd } from '../lib/stats.js';
import { SVM_C_GRID, loadSvm } from '../lib/svm.js';
import { toolVersion } from '../lib/version.js';
import { accuracy, oneHot } from '../lib/kernel-regression.js';
import { gatherSamples } from '../lib/samples.js';
import { Gnn, type GnnConfig } from '../models/gnn.js';
import { predict, trainModel } from '../models/training.js';
import { type GntkConfig, type GntkReadouts, analyticGntkReadouts, gntkFromReadouts, gntkPairCount } from '../models/gnn-analytic.js';
import type { Graph } from '../lib/samples.js';
import { PUBLISHED_GNTK } from './gntk.js';
import { type Machine, type MachineLoad, loadSampler, thisMachine } from './machine.js';
import { type GntkCheckpoint, checkpointSeconds, clearGntkCheckpoint, defaultGntkWorkers, parallelGntkReadouts } from './gntk-parallel.js';
import { scoreFolds } from './svm-folds.js';

/** One GNTK architecture of Du et al.'s grid. */
export interface GntkArch {
  blocks: number;
  mlpLayers: number;
  aggregation: 'sum' | 'mean';
  jk: boolean;
}

export interface GntkGrid {
  blocks: number[];
  mlpLayers: number[];
  aggregation: ('sum' | 'mean')[];
  jk: boolean[];
}

/** Du et al. 2019's search space as issue 16 states it: blocks 1–6, MLP layers 1–3, sum/mean, jk on/off. */
export const PAPER_GRID: GntkGrid = { blocks: [1, 2, 3, 4, 5, 6], mlpLayers: [1, 2, 3], aggregation: ['sum', 'mean'], jk: [false, true] };

export type ReadoutFn = (cfg: GntkConfig, g1: Graph[], g2: Graph[], featureDim: number, onPairs?: (done: number, total: number) => void, checkpoint?: GntkCheckpoint) => GntkReadouts | Promise<GntkReadouts>;

const WEIGHTS = { activation: 'relu', wStd: Math.SQRT2, bStd: 0.1 };

/** One recursion group: the (MLP layers, aggregation) whose run of max(blocks) blocks serves every block count and jk. */
export interface GntkGroup {
  mlpLayers: number;
  aggregation: 'sum' | 'mean';
  blocks: number;
}

export const groupsOf = (grid: GntkGrid): GntkGroup[] =>
  grid.mlpLayers.flatMap((mlpLayers) => grid.aggregation.map((aggregation) => ({ mlpLayers, aggregation, blocks: Math.max(...grid.blocks) })));

const groupName = (g: GntkGroup) => `gntk-L${g.mlpLayers}-${g.aggregation}-B${g.blocks}`;

/**
 * The per-block readouts of one group, from the disk cache `dir` when a previous run left them there, else computed
 * and written there (readouts.npy [2, B, n, n] float64: q then t, plus a JSON naming what they were computed from,
 * through the project's all-or-nothing writer). A cached file is used only when its metadata matches the dataset and
 * the weights exactly; anything else is recomputed and replaced. While a group is computed, `compute` gets a
 * checkpoint in `dir` for its finished row chunks (parallelGntkReadouts resumes from them); they are removed once the
 * whole group is saved. `seconds` of a resumed group adds the earlier runs' time on its saved chunks.
 */
export async function cachedReadouts(d: GraphDataset, group: GntkGroup, dir: string | null, compute: ReadoutFn, onPairs?: (done: number, total: number) => void): Promise<{ r: GntkReadouts; seconds: number; cached: boolean }> {
  const meta = { source: d.source, n: d.n, featureDim: d.featureDim, ...WEIGHTS, ...group };
  const npy = dir ? path.join(dir, `${groupName(group)}.npy`) : null, json = npy ? npy.replace(/\.npy$/, '.json') : null;
  if (npy && json && fs.existsSync(npy) && fs.existsSync(json)) {
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as { meta: unknown; seconds: number };
    if (JSON.stringify(saved.meta) === JSON.stringify(meta)) {
      const a = decodeNpy(fs.readFileSync(npy), npy);
      const m = d.n * d.n, B = group.blocks;
      if (a.data instanceof Float64Array && a.data.length === 2 * B * m) {
        const part = (k: number) => a.data.subarray(k * m, (k + 1) * m) as Float64Array;
        return { r: { q: Array.from({ length: B }, (_, l) => part(l)), t: Array.from({ length: B }, (_, l) => part(B + l)), n1: d.n, n2: d.n }, seconds: saved.seconds, cached: true };
      }
    }
  }
  const t0 = performance.now();
  const checkpoint = dir ? { dir, name: groupName(group), meta } : undefined;
  // A group resumed from row chunks counts the earlier runs' time on them too.
  const earlier = checkpoint ? checkpointSeconds(checkpoint) : 0;
  const r = await compute({ ...WEIGHTS, blocks: group.blocks, mlpLayers: group.mlpLayers, aggregation: group.aggregation, jk: false }, d.graphs, d.graphs, d.featureDim, onPairs, checkpoint);
  const seconds = earlier + (performance.now() - t0) / 1000;
  if (npy && json) {
    const all = new Float64Array(2 * group.blocks * d.n * d.n);
    [...r.q, ...r.t].forEach((x, k) => all.set(x, k * d.n * d.n));
    writeFilesAtomically([
      { path: npy, data: npyChunks({ data: all, shape: [2, group.blocks, d.n, d.n] }) },
      { path: json, data: JSON.stringify({ meta, seconds, earlierRunsSeconds: earlier, layout: '[0, l] = Σ_{u,u\'} Q after block l+1; [1, l] = Σ_{u,u\'} T (models/gnn-analytic.ts analyticGntkReadouts)' }, null, 1) + '\n' },
    ]);
    clearGntkCheckpoint(checkpoint!);
  }
  return { r, seconds, cached: false };
}

/**
 * Every architecture of the grid's cosine-normalised GNTK over the dataset, handed to `use` one at a time (a grid of
 * dense [n, n] kernels would not fit in memory for COLLAB). The recursion runs once per (MLP layers, aggregation),
 * for the largest block count; every block count and both jk settings are read off its per-block readouts.
 */
export async function forEachGntk(d: GraphDataset, grid: GntkGrid, use: (arch: GntkArch, K: Float64Array) => void, compute: ReadoutFn = analyticGntkReadouts, onGroup?: (seconds: number) => void): Promise<void> {
  for (const group of groupsOf(grid)) {
    const { r, seconds } = await cachedReadouts(d, group, null, compute);
    onGroup?.(seconds);
    for (const arch of archsOf(grid, group)) use(arch, gntkKernel(r, arch, d.n));
  }
}

const archsOf = (grid: GntkGrid, g: GntkGroup): GntkArch[] =>
  grid.blocks.flatMap((blocks) => grid.jk.map((jk) => ({ blocks, mlpLayers: g.mlpLayers, aggregation: g.aggregation, jk })));

const gntkKernel = (r: GntkReadouts, a: GntkArch, n: number) => normaliseKernel(gntkFromReadouts(WEIGHTS, r, a.blocks, a.jk).ntk, n);

/** The seven benchmarks by their table names: file in the graphs folder, and whether they are social (no tags). */
export const GRAPH_BENCHMARKS: Record<string, { file: string; social: boolean }> = {
  MUTAG: { file: 'MUTAG.txt', social: false }, PTC: { file: 'PTC.txt', social: false }, PROTEINS: { file: 'PROTEINS.txt', social: false },
  NCI1: { file: 'NCI1.txt', social: false }, 'IMDB-B': { file: 'IMDBBINARY.txt', social: true }, 'IMDB-M': { file: 'IMDBMULTI.txt', social: true },
  COLLAB: { file: 'COLLAB.txt', social: true },
};

/** A benchmark by table name from `dir`: one-hot tags, or one-hot degrees for the social networks (as Du et al.). */
export function loadBenchmark(name: string, dir: string, flag: string): GraphDataset {
  const f = GRAPH_BENCHMARKS[name];
  if (!f) throw new UserError(`--datasets: unknown dataset '${name}'; expected some of ${Object.keys(GRAPH_BENCHMARKS).join(', ')}`);
  const d = loadGraphFile(path.join(dir, f.file), flag);
  return f.social ? withDegreeFeatures(d) : d;
}

/**
 * Test accuracies acc[c][f] of each kernel Ks[k] for every C and outer fold, and inner scores inner[c][f] (mean over
 * inner folds): lib/svm.ts foldScores per (kernel, outer fold), those jobs on `workers` threads (each kernel shared,
 * not copied; a job's fits are the same whichever thread runs them, so the scores do not depend on the number of
 * workers).
 */
async function scoreKernels(Ks: Float64Array[], d: GraphDataset, fold: Int32Array, folds: number, cs: number[], innerFolds: number, seed: number, workers: number, onFold?: (done: number) => void): Promise<{ acc: number[][]; inner: number[][] }[]> {
  const perKernel = await scoreFolds(Ks, d.n, d.labels!, fold, folds, cs, innerFolds, seed, workers, onFold);
  return perKernel.map((perFold) => ({ acc: cs.map((_, c) => perFold.map((s) => s.acc[c])), inner: cs.map((_, c) => perFold.map((s) => s.inner[c])) }));
}

/** The two protocols over a list of scored candidates (each a kernel × C): fold accuracies and what was chosen. */
export function selectProtocols(cands: { label: string; acc: number[]; inner: number[] }[]): { paper: { folds: number[]; chosen: string }; nested: { folds: number[]; chosen: string[] } } {
  // Paper: the candidate with the best mean test-fold accuracy (selection on the test folds; first wins ties).
  let best = 0;
  cands.forEach((c, i) => { if (mean(c.acc) > mean(cands[best].acc)) best = i; });
  const F = cands[0].acc.length;
  const nested = { folds: [] as number[], chosen: [] as string[] };
  for (let f = 0; f < F; f++) {
    let b = 0;
    cands.forEach((c, i) => { if (c.inner[f] > cands[b].inner[f]) b = i; });
    nested.folds.push(cands[b].acc[f]);
    nested.chosen.push(cands[b].label);
  }
  return { paper: { folds: cands[best].acc, chosen: cands[best].label }, nested };
}

export interface GntkPaperOptions {
  datasets: { data: GraphDataset; name: string }[];
  folds: number;
  innerFolds: number;
  grid: GntkGrid;
  wlIterations: number[];
  cs: number[];
  seed: number;
  outDir: string;
  /** Disk cache of readouts and scores per (dataset, recursion group): DIR/DATASET/…; null: none. */
  cacheDir: string | null;
  log: (line: string) => void;
  progress?: ProgressFactory;
  /** The recursion (tests count its calls); default parallelGntkReadouts on `workers` threads. */
  compute?: ReadoutFn;
  /** Worker threads of the GNTK recursion and the SVM folds (default: the cores); results do not depend on it. */
  workers?: number;
  /** What to run (default GNTK and WL); a run updates only these methods of a dataset already in summary.json. */
  methods?: PaperMethod[];
  /** The trained networks' shape and schedule (GIN and GCN); required when methods has GIN or GCN. */
  networks?: NetworkSchedule;
  /** tfjs backend the networks train on (recorded). */
  backend?: string;
}

export type PaperMethod = 'GNTK' | 'WL' | 'GIN' | 'GCN';

/**
 * What the rows of a run are (recorded with each run): the trained networks' (graphBatch) and the GNTK recursion's
 * (graphQuotient) classes of equivalent nodes. Runs recorded without it were made node by node.
 */
const NETWORK_ROWS = 'node classes';
const GNTK_ROWS = 'node classes';

/** Shape and training of the GIN and GCN baselines: hidden width, blocks (GCN: layers), epochs, Adam rate, minibatch. */
export interface NetworkSchedule {
  hidden: number;
  blocks: number;
  epochs: number;
  lr: number;
  batchSize: number;
}

/**
 * A trained GIN or GCN under the outer folds: per fold, trained on the training part from a seeded initialisation
 * (cross-entropy, Adam), the test-fold accuracy recorded after every epoch. GIN: `blocks` blocks of sum aggregation
 * with 2-layer MLPs and jumping knowledge (our finite GIN, as in \`ntk experiment gntk\`); GCN: `blocks` layers
 * h ← ReLU(Â h W + b), Â = D̃^−½(A + I)D̃^−½, sum readout. Both NTK-parameterised, σ_w = √2, σ_b = 0.1.
 * Returns acc[epoch][fold] for epochs 1..E.
 */
export function networkCv(kind: 'GIN' | 'GCN', d: GraphDataset, fold: Int32Array, folds: number, s: NetworkSchedule, seed: number, onFold?: (f: number) => void): number[][] {
  const C = d.classes;
  const shape = kind === 'GIN' ? { blocks: s.blocks, mlpLayers: 2, aggregation: 'sum' as const, jk: true } : { blocks: s.blocks, mlpLayers: 1, aggregation: 'gcn' as const, jk: false };
  const model = new Gnn({ model: 'gnn', activation: 'relu', parameterization: 'ntk', wStd: Math.SQRT2, bStd: 0.1, bias: true, ...shape, featureDim: d.featureDim, hidden: s.hidden, outputs: C } as GnnConfig);
  const acc = Array.from({ length: s.epochs }, () => new Array<number>(folds).fill(0));
  for (let f = 0; f < folds; f++) {
    const { train, test } = foldSplit(fold, f);
    const tr = gatherSamples(d, train), te = gatherSamples(d, test);
    trainModel(model, model.init(`${seed}/${kind}/${f}`), tr, Float32Array.from(oneHot(tr.labels!, C)), {
      loss: 'cross-entropy', optimiser: { name: 'adam', lr: s.lr }, epochs: s.epochs, batchSize: s.batchSize, seed: `${seed}/${kind}/${f}`,
    }, { callAt: acc.map((_, e) => e + 1), onEpoch: (e, params) => { if (e >= 1) acc[e - 1][f] = accuracy(predict(model, params, te), te.labels!, C); } });
    onFold?.(f + 1);
  }
  return acc;
}

/** The two protocols of a trained network: the last epoch's fold accuracies, and the GIN paper's best mean epoch. */
export function networkProtocols(acc: number[][]): MethodResult[] {
  let best = 0;
  acc.forEach((a, e) => { if (mean(a) > mean(acc[best])) best = e; });
  return [
    { protocol: 'final-epoch', folds: acc[acc.length - 1], chosen: `epoch ${acc.length}` },
    { protocol: 'paper-best-epoch', folds: acc[best], chosen: `epoch ${best + 1}` },
  ];
}

interface MethodResult {
  protocol: string;
  folds: number[];
  chosen: string | string[];
}

/**
 * Du et al. 2019's GNTK protocol: seeded stratified `folds`-fold CV; a C-SVM (libsvm) on the cosine-normalised GNTK
 * of every architecture of the grid and every C, plus the WL subtree kernel (iterations grid) with the same SVM. Two
 * numbers per method: the paper's rule (the grid point with the best mean test-fold accuracy; it selects on the test
 * folds) and nested CV (per outer fold, the grid point with the best mean accuracy over `innerFolds` inner folds of
 * the training part, scored on the outer test fold). Results per dataset are written as soon as it finishes.
 */
export async function runGntkPaper(o: GntkPaperOptions): Promise<Record<string, unknown>> {
  await loadSvm();
  const file = path.join(o.outDir, 'summary.json');
  const summary: { tool: string; protocols: Record<string, string>; datasets: Record<string, unknown> } = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, 'utf8')) : { tool: toolVersion(), protocols: {}, datasets: {} };
  summary.tool = toolVersion();
  summary.protocols = {
    'paper-best-mean-cv': `Du et al.'s rule: every (architecture, C) scored by mean accuracy over the outer test folds; the best reported. Selects on the test folds (optimistic).`,
    'nested-cv': 'per outer fold, (architecture, C) chosen by mean accuracy over stratified inner folds of the training part (their number per dataset: innerFolds); the outer test fold is scored once.',
  };
  summary.protocols['final-epoch'] = 'a trained network of one fixed shape and schedule; the test-fold accuracy after the last epoch.';
  summary.protocols['paper-best-epoch'] = 'the GIN paper\'s rule for trained networks: the epoch with the best test accuracy averaged over the folds (selects on the test folds; optimistic).';
  const baseProgress = o.progress ?? noProgress, workers = o.workers ?? defaultGntkWorkers();
  const compute: ReadoutFn = o.compute ?? ((cfg, g1, g2, F, onPairs, checkpoint) => parallelGntkReadouts(cfg, g1, g2, F, workers, onPairs, checkpoint));
  const methods = o.methods ?? ['GNTK', 'WL'];
  for (const { data: d, name } of o.datasets) {
    const t0 = performance.now();
    // The machine's load beside the times (sampled on progress updates, which fire while workers compute).
    const sampler = loadSampler();
    const progress: ProgressFactory = (label, total) => {
      const bar = baseProgress(label, total);
      return { update: (done) => (sampler.tick(), bar.update(done)), stop: () => bar.stop() };
    };
    const fold = stratifiedFolds(d.labels!, o.folds, o.seed);
    const gntk: { label: string; acc: number[]; inner: number[] }[] = [];
    const groupSeconds: number[] = [];
    const here = thisMachine(), elsewhere: GroupElsewhere[] = [];
    let scoring = 0;
    const groups = methods.includes('GNTK') ? groupsOf(o.grid) : [];
    const dir = o.cacheDir ? path.join(o.cacheDir, name) : null;
    // What the scores depend on besides the kernel: a cached score file is reused only under the same protocol.
    const protocolKey = { folds: o.folds, innerFolds: o.innerFolds, seed: o.seed, cs: o.cs, blocks: o.grid.blocks, jk: o.grid.jk, source: d.source, n: d.n };
    for (const [gi, group] of groups.entries()) {
      const label = `${name}: group ${gi + 1}/${groups.length} (layers ${group.mlpLayers}, ${group.aggregation})`;
      const scoreFile = dir ? path.join(dir, `${groupName(group)}-scores.json`) : null;
      type Scored = { arch: GntkArch; acc: number[][]; inner: number[][] };
      let scored: Scored[] | null = null;
      if (scoreFile && fs.existsSync(scoreFile)) {
        const saved = JSON.parse(fs.readFileSync(scoreFile, 'utf8')) as { protocol: unknown; scored: Scored[]; seconds: { recursion: number; svm: number }; machine: Machine; workers: number };
        if (JSON.stringify(saved.protocol) === JSON.stringify(protocolKey)) {
          scored = saved.scored;
          groupSeconds.push(saved.seconds.recursion);
          scoring += saved.seconds.svm;
          // A group scored on another machine or thread count: its times are not this run's, so the record names it.
          if (saved.machine.cpu !== here.cpu || saved.machine.cores !== here.cores || saved.workers !== workers) {
            elsewhere.push({ group: `layers ${group.mlpLayers}, ${group.aggregation}`, machine: saved.machine, workers: saved.workers, seconds: saved.seconds });
          }
          o.log(`${label}: scores taken from the cache (${scoreFile})`);
        }
      }
      if (!scored) {
        const bar = progress(`${label}: GNTK recursion (graph pairs)`, gntkPairCount(d.n, d.n, true));
        const { r, seconds, cached } = await cachedReadouts(d, group, dir, compute, (done) => bar.update(done));
        bar.stop();
        o.log(`${label}: recursion ${cached ? `taken from the cache (computed in ${seconds.toFixed(1)} s)` : `in ${seconds.toFixed(1)} s`}`);
        groupSeconds.push(seconds);
        const archs = archsOf(o.grid, group);
        const sbar = progress(`${label}: SVM scoring (architectures × outer folds)`, archs.length * o.folds);
        const t = performance.now();
        // All the group's kernels at once (12 × 135 MB for NCI1): their (kernel, fold) jobs fill every thread.
        const perArch = await scoreKernels(archs.map((a) => gntkKernel(r, a, d.n)), d, fold, o.folds, o.cs, o.innerFolds, o.seed, workers, (done) => sbar.update(done));
        scored = archs.map((arch, k) => ({ arch, ...perArch[k] }));
        sbar.stop();
        const svm = (performance.now() - t) / 1000;
        scoring += svm;
        o.log(`${label}: ${archs.length} architectures × ${o.cs.length} C scored in ${svm.toFixed(1)} s`);
        // Where the group was scored travels with its times: a grid finished over several runs sums groups of each.
        if (scoreFile) writeFilesAtomically([{ path: scoreFile, data: JSON.stringify({ protocol: protocolKey, seconds: { recursion: seconds, svm }, machine: thisMachine(), workers, scored }) + '\n' }]);
      }
      for (const { arch, acc, inner } of scored) {
        o.cs.forEach((C, c) => gntk.push({ label: `blocks ${arch.blocks}, layers ${arch.mlpLayers}, ${arch.aggregation}, jk ${arch.jk ? 'on' : 'off'}, C ${C.toPrecision(3)}`, acc: acc[c], inner: inner[c] }));
      }
    }
    if (groups.length) o.log(`${name}: GNTK grid scored (${gntk.length} candidates) in ${scoring.toFixed(1)} s of SVM fits`);
    const wl: { label: string; acc: number[]; inner: number[] }[] = [];
    const tw = performance.now();
    const hs = methods.includes('WL') ? o.wlIterations : [];
    const wbar = hs.length ? progress(`${name}: WL kernels and SVM scoring (iterations × outer folds)`, hs.length * o.folds) : null;
    for (const [k, h] of hs.entries()) {
      const K = normaliseKernel(wlSubtreeKernel(d.graphs, d.featureDim, h), d.n);
      const [{ acc, inner }] = await scoreKernels([K], d, fold, o.folds, o.cs, o.innerFolds, o.seed, workers, (f) => wbar!.update(k * o.folds + f));
      o.cs.forEach((C, c) => wl.push({ label: `h ${h}, C ${C.toPrecision(3)}`, acc: acc[c], inner: inner[c] }));
    }
    wbar?.stop();
    if (hs.length) o.log(`${name}: WL (h ${hs.join(', ')}) × ${o.cs.length} C scored in ${((performance.now() - tw) / 1000).toFixed(1)} s`);
    const wlSeconds = (performance.now() - tw) / 1000;
    const pack = (s: ReturnType<typeof selectProtocols>): MethodResult[] => [
      { protocol: 'paper-best-mean-cv', folds: s.paper.folds, chosen: s.paper.chosen },
      { protocol: 'nested-cv', folds: s.nested.folds, chosen: s.nested.chosen },
    ];
    const nets: Record<string, MethodResult[]> = {};
    const netSeconds: Record<string, number> = {};
    for (const kind of (['GIN', 'GCN'] as const).filter((k) => methods.includes(k))) {
      if (!o.networks) throw new Error('runGntkPaper: GIN/GCN need o.networks');
      const tn = performance.now();
      const bar = progress(`${name}: ${kind} training (folds)`, o.folds);
      nets[kind] = networkProtocols(networkCv(kind, d, fold, o.folds, o.networks, o.seed, (f) => bar.update(f)));
      bar.stop();
      netSeconds[kind] = (performance.now() - tn) / 1000;
      o.log(`${name}: ${kind} trained on ${o.folds} folds in ${netSeconds[kind].toFixed(1)} s`);
    }
    // Merge into what the file holds now (another process may have written other datasets or methods meanwhile).
    const now = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as typeof summary) : summary;
    const prev = (now.datasets[name] ?? {}) as { methods?: Record<string, MethodResult[]>; seconds?: Record<string, unknown>; runs?: Record<string, unknown> };
    const kernels = methods.includes('GNTK') || methods.includes('WL');
    summary.datasets = now.datasets;
    summary.datasets[name] = {
      ...prev,
      source: path.basename(d.source.replace(/^graphs:/, '').replace(/ \(.*$/, '')), features: /degree/.test(d.source) ? 'one-hot degree' : 'one-hot tag',
      graphs: d.n, classes: d.classes, folds: o.folds, foldSeed: o.seed,
      ...(kernels ? { innerFolds: o.innerFolds, cGrid: o.cs } : {}),
      ...(methods.includes('GNTK') ? { grid: o.grid } : {}),
      ...(methods.includes('WL') ? { wlIterations: o.wlIterations } : {}),
      ...(Object.keys(nets).length ? { networks: { ...o.networks, backend: o.backend, rows: NETWORK_ROWS } } : {}),
      methods: {
        ...prev.methods,
        ...(methods.includes('GNTK') ? { GNTK: pack(selectProtocols(gntk)) } : {}),
        ...(methods.includes('WL') ? { WL: pack(selectProtocols(wl)) } : {}),
        ...nets,
      },
      published: { GNTK: PUBLISHED_GNTK[name.toUpperCase()] ?? null },
      // Where and how each run of this dataset's methods was made (runs of other methods keep their own record);
      // the networks train on this thread (the workers serve the kernels).
      runs: { ...supersededRuns(prev.runs ?? {}, methods), [methods.join('+')]: { machine: thisMachine(), workers: kernels ? workers : 1, load: sampler.end(), ...(methods.includes('GNTK') ? { gntkRows: GNTK_ROWS } : {}), ...(elsewhere.length ? { gntkGroupsElsewhere: elsewhere } : {}) } },
      seconds: {
        ...prev.seconds,
        ...(methods.includes('GNTK') ? { gntkRecursionGroups: groupSeconds, gntkSvm: scoring } : {}),
        ...(methods.includes('WL') ? { wl: wlSeconds } : {}),
        ...netSeconds,
        ...(kernels ? { total: (performance.now() - t0) / 1000 } : {}),
      },
    };
    writeGntkPaperFiles(o.outDir, summary);
    o.log(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return summary;
}

/** Write summary.json and its rendered report.md into `dir` (both or neither). */
export function writeGntkPaperFiles(dir: string, summary: Record<string, unknown>): void {
  writeFilesAtomically([
    { path: path.join(dir, 'summary.json'), data: JSON.stringify(summary, null, 1) + '\n' },
    { path: path.join(dir, 'report.md'), data: renderGntkPaperReport(summary) },
  ]);
}

/** seeds/000's quotes (GCN / GIN / WL / GNTK, %) and Du et al. 2019's GNTK mean ± sd, per dataset. */
const PUBLISHED: Record<string, { GCN?: number; GIN?: number; WL?: number; GNTK: string }> = {
  COLLAB: { GCN: 79, GIN: 80, WL: 79, GNTK: '83.6 ± 1.0' }, 'IMDB-B': { GCN: 74, GIN: 75, WL: 74, GNTK: '76.9 ± 3.6' },
  'IMDB-M': { GCN: 51, GIN: 52, WL: 51, GNTK: '52.8 ± 4.6' }, PTC: { GCN: 64, GIN: 65, WL: 60, GNTK: '67.9 ± 6.9' },
  MUTAG: { GNTK: '90.0 ± 8.5' }, PROTEINS: { GNTK: '75.6 ± 4.2' }, NCI1: { GNTK: '84.2 ± 1.5' },
};
const ORDER = ['COLLAB', 'IMDB-B', 'IMDB-M', 'PTC', 'MUTAG', 'PROTEINS', 'NCI1'];

/** The report of a gntk-paper summary: the seeds/000 table with both protocols, published numbers, choices, times. */
export function renderGntkPaperReport(summary: Record<string, unknown>): string {
  type Ds = { innerFolds?: number; cGrid: number[]; graphs: number; classes: number; features: string; folds: number; methods: Record<string, MethodResult[]>; seconds: { gntkRecursionGroups: number[]; gntkSvm: number; wl?: number; total: number }; grid: GntkGrid; wlIterations?: number[]; runs?: Record<string, RunRecord> };
  const ds = summary.datasets as Record<string, Ds>;
  const full = (g: GntkGrid | undefined) => !g || (['blocks', 'mlpLayers', 'aggregation', 'jk'] as const).every((k) => PAPER_GRID[k].every((v) => (g[k] as unknown[]).includes(v)));
  const cell = (name: string, method: string, protocol: string) => {
    const r = ds[name]?.methods[method]?.find((m) => m.protocol === protocol);
    return r ? `${pct(r.folds)}${method === 'GNTK' && !full(ds[name].grid) ? ' †' : ''}` : 'not run';
  };
  const pub = (name: string, m: 'GCN' | 'GIN' | 'WL' | 'GNTK') => String(PUBLISHED[name]?.[m] ?? '—');
  const head = `| method (protocol) | ${ORDER.join(' | ')} |\n|---|${ORDER.map(() => '---').join('|')}|\n`;
  const row = (label: string, f: (n: string) => string) => `| ${label} | ${ORDER.map(f).join(' | ')} |`;
  return `# Graph classification as the papers ran it: GNTK and WL with a C-SVM (Du et al. 2019), trained GCN and GIN (seeds/000)

Made by ${String(summary.tool)} (\`ntk experiment gntk-paper\`). Accuracy in %, mean ± sd over the outer folds
(stratified, seed 0). Kernels are cosine-normalised, K_ij/√(K_ii K_jj), and classified by libsvm's C-SVC
(\`libsvm-js\`, one-vs-one) on the precomputed kernel, C from the half-decades 10⁻²…10⁴ (13 values) unless a dataset's row below lists fewer.

${head}${[
    row('GCN (trained), last epoch', (n) => cell(n, 'GCN', 'final-epoch')),
    row('GCN (trained), paper rule (best mean epoch)', (n) => cell(n, 'GCN', 'paper-best-epoch')),
    row('GIN (trained), last epoch', (n) => cell(n, 'GIN', 'final-epoch')),
    row('GIN (trained), paper rule (best mean epoch)', (n) => cell(n, 'GIN', 'paper-best-epoch')),
    row('WL subtree, paper rule', (n) => cell(n, 'WL', 'paper-best-mean-cv')),
    row('WL subtree, nested CV', (n) => cell(n, 'WL', 'nested-cv')),
    row('GNTK, paper rule', (n) => cell(n, 'GNTK', 'paper-best-mean-cv')),
    row('GNTK, nested CV', (n) => cell(n, 'GNTK', 'nested-cv')),
    row('published GCN (seeds/000)', (n) => pub(n, 'GCN')),
    row('published GIN (seeds/000)', (n) => pub(n, 'GIN')),
    row('published WL (seeds/000)', (n) => pub(n, 'WL')),
    row('published GNTK (Du et al. 2019)', (n) => pub(n, 'GNTK')),
  ].join('\n')}

† GNTK on a reduced grid (listed per dataset below), for time: not the paper's full search.

Protocols:
- **paper rule** (\`paper-best-mean-cv\`): ${(summary.protocols as Record<string, string>)['paper-best-mean-cv']} This is how
  Du et al. report the GNTK; it is not an unbiased estimate of accuracy.
- **nested CV** (\`nested-cv\`): ${(summary.protocols as Record<string, string>)['nested-cv']}
- Published numbers: Du et al. 2019 (GNTK; 10-fold CV, best mean over their grid) and the rounded values seeds/000
  quotes for GCN, GIN and WL (from the GIN and GNTK papers, 10-fold CV).
- **last epoch** (\`final-epoch\`) and **paper rule** for networks (\`paper-best-epoch\`): ${(summary.protocols as Record<string, string>)['final-epoch'] ?? ''}
  The paper rule: ${(summary.protocols as Record<string, string>)['paper-best-epoch'] ?? ''} Same outer folds as the kernels.
${networkText(ds)}

GNTK grid: MLP layers × blocks as listed per dataset below, × sum/mean aggregation × jumping knowledge on/off, σ_w = √2, σ_b = 0.1, ReLU (the finite GIN of models/gnn.ts; its jk averages the
per-block readouts of blocks 1..B). The recursion runs once per (MLP layers, aggregation) for the largest block count;
every block count and jk setting comes from its per-block readouts. The recursion runs on classes of equivalent nodes
(each graph's coarsest equitable partition; exact, the same kernel up to rounding, 5–16× fewer node pairs on the social
networks)${classRunsText(ds)}. WL subtree kernel: iterations h as listed, node
labels = tags (chemical datasets) or degrees (social). Node features: one-hot tag, or one-hot degree for the social
networks (no tags), as in the GIN and GNTK papers.

| dataset | graphs | classes | features | folds (inner) | GNTK grid (layers × blocks × aggregation) | C values | WL h | GNTK chosen by the paper rule | time |
|---|---|---|---|---|---|---|---|---|---|
${ORDER.filter((n) => ds[n]?.methods.GNTK).map((n) => {
    const d = ds[n];
    const chosen = d.methods.GNTK.find((m) => m.protocol === 'paper-best-mean-cv')!.chosen;
    return `| ${n} | ${d.graphs} | ${d.classes} | ${d.features} | ${d.folds} (${d.innerFolds ?? 3}) | ${d.grid.mlpLayers.join(',')} × ${d.grid.blocks.join(',')} × ${d.grid.aggregation.join(',')} | ${d.cGrid.length} | ${d.wlIterations?.join(',') ?? 'not run'} | ${String(chosen)} | ${(d.seconds.gntkRecursionGroups.reduce((a, b) => a + b, 0) + d.seconds.gntkSvm + (d.seconds.wl ?? 0)).toFixed(0)} s (recursion ${d.seconds.gntkRecursionGroups.map((s) => s.toFixed(0)).join(' + ')} s, GNTK SVMs ${d.seconds.gntkSvm.toFixed(0)} s${d.seconds.wl === undefined ? '' : `, WL ${d.seconds.wl.toFixed(0)} s`}) |`;
  }).join('\n')}

Times are computation times summed over runs (a resumed run counts the cached groups' recorded times, on the machines
named below). Machine, worker threads and 1-minute load average (mean, max) of each run:
${runsText(ds)}
${summary.notRun ? `\nNot run, and why (summary.json \`notRun\`):\n${Object.entries(summary.notRun as Record<string, string>).map(([k, v]) => `- ${k}: ${v}`).join('\n')}\n` : ''}`;
}

/**
 * The earlier run records of a dataset without the methods a new run redoes: 'GNTK+WL' becomes 'WL' after a run of
 * the GNTK alone (its WL numbers still come from that run), and a record left with no method is dropped.
 */
export function supersededRuns(runs: Record<string, unknown>, methods: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, r] of Object.entries(runs)) {
    const left = key.split('+').filter((m) => !methods.includes(m));
    if (left.length) out[left.join('+')] = r;
  }
  return out;
}

/** A GNTK group whose scores a run took from a score file made on another machine or thread count. */
interface GroupElsewhere {
  group: string;
  machine: Machine;
  workers: number;
  seconds: { recursion: number; svm: number };
}

/**
 * Where a run of some methods on one dataset was made; gntkRows: what the GNTK recursion ran on (absent: nodes);
 * gntkGroupsElsewhere: the groups it took from score files made elsewhere (their times are those machines').
 */
interface RunRecord {
  machine: Machine;
  workers: number;
  load: MachineLoad;
  gntkRows?: string;
  gntkGroupsElsewhere?: GroupElsewhere[];
}

const elsewhereText = (r: RunRecord): string => (r.gntkGroupsElsewhere ?? []).map((g) =>
  `, its group ${g.group} taken from a score file made on ${g.machine.cpu} (${g.machine.cores} cores, ${g.workers} worker thread(s): recursion ${g.seconds.recursion.toFixed(0)} s, SVM fits ${g.seconds.svm.toFixed(0)} s)`).join('');

/** Which datasets' GNTK recursion ran on node classes; the others' ran node by node, before the class recursion. */
function classRunsText(ds: Record<string, { runs?: Record<string, RunRecord>; methods: Record<string, unknown> }>): string {
  const withGntk = ORDER.filter((n) => ds[n]?.methods.GNTK);
  const onClasses = withGntk.filter((n) => Object.entries(ds[n].runs ?? {}).some(([what, r]) => what.split('+').includes('GNTK') && r.gntkRows === GNTK_ROWS));
  const byNode = withGntk.filter((n) => !onClasses.includes(n));
  if (!byNode.length) return '; every dataset\'s GNTK was computed on them';
  return `; ${onClasses.length ? `the GNTK of ${onClasses.join(', ')} was computed on them, ` : ''}that of ${byNode.join(', ')} node by node, before the class recursion existed (their times are those runs')`;
}

/** One line per dataset: each run's machine, threads and load; runs before these were recorded say so. */
function runsText(ds: Record<string, { runs?: Record<string, RunRecord>; methods: Record<string, unknown> }>): string {
  const earlier = 'runs of an earlier version, not recorded in summary.json (the shared 2-core AMD EPYC at load ≈ 10–14 by that round\'s notes; times are upper bounds)';
  return ORDER.filter((n) => ds[n]).map((n) => {
    const runs = Object.entries(ds[n].runs ?? {});
    if (!runs.length) return `- ${n}: ${earlier}.`;
    const covered = new Set(runs.flatMap(([what]) => what.split('+')));
    const rest = Object.keys(ds[n].methods).filter((m) => !covered.has(m));
    return `- ${n}: ${runs.map(([what, r]) => `${what.replaceAll('+', ', ')} on ${r.machine.cpu} (${r.machine.cores} cores, ${r.workers} worker thread(s)), load ${mean(r.load.samples).toFixed(1)} / ${Math.max(...r.load.samples).toFixed(1)}${elsewhereText(r)}`).join('; ')}${rest.length ? `; ${rest.join(', ')}: ${earlier}` : ''}.`;
  }).join('\n');
}

/** The trained networks' shapes and schedules, and their times, per dataset. */
function networkText(ds: Record<string, { networks?: NetworkSchedule & { backend?: string; rows?: string }; methods: Record<string, MethodResult[]>; seconds: Record<string, unknown> }>): string {
  const rows = ORDER.filter((n) => ds[n]?.networks).map((n) => {
    const w = ds[n].networks!;
    const best = (k: string) => ds[n].methods[k]?.find((m) => m.protocol === 'paper-best-epoch')?.chosen ?? '—';
    const secs = (k: string) => (typeof ds[n].seconds[k] === 'number' ? `${(ds[n].seconds[k] as number).toFixed(0)} s` : '—');
    return `| ${n} | ${w.hidden} | ${w.blocks} | ${w.epochs} | ${w.lr} | ${w.batchSize} | ${w.backend ?? '—'} | ${w.rows ?? '—'} | ${best('GIN')} / ${best('GCN')} | ${secs('GIN')} / ${secs('GCN')} |`;
  });
  if (!rows.length) return '- GCN and GIN as trained networks: not run on any dataset here.';
  return `- Trained networks (NTK parameterisation, σ_w = √2, σ_b = 0.1, ReLU, cross-entropy, Adam, one seeded run per fold): GIN = blocks
  of sum aggregation, 2-layer MLPs, jumping knowledge (the finite net of models/gnn.ts, as in \`ntk experiment gntk\`); GCN = layers
  h ← ReLU(Â h W + b), Â = D̃^−½(A + I)D̃^−½ (\`--aggregation gcn\`), sum readout. Fewer layers and epochs than the GIN paper's
  (5 layers, 350 epochs), for time. Rows: the networks now run on classes of equivalent nodes (graphBatch: the same
  function of θ and the same gradients as node by node, up to float32 rounding; COLLAB's 372,474 nodes are 163,037 rows);
  runs listed with rows "nodes" were made before that.

| dataset | width | blocks / layers | epochs | Adam lr | batch | backend | rows | best mean epoch GIN / GCN | time GIN / GCN |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}`;
}

/** mean ± sd in % of fold accuracies. */
export const pct = (v: number[]): string => `${(100 * mean(v)).toFixed(1)} ± ${(100 * sd(v)).toFixed(1)}`;

export { SVM_C_GRID };
