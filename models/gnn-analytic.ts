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
 * A + I of a graph in compressed rows (graphQuotient scales rows for mean aggregation once it has grouped them). Sparse
 * because graphs are: PROTEINS has graphs of up to 620 nodes, where dense n³ products per graph pair would dominate
 * everything.
 */
function aggregationMatrix(g: Graph): Csr {
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
    let k = ptr[u];
    for (const [v, w] of [...r.entries()].sort((x, y) => x[0] - y[0])) {
      cols[k] = v;
      vals[k++] = w;
    }
  });
  return { n, ptr, cols, vals };
}

/**
 * out = M1 · X · M2ᵀ for sparse M1 [a, a], dense X [a, b], sparse M2 [b, b]: O(nnz(M1)·b + a·nnz(M2)). `tmp` and `out`
 * are caller-owned buffers of at least a·b entries (reused across graph pairs: allocation was a large share of the
 * time); only their first a·b entries are read or written.
 */
function sandwich(M1: Csr, X: Float64Array, M2: Csr, a: number, b: number, tmp: Float64Array, out: Float64Array): void {
  tmp.fill(0, 0, a * b);
  for (let i = 0; i < a; i++) {
    const row = i * b;
    for (let e = M1.ptr[i]; e < M1.ptr[i + 1]; e++) {
      const m = M1.vals[e], k = M1.cols[e] * b;
      for (let j = 0; j < b; j++) tmp[row + j] += m * X[k + j];
    }
  }
  const { ptr, cols, vals } = M2;
  for (let i = 0; i < a; i++) {
    const row = i * b;
    for (let j = 0; j < b; j++) {
      let s = 0;
      for (let e = ptr[j]; e < ptr[j + 1]; e++) s += tmp[row + cols[e]] * vals[e];
      out[row + j] = s;
    }
  }
}

/** A graph's node features as sparse rows: node u's non-zero features are idx/val[ptr[u]..ptr[u+1]), ascending. */
interface SparseFeatures {
  ptr: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

function sparseFeatures(g: Graph, F: number): SparseFeatures {
  const ptr = new Int32Array(g.nodes + 1), idx: number[] = [], val: number[] = [];
  for (let u = 0; u < g.nodes; u++) {
    for (let f = 0; f < F; f++) {
      const x = g.features[u * F + f];
      if (x !== 0) {
        idx.push(f);
        val.push(x);
      }
    }
    ptr[u + 1] = idx.length;
  }
  return { ptr, idx: Int32Array.from(idx), val: Float64Array.from(val) };
}

/**
 * out[u·n2 + v] = x_u·x_v / F between the nodes (or node classes) of two graphs, x2 dense rows [n2, F], summing only
 * over u's non-zero features: the skipped terms are exact zeros, so this equals the dense sum f = 0..F−1 bit for bit,
 * at O(nnz) instead of O(F) per node pair (one-hot degree features of the social networks have F ≈ 100–500).
 */
function featureGram(a: SparseFeatures, x2: Float32Array, n2: number, F: number, out: Float64Array): void {
  const n1 = a.ptr.length - 1;
  for (let u = 0; u < n1; u++) {
    const p0 = a.ptr[u], p1 = a.ptr[u + 1];
    for (let v = 0; v < n2; v++) {
      let s = 0;
      for (let p = p0; p < p1; p++) s += a.val[p] * x2[v * F + a.idx[p]];
      out[u * n2 + v] = s / F;
    }
  }
}

/**
 * A graph as the recursion sees it: its nodes grouped into classes (P of them, sizes `size`), the aggregation c·Ā
 * between classes [P, P] (agg[p, q] = Σ_{v ∈ q} c_u Ā[u, v] for any u in p), and each class's features (sparse
 * rows and dense rows [P, F]).
 */
export interface GraphQuotient {
  P: number;
  size: Float64Array;
  /** Ā's row sum of a class's nodes, deg + 1 (the same for every node of a class). */
  degree: Float64Array;
  agg: Csr;
  feats: SparseFeatures;
  dense: Float32Array;
}

/** Node u's Ā-weight into each colour: [colour, Σ_{v of that colour} Ā[u, v]] pairs, ascending by colour. */
function weightInto(A: Csr, colour: Int32Array, u: number): [number, number][] {
  const into = new Map<number, number>();
  for (let e = A.ptr[u]; e < A.ptr[u + 1]; e++) into.set(colour[A.cols[e]], (into.get(colour[A.cols[e]]) ?? 0) + A.vals[e]);
  return [...into.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * The graph reduced to the coarsest equitable partition of its nodes that refines "same feature vector"
 * (Weisfeiler–Lehman colour refinement run to its fixed point over the weighted Ā = A + I): every node of a class
 * has the same features and, for every class q, the same total Ā-weight into q. By induction over the recursion,
 * Q(u, u') and T(u, u') then depend only on the classes of u and u' (aggregation: Σ_{v,v'} Ā[u,v] Q(v,v') Ā'[u',v']
 * = Σ_{q,q'} agg[p,q] Q(q,q') agg'[p',q']; the dense layers act entrywise with diagonals Σ(u,u) = Σ(u,v) for u, v
 * in one class), so the recursion runs on class pairs and the readout Σ_{u,u'} becomes Σ_{p,p'} |p||p'| Q(p, p'):
 * exact, with node pairs fewer by ≈ 5× on COLLAB and 16× on IMDB-B (their ego-networks are full of cliques).
 * `refine` false keeps every node its own class (the plain node-level recursion, the tests' oracle).
 */
export function graphQuotient(g: Graph, F: number, mean: boolean, refine: boolean): GraphQuotient {
  const n = g.nodes, A = aggregationMatrix(g), x = sparseFeatures(g, F);
  let colour = new Int32Array(n), count = 0;
  if (refine) {
    const ids = new Map<string, number>();
    for (let u = 0; u < n; u++) {
      const key = `${Array.from(x.idx.subarray(x.ptr[u], x.ptr[u + 1]))}|${Array.from(x.val.subarray(x.ptr[u], x.ptr[u + 1]))}`;
      let c = ids.get(key);
      if (c === undefined) ids.set(key, (c = ids.size));
      colour[u] = c;
    }
    count = ids.size;
    // Each round splits classes by (colour, Ā-weight into each colour); the partition only refines, so an unchanged
    // class count means it is stable.
    for (;;) {
      const sigs = new Map<string, number>(), next = new Int32Array(n);
      for (let u = 0; u < n; u++) {
        const key = `${colour[u]}:${weightInto(A, colour, u).join(';')}`;
        let c = sigs.get(key);
        if (c === undefined) sigs.set(key, (c = sigs.size));
        next[u] = c;
      }
      colour = next;
      if (sigs.size === count) break;
      count = sigs.size;
    }
  } else {
    for (let u = 0; u < n; u++) colour[u] = u;
    count = n;
  }
  const rep = new Int32Array(count).fill(-1), size = new Float64Array(count), degree = new Float64Array(count);
  for (let u = 0; u < n; u++) {
    if (rep[colour[u]] < 0) rep[colour[u]] = u;
    size[colour[u]]++;
  }
  const ptr = new Int32Array(count + 1), cols: number[] = [], vals: number[] = [];
  const fptr = new Int32Array(count + 1), fidx: number[] = [], fval: number[] = [];
  const dense = new Float32Array(count * F);
  for (let p = 0; p < count; p++) {
    const u = rep[p];
    for (let e = A.ptr[u]; e < A.ptr[u + 1]; e++) degree[p] += A.vals[e];
    for (const [q, w] of weightInto(A, colour, u)) {
      cols.push(q);
      vals.push(mean ? w / degree[p] : w);
    }
    ptr[p + 1] = cols.length;
    for (let k = x.ptr[u]; k < x.ptr[u + 1]; k++) {
      fidx.push(x.idx[k]);
      fval.push(x.val[k]);
    }
    fptr[p + 1] = fidx.length;
    dense.set(g.features.subarray(u * F, (u + 1) * F), p * F);
  }
  return {
    P: count, size, degree, dense,
    agg: { n: count, ptr, cols: Int32Array.from(cols), vals: Float64Array.from(vals) },
    feats: { ptr: fptr, idx: Int32Array.from(fidx), val: Float64Array.from(fval) },
  };
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
 * Computed on classes of equivalent nodes (graphQuotient), which gives these node-pair sums exactly.
 * Returns [G1, G2] row-major Float64Arrays (per output; the K-output kernel is this ⊗ I_K).
 */
export function analyticGntk(cfg: GntkConfig, g1: Graph[], g2: Graph[], featureDim: number): { ntk: Float64Array; nngp: Float64Array } {
  return gntkFromReadouts(cfg, analyticGntkReadouts(cfg, g1, g2, featureDim), cfg.blocks, cfg.jk);
}

/** Per-block readouts of the GNTK recursion: q[l], t[l] = Σ_{u,u'} Q, T after block l + 1, each [G1, G2]. */
export interface GntkReadouts {
  q: Float64Array[];
  t: Float64Array[];
  n1: number;
  n2: number;
}

/**
 * The kernel of the first `blocks` blocks from readouts computed for at least that many (block l's readout does not
 * depend on later blocks, so one run of `cfg.blocks` blocks serves every block count ≤ it and both jk settings):
 * Q_r = q[blocks−1] (jk: the mean of q[0..blocks−1]), T_r likewise, NNGP = σ_w² Q_r + σ_b², NTK = NNGP + σ_w² T_r.
 */
export function gntkFromReadouts(cfg: Pick<GntkConfig, 'wStd' | 'bStd'>, r: GntkReadouts, blocks: number, jk: boolean): { ntk: Float64Array; nngp: Float64Array } {
  if (!(Number.isInteger(blocks) && blocks >= 1 && blocks <= r.q.length)) throw new Error(`gntkFromReadouts: ${blocks} blocks requested, ${r.q.length} computed`);
  const sw2 = cfg.wStd * cfg.wStd, sb2 = cfg.bStd * cfg.bStd;
  const m = r.n1 * r.n2;
  const ntk = new Float64Array(m), nngp = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    let qr = 0, tr = 0;
    if (jk) {
      // Summed block by block in forward order, then divided: the order the single-architecture kernel always used.
      for (let l = 0; l < blocks; l++) {
        qr += r.q[l][k];
        tr += r.t[l][k];
      }
      qr /= blocks;
      tr /= blocks;
    } else {
      qr = r.q[blocks - 1][k];
      tr = r.t[blocks - 1][k];
    }
    nngp[k] = sw2 * qr + sb2;
    ntk[k] = sw2 * qr + sb2 + sw2 * tr;
  }
  return { ntk, nngp };
}

/**
 * The GNTK recursion of analyticGntk for cfg.blocks blocks, stopping at the per-block readouts (cfg.jk unused).
 * Per-graph quantities (aggregation matrices, sparse features, within-graph variances) are computed once; the pair
 * loop works in reused buffers; a set against itself computes the pairs j ≥ i only and mirrors them. `onPairs` hears
 * after each row how many graph pairs are done.
 */
export function analyticGntkReadouts(cfg: GntkConfig, g1: Graph[], g2: Graph[], featureDim: number, onPairs?: (done: number, total: number) => void): GntkReadouts {
  const n1 = g1.length, n2 = g2.length, same = g1 === g2;
  const out = { q: Array.from({ length: cfg.blocks }, () => new Float64Array(n1 * n2)), t: Array.from({ length: cfg.blocks }, () => new Float64Array(n1 * n2)) };
  const total = gntkPairCount(n1, n2, same);
  let done = 0;
  gntkReadoutRows(cfg, g1, same ? g1 : g2, same, featureDim, Array.from({ length: n1 }, (_, i) => i), out, (pairs) => onPairs?.((done += pairs), total));
  return { ...out, n1, n2 };
}

/**
 * Per-graph quantities of the recursion (class quotients with their aggregation matrices and features, within-graph
 * variances), keyed by graph object: calls of gntkReadoutRows for one configuration and one set of graph objects may
 * share one memo, so that rows computed in several calls (chunks) pay for them once. Never share it across
 * configurations. `refine` (default true) runs the recursion on classes of equivalent nodes (graphQuotient); false
 * runs it node by node.
 */
export interface GntkMemo {
  parts: Map<Graph, GraphQuotient>;
  diags: Map<Graph, Float64Array[]>;
  refine: boolean;
}

export const gntkMemo = (refine = true): GntkMemo => ({ parts: new Map(), diags: new Map(), refine });

/** Graph pairs that row i of the recursion computes: j ≥ i of a set against itself, every j otherwise. */
export const gntkRowPairs = (i: number, n2: number, same: boolean): number => (same ? n2 - i : n2);

/** Graph pairs the whole recursion computes: the Σ over rows of gntkRowPairs. */
export const gntkPairCount = (n1: number, n2: number, same: boolean): number => (same ? (n1 * (n1 + 1)) / 2 : n1 * n2);

/**
 * Rows `rows` of the GNTK recursion (see analyticGntkReadouts), written into caller-owned per-block readouts
 * out.q[l], out.t[l] [G1, G2]: entry (i, j) for every j (j ≥ i when `same`, g1 and g2 then being one set, with the
 * mirror (j, i) written too). Rows are independent and each entry is computed by the same arithmetic whichever rows
 * are asked for, so disjoint row sets (worker threads writing one shared buffer) give the serial result bit for bit;
 * with `same`, row i writes only (i, j ≥ i) and (j ≥ i, i), so disjoint row sets never write one entry twice.
 * `onRow` hears after each row the graph pairs it computed.
 */
export function gntkReadoutRows(cfg: GntkConfig, g1: Graph[], g2: Graph[], same: boolean, featureDim: number, rows: ArrayLike<number>, out: { q: Float64Array[]; t: Float64Array[] }, onRow?: (pairs: number) => void, memo: GntkMemo = gntkMemo()): void {
  const act = cfg.activation as AnalyticActivation;
  if (!['relu', 'erf', 'identity'].includes(act)) throw new UserError(`--activation: the analytic GNTK has closed forms for relu, erf and identity; got '${act}'`);
  const sw2 = cfg.wStd * cfg.wStd, sb2 = cfg.bStd * cfg.bStd;
  const mean = cfg.aggregation === 'mean';
  const { parts, diags } = memo;
  const partOf = (g: Graph) => {
    let m = parts.get(g);
    if (!m) parts.set(g, (m = graphQuotient(g, featureDim, mean, memo.refine)));
    return m;
  };
  let maxClasses = 0;
  for (const g of [...g1, ...g2]) maxClasses = Math.max(maxClasses, partOf(g).P);
  const cap = maxClasses * maxClasses;
  let Q = new Float64Array(cap), T = new Float64Array(cap), Q2 = new Float64Array(cap), T2 = new Float64Array(cap);
  const tmp = new Float64Array(cap);
  // Within-graph pre-activation variances Σ(u,u) at every dense layer, in forward order, per class.
  const diagOf = (g: Graph): Float64Array[] => {
    let d = diags.get(g);
    if (d) return d;
    d = [];
    const { P: n, agg: A, feats, dense } = partOf(g), nn = n * n;
    let X = new Float64Array(nn), Y = new Float64Array(nn);
    featureGram(feats, dense, n, featureDim, X);
    for (let l = 0; l < cfg.blocks; l++) {
      sandwich(A, X, A, n, n, tmp, Y);
      [X, Y] = [Y, X];
      for (let r = 0; r < cfg.mlpLayers; r++) {
        for (let s = 0; s < nn; s++) X[s] = sw2 * X[s] + sb2;
        const dd = new Float64Array(n);
        for (let u = 0; u < n; u++) dd[u] = X[u * n + u];
        d.push(dd);
        for (let s = 0; s < nn; s++) X[s] = gaussianExpectations(act, dd[Math.floor(s / n)], dd[s % n], X[s])[0];
      }
    }
    diags.set(g, d);
    return d;
  };
  const n2 = g2.length;
  const { q, t } = out;
  if (same && g1 !== g2) throw new Error('gntkReadoutRows: `same` needs g1 and g2 to be one array');
  const relu = act === 'relu';
  for (let ri = 0; ri < rows.length; ri++) {
    const i = rows[ri];
    const a = g1[i], pa = partOf(a), na = pa.P, Aa = pa.agg, fa = pa.feats, sa = pa.size, da = diagOf(a);
    for (let j = same ? i : 0; j < n2; j++) {
      const b = g2[j], pb = partOf(b), nb = pb.P, Ab = pb.agg, sb = pb.size, db = diagOf(b);
      const m = na * nb;
      featureGram(fa, pb.dense, nb, featureDim, Q);
      let layer = 0;
      for (let l = 0; l < cfg.blocks; l++) {
        sandwich(Aa, Q, Ab, na, nb, tmp, Q2);
        // T is exactly 0 before the first dense layer, and so is its aggregation.
        if (l === 0) T2.fill(0, 0, m);
        else sandwich(Aa, T, Ab, na, nb, tmp, T2);
        [Q, Q2] = [Q2, Q];
        [T, T2] = [T2, T];
        for (let r = 0; r < cfg.mlpLayers; r++, layer++) {
          const d1 = da[layer], d2 = db[layer];
          for (let u = 0; u < na; u++) {
            const du = d1[u], row = u * nb;
            for (let v = 0; v < nb; v++) {
              const k = row + v;
              const S = sw2 * Q[k] + sb2;
              const th = S + sw2 * T[k];
              if (relu) {
                // gaussianExpectations' relu case inlined: this loop runs ~10¹⁰ times on PROTEINS.
                const nrm = Math.sqrt(du * d2[v]);
                if (nrm === 0) {
                  Q[k] = 0;
                  T[k] = 0.25 * th;
                } else {
                  const c = Math.max(-1, Math.min(1, S / nrm));
                  const ang = Math.acos(c);
                  Q[k] = (nrm * (Math.sqrt(1 - c * c) + (Math.PI - ang) * c)) / (2 * Math.PI);
                  T[k] = ((Math.PI - ang) / (2 * Math.PI)) * th;
                }
              } else {
                const [e, ed] = gaussianExpectations(act, du, d2[v], S);
                Q[k] = e;
                T[k] = ed * th;
              }
            }
          }
        }
        // Σ over node pairs = Σ over class pairs weighted by the classes' sizes (all 1 when not refined: then the sum
        // of the plain node-level recursion, in its order, bit for bit).
        let qs = 0, ts = 0;
        for (let u = 0; u < na; u++) {
          const su = sa[u], row = u * nb;
          for (let v = 0; v < nb; v++) {
            const w = su * sb[v];
            qs += w * Q[row + v];
            ts += w * T[row + v];
          }
        }
        q[l][i * n2 + j] = qs;
        t[l][i * n2 + j] = ts;
        if (same) {
          q[l][j * n2 + i] = qs;
          t[l][j * n2 + i] = ts;
        }
      }
    }
    // Graph pairs, not rows: rows shrink when only j ≥ i is computed, so rows would misstate the time left.
    onRow?.(gntkRowPairs(i, n2, same));
  }
}
