import * as tf from '@tensorflow/tfjs-core';
import { stratifiedFolds, submatrix } from './cv.js';
import { UserError } from './errors.js';
import { blockedCholeskyInPlace, choleskyInPlace, choleskySolveInPlace, matMul } from './linalg.js';
import { nativeEngine } from './matrix-engine.js';
import { makeOptimiser } from './optimisers.js';
import type { Progress } from './progress.js';

/**
 * Kernel regressors f(x) = Σ_j K(x, x_j) α_j in one layout for both kinds of multi-output kernel:
 * the training kernel is [s, s] and the coefficients α are [s, m] with s·m = n·K, so that
 *   full multi-output kernel (rows = (sample, output) pairs, 10×10 blocks): s = n·K, m = 1;
 *   traced (or any per-output scalar) kernel, shared by all outputs:        s = n,   m = K.
 * Predictions F = K_* α have the same layout and are read as logits [n_*, K] row-major either way.
 */
export interface KernelSystem {
  /** Training kernel [s, s] row-major. */
  K: ArrayLike<number>;
  s: number;
  m: number;
}

/** The layout of a kernel over n samples with K outputs: full [nK, nK] (m = 1) or per-output [n, n] (m = K). */
export function kernelSystem(K: ArrayLike<number>, n: number, outputs: number): KernelSystem {
  if (K.length === n * outputs * n * outputs) return { K, s: n * outputs, m: 1 };
  if (K.length === n * n) return { K, s: n, m: outputs };
  throw new Error(`kernelSystem: a kernel of ${K.length} entries is neither [${n * outputs}]² nor [${n}]²`);
}

/** Mean of the diagonal of an [s, s] kernel: the scale the ridge and the trained coefficients refer to. */
export function meanDiagonal(K: ArrayLike<number>, s: number): number {
  let t = 0;
  for (let i = 0; i < s; i++) t += K[i * s + i];
  return t / s;
}

/**
 * Closed-form kernel ridge regression on MSE: α = (K + λ·d̄·I)⁻¹ Y, solved by a float64 Cholesky, with the
 * ridge λ relative to the mean diagonal d̄ so that one λ means the same for kernels of any scale (NTK_tr
 * entries grow ~1000× in training). Y [s, m] is the target layout above (one-hot rows). λ → 0 interpolates the
 * training targets. Throws a UserError naming `what` when K + λd̄I is not numerically positive definite. With the
 * native matrix engine, systems beyond 512 unknowns use the blocked Cholesky (trailing updates as native Gemms).
 */
export function ridgeRegression(sys: KernelSystem, Y: ArrayLike<number>, ridge: number, what: string): Float64Array {
  const { K, s, m } = sys;
  if (!(ridge >= 0)) throw new UserError(`${what}: the ridge must be ≥ 0; got ${ridge}`);
  const A = Float64Array.from(K);
  const add = ridge * meanDiagonal(K, s);
  for (let i = 0; i < s; i++) A[i * s + i] += add;
  // Native engine: the blocked Cholesky, whose trailing updates are its float64 Gemm (small systems stay in JS).
  const ne = nativeEngine();
  if (ne && s > 512) blockedCholeskyInPlace(A, s, what, ne);
  else choleskyInPlace(A, s, what);
  const alpha = Float64Array.from(Y);
  if (alpha.length !== s * m) throw new Error(`ridgeRegression: targets have ${alpha.length} entries, expected ${s * m}`);
  choleskySolveInPlace(A, s, alpha, m);
  return alpha;
}

/** F = K_* α for a cross kernel K_* [s_*, s] and coefficients α [s, m] (float64). */
export const kernelPredict = (Kstar: ArrayLike<number>, sStar: number, s: number, alpha: ArrayLike<number>, m: number): Float64Array =>
  matMul(Kstar, sStar, s, alpha, m);

export interface CrossEntropyFitOptions {
  steps: number;
  lr: number;
  progress?: Progress;
}

/**
 * Kernel coefficients trained with softmax cross-entropy and Adam, as seeds/003 does: minimise
 * (1/n) Σ_i CE(softmax(F_i), y_i) over α with F = (K/d̄) α read as logits [n, K]. The kernel is scaled by its
 * mean diagonal d̄ (Adam's step is scale-free in α, so without it the step in function space would grow with
 * the kernel's scale); the returned α is divided by d̄ so that kernelPredict(K_*, α) needs no rescaling. The gradient
 * ∂L/∂α = (K/d̄)ᵀ (softmax(F) − Y)/n is formed explicitly (K symmetric), two matrix-vector products per step,
 * in float32 (on the native matrix engine when in use, else on the tfjs backend). α starts at 0 (all logits 0). Returns α [s, m] in float64 and the final loss.
 */
export function crossEntropyKernelFit(sys: KernelSystem, Y: ArrayLike<number>, n: number, outputs: number, o: CrossEntropyFitOptions): { alpha: Float64Array; loss: number; scale: number } {
  const { K, s, m } = sys;
  const scale = meanDiagonal(K, s);
  // The two [s, s]·[s, m] products per step are the fit's FLOPs (and its memory traffic): on the native engine
  // they read K/d̄ from a JS array; the rest of the step (softmax, Adam) stays on tfjs.
  const ne = nativeEngine();
  let Kn: Float32Array | null = null;
  if (ne) {
    // A loop: Float32Array.from with a map function over 25M entries takes seconds.
    Kn = new Float32Array(s * s);
    for (let i = 0; i < s * s; i++) Kn[i] = K[i] / scale;
  }
  const Kt = Kn ? null : tf.tidy(() => tf.div(tf.tensor2d(Float32Array.from(K), [s, s]), scale));
  // The right-hand side with its negligible entries set to 0 (negligibleToZero): as the fit converges, softmax − Y of
  // confident logits falls to 1e−30 and below, and its products with K/d̄ then fall into float32's subnormal range,
  // which some CPUs handle many times slower. On the 2-core Intel Xeon a [5000, 5000]·[5000, 1] product with
  // subnormal operands took 60 ms instead of 3.8, and the seeds/003 CNN's full-kernel fit of 5000 steps (one thread)
  // slowed from 18 to 56 ms per step as it converged: 206.6 s; with only subnormal entries zeroed 103.6 s; as here
  // 60.1 s, 10–13 ms per step throughout, the same final loss to every digit.
  const product = (x: tf.Tensor2D): tf.Tensor2D => {
    const v = negligibleToZero(Float32Array.from(x.dataSync() as Float32Array));
    return Kn ? tf.tensor2d(ne!.matMul(Kn, v, s, s, m), [s, m]) : tf.matMul(Kt!, tf.tensor2d(v, [s, m]));
  };
  const Yt = tf.tensor2d(Float32Array.from(Y), [n, outputs]);
  let alpha: tf.Tensor = tf.zeros([s, m]);
  const opt = makeOptimiser({ name: 'adam', lr: o.lr });
  let loss = NaN;
  try {
    for (let t = 0; t < o.steps; t++) {
      const grad = tf.tidy(() => {
        const logits = tf.reshape(product(alpha as tf.Tensor2D), [n, outputs]);
        const dF = tf.div(tf.sub(tf.softmax(logits), Yt), n);
        if (t === o.steps - 1) loss = -tf.sum(tf.mul(Yt, tf.logSoftmax(logits))).dataSync()[0] / n;
        return product(tf.reshape(dF, [s, m]) as tf.Tensor2D);
      });
      const [next] = opt.step([alpha], [grad]);
      alpha.dispose();
      grad.dispose();
      alpha = next;
      o.progress?.update(t + 1);
    }
    const a = Float64Array.from(alpha.dataSync(), (v) => v / scale);
    if (!Number.isFinite(loss) || a.some((v) => !Number.isFinite(v))) throw new UserError('kernel cross-entropy fit: the coefficients diverged (non-finite values); lower the learning rate');
    return { alpha: a, loss, scale };
  } finally {
    [Kt, Yt, alpha].forEach((t) => t?.dispose());
    opt.dispose();
  }
}

/**
 * Set to 0, in place, the entries of `a` below 2^−64·max|a| (and any subnormal one, |v| < 2^−126); returns `a`.
 * In a product K·a the dropped terms change output i by at most 2^−64·max|a|·Σ_j |K_ij|, far below float32's
 * resolution of that output unless it cancels to 2^−40 of max|a|·Σ_j |K_ij|; and no operand is subnormal.
 */
export function negligibleToZero(a: Float32Array): Float32Array {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  const floor = Math.max(max * 2 ** -64, 1.1754943508222875e-38);
  for (let i = 0; i < a.length; i++) if (a[i] !== 0 && Math.abs(a[i]) < floor) a[i] = 0;
  return a;
}

/** Accuracy of logits F [n, K] (row-major) against integer labels. */
export function accuracy(F: ArrayLike<number>, labels: ArrayLike<number>, outputs: number): number {
  let hit = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < outputs; k++) if (F[i * outputs + k] > F[i * outputs + best]) best = k;
    if (best === labels[i]) hit++;
  }
  return hit / labels.length;
}

/** One-hot targets [n, K] of integer labels. */
export function oneHot(labels: ArrayLike<number>, outputs: number): Float64Array {
  const y = new Float64Array(labels.length * outputs);
  for (let i = 0; i < labels.length; i++) y[i * outputs + labels[i]] = 1;
  return y;
}

/**
 * Kernel ridge classifier with the ridge chosen on an inner split: for each λ of the grid, fit on the inner-train
 * part of the training indices (a seeded stratified quarter held out) and score accuracy on the held-out quarter;
 * refit with the best λ (ties: the larger λ) on all training indices and return the test predictions' accuracy (and
 * the best inner accuracy, to choose among kernels the same way). λ whose system is not numerically positive
 * definite are skipped.
 * K is a per-sample kernel [n, n] over all samples; targets one-hot.
 */
export function ridgeClassifierCv(K: ArrayLike<number>, n: number, labels: ArrayLike<number>, classes: number, train: number[], test: number[], grid: number[], seed: number | string): { accuracy: number; ridge: number; innerAccuracy: number } {
  const fitScore = (tr: number[], te: number[], lam: number) => {
    const y = oneHot(tr.map((i) => labels[i]), classes);
    const a = ridgeRegression(kernelSystem(submatrix(K, n, tr, tr), tr.length, classes), y, lam, 'kernel ridge classifier');
    return accuracy(kernelPredict(submatrix(K, n, te, tr), te.length, tr.length, a, classes), te.map((i) => labels[i]), classes);
  };
  const inner = stratifiedFolds(train.map((i) => labels[i]), 4, seed);
  const itr = train.filter((_, j) => inner[j] !== 0), ite = train.filter((_, j) => inner[j] === 0);
  // A λ too small for a (numerically) singular kernel — near-duplicate samples, Monte-Carlo kernels in float32 —
  // fails its Cholesky; it is skipped, and the final fit falls back to the next larger λ that works.
  const tryScore = (tr: number[], te: number[], lam: number): number | null => {
    try {
      return fitScore(tr, te, lam);
    } catch (e) {
      if (e instanceof UserError) return null;
      throw e;
    }
  };
  let best = -1, bestAcc = -1;
  grid.forEach((lam, g) => {
    const acc = tryScore(itr, ite, lam);
    if (acc !== null && acc >= bestAcc) {
      bestAcc = acc;
      best = g;
    }
  });
  if (best < 0) throw new UserError(`kernel ridge classifier: the kernel is not positive definite even at the largest ridge ${grid[grid.length - 1]}`);
  for (let g = best; g < grid.length; g++) {
    const acc = tryScore(train, test, grid[g]);
    if (acc !== null) return { accuracy: acc, ridge: grid[g], innerAccuracy: bestAcc };
  }
  throw new UserError(`kernel ridge classifier: the kernel is not positive definite even at the largest ridge ${grid[grid.length - 1]}`);
}
