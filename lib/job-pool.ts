import { Worker } from 'node:worker_threads';
import { UserError } from './errors.js';

/**
 * Run independent jobs on a pool of worker threads, each worker running `workerUrl` (a module that answers
 * {job} with {type:'progress', fraction} messages and one {type:'done', result} or {type:'error', ...}). Jobs
 * are handed out in the order given (put the longest first), a new one as soon as a worker is free, so two
 * cores stay busy; each job is computed exactly as it would be alone, so results do not depend on the number
 * of workers. Returns results in job order; `onProgress(i, fraction)` reports job i's own progress. Each worker's
 * native engine runs one thread (NTK_NATIVE_THREADS, unless set): left at one thread per core in every worker, two
 * workers of the MNIST study kept four threads busy on two cores (load 2.9–3.7 over the run, its kernel and fit
 * stages 1.3–1.6× slower); and a share that depended on the number of workers would not keep results independent
 * of it (ONNX Runtime's training products and fits differ in their last bits between 1 and 2 intra-op threads).
 */
export async function runJobPool<J, R>(workerUrl: URL, jobs: J[], workers: number, onProgress: (job: number, fraction: number) => void): Promise<R[]> {
  const results: R[] = new Array(jobs.length);
  let next = 0;
  const pool: Worker[] = [];
  const runOne = (w: Worker): Promise<void> => new Promise((resolve, reject) => {
    if (next >= jobs.length) return resolve();
    const i = next++;
    const onMessage = (m: Record<string, unknown>) => {
      if (m.type === 'progress') onProgress(i, m.fraction as number);
      else if (m.type === 'done') {
        w.off('message', onMessage);
        results[i] = m.result as R;
        onProgress(i, 1);
        runOne(w).then(resolve, reject);
      } else if (m.type === 'error') {
        w.off('message', onMessage);
        reject(m.name === 'UserError' ? new UserError(String(m.message)) : new Error(`worker job ${i}: ${m.message}\n${m.stack}`));
      }
    };
    w.on('message', onMessage);
    w.postMessage({ job: jobs[i] });
  });
  try {
    const runs: Promise<void>[] = [];
    for (let k = 0; k < Math.min(workers, jobs.length); k++) {
      const w = new Worker(workerUrl, { env: { ...process.env, NTK_NATIVE_THREADS: process.env.NTK_NATIVE_THREADS ?? '1' } });
      pool.push(w);
      runs.push(new Promise<void>((resolve, reject) => {
        w.once('error', reject);
        runOne(w).then(resolve, reject);
      }));
    }
    await Promise.all(runs);
    return results;
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
