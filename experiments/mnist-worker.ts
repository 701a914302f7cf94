/**
 * Worker thread of the MNIST study: owns its own tfjs backend (one core's worth of work) and runs whole
 * (model, seed) jobs sent by lib/job-pool. Messages: {job, backend} → {type:'progress', fraction}* then
 * {type:'done', result} or {type:'error', name, message, stack}.
 */
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../lib/backend.js';
import { type MnistJob, runMnistJob } from './mnist-job.js';

const port = parentPort!;
let ready: Promise<string> | null = null;
port.on('message', async (m: { job: MnistJob & { backend: string } }) => {
  try {
    ready ??= initBackend(m.job.backend);
    await ready;
    let last = 0;
    const result = runMnistJob(m.job, (fraction) => {
      const now = Date.now();
      if (now - last > 500) {
        last = now;
        port.postMessage({ type: 'progress', fraction });
      }
    });
    port.postMessage({ type: 'done', result });
  } catch (e) {
    const err = e as Error;
    port.postMessage({ type: 'error', name: err.name, message: err.message, stack: err.stack });
  }
});
