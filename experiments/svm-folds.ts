import { runJobPool } from '../lib/job-pool.js';
import { foldScores } from '../lib/svm.js';
import type { FoldJob } from './svm-folds-worker.js';

/**
 * lib/svm.ts foldScores for outer folds 0..folds−1 of a kernel K [n, n], on `workers` threads: per fold f,
 * acc[c] (fitted on the other folds, tested on f) and inner[c] (inner-CV mean on f's training part) for every C.
 * The kernel is moved into a SharedArrayBuffer once (a fold job then carries a view, not a 135 MB copy for NCI1);
 * libsvm is deterministic, so the scores equal the serial ones whatever the number of workers. `onFold` hears the
 * number of folds done. Needs `await loadSvm()` before a serial (workers ≤ 1) call.
 */
export async function scoreFolds(K: Float64Array, n: number, labels: Int32Array, fold: Int32Array, folds: number, cs: number[], innerFolds: number, seed: number, workers: number, onFold?: (done: number) => void): Promise<{ acc: number[]; inner: number[] }[]> {
  if (workers <= 1) {
    return Array.from({ length: folds }, (_, f) => {
      const s = foldScores(K, n, labels, fold, f, cs, innerFolds, seed);
      onFold?.(f + 1);
      return s;
    });
  }
  const shared = K.buffer instanceof SharedArrayBuffer ? K : new Float64Array(new SharedArrayBuffer(K.byteLength));
  if (shared !== K) shared.set(K);
  const jobs: FoldJob[] = Array.from({ length: folds }, (_, f) => ({ K: shared, n, labels, fold, f, cs, innerFolds, seed }));
  let done = 0;
  return runJobPool<FoldJob, { acc: number[]; inner: number[] }>(new URL('./svm-folds-worker.js', import.meta.url), jobs, workers, (_k, fr) => {
    if (fr === 1) onFold?.(++done);
  });
}
