import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { syntheticGraphs } from '../lib/graphs.js';
import type { Graph } from '../lib/samples.js';
import { Gnn, type GnnConfig } from '../models/gnn.js';
import { addAlongEdges } from '../models/layers.js';
import { paramTensors } from '../models/params.js';
import { testBackend } from './helpers.js';

/** The aggregation of a graph as a dense node-level matrix from its edge list: A + I, D̃^−1(A + I) or D̃^−½(A + I)D̃^−½. */
function denseAggregation(g: Graph, aggregation: GnnConfig['aggregation']): number[][] {
  const A: number[][] = Array.from({ length: g.nodes }, (_, u) => Array.from({ length: g.nodes }, (_, v) => (u === v ? 1 : 0)));
  for (let t = 0; t < g.edges.length; t += 2) A[g.edges[t + 1]][g.edges[t]] += 1;
  const d = A.map((r) => r.reduce((s, x) => s + x, 0));
  if (aggregation === 'sum') return A;
  return A.map((r, u) => r.map((x, v) => (aggregation === 'mean' ? x / d[u] : x / Math.sqrt(d[u] * d[v]))));
}

/**
 * The one-dense-layer-per-block network written out node by node, densely, in float64 from the parameter values θ
 * (flat, in the model's order): per layer h ← tanh(σ_w/√fan_in · Â h W + σ_b b) with Â the aggregation's matrix,
 * readout Σ_u h_u over nodes (jk: the concatenation over layers), then the output layer.
 */
function denseGcn(c: GnnConfig, theta: Float64Array, shapes: number[][], g: Graph): number[] {
  let k = 0, p = 0;
  const next = () => {
    const n = shapes[p++].reduce((a, b) => a * b, 1);
    const v = theta.subarray(k, k + n);
    k += n;
    return v;
  };
  const linear = (h: number[][], fanIn: number, fanOut: number) => {
    const W = next(), b = next(), ws = c.wStd / Math.sqrt(fanIn);
    return h.map((row) => Array.from({ length: fanOut }, (_, j) => ws * row.reduce((s, x, i) => s + x * W[i * fanOut + j], 0) + c.bStd * b[j]));
  };
  const A = denseAggregation(g, c.aggregation);
  let h = Array.from({ length: g.nodes }, (_, u) => Array.from(g.features.subarray(u * c.featureDim, (u + 1) * c.featureDim), Number));
  const reads: number[] = [];
  for (let l = 0; l < c.blocks; l++) {
    h = A.map((row) => h[0].map((_, f) => row.reduce((s, a, v) => s + a * h[v][f], 0)));
    h = linear(h, l === 0 ? c.featureDim : c.hidden, c.hidden).map((r) => r.map(Math.tanh));
    if (c.jk || l === c.blocks - 1) reads.push(...h[0].map((_, f) => h.reduce((s, r) => s + r[f], 0)));
  }
  return linear([reads], reads.length, c.outputs)[0];
}

describe('GCN and one-layer GIN blocks on classes of equivalent nodes: forward and gradient against a dense node-level float64 computation', function () {
  before(async () => {
    await testBackend();
  });

  for (const [aggregation, jk] of [['gcn', false], ['gcn', true], ['sum', true], ['mean', false]] as const) {
    it(`${aggregation}: outputs and ∂(v·f)/∂θ match, by finite differences of the dense net${jk ? ', jumping knowledge' : ''}`, () => {
      // Graphs whose batch has fewer rows than nodes (ring lattices with symmetric nodes) besides unreduced ones.
      const data = syntheticGraphs(3, 3);
      const cfg: GnnConfig = { model: 'gnn', activation: 'tanh', parameterization: 'ntk', wStd: 1.3, bStd: 0.3, bias: true, featureDim: 8, hidden: 5, blocks: 2, mlpLayers: 1, aggregation, jk, outputs: 2 };
      const m = new Gnn(cfg);
      const params = m.init(4);
      const shapes = params.map((q) => q.shape);
      const theta = Float64Array.from(params.flatMap((q) => Array.from(q.values)));
      const b = m.batch(data);
      const rows = Array.from({ length: 3 }, (_, i) => b.graph!.segments[i + 1] - b.graph!.segments[i]);
      expect(rows[1]).to.be.below(data.graphs[1].nodes);
      expect(rows[0]).to.equal(data.graphs[0].nodes);
      const ps = paramTensors(params);
      const out = m.apply(ps, b).arraySync();
      data.graphs.forEach((g, i) => {
        const ref = denseGcn(cfg, theta, shapes, g);
        ref.forEach((r, k) => expect(out[i][k]).to.be.closeTo(r, 1e-5 * (1 + Math.abs(r))));
      });
      // Gradient of L = Σ_{i,k} v_ik f_k(G_i) by tfjs autodiff through the custom aggregation op.
      const v = tf.tensor2d([[0.7, -1.1], [0.4, 0.9], [-0.5, 0.2]]);
      const grads = tf.grads((...p: tf.Tensor[]) => tf.sum(tf.mul(m.apply(p, b), v)))(ps);
      const auto = Float64Array.from(grads.flatMap((gr) => Array.from(gr.dataSync())));
      const L = (th: Float64Array) => data.graphs.reduce((s, g, i) => s + denseGcn(cfg, th, shapes, g).reduce((t, f, k) => t + f * [[0.7, -1.1], [0.4, 0.9], [-0.5, 0.2]][i][k], 0), 0);
      const eps = 1e-5;
      let worst = 0, scale = 0;
      for (let j = 0; j < theta.length; j++) {
        const up = theta.slice(), dn = theta.slice();
        up[j] += eps;
        dn[j] -= eps;
        const fd = (L(up) - L(dn)) / (2 * eps);
        worst = Math.max(worst, Math.abs(fd - auto[j]));
        scale = Math.max(scale, Math.abs(fd));
      }
      expect(scale).to.be.above(0.1);
      expect(worst / scale).to.be.below(1e-4);
      [...ps, ...grads, v].forEach((t) => t.dispose());
    });
  }
});

describe('neighbour aggregation along edges (addAlongEdges)', () => {
  /** h [R, F] with the given share of nonzeros, a row of zeros and a −0, and edges with repeats and self-loops. */
  function fixture(R: number, F: number, density: number, E: number, seed: number) {
    let s = seed;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const h = new Float32Array(R * F).map(() => (rand() < density ? rand() * 4 - 2 : 0));
    h.fill(0, 3 * F, 4 * F);
    h[5] = -0;
    const from = Int32Array.from({ length: E }, () => Math.floor(rand() * R));
    const to = Int32Array.from({ length: E }, (_, e) => (e % 17 === 0 ? from[e] : Math.floor(rand() * R)));
    // Weights as graphBatch makes them: counts of Ā, and fractions as a mean aggregation would have them.
    const w = Float32Array.from({ length: E }, (_, e) => (e % 3 === 0 ? 1 + Math.floor(rand() * 3) : rand()));
    return { h, from, to, w };
  }

  for (const [label, density] of [['one-hot-like rows (compressed-row path)', 0.08], ['dense rows', 0.9]] as const) {
    it(`${label}: the edge-by-edge float32 sum, and (A + I) h in float64 to rounding`, () => {
      const R = 40, F = 37;
      const { h, from, to, w } = fixture(R, F, density, 300, density === 0.08 ? 3 : 5);
      const out = h.slice();
      addAlongEdges(h, out, from, to, w, F);
      // Oracle 1: every edge adds its whole weighted source row, zeros included, in edge order (the plain loop).
      const plain = h.slice();
      for (let e = 0; e < from.length; e++) for (let f = 0; f < F; f++) plain[to[e] * F + f] += w[e] * h[from[e] * F + f];
      for (let i = 0; i < out.length; i++) expect(out[i], `entry ${i}`).to.equal(plain[i]);
      // Oracle 2: the dense product with A + I (A[u][v] = Σ weights of the edges v → u) in float64.
      const A = Array.from({ length: R }, (_, u) => Float64Array.from({ length: R }, (_, v) => (u === v ? 1 : 0)));
      for (let e = 0; e < from.length; e++) A[to[e]][from[e]] += w[e];
      let nonzero = 0;
      for (let u = 0; u < R; u++) {
        for (let f = 0; f < F; f++) {
          let ref = 0, mag = 0;
          for (let v = 0; v < R; v++) (ref += A[u][v] * h[v * F + f]), (mag += A[u][v] * Math.abs(h[v * F + f]));
          expect(Math.abs(out[u * F + f] - ref)).to.be.at.most(1e-6 * mag);
          if (ref !== 0) nonzero++;
        }
      }
      expect(nonzero).to.be.greaterThan(R);
    });
  }
});
