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
  load = 0;

  constructor() {
    this.w = new Worker(new URL('./kernel-worker.js', import.meta.url));
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
 * The structured NTK computed on `workers` threads, each with its own tfjs backend: the sample blocks'
 * features are computed round-robin across threads, then the tile pairs are shared out (each thread receives
 * the blocks it lacks once) and placed, mirrored for x2 = x1, by the main thread. Every tile is computed by the
 * same code as in one thread, so the kernel is bit-identical to `empiricalKernel` with the same tile size.
 * wasm runs one thread per backend instance under Node, so this is how the tool uses several cores.
 */
export async function parallelStructuredKernel(
  model: Model, params: Param[], x1: Samples, x2: Samples | null, opts: KernelOptions & { workers: number; backend: string },
): Promise<{ kernel: Kernel; info: KernelInfo }> {
  const { mode, K, symmetric, b, tile, rowTiles, colTiles, pairs } = planKernel(model, x1, x2, { ...opts, kind: 'ntk', implementation: 'structured' });
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
  const workers = Array.from({ length: n }, () => new KernelWorker());
  const bar = (opts.progress ?? noProgress)(`ntk kernel [structured, ${n} workers]`, blockIds.length + pairs.length);
  const timing: StageTiming = newTiming();
  const out = new Float32Array(kernelSize(mode, x1.n, b.n, K));
  let done = 0;
  try {
    await Promise.all(workers.map((w) => w.request({ type: 'init', backend: opts.backend, config: model.config, params, rules, K }, 'ready:')));
    const t0 = performance.now();
    const feats = new Map<number, TileFeatures>();
    await Promise.all(blockIds.map(async (id, i) => {
      const w = workers[i % n];
      const m = await w.request({ type: 'features', block: id, samples: blockSamples(id) }, `features:${id}`);
      feats.set(id, m.features as TileFeatures);
      w.has.add(id);
      bar.update(++done);
    }));
    timing.features = (performance.now() - t0) / 1000;
    // Share out the pairs: least loaded worker first, preferring one that already holds both blocks.
    const jobs = pairs.map(([r, c], pair) => {
      const ids = [r, colId(c)];
      const w = [...workers].sort((a, z) => a.load - z.load || ids.filter((i) => !a.has.has(i)).length - ids.filter((i) => !z.has.has(i)).length)[0];
      w.load++;
      for (const id of ids) {
        if (!w.has.has(id)) {
          w.send({ type: 'block', block: id, features: feats.get(id) });
          w.has.add(id);
        }
      }
      return w.request({ type: 'tile', pair, r, c: colId(c), mode }, `tile:${pair}`).then((m) => {
        const nr = Math.min(tile, x1.n - r * tile), nc = Math.min(tile, b.n - c * tile);
        const t = m.timing as StageTiming;
        timing.products += t.products;
        timing.combine += t.combine;
        const m0 = performance.now();
        placeTile(out, mode, b.n, K, m.data as Float32Array, r * tile, nr, c * tile, nc, symmetric && r !== c);
        timing.mirror += (performance.now() - m0) / 1000;
        bar.update(++done);
      });
    });
    await Promise.all(jobs);
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
