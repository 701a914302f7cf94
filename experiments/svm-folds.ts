import { runJobPool } from '../lib/job-pool.js';
import { foldScores } from '../lib/svm.js';
import type { FoldJob } from './svm-folds-worker.js';

/** One fold's scores for every C: acc[c] tested on the fold, inner[c] the inner-CV mean on its training part. */
export type FoldScores = { acc: number[]; inner: number[] };

/**
 * lib/svm.ts foldScores for every kernel Ks[k] [n, n] and outer fold f = 0..folds−1, on `workers` threads: result
 * [k][f] holds acc[c] (fitted on the other folds, tested on f) and inner[c] (inner-CV mean on f's training part) for
 * every C. The (kernel, fold) pairs are the jobs, so a machine with more threads than folds keeps them all busy on a
 * grid of kernels (12 architectures × 10 folds = 120 jobs). Each kernel is moved into a SharedArrayBuffer once (a
 * job then carries a view, not a 135 MB copy for NCI1); libsvm is deterministic, so the scores equal the serial ones
 * whatever the number of workers. `onFold` hears the number of (kernel, fold) jobs done. Needs `await loadSvm()`
 * before a serial (workers ≤ 1) call.
 */
export async function scoreFolds(Ks: Float64Array[], n: number, labels: Int32Array, fold: Int32Array, folds: number, cs: number[], innerFolds: number, seed: number, workers: number, onFold?: (done: number) => void): Promise<FoldScores[][]> {
  let done = 0;
  if (workers <= 1) {
    return Ks.map((K) => Array.from({ length: folds }, (_, f) => {
      const s = foldScores(K, n, labels, fold, f, cs, innerFolds, seed);
      onFold?.(++done);
      return s;
    }));
  }
  const jobs: FoldJob[] = Ks.flatMap((K) => {
    const shared = K.buffer instanceof SharedArrayBuffer ? K : new Float64Array(new SharedArrayBuffer(K.byteLength));
    if (shared !== K) shared.set(K);
    return Array.from({ length: folds }, (_, f) => ({ K: shared, n, labels, fold, f, cs, innerFolds, seed }));
  });
  const flat = await runJobPool<FoldJob, FoldScores>(new URL('../experiments/svm-folds-worker.js', import.meta.url), jobs, workers, (_k, fr) => {
    if (fr === 1) onFold?.(++done);
  });
  return Ks.map((_, k) => flat.slice(k * folds, (k + 1) * folds));
}
