/**
 * Worker thread of the parallel GNTK recursion (experiments/gntk-parallel.ts): one job = a set of rows of the
 * recursion, written straight into the per-block readouts that the main thread shares with every worker.
 * Messages follow lib/job-pool.ts: {job} → {type:'progress', fraction}… then {type:'done'} or {type:'error'}.
 */
import { parentPort } from 'node:worker_threads';
import { type GntkConfig, type GntkMemo, gntkMemo, gntkReadoutRows } from '../models/gnn-analytic.js';
import type { Graph } from '../lib/samples.js';

/**
 * One job: rows of the recursion of g1 against g2 (g2 null: g1 against itself), outputs as shared buffers. Jobs
 * of one run carry the same `run` token: a worker keeps the first job's graph objects and per-graph memo for the
 * later ones (their per-graph work is then done once per worker, not once per job).
 */
export interface GntkRowsJob {
  run: string;
  cfg: GntkConfig;
  g1: Graph[];
  g2: Graph[] | null;
  featureDim: number;
  rows: Int32Array;
  pairs: number;
  q: SharedArrayBuffer[];
  t: SharedArrayBuffer[];
}

let current: { run: string; g1: Graph[]; g2: Graph[] | null; memo: GntkMemo } | null = null;

const port = parentPort!;
port.on('message', ({ job }: { job: GntkRowsJob }) => {
  try {
    if (current?.run !== job.run) current = { run: job.run, g1: job.g1, g2: job.g2, memo: gntkMemo() };
    const { g1, g2, memo } = current;
    const out = { q: job.q.map((b) => new Float64Array(b)), t: job.t.map((b) => new Float64Array(b)) };
    let done = 0, last = 0;
    gntkReadoutRows(job.cfg, g1, g2 ?? g1, g2 === null, job.featureDim, job.rows, out, (pairs) => {
      done += pairs;
      const now = performance.now();
      if (now - last > 250) {
        last = now;
        port.postMessage({ type: 'progress', fraction: done / job.pairs });
      }
    }, memo);
    port.postMessage({ type: 'done', result: null });
  } catch (e) {
    port.postMessage({ type: 'error', message: (e as Error).message, name: (e as Error).name, stack: (e as Error).stack });
  }
});
