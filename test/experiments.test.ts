import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackingEpochs } from '../experiments/mnist.js';
import { type MnistAblationOptions, ablationJobs, ablationRows, mnistAblationDefaults, orderingVerdict } from '../experiments/mnist-ablation.js';
import type { MnistJobResult } from '../experiments/mnist-job.js';
import { runResnetVsFfnet, spread } from '../experiments/resnet-vs-ffnet.js';
import { testBackend } from './helpers.js';

describe('experiment resnet-vs-ffnet', function () {
  before(async () => {
    await testBackend();
  });

  it('spread() gives the sample statistics', () => {
    const s = spread([1, 2, 4]);
    expect(s.mean).to.be.closeTo(7 / 3, 1e-12);
    expect(s.sd).to.be.closeTo(Math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2), 1e-12);
    expect(s.sdLog).to.be.closeTo(Math.LN2, 1e-12);
    expect(s.secondMomentRatio).to.be.closeTo(7 / (49 / 9), 1e-12);
  });

  it('a small run writes its report and shows the deep feedforward NTK noisier than the ResNet', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-rvf-'));
    try {
      const { summary, files } = runResnetVsFfnet({ seeds: 8, width: 32, depth: 100, branches: 20, branchDepth: 5, seed: 3, outDir: dir, backend: 'test' });
      expect(files.map((f) => path.basename(f)).sort()).to.deep.equal(['log-ntk-hist.svg', 'report.md', 'samples.csv', 'summary.json']);
      const nets = summary.nets as { ntk: { sdLog: number } }[];
      expect(nets[0].ntk.sdLog).to.be.above(2 * nets[1].ntk.sdLog);
      expect(fs.readFileSync(path.join(dir, 'samples.csv'), 'utf8').trim().split('\n')).to.have.length(1 + 16);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('experiment mnist (seeds/003)', function () {
  const cli = fileURLToPath(new URL('../bin/ntk.js', import.meta.url));
  const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'experiment', 'mnist', ...args, '--quiet', '--backend', backend], { encoding: 'utf8' });
  // A tiny study: 24 digits, a 4-channel CNN, short schedules.
  const tiny = ['--n', '24', '--seeds', '2', '--channels', '4,4', '--mlp-epochs', '200', '--cnn-epochs', '2', '--cnn-batch-size', '12', '--mlp-inf-seeds', '2', '--cnn-inf-seeds', '2', '--ce-steps', '100', '--probe', '6'];
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-mnist-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('tracking epochs are 0, a 1-2-5 grid and the last epoch', () => {
    expect(trackingEpochs(5000)).to.deep.equal([0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
    expect(trackingEpochs(40)).to.deep.equal([0, 1, 2, 5, 10, 20, 40]);
    expect(trackingEpochs(0)).to.deep.equal([0]);
  });

  it('writes report, tables, tracking and figures; the same on 1 and 2 worker threads; re-renders identically', () => {
    const a = path.join(dir, 'a'), b = path.join(dir, 'b');
    const r1 = run([...tiny, '--workers', '1', '--out-dir', a]);
    expect(r1.status, r1.stderr).to.equal(0);
    const r2 = run([...tiny, '--workers', '2', '--out-dir', b]);
    expect(r2.status, r2.stderr).to.equal(0);
    const files = fs.readdirSync(a).sort();
    for (const f of ['report.md', 'results.json', 'tables.csv', 'tracking.csv', 'fig5-mlp-ntk-init.svg', 'fig5-mlp-ntk-trained.svg', 'fig6-cnn-ntk-init.svg', 'fig6-cnn-ntk-trained.npy', 'tracking-distance.svg', 'loss-mlp.svg', 'params']) expect(files).to.include(f);
    const tables = fs.readFileSync(path.join(a, 'tables.csv'), 'utf8');
    expect(fs.readFileSync(path.join(b, 'tables.csv'), 'utf8')).to.equal(tables);
    expect(fs.readFileSync(path.join(b, 'tracking.csv'), 'utf8')).to.equal(fs.readFileSync(path.join(a, 'tracking.csv'), 'utf8'));
    // 2 seeds × (net + 8 regressors: NTK_tr full/trace, exact and Monte-Carlo NTK∞, each by cross-entropy and ridge) rows per model.
    const lines = tables.trim().split('\n').slice(1);
    expect(lines).to.have.length(2 * (9 + 9));
    for (const l of lines) {
      const [train, test] = l.split(',').slice(-2).map(Number);
      expect(train).to.be.within(0, 1);
      expect(test).to.be.within(0, 1);
    }
    // The MLP memorises 24 digits in 200 full-batch Adam epochs; ridge → 0 regressors interpolate them.
    expect(lines.filter((l) => l.startsWith('mlp,"net"')).map((l) => Number(l.split(',')[3]))).to.deep.equal([1, 1]);
    expect(lines.filter((l) => l.includes('ridge')).every((l) => Number(l.split(',')[3]) === 1)).to.equal(true);
    const res = JSON.parse(fs.readFileSync(path.join(a, 'results.json'), 'utf8'));
    const mlp = res.runs.find((r: { model: string }) => r.model === 'mlp');
    expect(mlp.tracking.map((p: { epoch: number }) => p.epoch)).to.deep.equal(trackingEpochs(200));
    expect(mlp.tracking[0].ntk.distance).to.be.closeTo(0, 1e-12);
    expect(mlp.infinite.analyticRelativeError).to.be.a('number');
    // The run records the machine's load (start and end at least), and the report says it.
    expect(res.load.samples.length).to.be.at.least(2);
    for (const v of res.load.samples) expect(v).to.be.a('number').and.at.least(0);
    // The CNN's exact CNTK∞ checks its Monte-Carlo estimate as the MLP's closed form does.
    expect(res.runs.find((r: { model: string }) => r.model === 'cnn').infinite.analyticRelativeError).to.be.a('number');
    const report = fs.readFileSync(path.join(a, 'report.md'), 'utf8');
    expect(report).to.match(/Table 1: MLP/).and.match(/Table 2: CNN/).and.match(/0\.844/);
    expect(report).to.match(/1-minute load average \d+\.\d on average, \d+\.\d at most, on \d+ cores/);
    const rr = spawnSync(process.execPath, [cli, 'experiment', 'mnist', '--render-only', '--out-dir', a, '--quiet'], { encoding: 'utf8' });
    expect(rr.status, rr.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(a, 'report.md'), 'utf8')).to.equal(report);
  });

  it('rejects bad flags with one line and exit code 2, writing nothing', () => {
    const out = path.join(dir, 'bad');
    for (const [args, msg] of [
      [['--models', 'mlp,rnn'], /--models/],
      [['--cnn-lr', '-1'], /--cnn-lr: expected a positive number/],
      [['--channels', '4'], /--channels/],
      [['--mlp-epochs', '2.5'], /--mlp-epochs/],
      [['--width', '3'], /--width: not an option of experiment mnist/],
      [['--render-only'], /--render-only: cannot read/],
    ] as [string[], RegExp][]) {
      const r = run([...args, '--out-dir', out]);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(msg);
    }
    expect(fs.existsSync(out)).to.equal(false);
  });
});

describe('experiment mnist-ablation (issue 15 item 4)', function () {
  const cli = fileURLToPath(new URL('../bin/ntk.js', import.meta.url));
  const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';

  it('orders NTK_tr and NTK∞ only beyond twice the standard error of the mean paired difference', () => {
    // mean 0.05, sd 0.01, se 0.0058: ordered; mean 0.01 with sd 0.02 (se 0.0115): not.
    expect(orderingVerdict([0.05, 0.04, 0.06])).to.equal('NTK_tr > NTK∞');
    expect(orderingVerdict([-0.05, -0.04, -0.06])).to.equal('NTK_tr < NTK∞');
    expect(orderingVerdict([0.01, -0.01, 0.03])).to.equal('not ordered');
    expect(orderingVerdict([0.3])).to.equal('not ordered');
  });

  it('builds one job per (model, variant, seed) with only the variant\'s choice changed, and pairs the seeds in the rows', () => {
    const o: MnistAblationOptions = { ...mnistAblationDefaults(false), models: ['mlp', 'cnn'], variants: ['short-fit', 'standard'], backend: 'x', outDir: '.', command: '' };
    const { jobs, cells } = ablationJobs(o);
    expect(cells.map((c) => `${c.model}/${c.variant}`)).to.deep.equal(['mlp/baseline', 'mlp/short-fit', 'mlp/standard', 'cnn/baseline', 'cnn/short-fit', 'cnn/standard']);
    expect(jobs).to.have.length(6 * 3);
    expect(jobs.filter((j) => j.ceSteps === 200).map((j) => j.model)).to.deep.equal(['mlp', 'mlp', 'mlp', 'cnn', 'cnn', 'cnn']);
    expect(jobs.filter((j) => j.parameterization === 'standard')).to.have.length(6);
    expect(jobs.every((j) => j.ceSteps === 200 || j.ceSteps === 2000)).to.equal(true);
    expect(jobs.filter((j) => j.model === 'cnn').every((j) => j.epochs === 20)).to.equal(true);
    // Fake results: NTK_tr beats the exact kernel by 0.05 ± 0.01 in the short-fit cells only.
    const results = jobs.map((j, i) => {
      const bump = j.ceSteps === 200 ? [0.05, 0.04, 0.06][j.seed] : [0.01, -0.01, 0.0][j.seed];
      const reg = (kernel: string, layout: 'full' | 'trace', test: number) => ({ kernel, method: 'cross-entropy', layout, train: 1, test, seconds: 0 });
      return {
        model: j.model, seed: j.seed, net: { test: 0.9 },
        regressors: [reg('NTK_tr', 'trace', 0), reg('NTK_tr', 'full', 0.8 + bump), reg('NTK∞ analytic', 'full', 0.8), reg('NTK∞', 'full', 0.8 - 0.001 * i)],
      } as unknown as MnistJobResult;
    });
    const rows = ablationRows(o, cells, results);
    expect(rows.map((r) => r.verdictExact)).to.deep.equal(['not ordered', 'NTK_tr > NTK∞', 'not ordered', 'not ordered', 'NTK_tr > NTK∞', 'not ordered']);
    expect(rows[1].name).to.equal('cross-entropy fit: 200 steps');
    expect(rows[1].dExact.map((d) => +d.toFixed(12))).to.deep.equal([0.05, 0.04, 0.06]);
    expect(rows[1].dMc.map((d) => +d.toFixed(12))).to.deep.equal([0.053, 0.044, 0.065]);
  });

  it('a tiny run writes ablation.md and .json whose differences are the per-seed accuracies\' differences', function () {
    this.timeout(600000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-abl-'));
    try {
      const r = spawnSync(process.execPath, [cli, 'experiment', 'mnist-ablation', '--n', '12', '--seeds', '2', '--mlp-epochs', '5', '--mlp-inf-seeds', '2', '--ce-steps', '20', '--variants', 'short-fit', '--out-dir', dir, '--quiet', '--backend', backend], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const j = JSON.parse(fs.readFileSync(path.join(dir, 'ablation.json'), 'utf8'));
      expect(j.rows.map((x: { variant: string }) => x.variant)).to.deep.equal(['baseline', 'short-fit']);
      expect(JSON.stringify(j)).to.not.include(dir);
      for (const row of j.rows) {
        expect(row.dExact).to.deep.equal(row.ntkTr.map((t: number, i: number) => t - row.exact[i]));
        expect(row.verdictExact).to.equal(orderingVerdict(row.dExact));
        for (const v of [...row.ntkTr, ...row.exact, ...row.mc]) expect(v).to.be.within(0, 1);
      }
      // The exact NTK∞ has no randomness: the same accuracy for every seed.
      expect(new Set(j.rows[0].exact).size).to.equal(1);
      const md = fs.readFileSync(path.join(dir, 'ablation.md'), 'utf8');
      expect(md).to.include('Command: `ntk experiment mnist-ablation --seeds 2 --n 12 --variants short-fit --mlp-epochs 5 --mlp-inf-seeds 2 --ce-steps 20`');
      expect(md).to.include('| cross-entropy fit: 2 steps |');
      const bad = spawnSync(process.execPath, [cli, 'experiment', 'mnist-ablation', '--variants', 'nope', '--out-dir', path.join(dir, 'bad'), '--quiet'], { encoding: 'utf8' });
      expect(bad.status).to.equal(2);
      expect(bad.stderr.trim().split('\n')).to.have.length(1);
      expect(bad.stderr).to.match(/--variants: expected a comma-separated list of baseline, standard/);
      expect(fs.existsSync(path.join(dir, 'bad'))).to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('experiment command: studies reject bad flags', () => {
  const cli = fileURLToPath(new URL('../bin/ntk.js', import.meta.url));
  it('one line, exit code 2, nothing written', () => {
    const out = path.join(os.tmpdir(), `ntk-bad-study-${process.pid}`);
    for (const [args, msg] of [
      [['convergence', '--widths', '64'], /--widths: expected at least 2/],
      [['convergence', '--pairs', '3-5'], /--pairs: not an option of experiment convergence/],
      [['gntk', '--data', 'mnist'], /--data: experiment gntk takes graphs:PATH/],
      [['gntk', '--data', 'graphs:/nonexistent/G.txt'], /G\.txt/],
      [['gntk', '--aggregation', 'max'], /--aggregation/],
      [['lantk', '--pairs', '3-3'], /--pairs/],
      [['lognormal', '--seeds', '3'], /--seeds: expected an integer ≥ 10/],
      [['nosuch'], /unknown experiment 'nosuch'/],
      [['tabular', '--data-dir', '/nonexistent/uci'], /--data-dir \/nonexistent\/uci: cannot read folder/],
    ] as [string[], RegExp][]) {
      const r = spawnSync(process.execPath, [cli, 'experiment', ...args, '--out-dir', out, '--quiet'], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.match(msg);
    }
    expect(fs.existsSync(out)).to.equal(false);
  });
});
