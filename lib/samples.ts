/**
 * Inputs of a kernel computation. Vector and image models take `vectors` (n samples of a fixed shape,
 * row-major in one Float32Array); graph models take `graphs` (n graphs of different sizes).
 */
export interface VectorSamples {
  kind: 'vectors';
  x: Float32Array;
  n: number;
  /** Shape of one sample, e.g. [784] or [28, 28, 1]. */
  sampleShape: number[];
  labels?: Int32Array;
  source?: string;
  /** Index of each sample in its source (e.g. the digit's position in the mnist package); absent: 0..n−1. */
  indices?: Int32Array;
}

/**
 * One graph: node features [nodes, featureDim] row-major and an undirected edge list stored as directed
 * pairs in both directions (u0, v0, u1, v1, ...), no self loops (models add the self term themselves).
 */
export interface Graph {
  nodes: number;
  features: Float32Array;
  edges: Int32Array;
  label: number;
}

export interface GraphSamples {
  kind: 'graphs';
  graphs: Graph[];
  n: number;
  featureDim: number;
  labels?: Int32Array;
  source?: string;
  /** Index of each graph in its source; absent: 0..n−1. */
  indices?: Int32Array;
}

export type Samples = VectorSamples | GraphSamples;

/** Vector samples from a flat array (the common case in library use and tests). */
export const vectors = (x: Float32Array, n: number, sampleShape?: number[]): VectorSamples => ({
  kind: 'vectors', x, n, sampleShape: sampleShape ?? [x.length / Math.max(n, 1)],
});

export const sampleSize = (s: VectorSamples): number => s.sampleShape.reduce((p, d) => p * d, 1);

/** Samples [start, start + count), sharing memory where possible. */
export function sliceSamples<S extends Samples>(s: S, start: number, count: number): S {
  if (s.kind === 'vectors') {
    const d = sampleSize(s);
    return { ...s, x: s.x.subarray(start * d, (start + count) * d), n: count, labels: s.labels?.subarray(start, start + count), indices: s.indices?.subarray(start, start + count) };
  }
  return { ...s, graphs: s.graphs.slice(start, start + count), n: count, labels: s.labels?.subarray(start, start + count), indices: s.indices?.subarray(start, start + count) };
}

/** Vector samples a followed by b (same sample shape; labels are dropped). */
export function joinVectors(a: VectorSamples, b: VectorSamples): VectorSamples {
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  return { kind: 'vectors', x, n: a.n + b.n, sampleShape: a.sampleShape.slice() };
}

/** The samples at the given indices, in that order (copies; labels follow). */
export function gatherSamples<S extends Samples>(s: S, idx: ArrayLike<number>): S {
  const labels = s.labels ? Int32Array.from(idx, (i) => s.labels![i]) : undefined;
  const src = s.indices;
  const indices = src ? Int32Array.from(idx, (i) => src[i]) : Int32Array.from(idx);
  if (s.kind === 'vectors') {
    const d = sampleSize(s);
    const x = new Float32Array(idx.length * d);
    for (let r = 0; r < idx.length; r++) x.set(s.x.subarray(idx[r] * d, (idx[r] + 1) * d), r * d);
    return { ...s, x, n: idx.length, labels, indices };
  }
  return { ...s, graphs: Array.from(idx, (i) => s.graphs[i]), n: idx.length, labels, indices };
}
