import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../lib/errors.js';
import { noProgress } from '../lib/progress.js';
import { type Samples, sliceSamples } from '../lib/samples.js';
import type { Model } from '../models/model.js';
import { type Param, paramTensors } from '../models/params.js';
import { type KernelInfo, type KernelOptions, checkFiniteKernel, planKernel, planRules } from './empirical.js';
import { type Kernel, kernelShape, kernelSize, placeTile } from './kernel-types.js';
import { type StageTiming, type TileFeatures, newTiming } from './structured.js';

/** One worker thread and its pending requests. */
class KernelWorker {
  readonly w: Worker;
  private pending = new Map<string, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }[]>();
  /** Blocks this worker holds. */
  readonly has = new Set<number>();

  /** `nativeThreads`: the worker's share of the cores for the native engine's thread pool. */
  constructor(nativeThreads: number) {
    this.w = new Worker(new URL('../jacobian/kernel-worker.js', import.meta.url), { env: { ...process.env, NTK_NATIVE_THREADS: String(nativeThreads) } });
    this.w.on('message', (m: Record<string, unknown>) => {
      if (m.type === 'error') {
        const err = m.name === 'UserError' ? new UserError(String(m.message)) : new Error(`kernel worker: ${m.message}\n${m.stack}`);
        for (const list of this.pending.values()) list.forEach((p) => p.reject(err));
        this.pending.clear();
        return;
      }
      const key = `${m.type}:${m.block ?? m.pair ?? ''}`;
      const list = this.pending.get(key);
      const p = list?.shift();
      if (list && list.length === 0) this.pending.delete(key);
      p?.resolve(m);
    });
    this.w.on('error', (e) => {
      for (const list of this.pending.values()) list.forEach((p) => p.reject(e));
      this.pending.clear();
    });
  }

  request(msg: Record<string, unknown>, replyKey: string, transfer: ArrayBuffer[] = []): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const list = this.pending.get(replyKey) ?? [];
      list.push({ resolve, reject });
      this.pending.set(replyKey, list);
      this.w.postMessage(msg, transfer);
    });
  }

  send(msg: Record<string, unknown>): void {
    this.w.postMessage(msg);
  }
}

/**
 * The structured NTK computed on `workers` threads, each with its own tfjs backend. One queue of jobs, handed
 * to whichever thread is idle: the features of a sample block, or a tile pair whose two blocks are ready
 * (preferring pairs whose blocks the thread already holds, then the earliest), so that products start while
 * other blocks' features are still being computed. A thread receives each block it lacks once, and drops
 * a block once no pending pair needs it. The main thread places the tiles (mirrored for x2 = x1). Every tile is
 * computed by the same code as in one thread, so the kernel is bit-identical to `empiricalKernel` with the
 * same tile size. wasm runs one thread per backend instance under Node, so this is how the tool uses several cores.
 */
export async function parallelStructuredKernel(
  model: Model, params: Param[], x1: Samples, x2: Samples | null, opts: KernelOptions & { workers: number; backend: string },
): Promise<{ kernel: Kernel; info: KernelInfo }> {
  const { mode, K, symmetric, b, tile, rowTiles, colTiles, pairs } = opts.plan?.impl === 'structured' ? opts.plan : planKernel(model, x1, x2, { ...opts, kind: 'ntk', implementation: 'structured' });
  const ps = paramTensors(params);
  const rules = planRules(model, ps, x1, tile, opts.rule);
  ps.forEach((p) => p.dispose());
  const colId = (c: number) => (symmetric ? c : rowTiles + c);
  const blockSamples = (id: number) => {
    const s = id < rowTiles ? x1 : b;
    const t = id < rowTiles ? id : id - rowTiles;
    const part = sliceSamples(s, t * tile, Math.min(tile, s.n - t * tile));
    return part.kind === 'vectors' ? { ...part, x: part.x.slice() } : part;
  };
  const blockIds = symmetric ? [...Array(rowTiles).keys()] : [...Array(rowTiles + colTiles).keys()];
  const n = Math.max(1, Math.min(opts.workers, Math.max(blockIds.length, pairs.length)));
  // Each thread's native engine gets its share of the cores, so that n threads do not oversubscribe them.
  const workers = Array.from({ length: n }, () => new KernelWorker(Math.max(1, Math.floor(availableParallelism() / n))));
  const bar = (opts.progress ?? noProgress)(`ntk kernel [structured, ${n} workers]`, blockIds.length + pairs.length);
  const timing: StageTiming = newTiming();
  const out = new Float32Array(kernelSize(mode, x1.n, b.n, K));
  const feats = new Map<number, TileFeatures>();
  const todoBlocks = [...blockIds];
  const todoPairs = pairs.map(([r, c], pair) => ({ pair, r, c, ids: [r, colId(c)] }));
  // Pairs not yet finished per block: a block is dropped from the threads once its count reaches 0.
  const openPairs = new Map<number, number>();
  for (const p of todoPairs) for (const id of new Set(p.ids)) openPairs.set(id, (openPairs.get(id) ?? 0) + 1);
  let done = 0;
  try {
    await Promise.all(workers.map((w) => w.request({ type: 'init', backend: opts.backend, config: model.config, params, rules, K }, 'ready:')));
    let featureSeconds = 0;
    // Each thread loops: take the best job for it, run it, repeat; it stops when nothing is left to do.
    const progressMade: (() => void)[] = [];
    const wake = () => progressMade.splice(0).forEach((f) => f());
    const runThread = async (w: KernelWorker): Promise<void> => {
      for (;;) {
        const ready = todoPairs.filter((p) => p.ids.every((id) => feats.has(id)));
        const missing = (p: { ids: number[] }) => p.ids.filter((id) => !w.has.has(id)).length;
        const pairJob = ready.sort((a, z) => missing(a) - missing(z) || a.pair - z.pair)[0];
        if (pairJob) {
          todoPairs.splice(todoPairs.indexOf(pairJob), 1);
          for (const id of new Set(pairJob.ids)) {
            if (!w.has.has(id)) {
              w.send({ type: 'block', block: id, features: feats.get(id) });
              w.has.add(id);
            }
          }
          const m = await w.request({ type: 'tile', pair: pairJob.pair, r: pairJob.r, c: colId(pairJob.c), mode }, `tile:${pairJob.pair}`);
          const nr = Math.min(tile, x1.n - pairJob.r * tile), nc = Math.min(tile, b.n - pairJob.c * tile);
          const t = m.timing as StageTiming;
          timing.products += t.products;
          timing.combine += t.combine;
          const m0 = performance.now();
          placeTile(out, mode, b.n, K, m.data as Float32Array, pairJob.r * tile, nr, pairJob.c * tile, nc, symmetric && pairJob.r !== pairJob.c);
          timing.mirror += (performance.now() - m0) / 1000;
          for (const id of new Set(pairJob.ids)) {
            const left = openPairs.get(id)! - 1;
            openPairs.set(id, left);
            if (left === 0) {
              feats.delete(id);
              for (const v of workers) if (v.has.delete(id)) v.send({ type: 'release', block: id });
            }
          }
          bar.update(++done);
          continue;
        }
        const id = todoBlocks.shift();
        if (id !== undefined) {
          const f0 = performance.now();
          const m = await w.request({ type: 'features', block: id, samples: blockSamples(id) }, `features:${id}`);
          featureSeconds += (performance.now() - f0) / 1000;
          feats.set(id, m.features as TileFeatures);
          w.has.add(id);
          bar.update(++done);
          wake();
          continue;
        }
        if (todoPairs.length === 0) return;
        // Pairs remain whose blocks another thread is still computing: wait for one to finish.
        await new Promise<void>((resolve) => progressMade.push(resolve));
      }
    };
    await Promise.all(workers.map(runThread));
    // Features overlap the products, so this is the threads' summed feature time, not a wall-clock stage.
    timing.features = featureSeconds;
  } finally {
    bar.stop();
    await Promise.all(workers.map((w) => w.w.terminate()));
  }
  checkFiniteKernel(out, 'ntk');
  return {
    kernel: { data: out, shape: kernelShape(mode, x1.n, b.n, K), mode, kind: 'ntk', n1: x1.n, n2: b.n, K },
    info: { implementation: 'structured', tile, tiles: pairs.length, symmetric, rules, timing, workers: n },
  };
}
