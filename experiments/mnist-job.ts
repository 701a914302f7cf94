import { loadMnist } from '../lib/data.js';
import { currentBackend } from '../lib/backend.js';
import { currentEngine } from '../lib/matrix-engine.js';
import { type KernelSystem, accuracy, crossEntropyKernelFit, kernelPredict, kernelSystem, oneHot, ridgeRegression } from '../lib/kernel-regression.js';
import { range, submatrix } from '../lib/cv.js';
import { frobeniusNorm, relativeChange } from '../lib/kernel-metrics.js';
import { derivedSeed } from '../lib/rng.js';
import { type Samples, joinVectors, sliceSamples } from '../lib/samples.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { reduceFull } from '../jacobian/kernel-types.js';
import { monteCarloKernel } from '../jacobian/monte-carlo.js';
import { KernelTracker, type TrackPoint } from '../jacobian/tracking.js';
import { analyticKernel } from '../models/analytic.js';
import type { Model } from '../models/model.js';
import { paramsToJson } from '../models/params.js';
import { modelFromFlags } from '../models/registry.js';
import { predict, trainModel } from '../models/training.js';

export type StudyModel = 'mlp' | 'cnn';

/** Everything one (model, seed) run of the seeds/003 study needs; plain data so that it crosses to a worker. */
export interface MnistJob {
  model: StudyModel;
  seed: number;
  n: number;
  dataSeed: number;
  /** MLP widths of the trained net and of the Monte-Carlo nets; CNN channels of both. */
  widths: number[];
  infWidths: number[];
  channels: [number, number];
  infChannels: [number, number];
  epochs: number;
  batchSize: number;
  lr: number;
  /** Networks averaged for NTK∞. */
  infSeeds: number;
  ceSteps: number;
  ceLr: number;
  ridge: number;
  probe: number;
  trackAt: number[];
  /** Parameterisation of the trained and the Monte-Carlo nets (default ntk). */
  parameterization?: 'ntk' | 'standard';
  /** Standardise the grey levels with MNIST's pixel mean and sd, (x − 0.1307)/0.3081, instead of keeping [0, 1]. */
  standardise?: boolean;
}

export interface RegressorResult {
  kernel: string;
  method: 'cross-entropy' | 'ridge';
  layout: 'full' | 'trace';
  train: number;
  test: number;
  seconds: number;
}

export interface MnistJobResult {
  model: StudyModel;
  seed: number;
  backend: string;
  /** Matrix engine of the run's products: native (ONNX Runtime) or tfjs. */
  engine: string;
  paramCount: number;
  net: { train: number; test: number; finalLoss: number };
  lossHistory: number[];
  tracking: TrackPoint[];
  regressors: RegressorResult[];
  /** Monte-Carlo NTK∞: networks, ‖SE‖_F/‖mean‖_F on the train block, and relative error to the analytic kernel. */
  infinite: { seeds: number; relativeStderr: number; analyticRelativeError?: number };
  /** Mean diagonal of the NTK on the probe set at init and after training. */
  scale: { init: number; trained: number };
  /** The trained parameters as a params file. */
  paramsJson: string;
  /** First 10 samples' 10×10 output blocks of the NTK [100, 100] at init and after training. */
  heat: { init: number[]; trained: number[]; size: number };
  seconds: Record<string, number>;
}

function studyModel(job: MnistJob, infinite: boolean, data: Samples): Model {
  const parameterization = job.parameterization ?? 'ntk';
  if (job.model === 'mlp') return modelFromFlags({ model: 'mlp', widths: infinite ? job.infWidths : job.widths, parameterization }, data);
  const ch = infinite ? job.infChannels : job.channels;
  return modelFromFlags({ model: 'cnn', preset: 'seed-cnn', channels: ch.join(','), parameterization }, data);
}

/** The digits as the job wants them: grey levels in [0, 1], or standardised as torchvision's MNIST recipe does. */
const scaled = <D extends { x: Float32Array }>(d: D, job: MnistJob): D => (job.standardise ? { ...d, x: d.x.map((v) => (v - 0.1307) / 0.3081) } : d);

/**
 * One run of seeds/003 for one model and seed: train the net (cross-entropy, Adam) tracking its NTK and CK on
 * a probe set; NTK_tr = the trained net's full multi-output kernel (train×train and test×train); NTK∞ = the
 * Monte-Carlo mean of `infSeeds` independently initialised nets of the wider shape, in trace mode (the limit is
 * Θ∞ ⊗ I_K exactly, so the per-output kernel is the estimator of the whole limit and the off-diagonal output
 * blocks of a full-mode average would only add noise); kernel regressors by cross-entropy/Adam (as the seed) and
 * closed-form ridge, on the full and traced kernels. `report(stage, fraction)` tells the caller how far it is.
 */
export function runMnistJob(job: MnistJob, report: (fraction: number) => void = () => {}): MnistJobResult {
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    const t = performance.now();
    seconds[name] = (seconds[name] ?? 0) + (t - t0) / 1000;
    t0 = t;
  };
  const tr = scaled(loadMnist('train', job.n, job.dataSeed), job);
  const te = scaled(loadMnist('test', job.n, job.dataSeed), job);
  const K = 10;
  const model = studyModel(job, false, tr);
  const init = model.init(derivedSeed(job.seed, 0) + `/${job.model}`);
  const Y = oneHot(tr.labels!, K);
  const tracker = new KernelTracker(model, sliceSamples(tr, 0, job.probe), tr.labels!.subarray(0, job.probe));
  let heatInit: number[] = [];
  const hs = Math.min(job.probe, 10) * K;
  // Weights of the stages in the progress fraction (rough shares of the run time).
  const w = { train: 0.35, ntkTr: 0.15, inf: 0.2, fits: 0.3 };
  const { params, history } = trainModel(model, init, tr, Float32Array.from(Y), {
    loss: 'cross-entropy', optimiser: { name: 'adam', lr: job.lr }, epochs: job.epochs, batchSize: job.batchSize, seed: `${job.model}/${job.seed}`,
  }, {
    callAt: job.trackAt,
    onEpoch: (e, ps) => {
      const tt = performance.now();
      tracker.record(e, ps);
      if (e === 0) heatInit = Array.from(submatrix(tracker.lastNtk!, job.probe * K, range(0, hs), range(0, hs)));
      seconds.tracking = (seconds.tracking ?? 0) + (performance.now() - tt) / 1000;
      t0 += performance.now() - tt;
    },
    progress: { update: (e) => report((w.train * e) / Math.max(job.epochs, 1)), stop: () => {} },
  });
  if (!job.trackAt.includes(job.epochs)) tracker.record(job.epochs, params);
  const heatTrained = Array.from(submatrix(tracker.lastNtk!, job.probe * K, range(0, hs), range(0, hs)));
  lap('train');
  const net = {
    train: accuracy(predict(model, params, tr), tr.labels!, K),
    test: accuracy(predict(model, params, te), te.labels!, K),
    finalLoss: history.loss[history.loss.length - 1] ?? NaN,
  };
  lap('evaluate');

  const regressors: RegressorResult[] = [];
  const fit = (kernel: string, layout: 'full' | 'trace', sys: KernelSystem, Kte: ArrayLike<number>, sTe: number, stage: number, share: number) => {
    let t = performance.now();
    const f = crossEntropyKernelFit(sys, Y, job.n, K, {
      steps: job.ceSteps, lr: job.ceLr,
      progress: { update: (s) => report(stage + (share * s) / job.ceSteps), stop: () => {} },
    });
    const pred = (a: ArrayLike<number>) => ({ train: accuracy(kernelPredict(sys.K, sys.s, sys.s, a, sys.m), tr.labels!, K), test: accuracy(kernelPredict(Kte, sTe, sys.s, a, sys.m), te.labels!, K) });
    regressors.push({ kernel, method: 'cross-entropy', layout, ...pred(f.alpha), seconds: (performance.now() - t) / 1000 });
    t = performance.now();
    const a = ridgeRegression(sys, Y, job.ridge, `${kernel} ridge regression`);
    regressors.push({ kernel, method: 'ridge', layout, ...pred(a), seconds: (performance.now() - t) / 1000 });
    lap('fits');
  };

  // NTK_tr: the trained net's kernel, full (10×10 blocks) and traced.
  const ktr = empiricalKernel(model, params, tr, null, { mode: 'full' }).kernel.data;
  report(w.train + w.ntkTr / 2);
  const kte = empiricalKernel(model, params, te, tr, { mode: 'full' }).kernel.data;
  report(w.train + w.ntkTr);
  lap('ntk_tr');
  const nK = job.n * K;
  fit('NTK_tr', 'full', kernelSystem(ktr, job.n, K), kte, nK, w.train + w.ntkTr, w.fits / 3);
  const ktrTrace = reduceFull(ktr, job.n, job.n, K, 'trace'), kteTrace = reduceFull(kte, job.n, job.n, K, 'trace');
  fit('NTK_tr', 'trace', kernelSystem(ktrTrace, job.n, K), kteTrace, job.n, w.train + w.ntkTr + w.fits / 3, w.fits / 6);
  const pts = tracker.points;
  const scale = { init: pts[0].ntkMeanDiagonal, trained: pts[pts.length - 1].ntkMeanDiagonal };

  // NTK∞: Monte-Carlo mean over infSeeds nets of the wider shape on train ∪ test (trace mode, see above).
  const all = joinVectors(tr, te);
  const infModel = studyModel(job, true, all);
  const start = w.train + w.ntkTr + w.fits / 2;
  const mc = monteCarloKernel(infModel, all, null, {
    mode: 'trace', seeds: job.infSeeds, seed: job.seed * 1000 + 17,
    progress: () => ({ update: (s) => report(start + (w.inf * s) / job.infSeeds), stop: () => {} }),
  });
  const n2 = 2 * job.n;
  // Train rows/columns are the first n of train ∪ test, test rows the last n.
  const trainIdx = range(0, job.n), testIdx = range(job.n, job.n);
  const infTr = submatrix(mc.mean, n2, trainIdx, trainIdx), infTe = submatrix(mc.mean, n2, testIdx, trainIdx);
  const infoInf: MnistJobResult['infinite'] = {
    seeds: job.infSeeds,
    relativeStderr: frobeniusNorm(submatrix(mc.stderr, n2, trainIdx, trainIdx)) / frobeniusNorm(infTr),
  };
  lap('ntk_inf');
  // The exact NTK∞ of the same architecture (MLP: notes §3; CNN: the CNTK of Arora et al.), a check of the
  // Monte-Carlo estimate and a regressor of its own.
  const exact = analyticKernel(infModel, all, null, 'ntk');
  if (exact) {
    const anTr = submatrix(exact.kernel, n2, trainIdx, trainIdx), anTe = submatrix(exact.kernel, n2, testIdx, trainIdx);
    infoInf.analyticRelativeError = relativeChange(anTr, infTr);
    lap('ntk_inf_exact');
    fit('NTK∞ analytic', 'trace', kernelSystem(anTr, job.n, K), anTe, job.n, start + w.inf, w.fits / 6);
  }
  fit('NTK∞', 'trace', kernelSystem(infTr, job.n, K), infTe, job.n, start + w.inf + w.fits / 6, w.fits / 6);
  report(1);
  return {
    model: job.model, seed: job.seed, backend: currentBackend(), engine: currentEngine(), paramCount: params.reduce((s, p) => s + p.values.length, 0),
    net, lossHistory: history.loss, tracking: tracker.points, regressors, infinite: infoInf, scale,
    heat: { init: heatInit, trained: heatTrained, size: hs },
    seconds, paramsJson: paramsToJson(model.config, params),
  };
}
