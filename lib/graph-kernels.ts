import type { Graph } from './samples.js';

/** Index of the largest entry of each node's feature row: the node's discrete label when features are one-hot. */
export function nodeLabels(g: Graph, featureDim: number): Int32Array {
  const out = new Int32Array(g.nodes);
  for (let u = 0; u < g.nodes; u++) {
    let best = 0;
    for (let f = 1; f < featureDim; f++) if (g.features[u * featureDim + f] > g.features[u * featureDim + best]) best = f;
    out[u] = best;
  }
  return out;
}

/**
 * Weisfeiler–Lehman subtree features (Shervashidze et al. 2011): start from the nodes' discrete labels (the argmax of
 * their one-hot features); at each of `iterations` rounds relabel every node by the pair (its label, the sorted
 * multiset of its neighbours' labels), compressed to a new integer through a dictionary shared by all graphs. Graph
 * g's feature vector counts, for every round h = 0..iterations, how many of its nodes carry each label. Returns one
 * sparse count map per graph (keys are "h:label" strings, so labels of different rounds never collide).
 */
export function wlSubtreeFeatures(graphs: Graph[], featureDim: number, iterations: number): Map<string, number>[] {
  const nbrs = graphs.map((g) => {
    const l: number[][] = Array.from({ length: g.nodes }, () => []);
    for (let t = 0; t < g.edges.length; t += 2) l[g.edges[t]].push(g.edges[t + 1]);
    return l;
  });
  let labels = graphs.map((g) => nodeLabels(g, featureDim));
  const counts = graphs.map(() => new Map<string, number>());
  const count = (h: number) => labels.forEach((ls, i) => ls.forEach((v) => counts[i].set(`${h}:${v}`, (counts[i].get(`${h}:${v}`) ?? 0) + 1)));
  count(0);
  for (let h = 1; h <= iterations; h++) {
    const dict = new Map<string, number>();
    labels = labels.map((ls, i) => Int32Array.from(ls, (v, u) => {
      const sig = `${v}|${nbrs[i][u].map((w) => ls[w]).sort((a, b) => a - b).join(',')}`;
      let id = dict.get(sig);
      if (id === undefined) dict.set(sig, (id = dict.size));
      return id;
    }));
    count(h);
  }
  return counts;
}

/** WL subtree kernel K_ij = ⟨φ_i, φ_j⟩ of wlSubtreeFeatures' count vectors, [n, n] row-major (float64). */
export function wlSubtreeKernel(graphs: Graph[], featureDim: number, iterations: number): Float64Array {
  const phi = wlSubtreeFeatures(graphs, featureDim, iterations);
  const n = graphs.length;
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const [a, b] = phi[i].size <= phi[j].size ? [phi[i], phi[j]] : [phi[j], phi[i]];
      let s = 0;
      for (const [k, v] of a) s += v * (b.get(k) ?? 0);
      K[i * n + j] = K[j * n + i] = s;
    }
  }
  return K;
}
