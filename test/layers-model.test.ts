import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { testBackend, maxAbsDiff, randomInputs } from './helpers.js';
import { scoped } from '../lib/backend.js';
import { UserError } from '../lib/errors.js';
import { loadMnist } from '../lib/data.js';
import { type Samples, type VectorSamples, vectors } from '../lib/samples.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { monteCarloKernel } from '../jacobian/monte-carlo.js';
import { fromLayersModel } from '../models/layers-network.js';
import { Mlp } from '../models/mlp.js';
import { Cnn, seedCnnConfig } from '../models/cnn.js';
import type { Param } from '../models/params.js';
import { smallConvNet } from './fixtures/make-layers-fixture.js';

/**
 * The oracle: per-sample Jacobians of the tfjs-layers model itself (its own layer code, through
 * tf.variableGrads over its trainable variables, inference mode), contracted in float64 into the full NTK
 * [n·K, n·K]. Independent of ntk-ts' topology interpreter and of both kernel paths.
 */
function layersOracle(m: tf.LayersModel, s: VectorSamples): Float64Array {
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const shape = m.inputs[0].shape.slice(1) as number[];
  const rows: Float64Array[] = [];
  let K = 0;
  for (let i = 0; i < s.n; i++) {
    const xi = tf.tensor(s.x.subarray(i * s.x.length / s.n, (i + 1) * s.x.length / s.n), [1, ...shape]);
    K = (m.predict(xi) as tf.Tensor).size;
    for (let k = 0; k < K; k++) {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.reshape(m.apply(xi, { training: false }) as tf.Tensor, [-1]), tf.oneHot(k, K).toFloat())) as tf.Scalar, vars);
      rows.push(Float64Array.from(vars.flatMap((v) => Array.from(grads[v.name].dataSync()))));
      Object.values(grads).forEach((g) => g.dispose());
    }
    xi.dispose();
  }
  const N = rows.length;
  const out = new Float64Array(N * N);
  for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) {
    let acc = 0;
    for (let p = 0; p < rows[a].length; p++) acc += rows[a][p] * rows[b][p];
    out[a * N + b] = acc;
  }
  return out;
}

/** Structured (auto), generic Jacobian and the float64 oracle agree to float32 precision (relative to max|Θ|). */
function checkAgainstOracle(m: tf.LayersModel, s: VectorSamples, wantStructured = true): void {
  const { model, params } = fromLayersModel(m);
  const structured = empiricalKernel(model, params, s, null, { mode: 'full' });
  const generic = empiricalKernel(model, params, s, null, { mode: 'full', implementation: 'jacobian' });
  const oracle = layersOracle(m, s);
  expect(structured.info.implementation).to.equal(wantStructured ? 'structured' : 'jacobian');
  expect(structured.info.notice).to.equal(undefined);
  const e1 = maxAbsDiff(structured.kernel.data, oracle);
  const e2 = maxAbsDiff(generic.kernel.data, oracle);
  expect(e1.scale).to.be.greaterThan(0);
  expect(e1.diff / e1.scale, 'structured vs oracle').to.be.below(2e-5);
  expect(e2.diff / e2.scale, 'jacobian vs oracle').to.be.below(2e-5);
}

const images = (n: number, shape: number[], seed: string): VectorSamples => vectors(randomInputs(n, shape.reduce((a, b) => a * b, 1), seed), n, shape);

describe('tfjs-layers models (fromLayersModel)', function () {
  before(async () => {
    await testBackend();
  });

  it('a functional net with a stride-2 same convolution, BatchNorm, a depthwise conv, a skip, max pooling: structured = generic = float64 oracle', () => {
    const m = smallConvNet();
    checkAgainstOracle(m, images(4, [8, 8, 1], 'fixture'));
    const { model } = fromLayersModel(m);
    // θ: the trainable weights only; BatchNorm's moving statistics are constants of the function.
    expect(model.paramSpecs.map((p) => p.name)).to.deep.equal(['conv_a/kernel', 'conv_a/bias', 'bn/gamma', 'bn/beta', 'depthwise/depthwise_kernel', 'depthwise/bias', 'conv_1x1/kernel', 'conv_1x1/bias', 'readout/kernel', 'readout/bias']);
    // The interpreter's function is the model's own (inference mode).
    const x = images(3, [8, 8, 1], 'predict');
    const mine = scoped(() => model.apply(fromLayersModel(m).params.map((p) => tf.tensor(p.values, p.shape)), model.batch(x)).dataSync());
    const theirs = scoped(() => (m.predict(tf.tensor(x.x, [3, 8, 8, 1])) as tf.Tensor).dataSync());
    const d = maxAbsDiff(mine, theirs);
    expect(d.diff / d.scale).to.be.below(1e-5);
  });

  it('Sequential: Conv1D, average and global max pooling, LayerNormalization, gelu/swish/elu activations, dropout', () => {
    const m = tf.sequential({ layers: [
      tf.layers.conv1d({ inputShape: [12, 2], filters: 3, kernelSize: 3, activation: 'elu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.averagePooling1d({ poolSize: 2 }),
      tf.layers.layerNormalization({ gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 2 }), betaInitializer: tf.initializers.randomNormal({ stddev: 0.2, seed: 3 }) }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 4, activation: 'gelu', kernelInitializer: tf.initializers.heNormal({ seed: 4 }) }),
      tf.layers.globalMaxPooling1d(),
      tf.layers.dense({ units: 5, activation: 'swish', kernelInitializer: tf.initializers.leCunNormal({ seed: 5 }) }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
    ] });
    checkAgainstOracle(m, images(4, [12, 2], 'seq'));
  });

  it('dilated convolutions (tfjs has no gradient for them): the function is the model\'s own and structured = generic', () => {
    const m = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [9, 9, 2], filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.conv2d({ filters: 2, kernelSize: [2, 3], strides: [2, 1] }), tf.layers.flatten(), tf.layers.dense({ units: 2 }),
    ] });
    const x = images(3, [9, 9, 2], 'dilated');
    const { model, params } = fromLayersModel(m);
    const mine = scoped(() => model.apply(params.map((p) => tf.tensor(p.values, p.shape)), model.batch(x)).dataSync());
    const theirs = scoped(() => (m.predict(tf.tensor(x.x, [3, 9, 9, 2])) as tf.Tensor).dataSync());
    const d = maxAbsDiff(mine, theirs);
    expect(d.diff / d.scale).to.be.below(1e-5);
    const a = empiricalKernel(model, params, x, null, { mode: 'full' }), b = empiricalKernel(model, params, x, null, { mode: 'full', implementation: 'jacobian' });
    expect(a.info.implementation).to.equal('structured');
    const e = maxAbsDiff(a.kernel.data, b.kernel.data);
    expect(e.diff / e.scale).to.be.below(2e-5);
    const c1 = tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [10, 2], filters: 2, kernelSize: 2, dilationRate: 3 }), tf.layers.flatten()] });
    const r = fromLayersModel(c1);
    const xs = images(2, [10, 2], 'c1');
    const y1 = scoped(() => r.model.apply(r.params.map((p) => tf.tensor(p.values, p.shape)), r.model.batch(xs)).dataSync());
    const y2 = scoped(() => (c1.predict(tf.tensor(xs.x, [2, 10, 2])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(y1, y2).diff).to.be.below(1e-5 * maxAbsDiff(y1, y2).scale);
  });

  it('functional: SeparableConv2D with depth multiplier, ZeroPadding2D, Concatenate, Multiply, global average pooling', () => {
    const inp = tf.input({ shape: [6, 6, 2] });
    const p = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(inp) as tf.SymbolicTensor;
    const s = tf.layers.separableConv2d({ filters: 3, kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 1 }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: tf.initializers.randomNormal({ seed: 3, stddev: 0.1 }) }).apply(p) as tf.SymbolicTensor;
    const c = tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }).apply(p) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate().apply([s, c]) as tf.SymbolicTensor;
    const mul = tf.layers.multiply().apply([s, c]) as tf.SymbolicTensor;
    const g1 = tf.layers.globalAveragePooling2d({}).apply(cat) as tf.SymbolicTensor;
    const g2 = tf.layers.flatten().apply(mul) as tf.SymbolicTensor;
    const j = tf.layers.concatenate().apply([g1, g2]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(j) as tf.SymbolicTensor;
    checkAgainstOracle(tf.model({ inputs: inp, outputs: out }), images(3, [6, 6, 2], 'sep'));
  });

  it('Embedding on integer inputs is a linear layer of one-hot rows (structured = oracle); bad indices are refused', () => {
    const m = tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: 7, outputDim: 3, inputLength: 4, embeddingsInitializer: tf.initializers.randomNormal({ seed: 1 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ] });
    const idx = vectors(Float32Array.from([0, 3, 3, 6, 1, 2, 5, 0, 6, 6, 4, 2]), 3, [4]);
    checkAgainstOracle(m, idx);
    const { model } = fromLayersModel(m);
    expect(() => model.checkSamples(vectors(Float32Array.from([0, 1, 2, 7]), 1, [4]), '--data')).to.throw(UserError, /not an integer index in \[0, 7\)/);
  });

  it('frozen layers are not in θ: the kernel is the oracle over the trainable weights only, and a frozen weight acts through the forward pass', () => {
    const m = smallConvNet();
    const full = empiricalKernel(fromLayersModel(m).model, fromLayersModel(m).params, images(3, [8, 8, 1], 'frozen'), null, { mode: 'full' }).kernel.data;
    m.getLayer('conv_1x1').trainable = false;
    const x = images(3, [8, 8, 1], 'frozen');
    checkAgainstOracle(m, x);
    const { model, params } = fromLayersModel(m);
    expect(model.paramSpecs.some((p) => p.name.startsWith('conv_1x1'))).to.equal(false);
    const frozen = empiricalKernel(model, params, x, null, { mode: 'full' }).kernel.data;
    // Dropping conv_1x1's weights from θ removes their (positive semi-definite) share: the diagonal shrinks.
    for (let i = 0; i < 9; i++) expect(frozen[i * 9 + i]).to.be.below(full[i * 9 + i]);
    // Scaling the frozen kernel changes the kernel (through the forward pass) and the oracle agrees.
    const w = m.getLayer('conv_1x1').getWeights();
    m.getLayer('conv_1x1').setWeights([tf.mul(w[0], 3), w[1]]);
    checkAgainstOracle(m, x);
    const scaled = empiricalKernel(fromLayersModel(m).model, fromLayersModel(m).params, x, null, { mode: 'full' }).kernel.data;
    expect(maxAbsDiff(scaled, frozen).diff).to.be.greaterThan(1e-3 * maxAbsDiff(scaled, frozen).scale);
  });

  it('the seeds/003 MLP and CNN rebuilt as tfjs-layers models give the built-in kernels (standard parameterisation)', () => {
    const common = { activation: 'relu' as const, parameterization: 'standard' as const, wStd: Math.SQRT2, bStd: 0.1, bias: true };
    const digits = loadMnist('train', 4, 0);
    const mlp = new Mlp({ model: 'mlp', widths: [784, 100, 100, 100, 10], ...common });
    const mlpParams = mlp.init(3);
    const lm = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [784], units: 100, activation: 'relu' }), tf.layers.dense({ units: 100, activation: 'relu' }),
      tf.layers.dense({ units: 100, activation: 'relu' }), tf.layers.dense({ units: 10 }),
    ] });
    lm.setWeights(mlpParams.map((p) => tf.tensor(p.values, p.shape)));
    const cnn = new Cnn(seedCnnConfig([20, 20], common));
    const cnnParams = cnn.init(4);
    const lc = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 20, kernelSize: 5, activation: 'relu' }), tf.layers.conv2d({ filters: 20, kernelSize: 5, activation: 'relu' }),
      tf.layers.conv2d({ filters: 10, kernelSize: 20 }), tf.layers.flatten(),
    ] });
    lc.setWeights(cnnParams.map((p) => tf.tensor(p.values, p.shape)));
    for (const [builtIn, params, layers] of [[mlp, mlpParams, lm], [cnn, cnnParams, lc]] as const) {
      const want = empiricalKernel(builtIn, params as Param[], digits, null, { mode: 'full' });
      const ad = fromLayersModel(layers);
      const got = empiricalKernel(ad.model, ad.params, digits, null, { mode: 'full' });
      expect(got.info.rules).to.deep.equal(want.info.rules);
      const d = maxAbsDiff(got.kernel.data, want.kernel.data);
      expect(d.diff / d.scale).to.be.below(1e-6);
    }
  });

  it('re-initialises θ with the layers\' own initialisers, seeded: same seed same values, Glorot-uniform variance, Monte-Carlo NTK∞ runs', () => {
    const { model } = fromLayersModel(smallConvNet());
    const a = model.init(7), b = model.init(7), c = model.init(8);
    expect(a.map((p) => Array.from(p.values))).to.deep.equal(b.map((p) => Array.from(p.values)));
    expect(Array.from(a[8].values)).to.not.deep.equal(Array.from(c[8].values));
    // readout/kernel [16, 3] GlorotUniform: U(±√(6/(16+3))), variance 2/19; the bias initialiser is N(0, 0.1²).
    const big = fromLayersModel(tf.sequential({ layers: [tf.layers.dense({ inputShape: [300], units: 200, kernelInitializer: 'glorotUniform', biasInitializer: 'ones' })] })).model.init(1);
    const v = big[0].values;
    const variance = v.reduce((s, x) => s + x * x, 0) / v.length;
    expect(variance).to.be.closeTo(2 / 500, 0.03 * 2 / 500);
    expect(Math.max(...v)).to.be.below(Math.sqrt(6 / 500));
    expect(Array.from(big[1].values).every((x) => x === 1)).to.equal(true);
    const mc = monteCarloKernel(model, images(3, [8, 8, 1], 'mc'), null, { seeds: 3, seed: 0, mode: 'trace' });
    expect(mc.mean.every(Number.isFinite)).to.equal(true);
    expect(mc.stderr.some((s) => s > 0)).to.equal(true);
  });

  it('unsupported layers and settings are refused with the layer named and the way out', () => {
    const gru = tf.sequential({ layers: [tf.layers.gru({ inputShape: [3, 2], units: 2 })] });
    expect(() => fromLayersModel(gru)).to.throw(UserError, /GRU is not supported.*fromFunction/);
    const bnAxis = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [4, 3], axis: 1 })] });
    expect(() => fromLayersModel(bnAxis)).to.throw(UserError, /only the last \(channels\) axis/);
  });
});

/** Checked separately: the kernel of samples given to the function route (see function-model.test.ts). */
export type { Samples };
