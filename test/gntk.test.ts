import { expect } from 'chai';
import { syntheticGraphs, withDegreeFeatures } from '../lib/graphs.js';
import { monteCarloKernel } from '../jacobian/monte-carlo.js';
import { analyticGntk, gntkMemo, gntkReadoutRows, graphQuotient } from '../models/gnn-analytic.js';
import { Gnn } from '../models/gnn.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import type { Graph } from '../lib/samples.js';
import { compareToOracle, testBackend } from './helpers.js';

describe('analytic GNTK', function () {
  before(async () => {
    await testBackend();
  });

  /** A graph from undirected edges, features one-hot of `tags` over F (or, with no tags, all in tag 0). */
  const graph = (nodes: number, undirected: [number, number][], F = 1, tags: number[] = []): Graph => {
    const features = new Float32Array(nodes * F);
    for (let u = 0; u < nodes; u++) features[u * F + (tags[u] ?? 0)] = 1;
    return { nodes, features, edges: Int32Array.from(undirected.flatMap(([u, v]) => [u, v, v, u])), label: 0 };
  };

  it('groups equivalent nodes: a star is 2 classes, a path of 5 is 3, K4 is 1, with the class-to-class aggregation weights', () => {
    const star = graphQuotient(graph(5, [[0, 1], [0, 2], [0, 3], [0, 4]]), 1, false, true);
    expect(star.P).to.equal(2);
    expect(Array.from(star.size)).to.deep.equal([1, 4]);
    // Centre: itself + 4 leaves; leaf: the centre + itself. Mean divides each row by deg + 1.
    expect(Array.from(star.agg.vals)).to.deep.equal([1, 4, 1, 1]);
    expect(Array.from(graphQuotient(graph(5, [[0, 1], [0, 2], [0, 3], [0, 4]]), 1, true, true).agg.vals)).to.deep.equal([1 / 5, 4 / 5, 1 / 2, 1 / 2]);
    const path = graphQuotient(graph(5, [[0, 1], [1, 2], [2, 3], [3, 4]]), 1, false, true);
    expect(Array.from(path.size)).to.deep.equal([2, 2, 1]);
    expect(graphQuotient(graph(4, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]), 1, false, true).P).to.equal(1);
    // Tags split what the structure alone would not: a path of 3 with distinct end tags has 3 classes.
    expect(graphQuotient(graph(3, [[0, 1], [1, 2]], 2, [0, 0, 1]), 2, false, true).P).to.equal(3);
    // Without refinement every node is a class of its own.
    expect(graphQuotient(graph(5, [[0, 1], [0, 2], [0, 3], [0, 4]]), 1, false, false).P).to.equal(5);
  });

  it('the recursion on node classes equals the node-level recursion (identity, erf: to 1e-12; relu: 1e-7, see why below)', () => {
    // Graphs full of symmetry (cliques, stars, cycles, a tree needing 3 rounds of refinement), one-hot degree features
    // as the social benchmarks use, and a tagged pair that breaks some symmetries.
    const plain = [
      graph(5, [[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4], [2, 3], [2, 4], [3, 4]]),
      graph(6, [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]]),
      graph(6, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]]),
      graph(7, [[0, 1], [0, 2], [1, 3], [1, 4], [2, 5], [2, 6]]),
      graph(8, [[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 3], [2, 6], [5, 6], [6, 7]]),
      graph(4, [[0, 1], [1, 2], [2, 3]]),
    ];
    const d = withDegreeFeatures({ kind: 'graphs', graphs: plain, n: plain.length, featureDim: 1, source: 'hand-made', classes: 1, tags: [0] });
    const tagged = [graph(6, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]], 3, [0, 1, 0, 1, 0, 2]), graph(5, [[0, 1], [0, 2], [0, 3], [0, 4]], 3, [2, 0, 0, 1, 1])];
    for (const [gs, F] of [[d.graphs, d.featureDim], [tagged, 3]] as const) {
      for (const activation of ['identity', 'erf', 'relu']) {
        for (const [aggregation, mlpLayers] of [['sum', 2], ['mean', 1]] as const) {
          const cfg = { blocks: 3, mlpLayers, aggregation, jk: false, activation, wStd: 1.2, bStd: 0.3 };
          const n = gs.length, rows = Array.from({ length: n }, (_, i) => i);
          const run = (refine: boolean) => {
            const out = { q: [0, 1, 2].map(() => new Float64Array(n * n)), t: [0, 1, 2].map(() => new Float64Array(n * n)) };
            gntkReadoutRows(cfg, gs, gs, true, F, rows, out, undefined, gntkMemo(refine));
            return out;
          };
          const a = run(false), b = run(true);
          // relu: where two nodes of one class meet, the node-level recursion computes a correlation that should be
          // exactly 1 with rounding errors of ~1e-16, and acos turns those into ~1e-8 (acos(1 − ε) ≈ √(2ε)); the class
          // recursion meets the class with itself and gets 1 exactly. The smooth activations show the true agreement.
          const tol = activation === 'relu' ? 1e-7 : 1e-12;
          let worst = 0;
          for (let l = 0; l < 3; l++) {
            for (const k of ['q', 't'] as const) {
              for (let e = 0; e < n * n; e++) {
                if (k === 't' && l === 0 && mlpLayers === 1 && a[k][l][e] === 0) continue;
                worst = Math.max(worst, Math.abs(a[k][l][e] - b[k][l][e]) / Math.abs(a[k][l][e]));
              }
            }
          }
          expect(worst, `${activation} ${aggregation} ${gs === tagged ? 'tagged' : 'degrees'}`).to.be.below(tol);
        }
      }
    }
  });

  it('on graphs without edges, with one block and sum readout, equals Σ over node pairs of the MLP kernel', () => {
    // No edges: aggregation is the identity, so block 1 is an MLP applied to every node, read out by a sum.
    const F = 3;
    const mk = (feats: number[][]): Graph => ({ nodes: feats.length, features: Float32Array.from(feats.flat()), edges: new Int32Array(0), label: 0 });
    const g1 = mk([[1, 0, 0], [0, 1, 0]]);
    const g2 = mk([[0, 1, 0], [0, 0, 1], [1, 0, 0]]);
    const cfg = { blocks: 1, mlpLayers: 2, aggregation: 'sum' as const, jk: false, activation: 'relu', wStd: 1.3, bStd: 0.2 };
    const { ntk, nngp } = analyticGntk(cfg, [g1], [g2], F);
    // Node-level: an MLP with 2 hidden layers, then output σ_w²·Σ_{u,u'}(E[φφ] + ...): the hidden-layer
    // kernel of depth 2 with σ_b² removed once and the readout's σ_b² added once.
    const x1 = Array.from(g1.features), x2 = Array.from(g2.features);
    const node = analyticMlpKernel({ depth: 2, activation: 'relu', wStd: 1.3, bStd: 0.2 }, x1, 2, x2, 3, F);
    // The MLP's output layer adds σ_b² per node pair; the GNN's readout adds it once per graph pair.
    const sumOf = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
    expect(nngp[0]).to.be.closeTo(sumOf(node.nngp) - 6 * 0.04 + 0.04, 1e-12);
    expect(ntk[0]).to.be.closeTo(sumOf(node.ntk) - 6 * 0.04 + 0.04, 1e-12);
  });

  it('the Monte-Carlo NTK of the finite GNN approaches the analytic GNTK as width grows, within its standard errors', () => {
    const g = syntheticGraphs(6, 1);
    for (const [aggregation, jk] of [['sum', false], ['mean', true]] as const) {
      const cfg = { blocks: 2, mlpLayers: 2, aggregation, jk, activation: 'relu', wStd: Math.SQRT2, bStd: 0.1 };
      const oracle = analyticGntk(cfg, g.graphs, g.graphs, 8).ntk;
      const run = (hidden: number) => {
        const m = new Gnn({ model: 'gnn', activation: 'relu', parameterization: 'ntk', wStd: cfg.wStd, bStd: cfg.bStd, bias: true, featureDim: 8, hidden, blocks: 2, mlpLayers: 2, aggregation, jk, outputs: 1 });
        const r = monteCarloKernel(m, g, null, { seeds: 24, seed: 1, mode: 'trace' });
        return compareToOracle(r, oracle);
      };
      const narrow = run(16), wide = run(512);
      if (process.env.NTK_TEST_VERBOSE) console.log(aggregation, jk, { narrow, wide });
      expect(wide.rel, `${aggregation}`).to.be.below(narrow.rel / 2);
      expect(wide.relSe, `${aggregation}`).to.be.below(narrow.relSe / 2.5);
      expect(wide.zMax, `${aggregation}`).to.be.below(4);
      expect(wide.rel, `${aggregation}`).to.be.below(3 * wide.relSe);
    }
  });
});
