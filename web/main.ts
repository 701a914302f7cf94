import type { ExplorerSettings } from './explorer.js';
import { drawHeatmap, drawLines } from './plot.js';
import type { KernelResult, Reply, Request, SweepPoint, TrainPoint, TrainSettings } from './protocol.js';

/*
 * The explorer page (UI thread): reads the settings, sends requests to the engine's Web Worker and draws what
 * comes back. `window.explorer` exposes the same requests and their results to scripts (the browser test).
 */

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('settings');
const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;

const params = new URLSearchParams(location.search);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map<number, { resolve: (r: Reply) => void; onPartial?: (r: Reply) => void }>();
let ready: (r: Reply) => void;
const readyPromise = new Promise<Reply>((res) => (ready = res));

function message(text: string, error = false): void {
  const m = $('message');
  m.textContent = text;
  m.className = error ? 'error' : '';
}

worker.onmessage = (ev: MessageEvent<Reply>) => {
  const r = ev.data;
  if (r.id === 0) {
    if (r.type === 'ready') {
      $('backend').textContent = r.backend;
      $('engine').textContent = r.engine;
      $('backend').title = `WebGL renderer: ${r.webgl ?? 'none'}`;
    } else if (r.type === 'error') message(r.message, true);
    ready(r);
    return;
  }
  const p = pending.get(r.id);
  if (!p) return;
  if (r.type === 'progress') {
    ($('progress') as HTMLProgressElement).value = r.done / Math.max(r.total, 1);
    $('progressText').textContent = `${r.label}: ${r.done}/${r.total}`;
  } else if (r.type === 'sweep-point' || r.type === 'train-point') p.onPartial?.(r);
  else {
    pending.delete(r.id);
    ($('progress') as HTMLProgressElement).value = 1;
    if (r.type === 'error') message(r.message, true);
    p.resolve(r);
  }
};
worker.postMessage({ type: 'init', backend: params.get('backend') ?? 'auto', base: new URL('.', location.href).href });

type Body = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
async function request(body: Body, onPartial?: (r: Reply) => void): Promise<Reply> {
  await readyPromise;
  const id = nextId++;
  message('working…');
  $('progressText').textContent = '';
  ($('progress') as HTMLProgressElement).value = 0;
  return new Promise((resolve) => {
    pending.set(id, { resolve, onPartial });
    worker.postMessage({ ...body, id });
  });
}

function settings(): ExplorerSettings {
  return {
    architecture: field('architecture') as ExplorerSettings['architecture'], data: field('data') as ExplorerSettings['data'],
    n: Number(field('n')), depth: Number(field('depth')), width: Number(field('width')), activation: field('activation'),
    parameterization: field('parameterization'), mode: field('mode') as ExplorerSettings['mode'], seed: Number(field('seed')),
  };
}

const fmt = (v: number) => v.toPrecision(4);

function showKernel(k: Float32Array, rows: number, analytic: Float32Array | null): void {
  const r = drawHeatmap($('heatEmpirical'), k, rows);
  $('rangeEmpirical').textContent = `[${rows}×${rows}] range ${fmt(r.lo)} … ${fmt(r.hi)}`;
  for (const id of ['heatAnalytic', 'heatDiff']) $<HTMLCanvasElement>(id).getContext('2d')!.clearRect(0, 0, 260, 260);
  $('rangeAnalytic').textContent = $('rangeDiff').textContent = '';
  if (!analytic) {
    $('rangeAnalytic').textContent = 'no closed form for this network';
    return;
  }
  const a = drawHeatmap($('heatAnalytic'), analytic, rows);
  $('rangeAnalytic').textContent = `range ${fmt(a.lo)} … ${fmt(a.hi)}`;
  const d = drawHeatmap($('heatDiff'), k.map((v, i) => v - analytic[i]), rows, { diverging: true });
  $('rangeDiff').textContent = `±${fmt(d.hi)}`;
}

async function computeKernel(): Promise<Reply> {
  const r = await request({ type: 'kernel', settings: settings() });
  if (r.type === 'kernel') {
    const k: KernelResult = r.result;
    showKernel(k.kernel, k.rows, k.analytic);
    message(k.relativeDifference === null ? 'kernel computed' : `‖Θ − Θ∞‖/‖Θ∞‖ = ${fmt(k.relativeDifference)}`);
    $('summary').textContent = `${k.parameters} parameters, ${k.implementation} path, ${k.seconds.toFixed(2)} s` + (k.analyticWhat ? `; Θ∞: ${k.analyticWhat}` : '');
  }
  return r;
}

function drawSweep(points: SweepPoint[], slope: number | null): void {
  drawLines($('sweepPlot'), 'error to NTK∞ against width (log–log)', [
    { label: 'one network (± s.e.)', color: '#1f77b4', x: points.map((p) => p.width), y: points.map((p) => p.error), err: points.map((p) => p.stderr) },
    { label: 'Monte-Carlo mean', color: '#d62728', x: points.map((p) => p.width), y: points.map((p) => p.meanKernelError) },
  ], { logX: true, logY: true, xLabel: 'width' });
  $('sweepText').textContent = slope === null ? '' : `fitted slope ${slope.toFixed(3)} (theory −1/2)`;
}

async function runSweep(): Promise<Reply> {
  const widths = field('widths').split(',').map((s) => Number(s.trim()));
  const points: SweepPoint[] = [];
  const r = await request({ type: 'sweep', settings: settings(), widths, seeds: Number(field('seeds')) }, (p) => {
    if (p.type === 'sweep-point') points.push(p.point);
    drawSweep(points, null);
  });
  if (r.type === 'sweep') {
    drawSweep(r.points, r.slope);
    message(`sweep done: slope ${r.slope === null ? '–' : r.slope.toFixed(3)}`);
  }
  return r;
}

function drawTraining(ps: TrainPoint[]): void {
  const e = ps.map((p) => p.epoch);
  drawLines($('lossPlot'), 'training loss', [{ label: 'loss', color: '#1f77b4', x: e, y: ps.map((p) => p.loss) }], { xLabel: 'epoch' });
  drawLines($('changePlot'), 'kernel change and alignment', [
    { label: '‖Θt − Θ0‖/‖Θ0‖', color: '#d62728', x: e, y: ps.map((p) => p.relativeChange) },
    { label: 'kernel-target alignment', color: '#2ca02c', x: e, y: ps.map((p) => p.alignment) },
  ], { xLabel: 'epoch' });
  const colors = ['#9467bd', '#8c564b', '#e377c2'];
  drawLines($('eigPlot'), 'top NTK eigenvalues', colors.map((c, i) => ({ label: `λ${i + 1}`, color: c, x: e, y: ps.map((p) => p.topEigenvalues[i]) })), { xLabel: 'epoch', logY: true });
}

let trainPoints: TrainPoint[] = [];

async function runTraining(): Promise<Reply> {
  const t: TrainSettings = { optimiser: field('optimiser') as TrainSettings['optimiser'], lr: Number(field('lr')), epochs: Number(field('epochs')), loss: field('loss') as TrainSettings['loss'] };
  const ps: TrainPoint[] = (trainPoints = []);
  $('summary').textContent = `training: ${t.optimiser}, learning rate ${t.lr}, ${t.loss}, full batch; the NTK tracked on the training samples after every epoch`;
  const r = await request({ type: 'train', settings: settings(), train: t }, (p) => {
    if (p.type !== 'train-point') return;
    ps.push(p.point);
    drawTraining(ps);
    showKernel(p.point.kernel, p.point.rows, null);
    $('rangeAnalytic').textContent = 'during training: see the kernel at initialisation';
  });
  if (r.type === 'train' && ps.length) {
    const l = ps[ps.length - 1];
    message(`trained ${l.epoch} epochs in ${r.seconds.toFixed(1)} s: loss ${fmt(l.loss)}, kernel moved ${fmt(l.relativeChange)}`);
  }
  return r;
}

function download(name: string, data: BlobPart, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function exportKernel(): Promise<Reply> {
  const r = await request({ type: 'export' });
  if (r.type === 'export') {
    download('ntk.npy', r.npy as Uint8Array<ArrayBuffer>, 'application/octet-stream');
    download('ntk.json', r.metadata, 'application/json');
    download('params.json', r.params, 'application/json');
    message('exported ntk.npy, ntk.json and params.json');
  }
  return r;
}

const maxWidth = form.elements.namedItem('maxWidth') as HTMLInputElement;
maxWidth.oninput = () => {
  const top = 2 ** Number(maxWidth.value);
  $('maxWidthText').textContent = String(top);
  const ws: number[] = [];
  for (let w = 32; w <= top; w *= 2) ws.push(w);
  (form.elements.namedItem('widths') as HTMLInputElement).value = ws.join(',');
};

$('kernel').onclick = () => void computeKernel();
$('sweep').onclick = () => void runSweep();
$('train').onclick = () => void runTraining();
$('export').onclick = () => void exportKernel();

/** For scripts and the browser test: the page's requests, resolving with the worker's replies. */
(window as unknown as { explorer: object }).explorer = {
  ready: readyPromise,
  set(values: Record<string, string | number>) {
    for (const [k, v] of Object.entries(values)) (form.elements.namedItem(k) as HTMLInputElement).value = String(v);
  },
  computeKernel, runSweep, runTraining, exportKernel,
  /** The latest training's tracked points, without their kernels. */
  trainPoints: () => trainPoints.map(({ kernel: _k, ...p }) => p),
  message: () => ({ text: $('message').textContent, error: $('message').className === 'error' }),
};
