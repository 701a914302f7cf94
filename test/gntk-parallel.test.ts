import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syntheticGraphs } from '../lib/graphs.js';
import type { Graph } from '../lib/samples.js';
import { analyticGntkReadouts, type GntkConfig, type GntkReadouts } from '../models/gnn-analytic.js';
import { type GntkCheckpoint, checkpointSeconds, clearGntkCheckpoint, parallelGntkReadouts } from '../experiments/gntk-parallel.js';
import { cachedReadouts } from '../experiments/gntk-paper.js';
import { scoreFolds } from '../experiments/svm-folds.js';
import { normaliseKernel, stratifiedFolds } from '../lib/cv.js';
import { loadSvm } from '../lib/svm.js';
import { gntkFromReadouts } from '../models/gnn-analytic.js';

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameReadouts(a: GntkReadouts, b: GntkReadouts): void {
  expect([a.n1, a.n2, a.q.length]).to.deep.equal([b.n1, b.n2, b.q.length]);
  for (let l = 0; l < a.q.length; l++) {
    expect(bits(a.q[l]).equals(bits(b.q[l])), `q block ${l}`).to.equal(true);
    expect(bits(a.t[l]).equals(bits(b.t[l])), `t block ${l}`).to.equal(true);
  }
}

describe('parallel GNTK recursion', function () {
  this.timeout(120000);
  const cfg: GntkConfig = { blocks: 3, mlpLayers: 2, aggregation: 'mean', jk: false, activation: 'relu', wStd: Math.SQRT2, bStd: 0.1 };
  const d = syntheticGraphs(30, 11);

  it('a set against itself on 2 and 3 worker threads equals the serial recursion bit for bit, and reports every pair', async () => {
    const serial = analyticGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim);
    // The serial kernel is symmetric and non-zero everywhere: an entry a worker failed to write would show.
    expect(serial.q[2].every((v, k) => v !== 0 && v === serial.q[2][(k % d.n) * d.n + Math.floor(k / d.n)])).to.equal(true);
    for (const workers of [2, 3]) {
      let last = 0, total = 0;
      const par = await parallelGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim, workers, (done, all) => ((last = done), (total = all)));
      expectSameReadouts(par, serial);
      expect([last, total]).to.deep.equal([(d.n * (d.n + 1)) / 2, (d.n * (d.n + 1)) / 2]);
    }
  });

  it('two different sets (no mirroring) on 2 workers equal the serial recursion bit for bit', async () => {
    const a = d.graphs.slice(0, 17), b = syntheticGraphs(9, 12).graphs;
    const sum = { ...cfg, aggregation: 'sum' as const, mlpLayers: 1 };
    expectSameReadouts(await parallelGntkReadouts(sum, a, b, d.featureDim, 2), analyticGntkReadouts(sum, a, b, d.featureDim));
  });

  it('a worker\'s bad configuration comes back as the same error as the serial one', async () => {
    const bad = { ...cfg, activation: 'tanh' };
    expect(() => analyticGntkReadouts(bad, d.graphs, d.graphs, d.featureDim)).to.throw(/--activation/);
    let message = '';
    await parallelGntkReadouts(bad, d.graphs, d.graphs, d.featureDim, 2).catch((e: Error) => (message = e.message));
    expect(message).to.match(/--activation.*relu, erf and identity/);
  });

  it('SVM scores of several kernels on 2 worker threads equal each kernel\'s serial scores, and every (kernel, fold) job is reported', async () => {
    await loadSvm();
    const r = analyticGntkReadouts({ ...cfg, aggregation: 'sum' }, d.graphs, d.graphs, d.featureDim);
    const K1 = normaliseKernel(gntkFromReadouts(cfg, r, 2, true).ntk, d.n), K2 = normaliseKernel(gntkFromReadouts(cfg, r, 1, false).ntk, d.n);
    const fold = stratifiedFolds(d.labels!, 3, 0);
    const one = async (K: Float64Array) => (await scoreFolds([K], d.n, d.labels!, fold, 3, [0.1, 10], 2, 0, 1))[0];
    const serial = [await one(K1), await one(K2)];
    const seen: number[] = [];
    const par = await scoreFolds([K1, K2], d.n, d.labels!, fold, 3, [0.1, 10], 2, 0, 2, (done) => seen.push(done));
    // Kernel order kept: the two kernels score differently, so a swap or a mix-up of jobs fails here.
    expect(par).to.deep.equal(serial);
    expect(serial[0]).to.not.deep.equal(serial[1]);
    expect(seen).to.deep.equal([1, 2, 3, 4, 5, 6]);
    for (const s of serial.flat()) for (const a of [...s.acc, ...s.inner]) expect(a).to.be.within(0, 1);
    expect(serial.flat().some((s) => s.acc.some((a) => a > 0.5))).to.equal(true);
  });

  describe('checkpoints of row chunks', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-gntk-chunks-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const chunkFiles = () => fs.readdirSync(dir).filter((f) => /^g-rows-\d+\.npy$/.test(f));

    it('a run stopped half-way resumes from its saved chunks, computes only the rest, and equals the serial recursion bit for bit', async () => {
      const serial = analyticGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim);
      const total = (d.n * (d.n + 1)) / 2;
      const cp = { dir, name: 'g', meta: { what: 'test', n: d.n } };
      // One thread: the chunks run in this thread and the stop is thrown from the progress callback mid-run.
      let failed = false;
      await parallelGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim, 1, (done) => { if (done > total / 2) throw new Error('stopped'); }, cp).catch(() => (failed = true));
      expect(failed).to.equal(true);
      const saved = chunkFiles().length;
      expect(saved).to.be.above(0);
      // The stopped run's time on its saved chunks is kept with them (its own largest), for this meta only.
      const first = checkpointSeconds(cp);
      const chunkSeconds = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { seconds: number }).seconds);
      expect(first).to.be.above(0).and.equal(Math.max(...chunkSeconds));
      expect(checkpointSeconds({ ...cp, meta: { what: 'other', n: d.n } })).to.equal(0);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
      // The resumed run (on workers) starts from the saved pairs, short of the total, and ends with every chunk saved.
      const reports: number[] = [];
      const resumed = await parallelGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim, 2, (done) => reports.push(done), cp);
      expect(reports[0]).to.be.above(0).and.below(total);
      expect(reports[reports.length - 1]).to.equal(total);
      expectSameReadouts(resumed, serial);
      expect(chunkFiles().length).to.be.above(saved);
      // Two runs' chunks now: the earlier run's time plus the resumed run's.
      expect(checkpointSeconds(cp)).to.be.above(first);
      // A rerun finds everything on disk; a checkpoint of other metadata is not used.
      const again: number[] = [];
      expectSameReadouts(await parallelGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim, 2, (done) => again.push(done), cp), serial);
      expect(again).to.deep.equal([total]);
      const other: number[] = [];
      await parallelGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim, 1, (done) => other.push(done), { ...cp, meta: { what: 'other', n: d.n } });
      expect(other[0]).to.equal(0);
      clearGntkCheckpoint(cp);
      expect(chunkFiles()).to.deep.equal([]);
    });

    it('a group resumed from its chunks records the stopped run\'s seconds on them plus its own', async () => {
      const group = { mlpLayers: 1, aggregation: 'sum' as const, blocks: 2 };
      const total = (d.n * (d.n + 1)) / 2;
      const compute = (c: GntkConfig, a: Graph[], b: Graph[], F: number, on?: (done: number, all: number) => void, cp?: GntkCheckpoint) => parallelGntkReadouts(c, a, b, F, 1, on, cp);
      let failed = false;
      // Stopped late, so that the resumed run's own time is shorter than the stopped one's: a total that left the
      // earlier time out would then fall below it.
      await cachedReadouts(d, group, dir, compute, (done) => { if (done > 0.9 * total) throw new Error('stopped'); }).catch(() => (failed = true));
      expect(failed).to.equal(true);
      const earlier = checkpointSeconds({ dir, name: 'gntk-L1-sum-B2', meta: { source: d.source, n: d.n, featureDim: d.featureDim, activation: 'relu', wStd: Math.SQRT2, bStd: 0.1, ...group } });
      expect(earlier).to.be.above(0);
      const t0 = performance.now();
      const r = await cachedReadouts(d, group, dir, compute);
      const wall = (performance.now() - t0) / 1000;
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'gntk-L1-sum-B2.json'), 'utf8')) as { seconds: number; earlierRunsSeconds: number };
      expect(json.earlierRunsSeconds).to.equal(earlier);
      expect(r.seconds).to.equal(json.seconds).and.be.above(earlier);
      expect(r.seconds - earlier).to.be.within(0, wall);
    });

    it('a group\'s chunk files are removed once its readouts are saved whole', async () => {
      const group = { mlpLayers: 1, aggregation: 'sum' as const, blocks: 2 };
      const r = await cachedReadouts(d, group, dir, (c, a, b, F, on, cp) => parallelGntkReadouts(c, a, b, F, 2, on, cp));
      expect(fs.readdirSync(dir).sort()).to.deep.equal(['gntk-L1-sum-B2.json', 'gntk-L1-sum-B2.npy']);
      expectSameReadouts(r.r, analyticGntkReadouts({ ...cfg, ...group }, d.graphs, d.graphs, d.featureDim));
    });
  });
});
