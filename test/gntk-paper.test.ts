import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type GntkPaperOptions, type ReadoutFn, cachedReadouts, runGntkPaper, supersededRuns } from '../experiments/gntk-paper.js';
import { type GraphDataset, syntheticGraphs, withDegreeFeatures } from '../lib/graphs.js';
import type { Graph } from '../lib/samples.js';
import { type GntkConfig, analyticGntkReadouts } from '../models/gnn-analytic.js';
import { gaussianExpectations } from '../models/mlp-analytic.js';
import { testBackend } from './helpers.js';

/** Dense n×n c_u(A + I) from the edge list, built independently of the sparse code. */
function denseAgg(g: Graph, mean: boolean): number[][] {
  const A: number[][] = Array.from({ length: g.nodes }, (_, u) => Array.from({ length: g.nodes }, (_, v) => (u === v ? 1 : 0)));
  for (let t = 0; t < g.edges.length; t += 2) A[g.edges[t + 1]][g.edges[t]] += 1;
  return mean ? A.map((r) => r.map((x) => x / r.reduce((s, y) => s + y, 0))) : A;
}

const matmul = (X: number[][], Y: number[][]) => X.map((r) => Y[0].map((_, j) => r.reduce((s, x, k) => s + x * Y[k][j], 0)));
const transpose = (X: number[][]) => X[0].map((_, j) => X.map((r) => r[j]));

/**
 * The GNTK recursion written plainly with dense matrices: Q ← Ā₁QĀ₂ᵀ, T ← Ā₁TĀ₂ᵀ per block, then per dense layer
 * Σ = σ_w²Q + σ_b², Θ = Σ + σ_w²T, Q = E[φφ], T = E[φ'φ']·Θ with the closed forms of gaussianExpectations and the
 * within-graph variances from the same recursion on (g, g). Readouts after each block.
 */
function denseReadouts(cfg: GntkConfig, a: Graph, b: Graph, F: number): { q: number[]; t: number[] } {
  const sw2 = cfg.wStd ** 2, sb2 = cfg.bStd ** 2, mean = cfg.aggregation === 'mean';
  const feats = (g: Graph) => Array.from({ length: g.nodes }, (_, u) => Array.from(g.features.subarray(u * F, (u + 1) * F)));
  const run = (g1: Graph, g2: Graph, d1: number[][] | null, d2: number[][] | null) => {
    const A1 = denseAgg(g1, mean), A2 = denseAgg(g2, mean);
    let Q = matmul(feats(g1), transpose(feats(g2))).map((r) => r.map((x) => x / F));
    let T = Q.map((r) => r.map(() => 0));
    const diags: number[][] = [], q: number[] = [], t: number[] = [];
    let layer = 0;
    for (let l = 0; l < cfg.blocks; l++) {
      Q = matmul(matmul(A1, Q), transpose(A2));
      T = matmul(matmul(A1, T), transpose(A2));
      for (let r = 0; r < cfg.mlpLayers; r++, layer++) {
        const S = Q.map((row) => row.map((x) => sw2 * x + sb2));
        const v1 = d1 ? d1[layer] : S.map((row, u) => row[u]), v2 = d2 ? d2[layer] : v1;
        diags.push(v1);
        const E = S.map((row, u) => row.map((s, v) => gaussianExpectations('relu', v1[u], v2[v], s)));
        T = E.map((row, u) => row.map(([, ed], v) => ed * (S[u][v] + sw2 * T[u][v])));
        Q = E.map((row) => row.map(([e]) => e));
      }
      q.push(Q.flat().reduce((s, x) => s + x, 0));
      t.push(T.flat().reduce((s, x) => s + x, 0));
    }
    return { q, t, diags };
  };
  const da = run(a, a, null, null).diags, db = run(b, b, null, null).diags;
  return run(a, b, da, db);
}

describe('GNTK under Du et al.\'s protocol: fast recursion, disk cache, resume', () => {
  it('the sparse, buffer-reusing recursion agrees with a dense plain recursion (one-hot degree features, sum and mean)', () => {
    const d = withDegreeFeatures(syntheticGraphs(5, 7));
    for (const aggregation of ['sum', 'mean'] as const) {
      const cfg: GntkConfig = { blocks: 3, mlpLayers: 2, aggregation, jk: false, activation: 'relu', wStd: Math.SQRT2, bStd: 0.1 };
      const g1 = d.graphs.slice(0, 3), g2 = d.graphs.slice(2);
      for (const [x, y] of [[g1, g2], [d.graphs, d.graphs]]) {
        const r = analyticGntkReadouts(cfg, x, y, d.featureDim);
        // 1e-9 relative, not 1e-15: near-parallel node pairs (c → 1) make acos amplify rounding by 1/√(1 − c²), and the
        // fast code writes sin(acos c) as √(1 − c²). A wrong aggregation, feature or variance is off by O(1).
        x.forEach((a, i) => y.forEach((b, j) => {
          const ref = denseReadouts(cfg, a, b, d.featureDim);
          for (let l = 0; l < cfg.blocks; l++) {
            expect(r.q[l][i * y.length + j]).to.be.closeTo(ref.q[l], 1e-9 * Math.abs(ref.q[l]));
            expect(r.t[l][i * y.length + j]).to.be.closeTo(ref.t[l], 1e-9 * Math.abs(ref.t[l]));
          }
        }));
      }
    }
  });

  describe('cache and resume', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-gntk-paper-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const data: GraphDataset = syntheticGraphs(24, 5);
    const options = (outDir: string, cacheDir: string | null, compute: ReadoutFn): GntkPaperOptions => ({
      datasets: [{ data, name: 'MUTAG' }], folds: 3, innerFolds: 2, seed: 0, wlIterations: [1], cs: [1, 100],
      grid: { blocks: [1, 2], mlpLayers: [1, 2], aggregation: ['sum'], jk: [false, true] }, outDir, cacheDir, log: () => {}, compute,
    });
    type Summary = { datasets: Record<string, { methods: unknown }> };
    // The serial recursion as a ReadoutFn (it has no use for the checkpoint argument).
    const serial: ReadoutFn = (cfg, a, b, F, onPairs) => analyticGntkReadouts(cfg, a, b, F, onPairs);

    it('cached readouts come back bit for bit; a cache of other weights or data is not used', async () => {
      const group = { mlpLayers: 2, aggregation: 'mean' as const, blocks: 3 };
      const first = await cachedReadouts(data, group, dir, analyticGntkReadouts);
      expect(first.cached).to.equal(false);
      const again = await cachedReadouts(data, group, dir, () => { throw new Error('must come from the cache'); });
      expect(again.cached).to.equal(true);
      for (let l = 0; l < 3; l++) {
        expect(Buffer.from(again.r.q[l].buffer, again.r.q[l].byteOffset, again.r.q[l].byteLength).equals(Buffer.from(first.r.q[l].buffer))).to.equal(true);
        expect(Array.from(again.r.t[l])).to.deep.equal(Array.from(first.r.t[l]));
      }
      // Same file name, different dataset: recomputed.
      let calls = 0;
      const other = syntheticGraphs(24, 6);
      await cachedReadouts(other, group, dir, (...args) => (calls++, serial(...args)));
      expect(calls).to.equal(1);
    });

    it('a run of the GNTK alone (no WL) on a new dataset writes a report without NaN, the WL cells saying not run', async () => {
      const out = path.join(dir, 'g');
      await runGntkPaper({ ...options(out, null, serial), methods: ['GNTK'], grid: { blocks: [1], mlpLayers: [1], aggregation: ['sum'], jk: [false] } });
      const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
      expect(report).to.not.match(/NaN|undefined/);
      const row = report.split('\n').find((l) => l.startsWith('| MUTAG | 24 |'))!;
      expect(row).to.include('| not run |');
      expect(row).to.not.include('WL');
      expect(report).to.match(/\| WL subtree, paper rule \| not run/);
      // A later run of WL alone adds its own record; methods of unrecorded (older) runs would be named as such.
      expect(report).to.match(/- MUTAG: GNTK on .*\(\d+ cores, \d+ worker thread\(s\)\), load [\d.]+ \/ [\d.]+\.\n/);
      // The run records that its recursion ran on node classes, and the report says so of this dataset alone.
      const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { datasets: Record<string, { runs: Record<string, { gntkRows?: string }> }> };
      expect(s.datasets.MUTAG.runs.GNTK.gntkRows).to.equal('node classes');
      expect(report).to.include("every dataset's GNTK was computed on them");
    });

    it('a later run of some methods takes them out of the earlier run records, which keep the rest', () => {
      const r = { machine: { cpu: 'x', cores: 2 } };
      expect(supersededRuns({ 'GNTK+WL': r, 'GIN+GCN': r }, ['GNTK'])).to.deep.equal({ WL: r, 'GIN+GCN': r });
      expect(supersededRuns({ 'GNTK+WL': r, GIN: r }, ['GNTK', 'WL'])).to.deep.equal({ GIN: r });
      expect(supersededRuns({ WL: r }, ['GCN'])).to.deep.equal({ WL: r });
    });

    it('a run of the trained networks alone fills their rows and records one thread (they train on the main thread)', async () => {
      const backend = await testBackend();
      const out = path.join(dir, 'n');
      await runGntkPaper({ ...options(out, null, serial), methods: ['GIN'], workers: 2, backend, networks: { hidden: 4, blocks: 1, epochs: 2, lr: 0.01, batchSize: 8 } });
      const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { datasets: Record<string, { methods: Record<string, { protocol: string; folds: number[] }[]>; runs: Record<string, { workers: number }>; networks: { rows: string } }> };
      const m = s.datasets.MUTAG;
      expect(Object.keys(m.methods)).to.deep.equal(['GIN']);
      expect(m.methods.GIN.map((p) => p.folds.length)).to.deep.equal([3, 3]);
      expect(m.runs.GIN.workers).to.equal(1);
      expect(m.networks.rows).to.equal('node classes');
      expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).to.match(/\| MUTAG \| 4 \| 1 \| 2 \| 0\.01 \| 8 \| \w+ \| node classes \| epoch \d+ \/ — \|/);
    });

    it('a group taken from a score file made on another machine is named with that machine and its times; the others are not', async () => {
      const cache = path.join(dir, 'cache');
      const opts = (out: string): GntkPaperOptions => ({ ...options(path.join(dir, out), cache, serial), methods: ['GNTK'] });
      await runGntkPaper(opts('a'));
      const file = path.join(cache, 'MUTAG', 'gntk-L2-sum-B2-scores.json');
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, JSON.stringify({ ...saved, machine: { cpu: 'Test CPU', cores: 64 }, workers: 64, seconds: { recursion: 12.4, svm: 3.2 } }));
      const s = (await runGntkPaper(opts('b'))) as { datasets: Record<string, { runs: Record<string, { gntkGroupsElsewhere?: unknown[] }> }> };
      expect(s.datasets.MUTAG.runs.GNTK.gntkGroupsElsewhere).to.deep.equal([{ group: 'layers 2, sum', machine: { cpu: 'Test CPU', cores: 64 }, workers: 64, seconds: { recursion: 12.4, svm: 3.2 } }]);
      const report = fs.readFileSync(path.join(dir, 'b', 'report.md'), 'utf8');
      expect(report).to.match(/- MUTAG: GNTK on .*, its group layers 2, sum taken from a score file made on Test CPU \(64 cores, 64 worker thread\(s\): recursion 12 s, SVM fits 3 s\)\.\n/);
      expect(report).to.not.include('group layers 1');
      // The first run scored both groups itself: nothing named.
      const first = JSON.parse(fs.readFileSync(path.join(dir, 'a', 'summary.json'), 'utf8'));
      expect(first.datasets.MUTAG.runs.GNTK).to.not.have.property('gntkGroupsElsewhere');
    });

    it('a run stopped in its second recursion group resumes with that group only and ends as an uncached run', async () => {
      let calls = 0;
      const stopping: ReadoutFn = (cfg, ...rest) => {
        if (++calls === 2) throw new Error('stopped');
        return serial(cfg, ...rest);
      };
      const cache = path.join(dir, 'cache');
      let failed = false;
      await runGntkPaper(options(path.join(dir, 'a'), cache, stopping)).catch(() => (failed = true));
      expect(failed).to.equal(true);
      expect(fs.readdirSync(path.join(cache, 'MUTAG')).sort()).to.deep.equal(['gntk-L1-sum-B2-scores.json', 'gntk-L1-sum-B2.json', 'gntk-L1-sum-B2.npy']);
      expect(fs.readdirSync(cache).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
      const counted = (): [ReadoutFn, () => number] => {
        let c = 0;
        return [(...args) => (c++, serial(...args)), () => c];
      };
      const [resume, resumed] = counted();
      const a = (await runGntkPaper(options(path.join(dir, 'a'), cache, resume))) as Summary;
      expect(resumed()).to.equal(1);
      const [again, againCalls] = counted();
      const b = (await runGntkPaper(options(path.join(dir, 'b'), cache, again))) as Summary;
      expect(againCalls()).to.equal(0);
      const [fresh, freshCalls] = counted();
      // One thread here, the cores above: the SVM folds' scores must not depend on it.
      const c = (await runGntkPaper({ ...options(path.join(dir, 'c'), null, fresh), workers: 1 })) as Summary;
      expect(freshCalls()).to.equal(2);
      type Run = { machine: { cores: number; cpu: string }; workers: number; load: { samples: number[] } };
      const run = (x: Summary) => (x.datasets.MUTAG as unknown as { runs: Record<string, Run> }).runs['GNTK+WL'];
      expect([run(c).workers, run(a).workers]).to.deep.equal([1, os.availableParallelism()]);
      expect(run(c).machine.cores).to.equal(os.cpus().length);
      expect(run(c).load.samples.length).to.be.at.least(2);
      expect(fs.readFileSync(path.join(dir, 'c', 'report.md'), 'utf8')).to.include(`- MUTAG: GNTK, WL on ${run(c).machine.cpu} (${run(c).machine.cores} cores, 1 worker thread(s)), load `);
      expect(a.datasets.MUTAG.methods).to.deep.equal(c.datasets.MUTAG.methods);
      expect(b.datasets.MUTAG.methods).to.deep.equal(c.datasets.MUTAG.methods);
      // A different protocol (C grid) reuses the readouts but scores afresh.
      const [other, otherCalls] = counted();
      await runGntkPaper({ ...options(path.join(dir, 'd'), cache, other), cs: [1, 10] });
      expect(otherCalls()).to.equal(0);
      const scores = JSON.parse(fs.readFileSync(path.join(cache, 'MUTAG', 'gntk-L2-sum-B2-scores.json'), 'utf8')) as { protocol: { cs: number[] }; scored: { acc: number[][] }[] };
      expect(scores.protocol.cs).to.deep.equal([1, 10]);
      const where = scores as unknown as { machine: { cpu: string; cores: number }; workers: number };
      expect([where.machine.cores, where.workers]).to.deep.equal([os.cpus().length, os.availableParallelism()]);
      expect(scores.scored[0].acc.length).to.equal(2);
    });
  });
});
