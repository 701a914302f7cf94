import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { wlSubtreeFeatures, wlSubtreeKernel } from '../lib/graph-kernels.js';
import { type GraphDataset, loadGraphFile, syntheticGraphs, withDegreeFeatures } from '../lib/graphs.js';
import type { Graph } from '../lib/samples.js';
import { forEachGntk, type GntkArch, type ReadoutFn, selectProtocols } from '../experiments/gntk-paper.js';
import { normaliseKernel } from '../lib/cv.js';
import { analyticGntk, analyticGntkReadouts } from '../models/gnn-analytic.js';

/** An unlabelled graph (one tag) from an undirected edge list. */
const graph = (nodes: number, pairs: [number, number][], label = 0): Graph => ({
  nodes, features: new Float32Array(nodes).fill(1), edges: Int32Array.from(pairs.flatMap(([u, v]) => [u, v, v, u])), label,
});
const path3 = graph(3, [[0, 1], [1, 2]]);
const triangle = graph(3, [[0, 1], [1, 2], [0, 2]]);

describe('graph kernels and features', () => {
  it('a graph file\'s neighbour lists become both directions of each edge, once, without self-loops, in first-seen order (small and large graphs)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-graphs-'));
    try {
      // Node 0 lists 1 twice and itself; node 2 lists 0 which 0 did not list; node 1 lists nobody.
      const small = '3 1\n0 4 1 1 0 2\n0 0\n0 1 0\n';
      // 5000 nodes (past the bitmap's 4096): a path listed from both ends, plus a duplicate and a self-loop.
      const n = 5000;
      const rows = Array.from({ length: n }, (_, u) => {
        const nb = [u - 1, u + 1].filter((v) => v >= 0 && v < n);
        if (u === 7) nb.push(8, 7);
        return `0 ${nb.length} ${nb.join(' ')}`;
      });
      fs.writeFileSync(path.join(dir, 'g.txt'), `2\n${small}${n} 0\n${rows.join('\n')}\n`);
      const d = loadGraphFile(path.join(dir, 'g.txt'), '--data');
      expect(Array.from(d.graphs[0].edges)).to.deep.equal([0, 1, 1, 0, 0, 2, 2, 0]);
      const e = d.graphs[1].edges;
      expect(e.length).to.equal(4 * (n - 1));
      // First seen: node 0 lists 1 → (0,1), (1,0); node 1 lists 0 (seen) and 2 → (1,2), (2,1); and so on.
      expect(Array.from(e.subarray(0, 8))).to.deep.equal([0, 1, 1, 0, 1, 2, 2, 1]);
      const pairs = new Set<string>();
      for (let t = 0; t < e.length; t += 2) {
        expect(Math.abs(e[t] - e[t + 1])).to.equal(1);
        pairs.add(`${e[t]},${e[t + 1]}`);
      }
      expect(pairs.size).to.equal(2 * (n - 1));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('WL subtree features of a 3-path and a triangle, counted by hand', () => {
    // Round 0: every node has label 0. Round 1: path ends see one neighbour (0|0), the middle two (0|0,0); every
    // triangle node sees two (0|0,0). Round 2 splits nothing further in the path; the triangle stays uniform.
    const [p, t] = wlSubtreeFeatures([path3, triangle], 1, 2);
    expect(Object.fromEntries(p)).to.deep.equal({ '0:0': 3, '1:0': 2, '1:1': 1, '2:0': 2, '2:1': 1 });
    expect(Object.fromEntries(t)).to.deep.equal({ '0:0': 3, '1:1': 3, '2:2': 3 });
    // K = Σ_h ⟨φ_h, φ'_h⟩: path·path 9 + 5 + 5, triangle·triangle 9 + 9 + 9, path·triangle 9 + 3 + 0.
    expect(Array.from(wlSubtreeKernel([path3, triangle], 1, 2))).to.deep.equal([19, 12, 12, 27]);
    expect(Array.from(wlSubtreeKernel([path3, triangle], 1, 1))).to.deep.equal([14, 12, 12, 18]);
  });

  it('one-hot degree features index the degrees that occur in the dataset', () => {
    const star = graph(4, [[0, 1], [0, 2], [0, 3]]);
    const d: GraphDataset = { kind: 'graphs', graphs: [path3, star], n: 2, featureDim: 1, labels: Int32Array.from([0, 1]), source: 'hand', classes: 2, tags: [0] };
    const e = withDegreeFeatures(d);
    // Degrees present: 1, 2, 3 → columns 0, 1, 2. Path: 1, 2, 1; star: 3, 1, 1, 1.
    expect(e.featureDim).to.equal(3);
    expect(Array.from(e.graphs[0].features)).to.deep.equal([1, 0, 0, 0, 1, 0, 1, 0, 0]);
    expect(Array.from(e.graphs[1].features)).to.deep.equal([0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
    expect(e.graphs[1].edges).to.equal(star.edges);
    expect(Array.from(e.labels!)).to.deep.equal([0, 1]);
  });

  it('the GNTK grid runs the recursion once per (layers, aggregation) and its kernels equal direct computations', async () => {
    const d = syntheticGraphs(6, 3);
    let calls = 0;
    const counting: ReadoutFn = (cfg, a, b, F) => {
      calls++;
      expect(cfg.blocks).to.equal(3);
      return analyticGntkReadouts(cfg, a, b, F);
    };
    const seen: GntkArch[] = [];
    const grid = { blocks: [1, 2, 3], mlpLayers: [1, 2], aggregation: ['sum', 'mean'] as ('sum' | 'mean')[], jk: [false, true] };
    await forEachGntk(d, grid, (arch, K) => {
      seen.push(arch);
      if ((arch.blocks === 2 && arch.jk) || (arch.blocks === 1 && arch.aggregation === 'mean') || arch.blocks === 3) {
        const direct = normaliseKernel(analyticGntk({ ...arch, activation: 'relu', wStd: Math.SQRT2, bStd: 0.1 }, d.graphs, d.graphs, d.featureDim).ntk, d.n);
        K.forEach((v, i) => expect(v).to.equal(direct[i]));
      }
    }, counting);
    expect(calls).to.equal(4);
    expect(seen.length).to.equal(24);
    expect(new Set(seen.map((a) => JSON.stringify(a))).size).to.equal(24);
  });

  it('the paper rule selects on test folds; nested CV selects on inner scores only', () => {
    const cands = [
      { label: 'a', acc: [0.9, 0.5], inner: [0.6, 0.9] },
      { label: 'b', acc: [0.6, 0.9], inner: [0.8, 0.7] },
      { label: 'c', acc: [0.8, 0.7], inner: [0.1, 0.1] },
    ];
    const s = selectProtocols(cands);
    expect(s.paper.chosen).to.equal('b'); // means 0.70, 0.75, 0.75: b and c tie, the first wins
    expect(s.nested.chosen).to.deep.equal(['b', 'a']);
    expect(s.nested.folds).to.deep.equal([0.6, 0.5]);
  });
});
