import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import type { Graph, GraphSamples, Samples } from '../lib/samples.js';
import { type GraphQuotient, graphQuotient } from './gnn-analytic.js';
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
 * Aggregation runs on the edge list (custom sparse ops): no dense N_total² adjacency; the rows are classes of
 * equivalent nodes (graphBatch), which gives the node-level network exactly.
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

// A graph's classes are computed once per graph object: training rebuilds a batch every step.
const quotients = new WeakMap<Graph, { F: number; q: GraphQuotient }>();

/** graphQuotient of g (sum aggregation: the weights are Ā's counts), cached when refined. */
function quotientOf(g: Graph, F: number, refine: boolean): GraphQuotient {
  if (!refine) return graphQuotient(g, F, false, false);
  const hit = quotients.get(g);
  if (hit && hit.F === F) return hit.q;
  const q = graphQuotient(g, F, false, true);
  quotients.set(g, { F, q });
  return q;
}

/**
 * Tensors of a batch of graphs: one row per class of equivalent nodes of each graph (graphQuotient: same features
 * and, for every class, the same Ā-weight into it), rows stacked, Ā between classes as weighted edges. Exact for
 * the network of this module: by induction every node of a class has the same value at every layer (the dense
 * layers act row by row; c = 1/(deg+1) and D̃^−½ are constant on a class), so aggregation Σ_v Ā[u,v] h_v =
 * Σ_q Ā(p→q) h_q and the readout Σ_u h_u = Σ_p |p| h_p; the gradients are those of the same function of θ, and
 * each dense layer's per-graph weight gradient Σ_rows x_r ⊗ δ_r is the node-level one (δ of a class row is the sum
 * of its nodes'). COLLAB's 372,474 nodes are 163,037 rows. `refine` false: one row per node (the tests' oracle).
 */
export function graphBatch(s: GraphSamples, refine = true): Batch & { graph: GraphBatch } {
  const F = s.featureDim;
  const parts = s.graphs.map((g) => quotientOf(g, F, refine));
  const segments = new Int32Array(s.n + 1);
  parts.forEach((q, i) => (segments[i + 1] = segments[i] + q.P));
  const R = segments[s.n];
  let E = 0;
  for (const q of parts) E += q.agg.ptr[q.P];
  const x = new Float32Array(R * F), size = new Float32Array(R), invDeg = new Float32Array(R);
  const src = new Int32Array(E), dst = new Int32Array(E), weight = new Float32Array(E);
  let e = 0;
  parts.forEach((q, i) => {
    const o = segments[i], { ptr, cols, vals } = q.agg;
    x.set(q.dense, o * F);
    for (let p = 0; p < q.P; p++) {
      for (let k = ptr[p]; k < ptr[p + 1]; k++, e++) {
        src[e] = o + cols[k];
        dst[e] = o + p;
        weight[e] = vals[k];
      }
      size[o + p] = q.size[p];
      invDeg[o + p] = 1 / q.degree[p];
    }
  });
  return {
    n: s.n,
    x: tf.tensor2d(x, [R, F]),
    graph: { src, dst, weight, segments, size, invDeg: tf.tensor2d(invDeg, [R, 1]) },
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
      if (invSqrt) return tf.mul(aggregateNeighbours(tf.mul(h, invSqrt) as tf.Tensor2D, g.src, g.dst, g.weight), invSqrt) as tf.Tensor2D;
      const summed = aggregateNeighbours(h, g.src, g.dst, g.weight);
      return (c.aggregation === 'mean' ? tf.mul(summed, g.invDeg) : summed) as tf.Tensor2D;
    };
    const readout = (h: tf.Tensor2D) => segmentSum(h, g.segments, g.size);
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
