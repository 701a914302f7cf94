import { readTextFile, sourcePath } from './files.js';
import { UserError } from './errors.js';
import { NormalRng } from './rng.js';
import type { Graph, GraphSamples } from './samples.js';

export type GraphDataset = GraphSamples & { source: string; classes: number; tags: number[] };

/** Undirected edge list (both directions, no self loops, no duplicates) from neighbour lists, in first-seen order. */
function edgesFromNeighbours(nodes: number, nbrs: number[][]): Int32Array {
  // The pairs seen in a bitmap (a Set took ~6 s of COLLAB's 2.5·10⁷ pairs), or a Set for graphs too large for one.
  const bits = nodes <= 4096 ? new Uint8Array(nodes * nodes) : null;
  const set = bits ? null : new Set<number>();
  let total = 0;
  for (const list of nbrs) total += list.length;
  const out = new Int32Array(2 * 2 * total);
  let m = 0;
  for (let u = 0; u < nodes; u++) {
    for (const v of nbrs[u]) {
      if (u === v) continue;
      for (let d = 0; d < 2; d++) {
        const x = d ? v : u, y = d ? u : v, k = x * nodes + y;
        if (bits ? bits[k] : set!.has(k)) continue;
        if (bits) bits[k] = 1;
        else set!.add(k);
        out[m++] = x;
        out[m++] = y;
      }
    }
  }
  return out.slice(0, m);
}

/**
 * Read the text format of the GIN and GNTK code (Xu et al. 2019, Du et al. 2019): first line the number of
 * graphs; per graph a line "n label", then n lines "tag degree nbr_1 … nbr_degree [attributes…]". Node
 * features are the one-hot encoding of the tags (the dataset's sorted distinct tags); labels are mapped to
 * 0..C−1 in sorted order of the original labels. Every malformed line is a UserError naming file and line.
 */
export function loadGraphFile(file: string, flag: string): GraphDataset {
  const text = readTextFile(file, `${flag} graphs:${file}`);
  const lines = text.split(/\r?\n/);
  let ln = 0;
  const next = (what: string): number[] => {
    while (ln < lines.length && lines[ln].trim() === '') ln++;
    if (ln >= lines.length) throw new UserError(`${flag} graphs:${file}: unexpected end of file, expected ${what}`);
    const parts = lines[ln].trim().split(/\s+/);
    const nums = parts.map(Number);
    if (nums.some((v) => !Number.isFinite(v))) throw new UserError(`${flag} graphs:${file} line ${ln + 1}: expected ${what}, got '${lines[ln].trim().slice(0, 60)}'`);
    ln++;
    return nums;
  };
  const [count] = next('the number of graphs');
  if (!(Number.isInteger(count) && count >= 1)) throw new UserError(`${flag} graphs:${file} line 1: expected a positive number of graphs, got ${count}`);
  const raw: { nodes: number; label: number; tags: number[]; nbrs: number[][] }[] = [];
  for (let g = 0; g < count; g++) {
    const head = next(`"nodes label" of graph ${g + 1}`);
    const headLine = ln;
    if (head.length < 2 || !Number.isInteger(head[0]) || head[0] < 1) throw new UserError(`${flag} graphs:${file} line ${headLine}: expected "nodes label" with nodes ≥ 1`);
    const nodes = head[0];
    const tags: number[] = [];
    const nbrs: number[][] = [];
    for (let u = 0; u < nodes; u++) {
      const row = next(`"tag degree neighbours…" of node ${u} of graph ${g + 1}`);
      const deg = row[1];
      if (row.length < 2 || !Number.isInteger(deg) || deg < 0 || row.length < 2 + deg) {
        throw new UserError(`${flag} graphs:${file} line ${ln}: expected "tag degree" and degree neighbour indices`);
      }
      const list = row.slice(2, 2 + deg);
      if (list.some((v) => !Number.isInteger(v) || v < 0 || v >= nodes)) {
        throw new UserError(`${flag} graphs:${file} line ${ln}: neighbour index out of range 0..${nodes - 1}`);
      }
      tags.push(row[0]);
      nbrs.push(list);
    }
    raw.push({ nodes, label: head[1], tags, nbrs });
  }
  const tagList = [...new Set(raw.flatMap((r) => r.tags))].sort((a, b) => a - b);
  const labelList = [...new Set(raw.map((r) => r.label))].sort((a, b) => a - b);
  const tagIndex = new Map(tagList.map((t, i) => [t, i]));
  const F = tagList.length;
  const graphs: Graph[] = raw.map((r) => {
    const features = new Float32Array(r.nodes * F);
    r.tags.forEach((t, u) => (features[u * F + tagIndex.get(t)!] = 1));
    return { nodes: r.nodes, features, edges: edgesFromNeighbours(r.nodes, r.nbrs), label: labelList.indexOf(r.label) };
  });
  return {
    kind: 'graphs', graphs, n: graphs.length, featureDim: F, labels: Int32Array.from(graphs.map((g) => g.label)),
    source: `graphs:${sourcePath(file)}`, classes: labelList.length, tags: tagList,
  };
}

/**
 * Seeded synthetic graph classification data: class 0 = Erdős–Rényi graphs G(n, 3/(n−1)) (mean degree 3,
 * few triangles), class 1 = Watts–Strogatz small worlds (ring lattice of degree 4, 10 % of edges rewired:
 * many triangles). n uniform in [10, 20]; classes alternate. Node features: one-hot of min(degree, 7), F = 8.
 */
export function syntheticGraphs(count: number, seed: number): GraphDataset {
  if (!(Number.isInteger(count) && count >= 2)) throw new UserError(`--data synthetic-graphs:N: expected N ≥ 2, got ${count}`);
  const rng = new NormalRng(`synthetic-graphs/${seed}`);
  const F = 8;
  const graphs: Graph[] = [];
  for (let g = 0; g < count; g++) {
    const label = g % 2;
    const n = 10 + Math.floor(rng.uniform() * 11);
    const adj: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
    const link = (u: number, v: number) => {
      if (u !== v) {
        adj[u].add(v);
        adj[v].add(u);
      }
    };
    if (label === 0) {
      const p = 3 / (n - 1);
      for (let u = 0; u < n; u++) for (let v = u + 1; v < n; v++) if (rng.uniform() < p) link(u, v);
    } else {
      for (let u = 0; u < n; u++) {
        for (const d of [1, 2]) {
          let v = (u + d) % n;
          if (rng.uniform() < 0.1) v = Math.floor(rng.uniform() * n);
          link(u, v);
        }
      }
    }
    const features = new Float32Array(n * F);
    const nbrs = adj.map((s) => [...s].sort((a, b) => a - b));
    nbrs.forEach((l, u) => (features[u * F + Math.min(l.length, F - 1)] = 1));
    graphs.push({ nodes: n, features, edges: edgesFromNeighbours(n, nbrs), label });
  }
  return {
    kind: 'graphs', graphs, n: count, featureDim: F, labels: Int32Array.from(graphs.map((g) => g.label)),
    source: `synthetic-graphs:${count} (Erdős–Rényi vs Watts–Strogatz, seed ${seed})`, classes: 2, tags: [],
  };
}

/**
 * The dataset with node features replaced by the one-hot node degree, as the GIN and GNTK papers do for the social
 * networks (IMDB, COLLAB), whose nodes carry no tags: feature k of node u is 1 when deg(u) is the k-th smallest of
 * the degrees that occur in the dataset (F = their number). Degrees count distinct neighbours other than the node
 * itself (the edge list's convention: self loops dropped). Labels, edges and tags are kept.
 */
export function withDegreeFeatures(d: GraphDataset): GraphDataset {
  const degrees = d.graphs.map((g) => {
    const deg = new Int32Array(g.nodes);
    for (let t = 0; t < g.edges.length; t += 2) deg[g.edges[t]]++;
    return deg;
  });
  const list = [...new Set(degrees.flatMap((x) => Array.from(x)))].sort((a, b) => a - b);
  const index = new Map(list.map((v, i) => [v, i]));
  const F = list.length;
  const graphs = d.graphs.map((g, i) => {
    const features = new Float32Array(g.nodes * F);
    degrees[i].forEach((v, u) => (features[u * F + index.get(v)!] = 1));
    return { ...g, features };
  });
  return { ...d, graphs, featureDim: F, source: `${d.source} (one-hot degree features)` };
}
