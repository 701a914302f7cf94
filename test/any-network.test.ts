import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, randomInputs, testBackend } from './helpers.js';
import { initBackend, scoped } from '../lib/backend.js';
import { UserError } from '../lib/errors.js';
import { NormalRng } from '../lib/rng.js';
import { vectors } from '../lib/samples.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { monteCarloKernel } from '../jacobian/monte-carlo.js';
import { KernelTracker } from '../jacobian/tracking.js';
import { fromFunction } from '../models/function-model.js';
import { Mlp } from '../models/mlp.js';
import type { Batch, LinearRecord, Model, TappedForward, Taps } from '../models/model.js';
import type { Param, ParamSpec } from '../models/params.js';
import { trainModel } from '../models/training.js';
import { sharedForwardVjps } from '../lib/autodiff.js';
import { tensorView } from '../lib/tensors.js';
import { oneHot } from '../lib/kernel-regression.js';
import type { Samples } from '../lib/samples.js';

const d = 5, h = 6, K = 2;

/** f(x) = (LN(x W1) ⊙ g) W2 with a learnable LayerNorm gain g: the user-written model of the issue. */
function lnForward(ps: tf.Tensor[], x: tf.Tensor, taps: Taps, records: LinearRecord[] | null, named: boolean): tf.Tensor2D {
  const [W1, g, W2] = ps;
  const tap = (shape: number[], i: number) => (taps === 'zeros' ? tf.zeros(shape) : taps ? taps[i] : undefined);
  let z1 = tf.matMul(x as tf.Tensor2D, W1 as tf.Tensor2D);
  const t1 = tap(z1.shape, 0);
  records?.push({ input: x as tf.Tensor2D, segments: null, wScale: 1, bScale: 0, outShape: [x.shape[0], h], tap: t1, ...(named ? { params: [0] } : {}) });
  if (t1) z1 = tf.add(z1, t1);
  const { mean, variance } = tf.moments(z1, 1, true);
  const a = tf.mul(tf.div(tf.sub(z1, mean), tf.sqrt(tf.add(variance, 1e-3))), g) as tf.Tensor2D;
  let z2 = tf.matMul(a, W2 as tf.Tensor2D);
  const t2 = tap(z2.shape, 1);
  records?.push({ input: a, segments: null, wScale: 1, bScale: 0, outShape: [x.shape[0], K], tap: t2, ...(named ? { params: [2] } : {}) });
  if (t2) z2 = tf.add(z2, t2);
  return z2 as tf.Tensor2D;
}

/** A hand-written Model whose applyTapped records its two linear layers but not the LayerNorm gain. */
class HandWritten implements Model {
  readonly config = { model: 'handwritten' };
  readonly outputSize = K;
  readonly paramSpecs: ParamSpec[] = [{ name: 'W1', shape: [d, h] }, { name: 'g', shape: [h] }, { name: 'W2', shape: [h, K] }];
  constructor(private readonly named: boolean) {}
  init(seed: string | number): Param[] {
    const rng = new NormalRng(seed);
    return this.paramSpecs.map((s) => ({ ...s, values: s.name === 'g' ? Float32Array.from({ length: h }, () => 1 + 0.5 * rng.normal()) : rng.normals(s.shape[0] * s.shape[1], 1 / Math.sqrt(s.shape[0])) }));
  }
  checkSamples(): void {}
  batch(s: Samples): Batch {
    return { n: s.n, x: tf.tensor2d((s as { x: Float32Array }).x, [s.n, d]) };
  }
  apply(ps: tf.Tensor[], b: Batch): tf.Tensor2D {
    return lnForward(ps, b.x, null, null, this.named);
  }
  applyTapped(ps: tf.Tensor[], b: Batch, taps: Taps): TappedForward {
    const linear: LinearRecord[] = [];
    return { out: lnForward(ps, b.x, taps, linear, this.named), linear };
  }
}

describe('any network: fromFunction, hand-written models, coverage of the structured rules', function () {
  before(async () => {
    await testBackend();
  });

  it('a model whose records miss a parameter (a LayerNorm gain) gets the true kernel: auto steps aside with a notice, structured is refused', () => {
    const x = vectors(randomInputs(5, d, 'ln'), 5, [d]);
    for (const named of [false, true]) {
      const m = new HandWritten(named);
      const ps = m.init(1);
      const auto = empiricalKernel(m, ps, x, null, { mode: 'full' });
      const jac = empiricalKernel(m, ps, x, null, { mode: 'full', implementation: 'jacobian' });
      expect(auto.info.implementation).to.equal('jacobian');
      expect(auto.info.notice).to.match(named ? /no structured rule covers parameter g/ : /cover 42 of the model's 48 parameters/);
      expect(Array.from(auto.kernel.data)).to.deep.equal(Array.from(jac.kernel.data));
      expect(() => empiricalKernel(m, ps, x, null, { mode: 'full', implementation: 'structured' })).to.throw(UserError, /--implementation structured/);
    }
    // Independent check of the Jacobian path on this model: float64 central differences of f on one entry.
    const m = new HandWritten(true);
    const ps = m.init(1);
    const f = (vals: Param[]) => scoped(() => m.apply(vals.map((p) => tf.tensor(p.values, p.shape)), m.batch(x)).dataSync()[0]);
    const J: number[] = [];
    for (let q = 0; q < ps.length; q++) {
      for (let i = 0; i < ps[q].values.length; i++) {
        const eps = 1e-2;
        const plus = ps.map((p) => ({ ...p, values: p.values.slice() })), minus = ps.map((p) => ({ ...p, values: p.values.slice() }));
        plus[q].values[i] += eps;
        minus[q].values[i] -= eps;
        J.push((f(plus) - f(minus)) / (2 * eps));
      }
    }
    const theta00 = J.reduce((s, v) => s + v * v, 0);
    const k = empiricalKernel(m, ps, x, null, { mode: 'full' }).kernel.data[0];
    expect(k).to.be.closeTo(theta00, 2e-3 * theta00);
  });

  it('fromFunction: a tanh MLP written as f(θ, x) has the built-in MLP\'s kernel; Monte-Carlo needs and uses its initialiser', () => {
    const mlp = new Mlp({ model: 'mlp', widths: [d, 8, 8, K], activation: 'tanh', parameterization: 'standard', wStd: 1.3, bStd: 0, bias: false });
    const params = mlp.init(2);
    const f = (ps: tf.Tensor[], x: tf.Tensor) => tf.matMul(tf.tanh(tf.matMul(tf.tanh(tf.matMul(x as tf.Tensor2D, ps[0] as tf.Tensor2D)), ps[1] as tf.Tensor2D)), ps[2] as tf.Tensor2D);
    const { model, params: fp } = fromFunction(f, params, { inputShape: [d], init: (seed) => mlp.init(seed), name: 'tanh-mlp' });
    expect(model.outputSize).to.equal(K);
    const x = vectors(randomInputs(6, d, 'fn'), 6, [d]);
    const mine = empiricalKernel(model, fp, x, null, { mode: 'full' });
    expect(mine.info.implementation).to.equal('jacobian');
    const want = empiricalKernel(mlp, params, x, null, { mode: 'full' }).kernel.data;
    const e = maxAbsDiff(mine.kernel.data, want);
    expect(e.diff / e.scale).to.be.below(1e-5);
    const x2 = vectors(randomInputs(3, d, 'fn2'), 3, [d]);
    for (const mode of ['trace', 'diagonal'] as const) {
      const a = empiricalKernel(model, fp, x, x2, { mode }).kernel.data, b = empiricalKernel(mlp, params, x, x2, { mode }).kernel.data;
      expect(maxAbsDiff(a, b).diff / maxAbsDiff(a, b).scale).to.be.below(1e-5);
    }
    const mc1 = monteCarloKernel(model, x, null, { seeds: 3, seed: 0, mode: 'trace' });
    const mc2 = monteCarloKernel(mlp, x, null, { seeds: 3, seed: 0, mode: 'trace' });
    expect(maxAbsDiff(mc1.mean, mc2.mean).diff).to.be.below(1e-5 * maxAbsDiff(mc1.mean, mc2.mean).scale);
    const bare = fromFunction(f, params, { inputShape: [d] });
    expect(() => monteCarloKernel(bare.model, x, null, { seeds: 2, seed: 0, mode: 'trace' })).to.throw(UserError, /no initialiser/);
    expect(() => empiricalKernel(bare.model, bare.params, x, null, { kind: 'nngp' })).to.throw(UserError, /--implementation structured|conjugate-kernel/);
  });

  it('fromFunction models train, and are tracked (NTK; no CK for a bare function)', () => {
    const W = [tf.tensor2d(new NormalRng('w1').normals(d * 16, 0.5), [d, 16]), tf.tensor2d(new NormalRng('w2').normals(16 * K, 0.25), [16, K])];
    const { model, params } = fromFunction((ps, x) => tf.matMul(tf.relu(tf.matMul(x as tf.Tensor2D, ps[0] as tf.Tensor2D)), ps[1] as tf.Tensor2D), W, { inputShape: [d] });
    W.forEach((t) => t.dispose());
    expect(params.map((p) => p.name)).to.deep.equal(['param_0', 'param_1']);
    const n = 16;
    const x = vectors(randomInputs(n, d, 'train'), n, [d]);
    const labels = Int32Array.from({ length: n }, (_, i) => (x.x[i * d] > 0 ? 1 : 0));
    const tracker = new KernelTracker(model, vectors(x.x.subarray(0, 4 * d), 4, [d]), labels.subarray(0, 4));
    const { history } = trainModel(model, params, x, Float32Array.from(oneHot(labels, K)), { loss: 'cross-entropy', optimiser: { name: 'adam', lr: 0.05 }, epochs: 60, batchSize: n, seed: 0 },
      { callAt: [1, 60], onEpoch: (ep, ps) => tracker.record(ep, ps) });
    expect(history.loss[history.loss.length - 1]).to.be.below(0.5 * history.loss[0]);
    expect(tracker.points.map((p) => p.epoch)).to.deep.equal([0, 1, 60]); // θ0, then the callAt epochs
    expect(tracker.points[0].ntk.relativeChange).to.equal(0);
    expect(tracker.points[2].ntk.relativeChange).to.be.greaterThan(tracker.points[1].ntk.relativeChange);
    expect(tracker.points[2].ck).to.equal(undefined);
  });

  it('wasm gets the gradient kernels it lacks: tf.grads through conv2d, depthwise conv, max pooling and gather equal the cpu backend\'s', async () => {
    const run = async (backend: string) => {
      await initBackend(backend);
      return scoped(() => {
        const r = (shape: number[], seed: string) => tf.tensor(new NormalRng(seed).normals(shape.reduce((a, b) => a * b, 1)), shape);
        const x = r([2, 7, 6, 3], 'x'), W = r([3, 3, 3, 4], 'W'), D = r([3, 3, 3, 2], 'D'), E = r([10, 4], 'E');
        const f = (x: tf.Tensor, W: tf.Tensor, D: tf.Tensor, E: tf.Tensor) => tf.addN([
          tf.sum(tf.square(tf.maxPool(tf.conv2d(x as tf.Tensor4D, W as tf.Tensor4D, 2, 'same'), 2, 1, 'valid'))),
          tf.sum(tf.mul(tf.depthwiseConv2d(x as tf.Tensor4D, D as tf.Tensor4D, [1, 2], 'same'), -1)),
          tf.sum(tf.square(tf.gather(E, tf.tensor1d([1, 3, 3, 9], 'int32')))),
          // an all-negative pooling window: the gradient must reach its maximum
          tf.sum(tf.maxPool(tf.sub(tf.abs(x as tf.Tensor4D), 10) as tf.Tensor4D, 2, 2, "valid")),
        ]);
        return tf.grads(f)([x, W, D, E]).map((g) => Array.from(g.dataSync()));
      });
    };
    const wasm = await run('wasm'), cpu = await run('cpu');
    await testBackend();
    wasm.forEach((g, i) => {
      const e = maxAbsDiff(g, cpu[i]);
      expect(e.scale).to.be.greaterThan(0);
      expect(e.diff / e.scale, `gradient ${i}`).to.be.below(1e-5);
    });
  });

  it('wasm clones share memory (Identity): equal values, each outlives the other, nothing leaks', async () => {
    await initBackend('wasm');
    try {
      const before = tf.memory().numBytes;
      const x = tf.tensor2d([[1, -2, 3], [4, 5, -6]]);
      const y = tf.clone(x);
      expect(Array.from(y.dataSync())).to.deep.equal([1, -2, 3, 4, 5, -6]);
      expect(tensorView(y).byteOffset, 'one block of the wasm heap, not a copy').to.equal(tensorView(x).byteOffset);
      x.dispose();
      expect(Array.from(y.dataSync()), 'the clone survives the original').to.deep.equal([1, -2, 3, 4, 5, -6]);
      // A gradient that saves its inputs (mul saves both, relu its input) through clones, original disposed first.
      const a = tf.tensor1d([0.5, -1, 2]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), v)))(a);
      expect(Array.from(g.dataSync())).to.deep.equal([1, 0, 4]);
      tf.dispose([y, a, g]);
      expect(tf.memory().numBytes, 'bytes back to where they were').to.equal(before);
    } finally {
      await testBackend();
    }
  });

  it('sharedForwardVjps gives tf.grads\' vector-Jacobian products for every cotangent, bit for bit (ReLU masks reused across walks)', async () => {
    const backend = await testBackend();
    const rng = new NormalRng('vjp');
    const x0 = tf.tensor2d(rng.normals(4 * 5), [4, 5]);
    const W = tf.tensor2d(rng.normals(5 * 6), [5, 6]), V = tf.tensor2d(rng.normals(6 * 3), [6, 3]);
    // Two ReLUs, one of whose outputs is used twice, so that a mask is met along two paths of one walk.
    const f = (x: tf.Tensor) => {
      const h = tf.relu(tf.matMul(x as tf.Tensor2D, W));
      const u = tf.relu(tf.sub(h, 0.3));
      return tf.add(tf.matMul(u, V), tf.matMul(tf.mul(h, h), V));
    };
    const made = [0, 1, 2].map((k) => tf.tensor2d(new NormalRng(`cotangent ${k}`).normals(12), [4, 3]));
    const expected = made.map((dy) => Array.from(tf.grad(f)(x0, dy).dataSync()));
    const tensorsBefore = tf.memory().numTensors;
    const got: number[][] = [];
    sharedForwardVjps(() => {
      const x = tf.add(x0, 0);
      return { y: f(x), xs: [x] };
    }, made.map((m) => () => tf.clone(m)), (k, gs) => { got[k] = Array.from(gs[0].dataSync()); });
    expect(tf.memory().numTensors, `no tensor left behind (${backend})`).to.equal(tensorsBefore);
    got.forEach((g, k) => expect(g, `cotangent ${k}`).to.deep.equal(expected[k]));
    expect(got[0].some((v) => v !== 0)).to.equal(true);
    tf.dispose([x0, W, V, ...made]);
  });

  it('model.fit of a conv net with an embedding-free conv stack works on wasm after initBackend', async () => {
    await initBackend('wasm');
    try {
      const m = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.depthwiseConv2d({ kernelSize: 2, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ] });
      m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
      const xs = tf.tensor4d(new NormalRng('fit').normals(32 * 36), [32, 6, 6, 1]);
      const ys = tf.tidy(() => tf.stack([tf.mean(xs, [1, 2, 3]), tf.max(xs, [1, 2, 3])], 1));
      const hist = await m.fit(xs, ys, { epochs: 40, batchSize: 32, shuffle: false, verbose: 0 });
      const loss = hist.history.loss as number[];
      expect(loss[loss.length - 1]).to.be.below(0.3 * loss[0]);
      tf.dispose([xs, ys]);
    } finally {
      await testBackend();
    }
  });
});
