/**
 * `npm run bench`: whole-process timings of the full multi-output NTK [5000, 5000] (N = 500 real MNIST
 * digits, K = 10) of the MLP 784-100-100-100-10 and of the seeds/003 CNN, by this tool and by the PyTorch peer
 * (../shared/bench/torch_ntk.py, all its methods), in the same run on the same machine, with the ratio, and
 * the achieved GFLOP/s of the products against the backend's best measured matMul rate; each model also as a saved
 * tfjs-layers model through `--model-json` (the any-network route), with its time against the built-in model's.
 * Each configuration runs on both matrix engines (native ONNX Runtime and the tfjs fallback, `--engine`), so the
 * old engine's figure stands beside the new one; then the native engine's GEMM rate on the products' own shapes,
 * and the float64 ridge solve of a [5000, 5000] kernel on both engines (blocked Cholesky with native trailing
 * updates against the JS Crout Cholesky).
 * Options: --models mlp,cnn, --n N, --repeats R, --peer PATH, --backends wasm,cpu, --engines native,tfjs,
 * --workers default,1,2 (`default`: no --workers flag, i.e. the plan the cost model picks, shown against 1 and 2
 * threads), --skip-peer, --out DIR, --ridge-n 5000 (0: skip), --scaling off (skip the N/width scaling series),
 * --web off (skip the explorer's browser timings, which otherwise run last when Chromium is installed),
 * --train-epochs 3 (seconds per epoch of training the seeds/003 CNN on each engine; 0: skip).
 */
import { diagonalGramFlops } from '../jacobian/structured.js';
import { CHROMIUM_CANDIDATES, findChromium } from '../web/build.js';
import { fitLine } from '../lib/stats.js';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/backend.js';
import { type DenseNtkLayer, type Floats, type MatrixEngine, matrixEngine, useEngine } from '../lib/matrix-engine.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { DEFAULT_COMMON, DEFAULT_MLP, Mlp } from '../models/mlp.js';
import { Cnn, seedCnnConfig } from '../models/cnn.js';
import { trainModel } from '../models/training.js';
import type { Model } from '../models/model.js';
import { initEngine } from '../lib/native-engine.js';
import { relaunch, relaunchWanted } from '../bin/runtime.js';
import { kernelSystem, oneHot, ridgeRegression } from '../lib/kernel-regression.js';
import { NormalRng } from '../lib/rng.js';
import { loadMnist } from '../lib/data.js';
import { writeFilesAtomically } from '../lib/files.js';
import { encodeNpy } from '../lib/npy.js';
import { saveLayersModel } from '../lib/model-json.js';
import * as tfl from '@tensorflow/tfjs-layers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'bin', 'ntk.js');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function timed(cmd: string, args: string[]): { seconds: number; code: number; stdout: string; stderr: string } {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { seconds: (performance.now() - t) / 1000, code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/**
 * FLOPs of the products of the structured full kernel (matMuls only): per computed tile pair, for a
 * one-row-per-sample ('outer') layer 2·nr·nc·fanIn + 2·(nr·K)(nc·K)·fanOut, for an 'explicit' layer with P_l
 * parameters 2·(nr·K)(nc·K)·P_l (on a diagonal pair, only the stripes on and below the diagonal); layers are
 * (fanIn, fanOut, rule, P_l).
 */
function productFlops(layers: { fanIn: number; fanOut: number; rule: string; p: number }[], K: number, n: number, tile: number): number {
  let flops = 0;
  const tiles = Math.ceil(n / tile);
  for (let r = 0; r < tiles; r++) {
    for (let c = r; c < tiles; c++) {
      const nr = Math.min(tile, n - r * tile), nc = Math.min(tile, n - c * tile);
      for (const l of layers) {
        if (l.rule !== 'explicit') flops += 2 * nr * nc * l.fanIn + 2 * nr * K * nc * K * l.fanOut;
        else flops += r === c ? diagonalGramFlops(nr * K, l.p) : 2 * nr * K * nc * K * l.p;
      }
    }
  }
  return flops;
}

/** FLOPs of the structured full-kernel contraction of an MLP (all layers 'outer'). */
const structuredFlops = (widths: number[], n: number, tile: number): number =>
  productFlops(widths.slice(0, -1).map((w, l) => ({ fanIn: w, fanOut: widths[l + 1], rule: 'outer', p: 0 })), widths[widths.length - 1], n, tile);

/** Best matMul rate of the backend over square and kernel-shaped products (GFLOP/s). */
async function peakMatMul(backend: string): Promise<{ shape: string; gflops: number }[]> {
  await initBackend(backend);
  const shapes: [number, number, number][] = [[1000, 1000, 1000], [2000, 2000, 2000], [1250, 100, 1250], [5000, 100, 5000]];
  return shapes.map(([m, k, n]) => {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    tf.matMul(a, b).dispose();
    const best = bestSeconds(() => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }, 3);
    a.dispose();
    b.dispose();
    return { shape: `[${m},${k}]x[${k},${n}]`, gflops: (2 * m * k * n) / best / 1e9 };
  });
}

/** The shortest of n timed calls of pass, in seconds. */
function bestSeconds(pass: () => void, n: number): number {
  let best = Infinity;
  for (let r = 0; r < n; r++) {
    const t = performance.now();
    pass();
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

/**
 * The native engine's best rate (GFLOP/s, best of 5, into a reused output) on the products' own shapes, A·Bᵀ as
 * the kernel computes them: the CNN's explicit Gram (off-diagonal [1250, 10540]·[1250, 10540]ᵀ and a diagonal
 * stripe [209, 10540]·[1250, 10540]ᵀ), the MLP's Grams in its fused tile calls of 125 samples (the hidden layers'
 * cotangents [1250, 100]·[1250, 100]ᵀ, the output layer's [1250, 10]·[1250, 10]ᵀ, the first layer's inputs
 * [125, 784]·[125, 784]ᵀ), and square float32/float64 products. A model's products are judged against the best of
 * its shapes.
 */
async function nativeGemm(): Promise<{ shape: string; dtype: string; gflops: number }[]> {
  await initEngine('native');
  const e = matrixEngine();
  const shapes: [string, number, number, number, boolean][] = [
    ['cnn', 1250, 10540, 1250, false], ['cnn', 209, 10540, 1250, false], ['mlp', 1250, 100, 1250, false], ['mlp', 1250, 10, 1250, false], ['mlp', 125, 784, 125, false],
    ['square', 2000, 2000, 2000, false], ['square', 2000, 2000, 2000, true], ['ridge', 4488, 512, 4488, true],
  ];
  return shapes.map(([use, m, k, n, f64]) => {
    const rng = new NormalRng(`gemm/${m}/${k}/${n}`);
    const mk = (size: number): Floats => (f64 ? Float64Array.from(rng.normals(size)) : rng.normals(size));
    const a = mk(m * k), b = mk(n * k), out = mk(m * n);
    // Into one reused output, as the kernels write theirs (a fresh output per product would time page faults).
    e.matMul(a, b, m, k, n, true, out);
    const best = bestSeconds(() => e.matMul(a, b, m, k, n, true, out), 5);
    return { shape: `${use} [${m},${k}]·[${n},${k}]ᵀ`, dtype: f64 ? 'float64' : 'float32', gflops: (2 * m * k * n) / best / 1e9 };
  });
}

/**
 * Where the MLP's products time goes on the native engine. The full [5000, 5000] kernel is computed in this process
 * once (warm-up) and again with the engine's fused-tile calls (denseNtkTile) recorded; the recorded calls are then
 * replayed on Gaussian data of the same shapes, best of 3 passes: (a) as the fused calls themselves, (b) as their
 * GEMMs alone — per call and layer the input Gram a1·a2ᵀ [nr, nc] and the cotangent Gram g1·g2ᵀ [nr·K, nc·K], into
 * reused outputs, no Hadamard combination. (b) against the single-call GEMM rate shows what MLAS reaches on this
 * sequence of shapes; (a) against (b) what the combination and the graph's other nodes cost.
 */
async function mlpProductsDecomposition(n: number): Promise<Record<string, number>> {
  await initEngine('native');
  const ne = matrixEngine();
  const model = MODELS.mlp.model();
  const params = model.init(0);
  const ds = loadMnist('train', n, 0);
  const calls: { dims: [number, number][]; nr: number; nc: number; K: number }[] = [];
  const recorder: MatrixEngine = Object.create(ne);
  recorder.denseNtkTile = (layers: readonly DenseNtkLayer[], E: Float32Array | null, nr: number, nc: number, K: number, out?: Float32Array) => {
    if (E) throw new Error('bench: the MLP fused tile was given an explicit term');
    calls.push({ dims: layers.map((l) => [l.fanIn, l.fanOut]), nr, nc, K });
    return ne.denseNtkTile(layers, E, nr, nc, K, out);
  };
  empiricalKernel(model, params, ds, null, { mode: 'full' });
  useEngine(recorder);
  let kernelProducts: number;
  try {
    kernelProducts = empiricalKernel(model, params, ds, null, { mode: 'full' }).info.timing.products;
  } finally {
    useEngine(ne);
  }
  const rng = new NormalRng('products-decomposition');
  const data = calls.map((c) => ({ ...c, layers: c.dims.map(([fanIn, fanOut]) => ({ a1: rng.normals(c.nr * fanIn), a2: rng.normals(c.nc * fanIn), g1: rng.normals(c.nr * c.K * fanOut), g2: rng.normals(c.nc * c.K * fanOut), fanIn, fanOut, w2: 2 / fanIn, b2: 0.01 })) }));
  const size = Math.max(...calls.map((c) => c.nr * c.nc * c.K * c.K));
  const out = new Float32Array(size), outA = new Float32Array(size);
  const best = (pass: () => void) => bestSeconds(pass, 3);
  const fused = best(() => { for (const c of data) ne.denseNtkTile(c.layers, null, c.nr, c.nc, c.K, out.subarray(0, c.nr * c.K * c.nc * c.K)); });
  const gemms = best(() => {
    for (const c of data) {
      for (const l of c.layers) {
        ne.matMul(l.a1, l.a2, c.nr, l.fanIn, c.nc, true, outA.subarray(0, c.nr * c.nc));
        ne.matMul(l.g1, l.g2, c.nr * c.K, l.fanOut, c.nc * c.K, true, out.subarray(0, c.nr * c.K * c.nc * c.K));
      }
    }
  });
  const flops = calls.reduce((a, c) => a + c.dims.reduce((b, [fi, fo]) => b + 2 * c.nr * c.nc * fi + 2 * c.nr * c.K * c.nc * c.K * fo, 0), 0);
  return { calls: calls.length, gflop: flops / 1e9, kernelProductsSeconds: kernelProducts, fusedSeconds: fused, gemmsAloneSeconds: gemms };
}

/**
 * The products' rate against the native engine's best GEMM, both timed in this process at the same moments: after
 * one warm-up kernel, `rounds` rounds of (the model's full kernel on n digits in the default in-process plan, its
 * products stage; then the reference GEMM [m, k]·[n', k]ᵀ, best of 5 calls into a reused output). This machine's
 * rates drift by tens of percent within minutes (other virtual machines on the host), so a products stage and a
 * reference measured minutes apart, as the CLI runs and nativeGemm are, compare moments as much as code; here each
 * round's pair shares its moment. Returns the per-round rates and the medians' ratio (and best against best).
 */
async function productsAgainstGemm(bm: BenchModel, n: number, rounds: number, ref: [number, number, number]): Promise<Record<string, unknown>> {
  await initEngine('native');
  const e = matrixEngine();
  const model = bm.model();
  const params = model.init(0);
  const ds = loadMnist('train', n, 0);
  const [m, k, c] = ref;
  const rng = new NormalRng(`reference/${m}/${k}/${c}`);
  const a = rng.normals(m * k), b = rng.normals(c * k), out = new Float32Array(m * c);
  e.matMul(a, b, m, k, c, true, out);
  let gflop = 0;
  const products: number[] = [], gemm: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const info = empiricalKernel(model, params, ds, null, { mode: 'full' }).info;
    gflop = bm.flops({ tile: info.tile, rules: info.rules }, n) / 1e9;
    const best = bestSeconds(() => e.matMul(a, b, m, k, c, true, out), 5);
    // Round 0 is the warm-up: the fused tile's ONNX model loads and ONNX Runtime sizes its buffers.
    if (r === 0) continue;
    products.push(gflop / info.timing.products);
    gemm.push((2 * m * k * c) / best / 1e9);
  }
  const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1];
  return {
    rounds, gflop, reference: `[${m},${k}]·[${c},${k}]ᵀ`, productsGflops: products, gemmGflops: gemm,
    medianRatio: median(products) / median(gemm), bestRatio: Math.max(...products) / Math.max(...gemm),
  };
}

/**
 * Seconds per epoch of training the seeds/003 CNN (90,550 parameters) on n MNIST digits as the study trains it
 * (minibatches of 50, Adam lr 3e-3, cross-entropy), on each matrix engine: one epoch to warm up, then `epochs`
 * timed; with the last epoch's mean loss, which the engines give equal up to float32 rounding.
 */
async function trainBench(n: number, epochs: number, backend: string, engines: string[]): Promise<Record<string, { secondsPerEpoch: number; lastLoss: number }>> {
  await initBackend(backend);
  const model = MODELS.cnn.model() as Cnn;
  const ds = loadMnist('train', n, 0);
  const y = Float32Array.from(oneHot(ds.labels, 10));
  const cfg = (e: number) => ({ loss: 'cross-entropy' as const, optimiser: { name: 'adam' as const, lr: 3e-3 }, epochs: e, batchSize: 50, seed: 'bench' });
  const out: Record<string, { secondsPerEpoch: number; lastLoss: number }> = {};
  for (const engine of engines) {
    await initEngine(engine);
    const warm = trainModel(model, model.init(0), ds, y, cfg(1)).params;
    const t = performance.now();
    const { history } = trainModel(model, warm, ds, y, cfg(epochs));
    out[engine] = { secondsPerEpoch: (performance.now() - t) / 1000 / epochs, lastLoss: history.loss[history.loss.length - 1] };
  }
  await initEngine();
  return out;
}

/**
 * The float64 ridge solve α = (K + λd̄I)⁻¹Y of an [n, n] kernel (K = XXᵀ/300 of 300 Gaussian features, λ = 1e-6,
 * 1 right-hand side as for the full multi-output kernel) on each engine: ridgeRegression's blocked Cholesky with native
 * trailing updates, and the JS Crout Cholesky of the tfjs engine. Returns seconds and the largest relative difference
 * of the two solutions.
 */
async function ridgeBench(n: number): Promise<Record<string, number>> {
  const d = 300;
  const X = Float64Array.from(new NormalRng('ridge').normals(n * d));
  await initEngine('native');
  const K = matrixEngine().matMul(X, X, n, d, n, true).map((v) => v / d);
  const Y = new Float64Array(n).map((_, i) => (i % 10 === 0 ? 1 : 0));
  const res: Record<string, number> = { n };
  const sol: Record<string, Float64Array> = {};
  for (const engine of ['native', 'tfjs']) {
    await initEngine(engine);
    const t = performance.now();
    sol[engine] = ridgeRegression(kernelSystem(K, n, 1), Y, 1e-6, 'bench ridge');
    res[`${engine}Seconds`] = (performance.now() - t) / 1000;
  }
  let diff = 0, scale = 0;
  for (let i = 0; i < n; i++) {
    diff = Math.max(diff, Math.abs(sol.native[i] - sol.tfjs[i]));
    scale = Math.max(scale, Math.abs(sol.tfjs[i]));
  }
  res.maxRelativeDifference = diff / scale;
  return res;
}

/**
 * Aggregate matMul rate of the backend with every core busy: one process per core, each timing
 * [1250, 2048]·[2048, 1250] (the explicit Gram's chunk product) 10 times at the same moment; GFLOP/s summed.
 * The cores of a virtual machine may share physical resources, so this is what several threads can get.
 */
async function concurrentMatMul(backend: string, procs: number): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const runs = await Promise.all(Array.from({ length: procs }, () => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [self, '--matmul-only', backend]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`matMul probe exited ${code}`))));
  })));
  return runs.reduce((a, b) => a + b, 0);
}

/** One process of concurrentMatMul: prints its GFLOP/s. */
async function matMulOnly(backend: string): Promise<void> {
  await initBackend(backend);
  const a = tf.randomNormal([1250, 2048]);
  const b = tf.randomNormal([2048, 1250]);
  tf.matMul(a, b).dispose();
  const t = performance.now();
  for (let r = 0; r < 10; r++) {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  }
  console.log((10 * 2 * 1250 * 2048 * 1250) / ((performance.now() - t) / 1000) / 1e9);
}

/** The issue's speed targets: full-kernel whole-process ratio against PyTorch's best method, per model. */
const TARGETS: Record<string, number> = { mlp: 25, cnn: 6 };

interface BenchModel {
  name: string;
  title: string;
  ntkArgs: string[];
  torchArgs: string[];
  torchMethods: string[];
  /** Product FLOPs given the run's metadata (tile, rules). */
  flops: (meta: Record<string, unknown>, n: number) => number;
  /** The same architecture as a tfjs-layers model (standard parameterisation), run through --model-json. */
  layers: () => tfl.LayersModel;
  /** The built-in model itself, for the in-process measurements. */
  model: () => Model;
  /** The reference GEMM of productsAgainstGemm: its products' largest shape at tile 125, [m, k]·[n, k]ᵀ. */
  reference: [number, number, number];
  /** Rounds of productsAgainstGemm (a round of the CNN takes ~5 s, of the MLP ~0.5 s). */
  productRounds: number;
}

const MODELS: Record<string, BenchModel> = {
  mlp: {
    name: 'mlp', title: 'MLP 784-100-100-100-10 (99,710 parameters)',
    ntkArgs: ['--model', 'mlp', '--widths', '784,100,100,100,10'], torchArgs: ['--model', 'mlp', '--widths', '784,100,100,100,10'],
    torchMethods: ['loop', 'vmap', 'ntkvp'],
    flops: (meta, n) => structuredFlops([784, 100, 100, 100, 10], n, meta.tile as number),
    model: () => new Mlp({ ...DEFAULT_MLP, widths: [784, 100, 100, 100, 10] }),
    reference: [1250, 100, 1250],
    productRounds: 15,
    layers: () => tfl.sequential({ layers: [
      tfl.layers.dense({ inputShape: [784], units: 100, activation: 'relu' }), tfl.layers.dense({ units: 100, activation: 'relu' }),
      tfl.layers.dense({ units: 100, activation: 'relu' }), tfl.layers.dense({ units: 10 }),
    ] }),
  },
  cnn: {
    name: 'cnn', title: 'seeds/003 CNN 1-20-20-10, 5×5, 5×5, 20×20 valid (90,550 parameters)',
    ntkArgs: ['--model', 'cnn', '--preset', 'seed-cnn', '--channels', '20,20'], torchArgs: ['--model', 'cnn'],
    torchMethods: ['loop', 'vmap', 'ntkvp'],
    flops: (meta, n) => {
      const rules = meta.rules as string[];
      const layers = [
        { fanIn: 25, fanOut: 20, p: 520 },
        { fanIn: 500, fanOut: 20, p: 10020 },
        { fanIn: 8000, fanOut: 10, p: 80010 },
      ].map((l, i) => ({ ...l, rule: rules[i] }));
      return productFlops(layers, 10, n, meta.tile as number);
    },
    model: () => new Cnn(seedCnnConfig([20, 20], DEFAULT_COMMON)),
    reference: [1250, 10540, 1250],
    productRounds: 5,
    layers: () => tfl.sequential({ layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 20, kernelSize: 5, activation: 'relu' }), tfl.layers.conv2d({ filters: 20, kernelSize: 5, activation: 'relu' }),
      tfl.layers.conv2d({ filters: 10, kernelSize: 20 }), tfl.layers.flatten(),
    ] }),
  },
};

async function main(): Promise<void> {
  const n = Number(arg('n', '500'));
  const repeats = Number(arg('repeats', '3'));
  const backends = arg('backends', 'wasm').split(',');
  const engines = arg('engines', 'native,tfjs').split(',');
  const workerCounts = arg('workers', 'default,1,2').split(',').filter((v, i, a) => (v === 'default' || Number(v) >= 1) && a.indexOf(v) === i);
  const models = arg('models', 'mlp,cnn').split(',').map((m) => {
    if (!MODELS[m]) throw new Error(`--models: unknown model ${m}; expected mlp, cnn`);
    return MODELS[m];
  });
  const peer = path.resolve(arg('peer', path.join(root, '..', 'shared', 'bench', 'torch_ntk.py')));
  const outDir = path.resolve(arg('out', path.join(root, 'results', 'bench')));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-bench-'));
  const xfile = path.join(tmp, 'x.npy');
  const ds = loadMnist('train', n, 0);
  fs.writeFileSync(xfile, encodeNpy({ data: ds.x, shape: [n, 784] }));
  const torchOk = !arg('skip-peer', '') && fs.existsSync(peer) && timed('/usr/bin/python3', ['-c', 'import torch, functorch']).code === 0;
  const peaks: Record<string, { shape: string; gflops: number }[]> = {};
  for (const backend of backends) peaks[backend] = await peakMatMul(backend);
  const allCores: Record<string, number> = {};
  for (const backend of backends) allCores[backend] = await concurrentMatMul(backend, os.cpus().length);
  const gemm = engines.includes('native') ? await nativeGemm() : [];
  const bestGemm = (use: string) => Math.max(...gemm.filter((g) => g.shape.startsWith(use)).map((g) => g.gflops));
  const targets: { target: string; goal: string; unit: string; native: number; tfjs: number; met: boolean }[] = [];
  const report: Record<string, unknown> = { date: new Date().toISOString(), machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: os.loadavg()[0] }, n, peakMatMul: peaks, matMulAllCoresGflops: allCores, nativeGemm: gemm, models: {} };
  for (const bm of models) {
    console.log(`\n# full NTK [${n * 10}, ${n * 10}] of the ${bm.title} on ${n} MNIST digits (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'})`);
    const ours: Record<string, unknown>[] = [];
    // The built-in model, then the same network as a saved tfjs-layers model (your own network's route).
    const layersDir = path.join(tmp, `layers-${bm.name}`);
    await saveLayersModel(bm.layers(), layersDir, 'ntk-ts bench');
    const variants = [{ label: '', args: bm.ntkArgs }, { label: ' --model-json', args: ['--model-json', path.join(layersDir, 'model.json')] }];
    for (const v of variants) for (const backend of backends) for (const engine of engines) for (const workers of workerCounts) {
      const runs: number[] = [];
      let meta: Record<string, unknown> = {};
      for (let r = 0; r < repeats; r++) {
        const out = path.join(tmp, `k-${bm.name}-${v.label ? 'json' : 'builtin'}-${backend}-${engine}-${workers}.npy`);
        const res = timed(process.execPath, [cli, 'kernel', ...v.args, '--data', `npy:${xfile}`, '--outputs', 'full', '--backend', backend, '--engine', engine, ...(workers === 'default' ? [] : ['--workers', workers]), '--quiet', '--out', out]);
        if (res.code !== 0) {
          console.log(`ntk on ${backend}/${engine}: failed (${res.stderr.trim().split('\n').pop()})`);
          break;
        }
        // Keep the metadata (compute and stage seconds) of the fastest whole-process run.
        if (runs.length === 0 || res.seconds < Math.min(...runs)) meta = JSON.parse(fs.readFileSync(out.replace(/\.npy$/, '.json'), 'utf8'));
        runs.push(res.seconds);
      }
      if (runs.length === 0) continue;
      const flops = bm.flops(meta, n);
      const st = meta.stageSeconds as Record<string, number>;
      ours.push({
        tool: `ntk-ts${v.label} (${backend}, ${meta.engine} engine, ${workers === 'default' ? `default plan: ${meta.workers} thread${(meta.workers as number) > 1 ? 's' : ''}` : `--workers ${workers}`}, ${meta.implementation}, tile ${meta.tile}${meta.rules ? `, rules ${(meta.rules as string[]).join('/')}` : ''})`, backend, engine: meta.engine, workers, variant: v.label.trim() || 'built-in',
        seconds: Math.min(...runs), runs, computeSeconds: meta.computeSeconds, stageSeconds: st, productGflop: flops / 1e9,
        // With workers, st.products is summed over threads: this is the per-thread rate.
        productGflops: flops / 1e9 / st.products,
        bestMatMulGflops: meta.engine === 'native' ? bestGemm(bm.name) : Math.max(...peaks[backend].map((p) => p.gflops)),
      });
    }
    const peers: Record<string, unknown>[] = [];
    if (!torchOk) {
      console.log(`PyTorch peer skipped: ${arg('skip-peer', '') ? '--skip-peer given' : fs.existsSync(peer) ? 'python3-torch (with functorch) is not importable by /usr/bin/python3; apt-get install python3-torch libopenblas0-pthread' : `${peer} not found`}`);
    } else {
      for (const method of bm.torchMethods) {
        // A 20 GB address-space cap turns the peer's out-of-memory cases into a clean failure instead of swapping.
        const cmd = `ulimit -v 20000000; exec /usr/bin/python3 ${peer} ${bm.torchArgs.join(' ')} --n ${n} --x ${xfile} --method ${method} --threads ${os.cpus().length}`;
        const res = timed('/bin/bash', ['-c', cmd]);
        const line = res.stdout.trim().split('\n').pop() ?? '';
        if (res.code !== 0 || !line.startsWith('{')) {
          peers.push({ tool: `PyTorch ${method}`, failed: (res.stderr.trim().split('\n').pop() ?? 'no output').slice(0, 160), seconds: res.seconds });
          continue;
        }
        peers.push({ tool: `PyTorch ${method}`, seconds: res.seconds, innerSeconds: JSON.parse(line).seconds });
      }
    }
    const okPeers = peers.filter((p) => !p.failed);
    const bestPeer = okPeers.length ? okPeers.reduce((a, b) => ((a.seconds as number) <= (b.seconds as number) ? a : b)) : null;
    console.log('\n| tool | whole process (s) | compute (s) | ratio vs best PyTorch |');
    console.log('|---|---|---|---|');
    for (const o of ours) {
      const q = bestPeer ? (bestPeer.seconds as number) / (o.seconds as number) : NaN;
      const ratio = bestPeer ? (q >= 1 ? `${q.toFixed(1)}× faster` : `${(1 / q).toFixed(1)}× slower`) : 'n/a';
      console.log(`| ${o.tool} | ${(o.seconds as number).toFixed(2)} (runs ${(o.runs as number[]).map((r) => r.toFixed(2)).join(', ')}) | ${o.computeSeconds} | ${ratio} |`);
    }
    for (const p of peers) console.log(`| ${p.tool} | ${p.failed ? `failed after ${(p.seconds as number).toFixed(1)} s: ${p.failed}` : (p.seconds as number).toFixed(2)} | ${p.innerSeconds ?? ''} | ${p === bestPeer ? 'best peer' : ''} |`);
    for (const o of ours) {
      const st = o.stageSeconds as Record<string, number>;
      const against = o.engine === 'native' ? `the native engine's best GEMM on these shapes` : `the backend's best matMul`;
      // On the native engine the full-mode tile's products and their Hadamard combination are one fused call
      // (denseNtkTile), timed as products: the rate below is then a lower bound of the GEMMs' own.
      const fused = o.engine === 'native' ? ' (fused with their combination)' : '';
      console.log(`\n${o.tool}: products${fused} ${(o.productGflop as number).toFixed(1)} GFLOP in ${st.products} s = ${(o.productGflops as number).toFixed(1)} GFLOP/s against ${against} ${(o.bestMatMulGflops as number).toFixed(1)} GFLOP/s (${((100 * (o.productGflops as number)) / (o.bestMatMulGflops as number)).toFixed(0)} %); ` +
        `stages: features ${st.features} s, products ${st.products} s, combine ${st.combine} s, mirror ${st.mirror} s`);
    }
    const layersRatios = ours.filter((o) => o.variant !== 'built-in').map((o) => {
      const base = ours.find((b) => b.variant === 'built-in' && b.backend === o.backend && b.engine === o.engine && b.workers === o.workers);
      return { backend: o.backend, engine: o.engine, workers: o.workers, ratio: base ? (o.seconds as number) / (base.seconds as number) : null };
    });
    for (const r of layersRatios) console.log(`--model-json against the built-in model (${r.backend}, ${r.engine} engine, workers ${r.workers}): ${r.ratio?.toFixed(2)}× its time`);
    (report.models as Record<string, unknown>)[bm.name] = { title: bm.title, ours, peers, layersRatios };
    // The targets' rows: the default plan of the built-in model on the first backend, per engine.
    const pick = (engine: string) => ours.find((o) => o.variant === 'built-in' && o.backend === backends[0] && o.engine === engine && o.workers === workerCounts[0]);
    const goal = TARGETS[bm.name];
    if (goal) {
      const ratio = (o?: Record<string, unknown>) => (o && bestPeer ? (bestPeer.seconds as number) / (o.seconds as number) : NaN);
      const share = (o?: Record<string, unknown>) => (o ? (o.productGflops as number) / (bestGemm(bm.name) || NaN) : NaN);
      targets.push({ target: `${bm.name.toUpperCase()} full [${n * 10}, ${n * 10}], whole process vs best PyTorch`, goal: `≥ ${goal}×`, unit: '×', native: ratio(pick('native')), tfjs: ratio(pick('tfjs')), met: ratio(pick('native')) >= goal });
      if (engines.includes('native')) {
        await initBackend(backends[0]);
        const pa = await productsAgainstGemm(bm, n, bm.productRounds, bm.reference);
        (report.models as Record<string, Record<string, unknown>>)[bm.name].productsAgainstGemm = pa;
        const rates = (v: unknown) => (v as number[]).map((g) => g.toFixed(1)).join(', ');
        console.log(`\n${bm.name.toUpperCase()} products against the native engine's GEMM at the same moments (in this process, ${backends[0]}, default plan; ${pa.rounds} rounds of the kernel's ` +
          `products stage beside the best of 5 GEMMs ${pa.reference as string}): products ${rates(pa.productsGflops)} GFLOP/s; GEMM ${rates(pa.gemmGflops)} GFLOP/s; ` +
          `median against median ${(100 * (pa.medianRatio as number)).toFixed(0)} %, best against best ${(100 * (pa.bestRatio as number)).toFixed(0)} %; ` +
          `the CLI's run above (its products stage in a fresh process, first call included) against nativeGemm's best: ${(100 * share(pick('native'))).toFixed(0)} %`);
        targets.push({ target: `${bm.name.toUpperCase()} products, GFLOP/s against the native engine's best GEMM on the same shapes (median of ${pa.rounds} in-process rounds beside the GEMM; tfjs column: the tfjs engine's CLI run against nativeGemm's best)`, goal: '≥ 70 %', unit: '%', native: 100 * (pa.medianRatio as number), tfjs: 100 * share(pick('tfjs')), met: (pa.medianRatio as number) >= 0.7 });
      }
    }
    if (bm.name === 'mlp' && engines.includes('native')) {
      await initBackend(backends[0]);
      const d = await mlpProductsDecomposition(n);
      const ref = bestGemm('mlp');
      const rate = (sec: number) => `${(d.gflop / sec).toFixed(1)} GFLOP/s (${((100 * d.gflop) / sec / ref).toFixed(0)} % of ${ref.toFixed(1)})`;
      (report.models as Record<string, Record<string, unknown>>).mlp.productsDecomposition = { ...d, bestGemmGflops: ref };
      console.log(`\nMLP products on the native engine, where the time goes (in this process, ${backends[0]}: the kernel's ${d.calls} fused tile calls recorded and replayed on data of the same shapes, best of 3; ` +
        `${d.gflop.toFixed(1)} GFLOP): the kernel's products stage (second run) ${d.kernelProductsSeconds.toFixed(3)} s = ${rate(d.kernelProductsSeconds)}; the fused calls replayed ${d.fusedSeconds.toFixed(3)} s = ${rate(d.fusedSeconds)}; ` +
        `their GEMMs alone, without the combination, ${d.gemmsAloneSeconds.toFixed(3)} s = ${rate(d.gemmsAloneSeconds)}; fused / GEMMs alone ${(d.fusedSeconds / d.gemmsAloneSeconds).toFixed(2)}`);
    }
  }
  const ridgeN = Number(arg('ridge-n', '5000'));
  if (ridgeN > 0 && engines.includes('native')) {
    const r = await ridgeBench(ridgeN);
    report.ridge = r;
    console.log(`\n# float64 ridge solve of a [${ridgeN}, ${ridgeN}] kernel: native engine (blocked Cholesky, native trailing updates) ${r.nativeSeconds.toFixed(2)} s, tfjs engine (JS Crout Cholesky) ${r.tfjsSeconds.toFixed(2)} s; solutions differ by ${r.maxRelativeDifference.toExponential(1)} of max|α|`);
    targets.push({ target: `float64 ridge solve of a [${ridgeN}, ${ridgeN}] kernel, seconds`, goal: '≤ 5 s', unit: 's', native: r.nativeSeconds, tfjs: r.tfjsSeconds, met: r.nativeSeconds <= 5 });
  }
  const trainEpochs = Number(arg('train-epochs', '3'));
  if (trainEpochs > 0) {
    const t = await trainBench(n, trainEpochs, backends[0], engines);
    report.training = t;
    console.log(`\n# training the seeds/003 CNN on ${n} MNIST digits (batch 50, Adam, cross-entropy; one warm-up epoch, then ${trainEpochs}): ` +
      `${Object.entries(t).map(([e, r]) => `${e} engine ${r.secondsPerEpoch.toFixed(3)} s per epoch (5000 epochs: ${((5000 * r.secondsPerEpoch) / 60).toFixed(0)} min), last loss ${r.lastLoss.toFixed(6)}`).join('; ')}`);
  }
  if (targets.length) {
    report.targets = targets;
    (report.machine as Record<string, unknown>).loadAverageAtEnd = os.loadavg()[0];
    console.log(`\n# targets (native engine, with the old engine's figure beside it; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores at the end)`);
    console.log('| target | goal | native engine | old engine (tfjs) | met |');
    console.log('|---|---|---|---|---|');
    const fmt = (v: number, unit: string) => (Number.isFinite(v) ? `${v.toFixed(unit === '%' ? 0 : unit === '×' ? 1 : 2)}${unit === '×' ? unit : ` ${unit}`}` : 'n/a');
    for (const t of targets) console.log(`| ${t.target} | ${t.goal} | ${fmt(t.native, t.unit)} | ${fmt(t.tfjs, t.unit)} | ${t.met ? 'yes' : 'no'} |`);
  }
  if (gemm.length) console.log(`\nnative engine GEMM rates (best of 5, in a process started as the CLI's): ${gemm.map((g) => `${g.shape} ${g.dtype} ${g.gflops.toFixed(1)}`).join('; ')} GFLOP/s`);
  if (arg('scaling', 'on') !== 'off') report.scaling = scaling(tmp, backends[0]);
  console.log(`\nmatMul [1250,2048]·[2048,1250] on all ${os.cpus().length} cores at once (one process each, summed): ${Object.entries(allCores).map(([b, g]) => `${b} ${g.toFixed(1)}`).join(', ')} GFLOP/s`);
  console.log(`\nbackend matMul rates: ${Object.entries(peaks).map(([b, ps]) => `${b}: ${ps.map((p) => `${p.shape} ${p.gflops.toFixed(1)}`).join('; ')}`).join(' | ')} GFLOP/s`);
  writeFilesAtomically([{ path: path.join(outDir, 'bench.json'), data: JSON.stringify(report, null, 2) + '\n' }]);
  console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'bench.json'))}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  if (arg('web', 'on') !== 'off') webBench();
}

/**
 * The explorer's timings in headless Chromium against Node, in the same bench run (experiments/bench-web.ts,
 * results/web/timings.json), when a Chromium is there; said and skipped otherwise.
 */
function webBench(): void {
  if (!findChromium()) {
    console.log(`\nbrowser timings skipped: no Chromium at ${CHROMIUM_CANDIDATES.join(', ')} (apt-get install chromium, or CHROMIUM_PATH; then npm run bench:web)`);
    return;
  }
  console.log('\n# the explorer in headless Chromium against Node (npm run bench:web)');
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('./bench-web.js', import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`bench-web exited with ${r.status}`);
}

/** The fitted exponent a of y ∝ x^a: the least-squares slope of log y on log x. */
const exponent = (x: number[], y: number[]): number => fitLine(x.map(Math.log), y.map(Math.log)).slope;

/**
 * Scaling of the MLP 784-W-W-W-10 NTK (trace outputs [N, N], one thread, whole process under /usr/bin/time for
 * the peak RSS): over N = 250…4000 at W = 100 and over W = 50…800 at N = 1000, with the fitted exponents of the
 * kernel computation time (metadata computeSeconds) and of the peak RSS.
 */
function scaling(tmp: string, backend: string): Record<string, unknown> {
  const run = (n: number, w: number) => {
    const out = path.join(tmp, `scale-${n}-${w}.npy`);
    const r = timed('/usr/bin/time', ['-f', '%M', process.execPath, cli, 'kernel', '--widths', `784,${w},${w},${w},10`, '--data', 'mnist', '--n', String(n), '--outputs', 'trace', '--workers', '1', '--backend', backend, '--quiet', '--out', out]);
    if (r.code !== 0) throw new Error(`scaling run N=${n} W=${w} failed: ${r.stderr.trim().split('\n').pop()}`);
    const meta = JSON.parse(fs.readFileSync(out.replace(/\.npy$/, '.json'), 'utf8'));
    fs.rmSync(out);
    return { n, width: w, seconds: r.seconds, computeSeconds: meta.computeSeconds as number, peakRssMB: Math.round(Number(r.stderr.trim().split('\n').pop()) / 1024) };
  };
  const byN = [250, 500, 1000, 2000, 4000].map((n) => run(n, 100));
  const byW = [50, 100, 200, 400, 800].map((w) => run(1000, w));
  const fit = (rows: { computeSeconds: number; peakRssMB: number }[], x: number[]) => ({ time: exponent(x, rows.map((r) => r.computeSeconds)), peakRss: exponent(x, rows.map((r) => r.peakRssMB)) });
  const res = { outputs: 'trace', byN, byWidth: byW, exponents: { n: fit(byN, byN.map((r) => r.n)), width: fit(byW, byW.map((r) => r.width)) } };
  console.log(`\n# scaling of the MLP 784-W-W-W-10 NTK (trace [N, N], ${backend}, one thread)`);
  console.log('| N | width | kernel compute (s) | whole process (s) | peak RSS (MB) |');
  console.log('|---|---|---|---|---|');
  for (const r of [...byN, ...byW]) console.log(`| ${r.n} | ${r.width} | ${r.computeSeconds} | ${r.seconds.toFixed(2)} | ${r.peakRssMB} |`);
  console.log(`fitted exponents: time ∝ N^${res.exponents.n.time.toFixed(2)}, RSS ∝ N^${res.exponents.n.peakRss.toFixed(2)}; time ∝ W^${res.exponents.width.time.toFixed(2)}, RSS ∝ W^${res.exponents.width.peakRss.toFixed(2)}`);
  return res;
}

const usage = `usage: node dist/experiments/bench.js [--models mlp,cnn] [--n 500] [--repeats 3] [--backends wasm,cpu] [--engines native,tfjs]
  [--workers default,1,2] [--peer PATH] [--skip-peer 1] [--out DIR] [--ridge-n 5000 (0: skip)] [--scaling off] [--web off]
  [--train-epochs 3 (0: skip)]`;

// The bench runs in a process started as the command line starts its own (bin/runtime.ts), so that what it times
// in this process (the native engine's GEMM rates, the ridge solve) runs under the same conditions as the kernels
// it spawns through the CLI.
if (relaunchWanted() && !process.argv.includes('--help') && process.argv[2] !== '--matmul-only') relaunch('bench: could not start itself');
else {
  (process.argv.includes('--help') ? Promise.resolve(console.log(usage)) : process.argv[2] === '--matmul-only' ? matMulOnly(process.argv[3]) : main()).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
