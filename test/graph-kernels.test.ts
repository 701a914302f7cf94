import { expect } from 'chai';
import { wlSubtreeFeatures, wlSubtreeKernel } from '../lib/graph-kernels.js';
import { type GraphDataset, syntheticGraphs, withDegreeFeatures } from '../lib/graphs.js';
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
