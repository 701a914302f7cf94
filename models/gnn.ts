import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import type { GraphSamples, Samples } from '../lib/samples.js';
import { type CommonConfig, Forward, activate, aggregateNeighbours, checkCommon, linearScales, linearSpecs, segmentSum } from './layers.js';
import type { Batch, GraphBatch, TappedForward } from './model.js';
import { LayeredModel } from './layered.js';

/**
 * GIN-style graph network (Xu et al. 2019; the finite net behind the GNTK of Du et al. 2019, seeds/000).
 *   h⁰_u = x_u;  block l = 1..B:  a_u = c_u Σ_{v ∈ N(u) ∪ {u}} h^{l−1}_v  (c_u = 1 'sum', 1/(deg u + 1) 'mean'),
 *   or 'gcn' (Kipf & Welling 2017): a_u = Σ_{v ∈ N(u) ∪ {u}} h^{l−1}_v / √((deg u + 1)(deg v + 1)), i.e. Â = D̃^−½(A + I)D̃^−½;
 *   with mlpLayers = 1 a block is then one GCN layer h^l = φ(Â h^{l−1} W + b) (NTK scaling of W and b as below);
 *   then R dense layers, each followed by φ:  h^l_u = φ(z_R),  z_r = wScale·(h W_r) + bScale·b_r;
 *   readout r_G = Σ_u h^B_u, or with jumping knowledge the concatenation [Σ_u h^1_u, …, Σ_u h^B_u];
 *   f(G) = wScale·(r_G W_out) + bScale·b_out  (K outputs).
 * Aggregation runs on the edge list (custom sparse ops): no dense N_total² adjacency.
 */
export interface GnnConfig extends CommonConfig {
  model: 'gnn';
  featureDim: number;
  hidden: number;
  blocks: number;
  mlpLayers: number;
  aggregation: 'sum' | 'mean' | 'gcn';
  jk: boolean;
  outputs: number;
}

/** Tensors of a batch of graphs: node rows stacked, edges shifted to global rows. */
export function graphBatch(s: GraphSamples): Batch & { graph: GraphBatch } {
  const segments = new Int32Array(s.n + 1);
  s.graphs.forEach((g, i) => (segments[i + 1] = segments[i] + g.nodes));
  const R = segments[s.n];
  const F = s.featureDim;
  const x = new Float32Array(R * F);
  let E = 0;
  for (const g of s.graphs) E += g.edges.length / 2;
  const src = new Int32Array(E), dst = new Int32Array(E);
  const deg = new Float32Array(R);
  let e = 0;
  s.graphs.forEach((g, i) => {
    const o = segments[i];
    x.set(g.features, o * F);
    for (let t = 0; t < g.edges.length; t += 2) {
      src[e] = o + g.edges[t];
      dst[e] = o + g.edges[t + 1];
      deg[o + g.edges[t + 1]]++;
      e++;
    }
  });
  const invDeg = deg.map((d) => 1 / (d + 1));
  return {
    n: s.n,
    x: tf.tensor2d(x, [R, F]),
    graph: { src, dst, segments, invDeg: tf.tensor2d(invDeg, [R, 1]) },
  };
}

export class Gnn extends LayeredModel {
  readonly config: GnnConfig;
  readonly outputSize: number;

  constructor(config: GnnConfig) {
    super();
    const c = (this.config = { ...config });
    checkCommon(c);
    for (const [v, flag] of [[c.featureDim, '--feature-dim'], [c.hidden, '--hidden'], [c.blocks, '--blocks'], [c.mlpLayers, '--mlp-layers'], [c.outputs, '--k']] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new UserError(`${flag}: expected a positive integer; got ${v}`);
    }
    if (c.aggregation !== 'sum' && c.aggregation !== 'mean' && c.aggregation !== 'gcn') throw new UserError(`--aggregation: expected sum, mean or gcn; got '${c.aggregation}'`);
    for (let l = 0; l < c.blocks; l++) {
      for (let r = 0; r < c.mlpLayers; r++) {
        this.paramSpecs.push(...linearSpecs(`block_${l}/dense_${r}`, [l === 0 && r === 0 ? c.featureDim : c.hidden, c.hidden], c.bias));
      }
    }
    this.paramSpecs.push(...linearSpecs('dense_out', [(c.jk ? c.blocks : 1) * c.hidden, c.outputs], c.bias));
    this.outputSize = c.outputs;
  }

  checkSamples(s: Samples, flag: string): void {
    if (s.kind !== 'graphs') throw new UserError(`${flag}: the gnn takes graphs (graphs:PATH or synthetic-graphs), not vectors`);
    if (s.featureDim !== this.config.featureDim) {
      throw new UserError(`${flag}: ${s.source ?? 'the graphs'} have ${s.featureDim} node features but the gnn expects ${this.config.featureDim} (--feature-dim)`);
    }
  }

  batch(s: Samples): Batch {
    if (s.kind !== 'graphs') throw new UserError('the gnn takes graphs, not vectors');
    return graphBatch(s);
  }

  protected run(fw: Forward, b: Batch): TappedForward {
    const c = this.config;
    const g = b.graph;
    if (!g) throw new Error('gnn: batch without graph structure');
    // D̃^−½ per row for 'gcn': scaling the rows before and after the neighbour sum gives Â h without a dense Â.
    const invSqrt = c.aggregation === 'gcn' ? tf.sqrt(g.invDeg) : null;
    const aggregate = (h: tf.Tensor2D): tf.Tensor2D => {
      if (invSqrt) return tf.mul(aggregateNeighbours(tf.mul(h, invSqrt) as tf.Tensor2D, g.src, g.dst), invSqrt) as tf.Tensor2D;
      const summed = aggregateNeighbours(h, g.src, g.dst);
      return (c.aggregation === 'mean' ? tf.mul(summed, g.invDeg) : summed) as tf.Tensor2D;
    };
    const readout = (h: tf.Tensor2D) => segmentSum(h, g.segments);
    let h = b.x as tf.Tensor2D;
    const readouts: tf.Tensor2D[] = [];
    for (let l = 0; l < c.blocks; l++) {
      h = aggregate(h);
      for (let r = 0; r < c.mlpLayers; r++) {
        h = activate(c.activation, fw.dense(h, linearScales(c, h.shape[1]), c.bias, g.segments)) as tf.Tensor2D;
      }
      if (c.jk || l === c.blocks - 1) readouts.push(readout(h));
    }
    const feats = readouts.length === 1 ? readouts[0] : (tf.concat(readouts, 1) as tf.Tensor2D);
    const out = fw.dense(feats, linearScales(c, feats.shape[1]), c.bias, null);
    fw.done();
    return { out, linear: fw.linear, ck: { features: feats, scale: c.wStd / Math.sqrt(feats.shape[1]), offset: c.bias ? c.bStd : 0 } };
  }
}
