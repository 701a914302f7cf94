import { UserError } from '../lib/errors.js';
import type { Graph } from '../lib/samples.js';
import { type AnalyticActivation, gaussianExpectations } from './mlp-analytic.js';

/** The infinite-width GIN of models/gnn.ts: blocks B, dense layers per block R, aggregation, jumping knowledge. */
export interface GntkConfig {
  blocks: number;
  mlpLayers: number;
  aggregation: 'sum' | 'mean';
  jk: boolean;
  activation: string;
  wStd: number;
  bStd: number;
}

/** A sparse n×n matrix in compressed rows: row u holds cols[ptr[u]..ptr[u+1]) with weights vals. */
interface Csr {
  n: number;
  ptr: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

/**
 * c_u·(A + I) of a graph in compressed rows (c_u = 1 for sum, 1/(deg u + 1) for mean). Sparse because graphs are:
 * PROTEINS has graphs of up to 620 nodes, where dense n³ products per graph pair would dominate everything.
 */
function aggregationMatrix(g: Graph, mean: boolean): Csr {
  const n = g.nodes;
  const rows: Map<number, number>[] = Array.from({ length: n }, (_, u) => new Map([[u, 1]]));
  for (let t = 0; t < g.edges.length; t += 2) {
    const r = rows[g.edges[t + 1]];
    r.set(g.edges[t], (r.get(g.edges[t]) ?? 0) + 1);
  }
  const ptr = new Int32Array(n + 1);
  rows.forEach((r, u) => (ptr[u + 1] = ptr[u] + r.size));
  const cols = new Int32Array(ptr[n]), vals = new Float64Array(ptr[n]);
  rows.forEach((r, u) => {
    let total = 0;
    for (const w of r.values()) total += w;
    let k = ptr[u];
    for (const [v, w] of [...r.entries()].sort((x, y) => x[0] - y[0])) {
      cols[k] = v;
      vals[k++] = mean ? w / total : w;
    }
  });
  return { n, ptr, cols, vals };
}

/** M1 · X · M2ᵀ for sparse M1 [a, a], dense X [a, b], sparse M2 [b, b]: O(nnz(M1)·b + a·nnz(M2)). */
function sandwich(M1: Csr, X: Float64Array, M2: Csr, a: number, b: number): Float64Array {
  const tmp = new Float64Array(a * b);
  for (let i = 0; i < a; i++) {
    for (let e = M1.ptr[i]; e < M1.ptr[i + 1]; e++) {
      const m = M1.vals[e], k = M1.cols[e];
      for (let j = 0; j < b; j++) tmp[i * b + j] += m * X[k * b + j];
    }
  }
  const out = new Float64Array(a * b);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      let s = 0;
      for (let e = M2.ptr[j]; e < M2.ptr[j + 1]; e++) s += tmp[i * b + M2.cols[e]] * M2.vals[e];
      out[i * b + j] = s;
    }
  }
  return out;
}

/** x_u·x_v / F between the nodes of two graphs. */
function featureGram(g1: Graph, g2: Graph, F: number): Float64Array {
  const out = new Float64Array(g1.nodes * g2.nodes);
  for (let u = 0; u < g1.nodes; u++) {
    for (let v = 0; v < g2.nodes; v++) {
      let s = 0;
      for (let f = 0; f < F; f++) s += g1.features[u * F + f] * g2.features[v * F + f];
      out[u * g2.nodes + v] = s / F;
    }
  }
  return out;
}

/**
 * Analytic infinite-width NTK and NNGP of the GIN-style network (the GNTK of Du et al. 2019, for exactly
 * the finite net of models/gnn.ts), float64. Per pair of graphs, over node pairs (u, u'), with Q the per-unit
 * covariance of a layer's input and T its tangent part:
 *   input:      Q = x_u·x_u'/F,  T = 0;
 *   each block: Q ← (cĀ) Q (c'Ā')ᵀ and T likewise (Ā = A + I, c = 1 or 1/(deg+1));
 *   each dense: Σ = σ_w²Q + σ_b²,  Θ = Σ + σ_w²T,  Q ← E[φ(u)φ(v)],  T ← E[φ'(u)φ'(v)]·Θ,
 *               (u, v) ~ N(0, [[Σ(u,u), Σ(u,u')], [Σ(u,u'), Σ(u',u')]]), the diagonals from each graph with itself;
 *   readout:    Q_r = Σ_{u,u'} Q, T_r = Σ_{u,u'} T (jumping knowledge: the mean over blocks of these);
 *   output:     NNGP = σ_w² Q_r + σ_b²,  NTK = NNGP + σ_w² T_r.
 * Returns [G1, G2] row-major Float64Arrays (per output; the K-output kernel is this ⊗ I_K).
 */
export function analyticGntk(cfg: GntkConfig, g1: Graph[], g2: Graph[], featureDim: number): { ntk: Float64Array; nngp: Float64Array } {
  const act = cfg.activation as AnalyticActivation;
  if (!['relu', 'erf', 'identity'].includes(act)) throw new UserError(`--activation: the analytic GNTK has closed forms for relu, erf and identity; got '${act}'`);
  const sw2 = cfg.wStd * cfg.wStd, sb2 = cfg.bStd * cfg.bStd;
  const mean = cfg.aggregation === 'mean';
  const aggs = new Map<Graph, Csr>();
  const aggOf = (g: Graph) => {
    let m = aggs.get(g);
    if (!m) aggs.set(g, (m = aggregationMatrix(g, mean)));
    return m;
  };
  // Within-graph pre-activation variances Σ(u,u) at every dense layer, in forward order.
  const diags = new Map<Graph, Float64Array[]>();
  const diagOf = (g: Graph): Float64Array[] => {
    let d = diags.get(g);
    if (d) return d;
    d = [];
    const n = g.nodes;
    const A = aggOf(g);
    let Q = featureGram(g, g, featureDim);
    for (let l = 0; l < cfg.blocks; l++) {
      Q = sandwich(A, Q, A, n, n);
      for (let r = 0; r < cfg.mlpLayers; r++) {
        const S = Q.map((q) => sw2 * q + sb2);
        const dd = new Float64Array(n);
        for (let u = 0; u < n; u++) dd[u] = S[u * n + u];
        d.push(dd);
        Q = S.map((s, t) => gaussianExpectations(act, dd[Math.floor(t / n)], dd[t % n], s)[0]);
      }
    }
    diags.set(g, d);
    return d;
  };
  const n1 = g1.length, n2 = g2.length;
  const ntk = new Float64Array(n1 * n2), nngp = new Float64Array(n1 * n2);
  // The kernel of a set with itself is symmetric: compute j ≥ i and mirror.
  const same = g1 === g2;
  for (let i = 0; i < n1; i++) {
    for (let j = same ? i : 0; j < n2; j++) {
      const a = g1[i], b = g2[j];
      const na = a.nodes, nb = b.nodes;
      const da = diagOf(a), db = diagOf(b);
      let Q: Float64Array = featureGram(a, b, featureDim);
      let T: Float64Array = new Float64Array(na * nb);
      let qr = 0, tr = 0, layer = 0;
      for (let l = 0; l < cfg.blocks; l++) {
        Q = sandwich(aggOf(a), Q, aggOf(b), na, nb);
        T = sandwich(aggOf(a), T, aggOf(b), na, nb);
        for (let r = 0; r < cfg.mlpLayers; r++, layer++) {
          const d1 = da[layer], d2 = db[layer];
          const nQ = new Float64Array(na * nb), nT = new Float64Array(na * nb);
          for (let u = 0; u < na; u++) {
            for (let v = 0; v < nb; v++) {
              const t = u * nb + v;
              const S = sw2 * Q[t] + sb2;
              const th = S + sw2 * T[t];
              if (act === 'relu') {
                // gaussianExpectations' relu case inlined: this loop runs ~10⁹ times on PROTEINS.
                const nrm = Math.sqrt(d1[u] * d2[v]);
                if (nrm === 0) {
                  nQ[t] = 0;
                  nT[t] = 0.25 * th;
                } else {
                  const c = Math.max(-1, Math.min(1, S / nrm));
                  const ang = Math.acos(c);
                  nQ[t] = (nrm * (Math.sqrt(1 - c * c) + (Math.PI - ang) * c)) / (2 * Math.PI);
                  nT[t] = ((Math.PI - ang) / (2 * Math.PI)) * th;
                }
              } else {
                const [e, ed] = gaussianExpectations(act, d1[u], d2[v], S);
                nQ[t] = e;
                nT[t] = ed * th;
              }
            }
          }
          Q = nQ;
          T = nT;
        }
        if (cfg.jk || l === cfg.blocks - 1) {
          let q = 0, t = 0;
          for (let s = 0; s < Q.length; s++) {
            q += Q[s];
            t += T[s];
          }
          qr += q;
          tr += t;
        }
      }
      if (cfg.jk) {
        qr /= cfg.blocks;
        tr /= cfg.blocks;
      }
      nngp[i * n2 + j] = sw2 * qr + sb2;
      ntk[i * n2 + j] = sw2 * qr + sb2 + sw2 * tr;
      if (same) {
        nngp[j * n2 + i] = nngp[i * n2 + j];
        ntk[j * n2 + i] = ntk[i * n2 + j];
      }
    }
  }
  return { ntk, nngp };
}
