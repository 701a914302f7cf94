/**
 * Worker thread of experiments/svm-folds.ts: one job = one outer fold's SVM scores (lib/svm.ts foldScores) on a
 * kernel the main thread shares. Messages follow lib/job-pool.ts: {job} → {type:'done', result} or {type:'error'}.
 */
import { parentPort } from 'node:worker_threads';
import { foldScores, loadSvm } from '../lib/svm.js';

/** One outer fold of a kernel [n, n] (K a view on a SharedArrayBuffer). */
export interface FoldJob {
  K: Float64Array;
  n: number;
  labels: Int32Array;
  fold: Int32Array;
  f: number;
  cs: number[];
  innerFolds: number;
  seed: number;
}

const port = parentPort!;
port.on('message', async ({ job }: { job: FoldJob }) => {
  try {
    await loadSvm();
    port.postMessage({ type: 'done', result: foldScores(job.K, job.n, job.labels, job.fold, job.f, job.cs, job.innerFolds, job.seed) });
  } catch (e) {
    port.postMessage({ type: 'error', message: (e as Error).message, name: (e as Error).name, stack: (e as Error).stack });
  }
});
