import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { empiricalKernel } from '../jacobian/empirical.js';
import { KernelTracker } from '../jacobian/tracking.js';
import { kernelSystem, oneHot } from '../lib/kernel-regression.js';
import { linearisedFlow, linearisedGd } from '../lib/linearised.js';
import { makeOptimiser } from '../lib/optimisers.js';
import { NormalRng } from '../lib/rng.js';
import { vectors } from '../lib/samples.js';
import { initEngine } from '../lib/native-engine.js';
import { Cnn } from '../models/cnn.js';
import { withDataInputs } from '../models/layers.js';
import { fromLayersModel } from '../models/layers-network.js';
import type { Model } from '../models/model.js';
import { DEFAULT_COMMON, DEFAULT_MLP, Mlp } from '../models/mlp.js';
import { type Param } from '../models/params.js';
import { checkpointHook, parseParamsFile } from '../models/params-file.js';
import { predict, trainModel } from '../models/training.js';
import { randomInputs, testBackend } from './helpers.js';

const outputs = (m: Mlp, ps: Param[], x: Float32Array, n: number): Float64Array => Float64Array.from(predict(m, ps, vectors(x, n)));

describe('optimisers and training', function () {
  before(async () => {
    await testBackend();
  });

  it('one Adam step equals the formula computed by hand in float64', () => {
    const p = [tf.tensor1d([0.5, -1, 2])], g = [tf.tensor1d([0.1, -0.3, 0])];
    const opt = makeOptimiser({ name: 'adam', lr: 0.01 });
    const [p1] = opt.step(p, g);
    const [p2] = opt.step([p1], [tf.tensor1d([0.2, 0.1, -0.5])]);
    // Two steps by the formulas of Kingma & Ba: m_t, v_t, bias corrections, θ −= lr m̂/(√v̂ + ε).
    const th = [0.5, -1, 2], m = [0, 0, 0], v = [0, 0, 0];
    [[0.1, -0.3, 0], [0.2, 0.1, -0.5]].forEach((gt, t) => {
      for (let i = 0; i < 3; i++) {
        m[i] = 0.9 * m[i] + 0.1 * gt[i];
        v[i] = 0.999 * v[i] + 0.001 * gt[i] ** 2;
        th[i] -= (0.01 * (m[i] / (1 - 0.9 ** (t + 1)))) / (Math.sqrt(v[i] / (1 - 0.999 ** (t + 1))) + 1e-8);
      }
    });
    Array.from(p2.dataSync()).forEach((x, i) => expect(x).to.be.closeTo(th[i], 1e-6));
    // SGD with momentum μ: u = μu + g; θ −= lr u.
    const sgd = makeOptimiser({ name: 'sgd', lr: 0.1, momentum: 0.5 });
    const [q1] = sgd.step([tf.tensor1d([1])], [tf.tensor1d([2])]);
    const [q2] = sgd.step([q1], [tf.tensor1d([4])]);
    expect(q2.dataSync()[0]).to.be.closeTo(1 - 0.1 * 2 - 0.1 * (0.5 * 2 + 4), 1e-6);
    opt.dispose();
    sgd.dispose();
  });

  for (const [name, cfg] of [['adam', { name: 'adam', lr: 3e-3 }], ['sgd with momentum', { name: 'sgd', lr: 0.05, momentum: 0.9 }], ['full-batch gd', { name: 'gd', lr: 0.2 }]] as const) {
    it(`${name} reduces the cross-entropy of a small MLP to a fraction of its start`, () => {
      const n = 40, x = randomInputs(n, 6, 'train');
      const labels = Int32Array.from({ length: n }, (_, i) => (x[i * 6] + x[i * 6 + 1] > 0 ? 1 : 0) + (x[i * 6 + 2] > 0.8 ? 1 : 0));
      const m = new Mlp({ ...DEFAULT_MLP, widths: [6, 64, 64, 3] });
      const batch = name === 'full-batch gd' ? n : 10;
      const r = trainModel(m, m.init(1), { ...vectors(x, n), labels }, Float32Array.from(oneHot(labels, 3)), { loss: 'cross-entropy', optimiser: cfg, epochs: 60, batchSize: batch, seed: 3 });
      expect(r.history.loss).to.have.length(60);
      expect(r.history.loss[59]).to.be.below(0.25 * r.history.loss[0]);
    });
  }

  it('training is deterministic: the same seed gives the same parameters bit for bit; another seed does not', () => {
    const n = 20, x = randomInputs(n, 5, 'det');
    const y = Float32Array.from(new NormalRng('det-y').normals(n * 2));
    const m = new Mlp({ ...DEFAULT_MLP, widths: [5, 16, 2] });
    const run = (seed: number) => trainModel(m, m.init(2), vectors(x, n), y, { loss: 'mse', optimiser: { name: 'adam', lr: 1e-2 }, epochs: 5, batchSize: 6, seed }).params;
    const a = run(1), b = run(1), c = run(2);
    a.forEach((p, i) => expect(Buffer.from(p.values.buffer).equals(Buffer.from(b[i].values.buffer))).to.equal(true));
    expect(a.some((p, i) => p.values.some((v, j) => v !== c[i].values[j]))).to.equal(true);
  });

  it('kernel tracking records zero change for untouched parameters and calls back at the chosen epochs', () => {
    const n = 12, x = randomInputs(n, 4, 'track');
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const m = new Mlp({ ...DEFAULT_MLP, widths: [4, 32, 3] });
    const tracker = new KernelTracker(m, vectors(x, n), labels);
    const init = m.init(5);
    const p0 = tracker.record(0, init);
    const p1 = tracker.record(1, init);
    expect(p1.ntk.distance).to.be.closeTo(0, 1e-12);
    expect(p1.ck!.relativeChange).to.equal(0);
    expect(p0.ntk.normRatio).to.equal(1);
    const seen: number[] = [];
    trainModel(m, init, vectors(x, n), Float32Array.from(oneHot(labels, 3)), { loss: 'cross-entropy', optimiser: { name: 'adam', lr: 1e-2 }, epochs: 6, batchSize: n, seed: 0 }, {
      callAt: [2, 6], onEpoch: (e, ps) => {
        seen.push(e);
        tracker.record(e, ps);
      },
    });
    expect(seen).to.deep.equal([0, 2, 6]);
    expect(tracker.points.at(-1)!.ntk.distance).to.be.above(0);
  });
});

describe('linearised dynamics', function () {
  before(async () => {
    await testBackend();
  });

  it('gradient flow in closed form is the small-step limit of linearised GD', () => {
    const n = 10, x = randomInputs(n + 3, 3, 'lin');
    const m = new Mlp({ ...DEFAULT_MLP, widths: [3, 32, 2] });
    const ps = m.init(0);
    const xtr = vectors(x.subarray(0, n * 3), n), xte = vectors(x.subarray(n * 3), 3);
    const K = empiricalKernel(m, ps, xtr, null, { mode: 'full' }).kernel.data;
    const Ks = empiricalKernel(m, ps, xte, xtr, { mode: 'full' }).kernel.data;
    const u0 = outputs(m, ps, xtr.x, n), u0s = outputs(m, ps, xte.x, 3);
    const Y = new NormalRng('lin-y').normals(n * 2);
    const sys = kernelSystem(K, n, 2);
    const lr = 0.01, steps = 2000;
    const gd = linearisedGd(sys, Ks, 6, u0, u0s, Y, lr, n, [steps]);
    const flow = linearisedFlow(sys, Ks, 6, u0, u0s, Y, lr, n, [0, steps]);
    flow.train[0].forEach((v, i) => expect(v).to.be.closeTo(u0[i], 1e-9));
    let dTrain = 0, dTest = 0, move = 0;
    gd.train[0].forEach((v, i) => {
      dTrain = Math.max(dTrain, Math.abs(v - flow.train[1][i]));
      move = Math.max(move, Math.abs(v - u0[i]));
    });
    gd.test[0].forEach((v, i) => (dTest = Math.max(dTest, Math.abs(v - flow.test[1][i]))));
    expect(move).to.be.above(0.1);
    expect(dTrain).to.be.below(0.01 * move);
    expect(dTest).to.be.below(0.01 * move);
  });

  /** Train an MLP of the given width by full-batch GD on MSE and compare with its linearisation at θ0. */
  function gapToLinearised(width: number): number {
    const n = 8, nt = 4, d = 4, T = 60, lr = 0.5;
    const x = randomInputs(n + nt, d, 'wide');
    const xtr = vectors(x.subarray(0, n * d), n), xte = vectors(x.subarray(n * d), nt);
    const y = new NormalRng('wide-y').normals(n);
    const m = new Mlp({ ...DEFAULT_MLP, widths: [d, width, width, 1] });
    const ps = m.init(7);
    const K = empiricalKernel(m, ps, xtr, null, { mode: 'full' }).kernel.data;
    const Ks = empiricalKernel(m, ps, xte, xtr, { mode: 'full' }).kernel.data;
    const u0 = outputs(m, ps, xtr.x, n), u0s = outputs(m, ps, xte.x, nt);
    const lin = linearisedGd(kernelSystem(K, n, 1), Ks, nt, u0, u0s, y, lr, n, [T]);
    const trained = trainModel(m, ps, xtr, Float32Array.from(y), { loss: 'mse', optimiser: { name: 'gd', lr }, epochs: T, batchSize: n, seed: 0 }).params;
    const fT = outputs(m, trained, xte.x, nt);
    let gap = 0, move = 0;
    for (let i = 0; i < nt; i++) {
      gap += (fT[i] - lin.test[0][i]) ** 2;
      move += (fT[i] - u0s[i]) ** 2;
    }
    return Math.sqrt(gap / move);
  }

  it('predicts a wide net (width 2048) trained by GD closely, and a narrow one (width 16) poorly', () => {
    const wide = gapToLinearised(2048), narrow = gapToLinearised(16);
    expect(wide).to.be.below(0.02); // measured 0.0078 (width 512: 0.024, 128: 0.093)
    expect(narrow).to.be.above(10 * wide); // measured 0.32
  });
});

describe('training checkpoints', function () {
  before(async () => {
    await testBackend();
  });
  it('writes params files at the chosen epochs that reload to the trained parameters bit for bit', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-ckpt-'));
    try {
      const n = 10, x = randomInputs(n, 4, 'ckpt');
      const m = new Mlp({ ...DEFAULT_MLP, widths: [4, 8, 2] });
      const y = Float32Array.from(new NormalRng('ckpt-y').normals(n * 2));
      const { params } = trainModel(m, m.init(1), vectors(x, n), y, { loss: 'mse', optimiser: { name: 'sgd', lr: 0.05, momentum: 0.9 }, epochs: 4, batchSize: 5, seed: 2 }, { callAt: [2, 4], onEpoch: checkpointHook(dir, m.config) });
      expect(fs.readdirSync(dir).sort()).to.deep.equal(['epoch-0.json', 'epoch-2.json', 'epoch-4.json']);
      const saved = parseParamsFile(path.join(dir, 'epoch-4.json'));
      expect(saved.config).to.deep.equal(JSON.parse(JSON.stringify(m.config)));
      saved.params.forEach((p, i) => expect(Buffer.from(p.values.buffer).equals(Buffer.from(params[i].values.buffer))).to.equal(true));
      const first = parseParamsFile(path.join(dir, 'epoch-0.json')).params;
      first.forEach((p, i) => expect(Array.from(p.values)).to.deep.equal(Array.from(m.init(1)[i].values)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('training gradients (convolutions as patch rows with a transposed-convolution adjoint, dense layers)', function () {
  this.timeout(120000);
  before(async () => {
    await testBackend();
  });
  after(async () => {
    await initEngine();
  });

  const smooth = { ...DEFAULT_COMMON, activation: 'tanh' as const };
  // Stride-1 convolutions (valid, and same with uneven padding) with a flatten head; a stride-2 convolution and a
  // readout convolution covering the whole map (both patch products, no adjoint); a dense MLP; a tfjs-layers
  // network with a frozen layer between two trainable ones (its constants run in their own forward pass).
  const frozenNet = () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [5], units: 4, activation: 'tanh' }), tfl.layers.dense({ units: 3, activation: 'tanh' }), tfl.layers.dense({ units: 2 })] });
    m.layers[1].trainable = false;
    return fromLayersModel(m);
  };
  const models: [string, () => { model: Model; params: Param[] }, number[]][] = [
    ['cnn 3×3 valid, 2×2 same, flatten', () => {
      const c = new Cnn({ model: 'cnn', ...smooth, imageShape: [7, 6, 2], head: 'flatten', outputs: 3, convs: [{ kernel: 3, channels: 3, stride: 1, padding: 'valid' }, { kernel: 2, channels: 2, stride: 1, padding: 'same' }] });
      return { model: c, params: c.init('grad-cnn') };
    }, [7, 6, 2]],
    ['cnn stride 2, whole-map readout', () => {
      const c = new Cnn({ model: 'cnn', ...smooth, imageShape: [6, 6, 1], head: 'conv', outputs: 3, convs: [{ kernel: 3, channels: 2, stride: 2, padding: 'same' }, { kernel: 3, channels: 3, stride: 1, padding: 'valid' }] });
      return { model: c, params: c.init('grad-cnn2') };
    }, [6, 6, 1]],
    ['mlp 5-4-3', () => {
      const m = new Mlp({ ...DEFAULT_MLP, activation: 'tanh', widths: [5, 4, 3] });
      return { model: m, params: m.init('grad-mlp') };
    }, [5]],
    ['layers network with a frozen middle layer', frozenNet, [5]],
  ];

  for (const engine of ['native', 'tfjs'] as const) {
    it(`∂L/∂θ of L = ½‖f(x) − y‖² equals central differences, the same bit for bit inside withDataInputs; ∂L/∂x likewise outside it (${engine} engine)`, async () => {
      await initEngine(engine);
      for (const [name, make, shape] of models) {
        const { model, params } = make();
        const n = 3, d = shape.reduce((a, b) => a * b, 1);
        const x = randomInputs(n, d, `grad-x/${name}`), y = tf.tensor2d(randomInputs(n, model.outputSize, `grad-y/${name}`), [n, model.outputSize]);
        const b = model.batch(vectors(x, n, shape));
        const loss = (ps: tf.Tensor[], bb = b) => tf.mul(0.5, tf.sum(tf.square(tf.sub(model.apply(ps, bb), y)))) as tf.Scalar;
        const ps = params.map((p) => tf.tensor(p.values, p.shape));
        const grads = (inside: boolean) => tf.tidy(() => {
          const g = () => tf.grads((...qs: tf.Tensor[]) => loss(qs))(ps).map((t) => Float32Array.from(t.dataSync()));
          return inside ? withDataInputs(g) : g();
        });
        const inside = grads(true), outside = grads(false);
        inside.forEach((g, i) => expect(Buffer.from(g.buffer).equals(Buffer.from(outside[i].buffer)), `${name}: param ${i} inside/outside withDataInputs`).to.equal(true));
        const L = (qs: tf.Tensor[], bb = b) => tf.tidy(() => loss(qs, bb).dataSync()[0]);
        const scale = Math.max(1, ...inside.map((g) => Math.max(...g.map(Math.abs))));
        const h = 1e-2;
        params.forEach((p, i) => {
          for (let j = 0; j < p.values.length; j++) {
            const at = (v: number) => {
              const q = Float32Array.from(p.values);
              q[j] += v;
              const qs = ps.map((t, k) => (k === i ? tf.tensor(q, p.shape) : t));
              const r = L(qs);
              qs[i].dispose();
              return r;
            };
            const fd = (at(h) - at(-h)) / (2 * h);
            expect(Math.abs(fd - inside[i][j]), `${name}: ∂L/∂${p.name}[${j}] ${inside[i][j]} against ${fd}`).to.be.at.most(2e-3 * scale);
          }
        });
        // The input gradient (a user's tf.grads in x) outside withDataInputs, against central differences too.
        const xt = b.x as tf.Tensor;
        const gx = tf.tidy(() => tf.grad((xx: tf.Tensor) => loss(ps, { ...b, x: xx }))(xt).dataSync());
        for (const j of [0, 3, d + 1, n * d - 1]) {
          const at = (v: number) => {
            const q = Float32Array.from(x);
            q[j] += v;
            const bb = model.batch(vectors(q, n, shape));
            const r = L(ps, bb);
            (bb.x as tf.Tensor).dispose();
            return r;
          };
          expect(Math.abs((at(h) - at(-h)) / (2 * h) - gx[j]), `${name}: ∂L/∂x[${j}]`).to.be.at.most(2e-3 * scale);
        }
        ps.forEach((t) => t.dispose());
      }
    });
  }
});
