import type { LibsvmClass } from 'libsvm-js';
import { foldSplit, stratifiedFolds } from './cv.js';
import { UserError } from './errors.js';
import { requireCjs } from './node-require.js';

let Libsvm: LibsvmClass | null = null;

/**
 * Load libsvm (libsvm-js: libsvm compiled to WebAssembly) once; every other function here needs it loaded. Loaded on
 * demand rather than at import because the wasm compile costs time that most commands never need, and Emscripten's
 * notice that Node cannot stream-compile a local file (it falls back to a buffer, harmlessly) is dropped.
 */
export async function loadSvm(): Promise<void> {
  if (Libsvm) return;
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    if (!/streaming compile failed|falling back to ArrayBuffer/.test(String(a[0]))) warn(...a);
  };
  try {
    Libsvm = await requireCjs<Promise<LibsvmClass>>('libsvm-js');
  } finally {
    console.warn = warn;
  }
}

function lib(): LibsvmClass {
  if (!Libsvm) throw new Error('svm: call `await loadSvm()` before fitting an SVM');
  return Libsvm;
}

/** A C-SVM trained on a precomputed kernel; predicts from cross-kernel rows K(x, train). */
export interface PrecomputedSvm {
  /** Predicted labels of the rows K_* [m, train.length] (row-major). */
  predict(Kstar: ArrayLike<number>, m: number): Int32Array;
  /** libsvm's model text (rho, one-vs-one coefficients y_i α_i, support vectors as 1-based training serials). */
  model: string;
  free(): void;
}

/**
 * C-SVM (libsvm's C-SVC, one-vs-one voting over class pairs for more than two classes) on a precomputed kernel:
 * for every class pair, max_α Σα_i − ½ Σ_ij α_i α_j y_i y_j K_ij subject to 0 ≤ α_i ≤ C, Σ α_i y_i = 0, with decision
 * value f(x) = Σ_i y_i α_i K(x, x_i) − ρ. K is [s, s] row-major over the training samples, labels integers.
 */
export function fitPrecomputedSvm(K: ArrayLike<number>, s: number, labels: ArrayLike<number>, C: number): PrecomputedSvm {
  return fitRows(precomputedRows(K, s), s, labels, C);
}

/**
 * libsvm's precomputed format for K [s, s]: row i = [i + 1, K_i0, …, K_i,s−1] (column 0 the 1-based serial), views
 * on one Float64Array. libsvm-js copies each row with `new Float64Array(row)`, a memory copy for a typed array (a
 * boxed array of 3,700 numbers per row, as NCI1's folds have, costs ~0.3 s per fit to build and as much to convert),
 * and the same rows serve every C of a grid.
 */
function precomputedRows(K: ArrayLike<number>, s: number): Float64Array[] {
  const buf = new Float64Array(s * (s + 1));
  return Array.from({ length: s }, (_, i) => {
    const row = buf.subarray(i * (s + 1), (i + 1) * (s + 1));
    row[0] = i + 1;
    copyRow(K, i, s, row);
    return row;
  });
}

/** Row i of K [·, s] into dst[1 … s] (dst[0] is libsvm's serial): a memory copy when K is a Float64Array. */
function copyRow(K: ArrayLike<number>, i: number, s: number, dst: Float64Array): void {
  if (K instanceof Float64Array) dst.set(K.subarray(i * s, (i + 1) * s), 1);
  else for (let j = 0; j < s; j++) dst[j + 1] = K[i * s + j];
}

function fitRows(rows: Float64Array[], s: number, labels: ArrayLike<number>, C: number): PrecomputedSvm {
  if (!(C > 0)) throw new UserError(`svm: C must be > 0; got ${C}`);
  const SVM = lib();
  const svm = new SVM({ type: SVM.SVM_TYPES.C_SVC, kernel: SVM.KERNEL_TYPES.PRECOMPUTED, cost: C, quiet: true });
  svm.train(rows as unknown as number[][], Array.from(labels));
  return {
    predict(Kstar: ArrayLike<number>, m: number): Int32Array {
      const out = new Int32Array(m);
      const r = new Float64Array(s + 1);
      for (let i = 0; i < m; i++) {
        copyRow(Kstar, i, s, r);
        out[i] = svm.predictOne(r as unknown as number[]);
      }
      return out;
    },
    model: svm.serializeModel(),
    free: () => svm.free(),
  };
}

/** Accuracy of a C-SVM fitted on K[train, train] and tested on K[test, train] (K [n, n] over all samples). */
export function svmAccuracy(K: ArrayLike<number>, n: number, labels: ArrayLike<number>, train: number[], test: number[], C: number): number {
  return svmAccuracies(K, n, labels, train, test, [C])[0];
}

/** svmAccuracy for every C of a grid, the kernel blocks gathered once. */
export function svmAccuracies(K: ArrayLike<number>, n: number, labels: ArrayLike<number>, train: number[], test: number[], cs: number[]): number[] {
  const s = train.length, m = test.length;
  const Ktr = new Float64Array(s * s), Kte = new Float64Array(m * s);
  train.forEach((a, i) => train.forEach((b, j) => (Ktr[i * s + j] = K[a * n + b])));
  test.forEach((a, i) => train.forEach((b, j) => (Kte[i * s + j] = K[a * n + b])));
  const y = train.map((i) => labels[i]);
  const rows = precomputedRows(Ktr, s);
  return cs.map((C) => {
    const svm = fitRows(rows, s, y, C);
    try {
      const p = svm.predict(Kte, m);
      let hit = 0;
      test.forEach((t, i) => (hit += p[i] === labels[t] ? 1 : 0));
      return hit / m;
    } finally {
      svm.free();
    }
  });
}

/** Half-decade grid of C from 10⁻² to 10⁴ (13 values). */
export const SVM_C_GRID = Array.from({ length: 13 }, (_, i) => 10 ** (-2 + i / 2));

/**
 * Mean held-out accuracy of every C of `grid` over `innerFolds` stratified folds (seeded by `seed`) of the training
 * indices: score[c] = (1/F) Σ_f acc(fit on train \ fold f, test on fold f; C = grid[c]). K is a kernel [n, n].
 */
export function innerCvAccuracies(K: ArrayLike<number>, n: number, labels: ArrayLike<number>, train: number[], grid: number[], innerFolds: number, seed: string): number[] {
  const inner = stratifiedFolds(train.map((i) => labels[i]), innerFolds, seed);
  const score = new Array<number>(grid.length).fill(0);
  for (let f = 0; f < innerFolds; f++) {
    const itr = train.filter((_, j) => inner[j] !== f), ite = train.filter((_, j) => inner[j] === f);
    svmAccuracies(K, n, labels, itr, ite, grid).forEach((a, g) => (score[g] += a / innerFolds));
  }
  return score;
}

/**
 * C-SVM classifier with C chosen by inner cross-validation: the training indices are split into `innerFolds` seeded
 * stratified folds, every C of the grid is scored by its mean held-out accuracy over them, and the best (ties: the
 * smaller C, the wider margin) is refitted on all training indices and scored on the test indices. K is a kernel
 * [n, n] over all samples. Returns the test accuracy, the C chosen and its inner accuracy.
 */
export function svmClassifierCv(K: ArrayLike<number>, n: number, labels: ArrayLike<number>, train: number[], test: number[], grid: number[] = SVM_C_GRID, seed: number | string = 0, innerFolds = 3): { accuracy: number; C: number; innerAccuracy: number } {
  const score = innerCvAccuracies(K, n, labels, train, grid, innerFolds, `svm/${seed}`);
  let best = 0;
  score.forEach((v, g) => { if (v > score[best]) best = g; });
  return { accuracy: svmAccuracy(K, n, labels, train, test, grid[best]), C: grid[best], innerAccuracy: score[best] };
}

/**
 * Binary decision values f(x) = Σ_i (y_i α_i) K(x, x_i) − ρ read from libsvm's model text (two classes only; f > 0
 * predicts the model's first label). K_* [m, s] holds the kernel rows against the s training samples.
 */
export function svmDecisionValues(model: string, Kstar: ArrayLike<number>, m: number, s: number): { values: Float64Array; rho: number; supportVectors: number[]; coefficients: number[]; labels: number[] } {
  const lines = model.trim().split('\n');
  const field = (k: string) => lines.find((l) => l.startsWith(k + ' '))!.slice(k.length + 1).trim().split(/\s+/).map(Number);
  if (field('nr_class')[0] !== 2) throw new Error('svmDecisionValues: two-class models only');
  const rho = field('rho')[0];
  const sv = lines.slice(lines.indexOf('SV') + 1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/));
  const coefficients = sv.map((p) => Number(p[0]));
  const supportVectors = sv.map((p) => Number(p[1].split(':')[1]) - 1);
  const values = new Float64Array(m);
  for (let i = 0; i < m; i++) values[i] = supportVectors.reduce((a, j, k) => a + coefficients[k] * Kstar[i * s + j], 0) - rho;
  return { values, rho, supportVectors, coefficients, labels: field('label') };
}

/**
 * Scores of outer fold f for every C of `cs`: acc[c] = accuracy of the C-SVM fitted on the other folds and tested on
 * fold f; inner[c] = its mean accuracy over `innerFolds` stratified inner folds of the training part (seeded
 * `${seed}/inner/${f}`), what nested CV selects on. K is a kernel [n, n] over all samples, fold[i] sample i's fold.
 */
export function foldScores(K: ArrayLike<number>, n: number, labels: ArrayLike<number>, fold: Int32Array, f: number, cs: number[], innerFolds: number, seed: number | string): { acc: number[]; inner: number[] } {
  const { train, test } = foldSplit(fold, f);
  return { acc: svmAccuracies(K, n, labels, train, test, cs), inner: innerCvAccuracies(K, n, labels, train, cs, innerFolds, `${seed}/inner/${f}`) };
}
