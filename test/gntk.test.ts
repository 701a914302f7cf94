import { expect } from 'chai';
import { syntheticGraphs } from '../lib/graphs.js';
import { monteCarloKernel } from '../jacobian/monte-carlo.js';
import { analyticGntk } from '../models/gnn-analytic.js';
import { Gnn } from '../models/gnn.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import type { Graph } from '../lib/samples.js';
import { compareToOracle, testBackend } from './helpers.js';

describe('analytic GNTK', function () {
  before(async () => {
    await testBackend();
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
