import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convergenceDefaults, runConvergence } from '../experiments/convergence.js';
import { fitLine } from '../lib/stats.js';
import { runGntkStudy } from '../experiments/gntk.js';
import { labelAwareZ, lantkDefaults, nadarayaWatson, runLantk } from '../experiments/lantk.js';
import { digamma, exactLogRatioMoments, lognormalDefaults, runLognormal, trigamma } from '../experiments/lognormal.js';
import { foldSplit, normaliseKernel, stratifiedFolds } from '../lib/cv.js';
import { syntheticGraphs } from '../lib/graphs.js';
import { NormalRng } from '../lib/rng.js';
import { METHODS, summaryColumns, runTabular } from '../experiments/tabular.js';
import { SVM_C_GRID, loadSvm, svmAccuracy } from '../lib/svm.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import { DEFAULT_MLP } from '../models/mlp.js';
import { loadTableFolder, standardise } from '../lib/tabular.js';
import { testBackend } from './helpers.js';

describe('research studies (quick modes)', function () {
  let dir: string;
  before(async () => {
    await testBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-studies-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';

  it('convergence: error to NTK∞ and spread shrink like width^(-1/2); training moves wide kernels less', () => {
    expect(fitLine([0, 1, 2], [1, 3, 5])).to.deep.equal({ slope: 2, intercept: 1 });
    const out = path.join(dir, 'conv');
    const { summary, files } = runConvergence({ ...convergenceDefaults(true), outDir: out, backend });
    expect(files.map((f) => path.basename(f)).sort()).to.deep.equal(['ntk-circle-init.svg', 'ntk-circle-trained.svg', 'report.md', 'scaling.svg', 'summary.json', 'widths.csv']);
    const s = summary.slopes as { spread: number; error: number; change: number };
    expect(s.error).to.be.within(-0.75, -0.3);
    expect(s.spread).to.be.within(-0.75, -0.3);
    const w = summary.widths as { width: number; change: number; error: number }[];
    expect(w[w.length - 1].change).to.be.below(w[0].change / 2);
    expect(w[w.length - 1].error).to.be.below(w[0].error / 2);
  });

  it('digamma, trigamma and the exact log-moments of one ReLU layer (against sampling the layer directly)', () => {
    expect(digamma(1)).to.be.closeTo(-0.5772156649015329, 1e-12);
    expect(digamma(0.5)).to.be.closeTo(-0.5772156649015329 - 2 * Math.LN2, 1e-12);
    expect(trigamma(1)).to.be.closeTo(Math.PI ** 2 / 6, 1e-12);
    expect(trigamma(0.5)).to.be.closeTo(Math.PI ** 2 / 2, 1e-12);
    const n = 32, S = 40000, rng = new NormalRng('layer');
    let s1 = 0, s2 = 0;
    for (let t = 0; t < S; t++) {
      let a = 0;
      for (const v of rng.normals(n)) if (v > 0) a += v * v;
      const l = Math.log((2 / n) * a);
      s1 += l;
      s2 += l * l;
    }
    const m = s1 / S, v = s2 / S - m * m;
    const e = exactLogRatioMoments(n);
    expect(m).to.be.closeTo(e.mean, 4 * Math.sqrt(e.variance / S));
    expect(v).to.be.closeTo(e.variance, 0.04 * e.variance);
    expect(e.variance).to.be.closeTo(5 / n, 0.2 * (5 / n)); // β's first-order term
  });

  it('lognormal: exact finite-width moments match the sampled nets; the deep feedforward NTK is noisier than the ResNet', () => {
    const { summary } = runLognormal({ ...lognormalDefaults(true), outDir: path.join(dir, 'ln'), backend });
    const rows = summary.rows as { net: string; exact: { meanCk: number; varLogCk: number; meanLogCk: number } | null; ck: { mean: number; sdLog: number }; ntk: { sdLog: number }; meanCkStderr: number; measured: { varLogCk: number; meanLogCk: number } }[];
    for (const r of rows.filter((x) => x.exact)) {
      expect(r.ck.mean).to.be.closeTo(r.exact!.meanCk, 4 * r.meanCkStderr);
      expect(r.measured.varLogCk).to.be.closeTo(r.exact!.varLogCk, 0.35 * r.exact!.varLogCk);
      expect(r.measured.meanLogCk).to.be.closeTo(r.exact!.meanLogCk, 4 * Math.sqrt(r.exact!.varLogCk / 150));
    }
    const deepest = rows[rows.length - 2], resnet = rows[rows.length - 1];
    expect(deepest.ntk.sdLog).to.be.above(1.8 * resnet.ntk.sdLog);
  });

  it('stratified folds are balanced per class and seeded', () => {
    const labels = Int32Array.from({ length: 53 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const f = stratifiedFolds(labels, 5, 1);
    for (let k = 0; k < 5; k++) {
      const { test } = foldSplit(f, k);
      const ones = test.filter((i) => labels[i] === 1).length;
      expect(ones).to.be.within(3, 4); // 18 of class 1 over 5 folds
      expect(test.length).to.be.within(10, 11);
    }
    expect(Array.from(stratifiedFolds(labels, 5, 1))).to.deep.equal(Array.from(f));
    expect(Array.from(stratifiedFolds(labels, 5, 2))).to.not.deep.equal(Array.from(f));
    const K = normaliseKernel([4, 2, 2, 9], 2);
    expect(Array.from(K)).to.deep.equal([1, 2 / 6, 2 / 6, 1]);
  });

  it('gntk: the GNTK, the Monte-Carlo GNN NTK and the trained GIN all separate the synthetic graph classes', () => {
    const data = syntheticGraphs(60, 0);
    const { summary } = runGntkStudy({ datasets: [{ data, name: 'synthetic' }], folds: 5, blocks: 2, mlpLayers: 2, aggregation: 'sum', jk: true, mcWidth: 64, mcSeeds: 4, ginWidth: 32, epochs: 15, batchSize: 32, lr: 1e-2, seed: 0, quick: true, outDir: path.join(dir, 'gntk'), backend });
    const acc = (summary.datasets as { accuracy: Record<'gntk' | 'mc' | 'gin', number[]> }[])[0].accuracy;
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(acc.gntk).to.have.length(5);
    expect(mean(acc.gntk)).to.be.above(0.8);
    expect(mean(acc.mc)).to.be.above(0.8);
    expect(mean(acc.gin)).to.be.above(0.7);
    expect(fs.readFileSync(path.join(dir, 'gntk', 'folds.csv'), 'utf8').trim().split('\n')).to.have.length(6);
    // The figure: one line per method, through the 5 folds' accuracies of folds.csv.
    const svg = fs.readFileSync(path.join(dir, 'gntk', 'folds.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).to.have.length(3);
    expect(svg.match(/<circle /g)).to.have.length(15);
  });

  it('lantk: Z estimates y y\' (leave-one-out on training points) and the study beats chance by far', () => {
    // Two well-separated groups: the Nadaraya–Watson estimate recovers every label, so Z = y yᵀ in sign.
    const n = 6, y = [1, 1, 1, -1, -1, -1];
    const K = new Float64Array(n * n).map((_, e) => (y[Math.floor(e / n)] === y[e % n] ? 0.9 : 0.1));
    for (let i = 0; i < n; i++) K[i * n + i] = 1;
    const yhat = nadarayaWatson(K, n, n, y, 0.05, true);
    yhat.forEach((v, i) => expect(Math.sign(v)).to.equal(y[i]));
    const { Ztr } = labelAwareZ(K, K, n, n, y, 0.05);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.sign(Ztr[i * n + j])).to.equal(y[i] * y[j]);
    const { summary } = runLantk({ ...lantkDefaults(true), outDir: path.join(dir, 'lantk'), backend });
    const run = (summary.runs as { ntk: number; lantkSelected: number; net: number }[])[0];
    expect(run.ntk).to.be.above(0.9);
    expect(run.lantkSelected).to.be.above(0.9);
    expect(run.net).to.be.above(0.85);
  });
});

describe('tabular data and the FC-NTK study (seeds/000)', function () {
  let dir: string;
  before(async () => {
    await testBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-tab-'));
    // Fixture 1: a CSV with named classes, two Gaussian blobs in 3-d.
    const rng = new NormalRng('tab');
    const rows = ['a,b,c,label'];
    for (let i = 0; i < 40; i++) {
      const cls = i % 2;
      const v = rng.normals(3).map((z) => z + (cls ? 2 : -2));
      rows.push(`${v.join(',')},${cls ? 'yes' : 'no'}`);
    }
    fs.writeFileSync(path.join(dir, 'blobs.csv'), rows.join('\n') + '\n');
    // Fixture 2: the 90-dataset layout, NAME/NAME_R.dat (tab-separated, index column first) + 4 folds.
    fs.mkdirSync(path.join(dir, 'toy'));
    const dat = ['\tf1\tf2\tclase'];
    for (let i = 0; i < 24; i++) dat.push(`${i + 1}\t${(i % 3) + rng.normals(1)[0] * 0.1}\t${i * 0.01}\t${i % 3}`);
    fs.writeFileSync(path.join(dir, 'toy', 'toy_R.dat'), dat.join('\n') + '\n');
    const kfold: string[] = [];
    for (let f = 0; f < 4; f++) {
      const test = Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 4 === f);
      kfold.push(Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 4 !== f).join(' '), test.join(' '));
    }
    fs.writeFileSync(path.join(dir, 'toy', 'conxuntos_kfold.dat'), kfold.join('\n') + '\n');
    const rowsOf = (keep: (i: number) => boolean) => Array.from({ length: 24 }, (_, i) => i).filter(keep).join(' ');
    fs.writeFileSync(path.join(dir, 'toy', 'conxuntos.dat'), `${rowsOf((i) => i % 4 !== 0)}\n${rowsOf((i) => i % 4 === 0)}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads CSV tables and the 90-dataset layout with its own folds', () => {
    const tables = loadTableFolder(dir, '--data-dir');
    expect(tables.map((t) => t.name)).to.deep.equal(['blobs', 'toy']);
    const [blobs, toy] = tables;
    expect([blobs.n, blobs.d, blobs.classes, blobs.folds]).to.deep.equal([40, 3, 2, null]);
    expect(Array.from(blobs.labels.subarray(0, 4))).to.deep.equal([0, 1, 0, 1]); // 'no' < 'yes'
    expect([toy.n, toy.d, toy.classes]).to.deep.equal([24, 2, 3]);
    expect(toy.folds).to.have.length(4);
    expect(toy.folds![1].test).to.deep.equal([1, 5, 9, 13, 17, 21]);
    expect(toy.x[1 * 2 + 1]).to.be.closeTo(0.01, 1e-12); // the index column is skipped
  });

  it('standardises with the training rows only', () => {
    const [blobs] = loadTableFolder(dir, '--data-dir');
    const train = Array.from({ length: 30 }, (_, i) => i);
    const z = standardise(blobs, train);
    for (let j = 0; j < 3; j++) {
      let m = 0, v = 0;
      for (const i of train) m += z[i * 3 + j] / 30;
      for (const i of train) v += (z[i * 3 + j] - m) ** 2 / 30;
      expect(m).to.be.closeTo(0, 1e-12);
      expect(v).to.be.closeTo(1, 1e-12);
    }
  });

  it('P95 and PMA follow their definitions on a hand-made table', () => {
    const c = summaryColumns([[0.9, 0.8, 0.5], [0.6, 0.6, 0.3]]);
    expect(c.avg).to.deep.equal([0.75, 0.7, 0.4]);
    expect(c.p95).to.deep.equal([1, 0.5, 0]); // 0.8 < 0.95·0.9; 0.6 ≥ 0.95·0.6
    expect(c.pma[0]).to.be.closeTo(100, 1e-12);
    expect(c.pma[1]).to.be.closeTo((100 * 0.8 / 0.9 + 100) / 2, 1e-9);
  });

  it('the study classifies both fixtures well with every method and writes its report', async () => {
    await loadSvm();
    const tables = loadTableFolder(dir, '--data-dir');
    expect(tables[1].validation!.test).to.deep.equal([0, 4, 8, 12, 16, 20]);
    const out = path.join(dir, 'out');
    const { summary } = runTabular({ tables, dataDir: dir, folds: 4, depths: [1, 2], width: 64, netDepth: 2, mcSeeds: 2, epochs: 60, batchSize: 16, lr: 3e-3, seed: 0, quick: true, outDir: out, backend: process.env.NTK_TEST_BACKEND ?? 'wasm' });
    const ds = summary.datasets as { name: string; accuracy: number[][]; folds: number; ownFolds: boolean }[];
    expect(ds[1].ownFolds).to.equal(true);
    expect(ds[0].folds).to.equal(4);
    for (const d of ds) for (const a of d.accuracy) expect(a.reduce((x, y) => x + y, 0) / a.length, d.name).to.be.above(0.85);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).to.match(/\*\*P95\*\*/);
    // Arora et al.'s SVM protocol: toy ships a validation split, so (depth, C) is chosen once on it, by scanning every
    // (depth, C) here with single fits; each fold's accuracy is then that SVM on the fold's own standardised NTK.
    const toy = tables[1], svmCol = METHODS.indexOf('NTK∞ (C-SVM)');
    const ntk = (train: number[], depth: number) => analyticMlpKernel({ depth, activation: 'relu', wStd: DEFAULT_MLP.wStd, bStd: DEFAULT_MLP.bStd }, standardise(toy, train), toy.n, standardise(toy, train), toy.n, toy.d).ntk;
    let best = { acc: -1, depth: 0, C: 0 };
    for (const depth of [1, 2]) for (const C of SVM_C_GRID) {
      const a = svmAccuracy(ntk(toy.validation!.train, depth), toy.n, toy.labels, toy.validation!.train, toy.validation!.test, C);
      if (a > best.acc) best = { acc: a, depth, C };
    }
    const rec = (summary.datasets as { chosen: { svm: { depth: number; C: number } }[]; accuracy: number[][] }[])[1];
    expect(rec.chosen.map((c) => c.svm)).to.deep.equal(toy.folds!.map(() => ({ depth: best.depth, C: best.C })));
    toy.folds!.forEach(({ train, test }, f) => expect(rec.accuracy[svmCol][f]).to.equal(svmAccuracy(ntk(train, best.depth), toy.n, toy.labels, train, test, best.C)));
  });
});
