import { NormalRng } from './rng.js';

/**
 * Seeded stratified k-fold assignment: within each class the samples are permuted (seed "folds/SEED/c") and dealt
 * round-robin to the folds, continuing where the previous class stopped, so every fold gets ⌊n_c/k⌋ or ⌈n_c/k⌉ of
 * each class and fold sizes differ by at most one. Returns the fold (0..k−1) of every sample.
 */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, seed: number | string): Int32Array {
  const fold = new Int32Array(labels.length);
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  let next = 0;
  for (const c of classes) {
    const idx = Array.from(labels).flatMap((l, i) => (l === c ? [i] : []));
    const perm = new NormalRng(`folds/${seed}/${c}`).permutation(idx.length);
    for (const p of perm) fold[idx[p]] = next++ % k;
  }
  return fold;
}

/** Indices where `fold` equals (test) or differs from (train) f. */
export function foldSplit(fold: Int32Array, f: number): { train: number[]; test: number[] } {
  const train: number[] = [], test: number[] = [];
  fold.forEach((v, i) => (v === f ? test : train).push(i));
  return { train, test };
}

/** The [rows, cols] submatrix of a row-major matrix with `ld` columns. */
export function submatrix(K: ArrayLike<number>, ld: number, rows: number[], cols: number[]): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => cols.forEach((c, j) => (out[i * cols.length + j] = K[r * ld + c])));
  return out;
}

/** The indices start, start + 1, …, start + count − 1. */
export const range = (start: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i);

/** Cosine-normalised kernel K_ij/√(K_ii K_jj) (as the GNTK paper does before its SVM). */
export function normaliseKernel(K: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = K[i * n + j] / Math.sqrt(K[i * n + i] * K[j * n + j]);
  return out;
}
