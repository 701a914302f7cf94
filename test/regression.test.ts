import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import { accuracy, crossEntropyKernelFit, kernelPredict, kernelSystem, negligibleToZero, oneHot, ridgeClassifierCv, ridgeRegression } from '../lib/kernel-regression.js';
import { effectiveRank, kernelDistance, kernelMetrics, kernelTargetAlignment, relativeChange } from '../lib/kernel-metrics.js';
import { choleskyInPlace, choleskySolveInPlace, symmetricEigen, topEigenvalues } from '../lib/linalg.js';
import { NormalRng } from '../lib/rng.js';
import { testBackend } from './helpers.js';

/** A random PSD matrix G Gᵀ + shift·I [n, n] from a seeded Gaussian G [n, r]. */
function randomPsd(n: number, r: number, seed: string, shift = 0): Float64Array {
  const g = new NormalRng(seed).normals(n * r);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < r; k++) s += g[i * r + k] * g[j * r + k];
    A[i * n + j] = s + (i === j ? shift : 0);
  }
  return A;
}

/** RBF kernel exp(−‖x_i − x_j‖²/2) of rows of x [n, d] against rows of y [m, d]. */
function rbf(x: Float32Array, n: number, y: Float32Array, m: number, d: number): Float64Array {
  const K = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (x[i * d + k] - y[j * d + k]) ** 2;
    K[i * m + j] = Math.exp(-s / 2);
  }
  return K;
}

const kron = (k: Float64Array, n: number, K: number): Float64Array => {
  const o = new Float64Array(n * K * n * K);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let a = 0; a < K; a++) o[(i * K + a) * n * K + j * K + a] = k[i * n + j];
  return o;
};

describe('float64 linear algebra', () => {
  it('Cholesky solves A X = B (checked by multiplying back) and rejects a singular matrix', () => {
    const n = 40, m = 3;
    const A = randomPsd(n, n + 5, 'chol', 0.1);
    const B = new NormalRng('rhs').normals(n * m);
    const L = A.slice();
    choleskyInPlace(L, n, 'test');
    const X = Float64Array.from(B);
    choleskySolveInPlace(L, n, X, m);
    let err = 0;
    for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += A[i * n + j] * X[j * m + c];
      err = Math.max(err, Math.abs(s - B[i * m + c]));
    }
    expect(err).to.be.below(1e-9);
    const singular = randomPsd(10, 3, 'rank3');
    expect(() => choleskyInPlace(singular, 10, '--ridge')).to.throw(UserError, /--ridge.*not numerically positive definite/);
  });

  it('Jacobi eigendecomposition reconstructs A and top eigenvalues by subspace iteration match it', () => {
    const n = 30;
    const A = randomPsd(n, 8, 'eig');
    const { values, vectors } = symmetricEigen(A, n);
    let err = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
      err = Math.max(err, Math.abs(s - A[i * n + j]));
    }
    expect(err).to.be.below(1e-9);
    expect(values[8]).to.be.closeTo(0, 1e-9); // rank 8
    const top = topEigenvalues(A, n, 4, 200);
    top.forEach((v, i) => expect(v).to.be.closeTo(values[i], 1e-8 * values[0]));
  });
});

describe('kernel tracking metrics', () => {
  const n = 12;
  const K0 = randomPsd(n, 4, 'k0', 0.5);
  it('are 0 (distance, change) and 1 (norm ratio) for identical kernels', () => {
    const m = kernelMetrics(K0, K0, n, oneHot([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 3), 3);
    expect(m.distance).to.be.closeTo(0, 1e-15);
    expect(m.relativeChange).to.equal(0);
    expect(m.normRatio).to.equal(1);
  });
  it('are correct on hand-made cases', () => {
    const K2 = K0.map((v) => 2 * v);
    expect(kernelDistance(K0, K2)).to.be.closeTo(0, 1e-15); // scale-free
    expect(relativeChange(K0, K2)).to.be.closeTo(1, 1e-15);
    // Two kernels on disjoint supports are orthogonal: distance 1.
    const A = new Float64Array(4), B = new Float64Array(4);
    A[0] = 1; B[3] = 5;
    expect(kernelDistance(A, B)).to.equal(1);
    expect(kernelDistance(A, A.map((v) => -v))).to.equal(2);
    // Effective rank: I_n → n, a rank-one kernel → 1.
    const I = new Float64Array(n * n);
    for (let i = 0; i < n; i++) I[i * n + i] = 1;
    expect(effectiveRank(I, n)).to.be.closeTo(n, 1e-12);
    expect(effectiveRank(randomPsd(n, 1, 'r1'), n)).to.be.closeTo(1, 1e-12);
    // Centred alignment: K = Y Yᵀ (+ a constant, which centring removes) → 1; the negated kernel → −1.
    const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
    const Y = oneHot(labels, 3);
    const KY = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) KY[i * n + j] = (labels[i] === labels[j] ? 1 : 0) + 7;
    expect(kernelTargetAlignment(KY, n, Y, 3)).to.be.closeTo(1, 1e-12);
    expect(kernelTargetAlignment(KY.map((v) => -v), n, Y, 3)).to.be.closeTo(-1, 1e-12);
    // K = I: ⟨H, Y_cY_cᵀ⟩ = ‖Y_c‖² = 8, ‖H‖ = √11, ‖Y_cᵀY_c‖ = √32 for 3 balanced classes of 4.
    expect(kernelTargetAlignment(I, n, Y, 3)).to.be.closeTo(8 / Math.sqrt(11 * 32), 1e-12);
  });
});

describe('kernel regression', function () {
  before(async () => {
    await testBackend();
  });

  const n = 30, d = 4, K = 3;
  const x = new NormalRng('kr-x').normals(n * d);
  const xt = new NormalRng('kr-xt').normals(10 * d);
  const labels = Int32Array.from({ length: n }, (_, i) => (x[i * d] > 0.5 ? 2 : x[i * d] > -0.5 ? 1 : 0));
  const testLabels = Int32Array.from({ length: 10 }, (_, i) => (xt[i * d] > 0.5 ? 2 : xt[i * d] > -0.5 ? 1 : 0));
  const k = rbf(x, n, x, n, d), kt = rbf(xt, 10, x, n, d);
  const Y = oneHot(labels, K);

  it('ridge → 0 interpolates the training targets; a larger ridge does not', () => {
    const a = ridgeRegression(kernelSystem(k, n, K), Y, 1e-10, 'test');
    const F = kernelPredict(k, n, n, a, K);
    F.forEach((v, i) => expect(v).to.be.closeTo(Y[i], 1e-5));
    const b = ridgeRegression(kernelSystem(k, n, K), Y, 1, 'test');
    const G = kernelPredict(k, n, n, b, K);
    expect(Math.max(...G.map((v, i) => Math.abs(v - Y[i])))).to.be.above(0.05);
  });

  it('ridge equals the eigendecomposition solution (K + λI)⁻¹Y', () => {
    const lam = 0.1;
    const a = ridgeRegression(kernelSystem(k, n, K), Y, lam, 'test');
    const dbar = k.reduce((s, v, i) => (i % (n + 1) === 0 ? s + v : s), 0) / n;
    const { values, vectors: V } = symmetricEigen(k, n);
    for (let c = 0; c < K; c++) for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) {
        let proj = 0;
        for (let l = 0; l < n; l++) proj += V[l * n + j] * Y[l * K + c];
        s += (V[i * n + j] * proj) / (values[j] + lam * dbar);
      }
      expect(a[i * K + c]).to.be.closeTo(s, 1e-8 * Math.max(1, Math.abs(s)));
    }
  });

  it('full (Θ⊗I, 10×10-block layout) and traced layouts give the same predictions, for ridge and cross-entropy', () => {
    const full = kron(k, n, K), fullT = new Float64Array(10 * K * n * K);
    for (let i = 0; i < 10; i++) for (let j = 0; j < n; j++) for (let a = 0; a < K; a++) fullT[(i * K + a) * n * K + j * K + a] = kt[i * n + j];
    const r1 = kernelPredict(kt, 10, n, ridgeRegression(kernelSystem(k, n, K), Y, 1e-3, 't'), K);
    const r2 = kernelPredict(fullT, 10 * K, n * K, ridgeRegression(kernelSystem(full, n, K), Y, 1e-3, 't'), 1);
    r1.forEach((v, i) => expect(r2[i]).to.be.closeTo(v, 1e-9));
    const c1 = crossEntropyKernelFit(kernelSystem(k, n, K), Y, n, K, { steps: 200, lr: 0.05 });
    const c2 = crossEntropyKernelFit(kernelSystem(full, n, K), Y, n, K, { steps: 200, lr: 0.05 });
    expect(c2.loss).to.be.closeTo(c1.loss, 1e-4);
    const p1 = kernelPredict(kt, 10, n, c1.alpha, K), p2 = kernelPredict(fullT, 10 * K, n * K, c2.alpha, 1);
    p1.forEach((v, i) => expect(p2[i]).to.be.closeTo(v, 1e-3 * Math.max(1, Math.abs(v))));
  });

  it('the fit zeroes right-hand-side entries below 2^-64 of the largest (and subnormal ones), and nothing else', () => {
    const big = -3, floor = 3 * 2 ** -64;
    const a = Float32Array.of(1, big, floor * 2, -floor * 0.5, 2 ** -70, 1e-39, 0, 0.25);
    expect(Array.from(negligibleToZero(a))).to.deep.equal([1, big, Math.fround(floor * 2), 0, 0, 0, 0, 0.25]);
    // All subnormal: all zeroed (the floor is never below 2^-126); all tiny but normal: kept (relative to their max).
    expect(Array.from(negligibleToZero(Float32Array.of(1e-39, -2e-40)))).to.deep.equal([0, 0]);
    expect(Array.from(negligibleToZero(Float32Array.of(1e-30, -2e-31)))).to.deep.equal([Math.fround(1e-30), Math.fround(-2e-31)]);
    // A product with the zeroed vector equals the product with the original to float32 rounding.
    const v = Float32Array.from({ length: 64 }, (_, i) => (i % 3 === 0 ? 1e-25 : 1) * Math.sin(i + 1));
    v[5] = 1e-39;
    const z = negligibleToZero(v.slice());
    expect(z[5]).to.equal(0);
    for (let r = 0; r < 4; r++) {
      let p = 0, q = 0;
      for (let j = 0; j < 64; j++) {
        p += Math.cos(r * j) * v[j];
        q += Math.cos(r * j) * z[j];
      }
      expect(q).to.be.closeTo(p, 1e-6 * Math.max(1, Math.abs(p)));
    }
  });

  it('cross-entropy coefficients fit the training labels and generalise on a separable task', () => {
    const f = crossEntropyKernelFit(kernelSystem(k, n, K), Y, n, K, { steps: 2000, lr: 0.05 });
    expect(f.loss).to.be.below(0.05);
    expect(accuracy(kernelPredict(k, n, n, f.alpha, K), labels, K)).to.equal(1);
    expect(accuracy(kernelPredict(kt, 10, n, f.alpha, K), testLabels, K)).to.be.at.least(0.7);
    // Its first step agrees with the gradient of the loss taken by tfjs autodiff.
    const one = crossEntropyKernelFit(kernelSystem(k, n, K), Y, n, K, { steps: 1, lr: 1e-3 });
    const g = tf.tidy(() => {
      const Kt = tf.div(tf.tensor2d(Float32Array.from(k), [n, n]), f.scale);
      const loss = (a: tf.Tensor) => tf.neg(tf.div(tf.sum(tf.mul(tf.tensor2d(Float32Array.from(Y), [n, K]), tf.logSoftmax(tf.matMul(Kt, a as tf.Tensor2D)))), n)) as tf.Scalar;
      return tf.grad(loss)(tf.zeros([n, K])).dataSync();
    });
    // Adam's first step is −lr·sign(g) (bias-corrected m/√v = g/|g|) wherever g ≠ 0.
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > 1e-6) expect(one.alpha[i] * f.scale).to.be.closeTo(-1e-3 * Math.sign(g[i]), 1e-6);
  });
});

describe('kernel ridge classifier with an inner split', () => {
  it('chooses the ridge on held-out training samples and skips ridges too small for a singular kernel', () => {
    // A rank-2 kernel over 40 samples (duplicated points): tiny ridges fail their Cholesky and are skipped.
    const n = 40;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const feat = (i: number) => (labels[i] === 1 ? [1, 0.2] : [0.2, 1]);
    const K = new Float64Array(n * n).map((_, e) => {
      const a = feat(Math.floor(e / n)), b = feat(e % n);
      return a[0] * b[0] + a[1] * b[1];
    });
    const train = Array.from({ length: 30 }, (_, i) => i), test = Array.from({ length: 10 }, (_, i) => 30 + i);
    const r = ridgeClassifierCv(K, n, labels, 2, train, test, [1e-12, 1e-3, 1e-1], 0);
    expect(r.ridge).to.not.equal(1e-12);
    expect(r.accuracy).to.equal(1);
    expect(() => ridgeClassifierCv(K, n, labels, 2, train, test, [0], 0)).to.throw(UserError, /not positive definite even at the largest ridge/);
  });
});
