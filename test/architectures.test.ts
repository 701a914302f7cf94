import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { vectors } from '../lib/samples.js';
import { syntheticGraphs } from '../lib/graphs.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { contractJacobians, perSampleJacobians } from '../jacobian/per-sample.js';
import { Cnn, seedCnnConfig } from '../models/cnn.js';
import { Gnn } from '../models/gnn.js';
import { type CommonConfig, convRows, im2col } from '../models/layers.js';
import { initEngine } from '../lib/native-engine.js';
import type { Model } from '../models/model.js';
import { paramTensors } from '../models/params.js';
import { scoped } from '../lib/tensors.js';
import { ResNet } from '../models/resnet.js';
import { maxAbsDiff, randomInputs, testBackend } from './helpers.js';
import type { Samples } from '../lib/samples.js';

const common: CommonConfig = { activation: 'relu', parameterization: 'ntk', wStd: 1.4, bStd: 0.2, bias: true };

/** Full NTK by the generic per-sample Jacobian path, computed on the pure-JS cpu backend (where convolutions
 * use tf.conv2d and its own gradient, not our im2col): an oracle independent of the structured code. */
async function cpuJacobianKernel(model: Model, seed: number, s: Samples): Promise<Float32Array> {
  const prev = tf.getBackend();
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  try {
    const ps = paramTensors(model.init(seed));
    const J = perSampleJacobians(model, ps, s);
    ps.forEach((p) => p.dispose());
    const P = J.length / (s.n * model.outputSize);
    return contractJacobians(J, s.n, J, s.n, model.outputSize, P, 'full');
  } finally {
    await tf.setBackend(prev);
  }
}

/** The structured path, with the rule chosen per layer and with each rule forced on every layer, two tilings. */
function expectStructuredMatches(model: Model, seed: number, s: Samples, oracle: Float32Array, tol = 3e-6): void {
  for (const rule of [undefined, 'outer', 'explicit'] as const) {
    for (const tile of [s.n, 2]) {
      const k = empiricalKernel(model, model.init(seed), s, null, { implementation: 'structured', tile, rule }).kernel.data;
      const { diff, scale } = maxAbsDiff(k, oracle);
      expect(diff / scale, `${model.config.model} tile ${tile} rule ${rule ?? 'auto'}`).to.be.below(tol);
    }
  }
}

describe('convRows: a convolution as patch rows whose adjoint is one transposed convolution', function () {
  before(async () => {
    await testBackend();
  });

  after(async () => {
    await initEngine();
  });

  // On both engines: the native engine's adjoint is ONNX Runtime's Conv, the tfjs engine's tf.conv2d. Shapes: 3×3
  // and 4×4 kernels, valid and same padding, a 1×1 kernel, one channel in and out with batch 1, and a kernel
  // as large as the map.
  for (const engine of ['native', 'tfjs'] as const) {
    it(`value and ∂/∂x equal tf.conv2d and its own gradient (${engine} engine)`, async () => {
      await initEngine(engine);
      const shapes: [number, 'valid' | 'same', number, number, number][] = [
        [3, 'valid', 2, 3, 4], [4, 'valid', 2, 3, 4], [3, 'same', 2, 3, 4], [4, 'same', 2, 3, 4], [1, 'valid', 2, 3, 4], [3, 'same', 1, 1, 1], [6, 'same', 1, 2, 3], [6, 'valid', 2, 3, 2],
      ];
      for (const [k, padding, n, C, O] of shapes) {
        const x = tf.tensor4d(randomInputs(n, 7 * 6 * C, `cr${k}${padding}${C}`), [n, 7, 6, C]);
        const W = tf.tensor4d(randomInputs(1, k * k * C * O, `crw${k}${C}${O}`), [k, k, C, O]);
      const { patches, ho, wo } = im2col(x, k, k, 1, padding);
      const ref = tf.conv2d(x, W, 1, padding);
      const R = tf.tensor4d(randomInputs(1, ref.size, `crr${k}${padding}`), ref.shape);
        const z = convRows(x, patches, W, padding);
        expect(z.shape).to.deep.equal([n * ho * wo, O]);
        const what = `k=${k} ${padding} n=${n} C=${C} O=${O}`;
        const v = maxAbsDiff(z.dataSync() as Float32Array, ref.dataSync() as Float32Array);
        expect(v.diff / v.scale, `value ${what}`).to.be.below(1e-6);
        // Gradients of Σ R ⊙ z: convRows' adjoint (a convolution of the padded cotangent with the flipped kernel)
        // against tfjs's own Conv2DBackpropInput through tf.conv2d.
        const ours = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.reshape(convRows(xx as tf.Tensor4D, patches, W, padding), ref.shape), R)))(x);
        const theirs = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, W, 1, padding), R)))(x);
        const g = maxAbsDiff(ours.dataSync() as Float32Array, theirs.dataSync() as Float32Array);
        expect(g.diff / g.scale, `∂/∂x ${what}`).to.be.below(1e-6);
        expect(g.scale).to.be.above(0.1);
      }
    });
  }
});

describe('im2col: patches written straight into the backend memory', function () {
  before(async () => {
    await testBackend();
  });

  // Geometries: same padding (rows and columns clipped at both edges), runs of kw·C ≥ 64 values (copied within
  // the heap), one channel, strides, a dilated width (copied block by block), a kernel wider than the map.
  const geometries: { H: number; W: number; C: number; kh: number; kw: number; s: [number, number]; d: [number, number]; p: 'same' | 'valid' }[] = [
    { H: 5, W: 6, C: 3, kh: 3, kw: 3, s: [1, 1], d: [1, 1], p: 'same' },
    { H: 7, W: 9, C: 16, kh: 5, kw: 5, s: [1, 1], d: [1, 1], p: 'same' },
    { H: 8, W: 8, C: 1, kh: 5, kw: 5, s: [1, 1], d: [1, 1], p: 'valid' },
    { H: 9, W: 7, C: 20, kh: 3, kw: 4, s: [2, 3], d: [1, 1], p: 'same' },
    { H: 9, W: 10, C: 2, kh: 3, kw: 3, s: [1, 2], d: [2, 2], p: 'same' },
    { H: 4, W: 3, C: 25, kh: 3, kw: 5, s: [1, 1], d: [1, 1], p: 'same' },
  ];
  for (const g of geometries) {
    it(`equal a JS gather, padding zeros included, even on just-freed memory full of NaN (${JSON.stringify(g)})`, () => {
      const { H, W, C, kh, kw, s, d, p } = g;
      const n = 2;
      const xs = randomInputs(n, H * W * C, `im2col${H}${W}${C}`);
      const x = tf.tensor4d(xs, [n, H, W, C]);
      // TensorFlow's geometry, independently of convGeometry: output size and the padding before.
      const eh = (kh - 1) * d[0] + 1, ew = (kw - 1) * d[1] + 1;
      const ho = p === 'same' ? Math.ceil(H / s[0]) : Math.floor((H - eh) / s[0]) + 1;
      const wo = p === 'same' ? Math.ceil(W / s[1]) : Math.floor((W - ew) / s[1]) + 1;
      const top = p === 'same' ? Math.floor(Math.max((ho - 1) * s[0] + eh - H, 0) / 2) : 0;
      const left = p === 'same' ? Math.floor(Math.max((wo - 1) * s[1] + ew - W, 0) / 2) : 0;
      const rows = n * ho * wo, F = kh * kw * C;
      // A tensor of the patches' size filled with NaN and released: its heap block is the next one handed out.
      tf.fill([rows, F], NaN).dispose();
      const got = im2col(x, kh, kw, s, p, d);
      expect([got.ho, got.wo]).to.deep.equal([ho, wo]);
      const want = new Float32Array(rows * F);
      for (let i = 0; i < n; i++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
        for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) for (let c = 0; c < C; c++) {
          const y = oy * s[0] + dy * d[0] - top, xx = ox * s[1] + dx * d[1] - left;
          want[((i * ho + oy) * wo + ox) * F + (dy * kw + dx) * C + c] = y < 0 || y >= H || xx < 0 || xx >= W ? 0 : xs[((i * H + y) * W + xx) * C + c];
        }
      }
      expect(Array.from(got.patches.dataSync())).to.deep.equal(Array.from(want));
    });
  }
});

describe('architectures: structured rules equal the generic Jacobian path', function () {
  before(async () => {
    await testBackend();
  });

  it('CNN (valid and same padding, stride 2, gap and flatten heads) against tf.conv2d Jacobians on cpu', async () => {
    const x = randomInputs(3, 8 * 8 * 2, 'cnn');
    for (const [head, padding, stride] of [['gap', 'same', 1], ['flatten', 'valid', 2], ['gap', 'same', 2]] as const) {
      const m = new Cnn({ model: 'cnn', ...common, imageShape: [8, 8, 2], head, outputs: 3, convs: [{ kernel: 3, channels: 4, stride, padding }, { kernel: 3, channels: 5, stride: 1, padding }] });
      const s = vectors(x, 3, [8, 8, 2]);
      expectStructuredMatches(m, 1, s, await cpuJacobianKernel(m, 1, s));
    }
  });

  it('the seeds/003 CNN (28×28×1, 5×5, 5×5, 20×20 valid) with 4 channels, in every output mode', async () => {
    const m = new Cnn(seedCnnConfig([4, 3], common));
    expect(m.paramSpecs.map((p) => p.shape.join('x'))).to.deep.equal(['5x5x1x4', '4', '5x5x4x3', '3', '20x20x3x10', '10']);
    const x = randomInputs(3, 784, 'seed-cnn');
    const s = vectors(x, 3, [784]);
    const oracle = await cpuJacobianKernel(m, 2, s);
    expectStructuredMatches(m, 2, s, oracle);
    // The whole-map readout conv has one output row per sample: its record says so (no segments), so the kernel
    // takes the fused one-row-per-sample combination for it, as for a dense layer; the other convs keep theirs.
    const segs = scoped(() => m.applyTapped!(paramTensors(m.init(2)), m.batch(s), 'zeros').linear.map((r) => r.segments?.length ?? null));
    expect(segs).to.deep.equal([4, 4, null]);
    const full = empiricalKernel(m, m.init(2), s, null).kernel;
    const trace = empiricalKernel(m, m.init(2), s, null, { mode: 'trace' }).kernel;
    const d = trace.data.map((_, t) => {
      const i = Math.floor(t / 3), j = t % 3;
      let acc = 0;
      for (let k = 0; k < 10; k++) acc += full.data[(i * 10 + k) * 30 + j * 10 + k];
      return acc / 10;
    });
    expect(maxAbsDiff(trace.data, d).diff / maxAbsDiff(trace.data, d).scale).to.be.below(1e-5);
  });

  it('the full-size seeds/003 CNN (20, 20 channels: 90,550 parameters) gives a symmetric positive definite kernel', () => {
    const m = new Cnn(seedCnnConfig([20, 20], common));
    expect(m.paramSpecs.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0)).to.equal(90550);
    const s = vectors(randomInputs(4, 784, 'big-cnn'), 4, [784]);
    const r = empiricalKernel(m, m.init(0), s, null, { tile: 2 });
    expect(r.info.rules).to.deep.equal(['explicit', 'explicit', 'outer']);
    const k = r.kernel.data;
    for (let a = 0; a < 40; a++) for (let b = 0; b < 40; b++) expect(k[a * 40 + b]).to.equal(k[b * 40 + a]);
    for (let a = 0; a < 40; a++) expect(k[a * 40 + a]).to.be.above(0);
    // 10,540 explicit parameters: several column chunks, accumulated in the striped diagonal-tile Gram and in
    // the off-diagonal products, against the per-sample Jacobians contracted in float64.
    const ps = paramTensors(m.init(0));
    const J = perSampleJacobians(m, ps, s);
    ps.forEach((p) => p.dispose());
    const P = J.length / 40;
    const ref = new Float64Array(1600);
    for (let a = 0; a < 40; a++) {
      for (let b = 0; b < 40; b++) {
        let acc = 0;
        for (let p = 0; p < P; p++) acc += J[a * P + p] * J[b * P + p];
        ref[a * 40 + b] = acc;
      }
    }
    const { diff, scale } = maxAbsDiff(k, ref);
    expect(diff / scale).to.be.below(3e-6);
  });

  it('residual MLP and convolutional ResNet', async () => {
    const rm = new ResNet({ model: 'resnet', ...common, variant: 'mlp', inputSize: 5, width: 7, branches: 3, branchDepth: 2, alpha: 1 / Math.sqrt(3), outputs: 2 });
    const xs = vectors(randomInputs(4, 5, 'res'), 4);
    expectStructuredMatches(rm, 3, xs, await cpuJacobianKernel(rm, 3, xs));
    const cm = new ResNet({ model: 'resnet', ...common, variant: 'conv', inputSize: 0, imageShape: [6, 6, 1], width: 3, branches: 2, branchDepth: 2, alpha: 0.7, outputs: 2 });
    const xi = vectors(randomInputs(3, 36, 'cres'), 3, [6, 6, 1]);
    expectStructuredMatches(cm, 4, xi, await cpuJacobianKernel(cm, 4, xi));
  });

  it('GNN with sum, mean and gcn aggregation, with and without jumping knowledge, on graphs of different sizes', async () => {
    const g = syntheticGraphs(5, 3);
    expect(new Set(g.graphs.map((q) => q.nodes)).size).to.be.above(1);
    for (const [aggregation, jk] of [['sum', false], ['mean', true], ['gcn', true]] as const) {
      const m = new Gnn({ model: 'gnn', ...common, featureDim: 8, hidden: 6, blocks: 2, mlpLayers: 2, aggregation, jk, outputs: 2 });
      const oracle = await cpuJacobianKernel(m, 5, g);
      expectStructuredMatches(m, 5, g, oracle);
    }
  });
});
