import { matMul, symmetricEigen } from './linalg.js';
import { type KernelSystem, kernelPredict } from './kernel-regression.js';

/**
 * Linearised training dynamics from a fixed kernel (Jacot et al. 2018, seeds/001; Lee et al. 2019). For the
 * MSE loss L = (1/2n) Σ_i ‖f(x_i) − y_i‖² the linearised net f_lin(θ) = f(θ0) + J(θ0)(θ − θ0) trained by
 * gradient descent with rate η moves its outputs on the training set by u ← u − (η/n) Θ (u − y) and on other
 * points by u_* ← u_* − (η/n) Θ_* (u − y), with Θ the NTK at θ0 (layout of KernelSystem: [s, s], outputs
 * [s, m]; Θ_* [s_*, s]). These functions return those outputs; compare them with really training the net.
 */
export interface LinearisedPrediction {
  /** Step (or time in steps) of each snapshot. */
  steps: number[];
  /** Outputs on the training points at each snapshot, [s, m] each. */
  train: Float64Array[];
  /** Outputs on the other points at each snapshot, [s_*, m] each. */
  test: Float64Array[];
}

/**
 * Discrete GD of the linearised net, iterated exactly: u_{t+1} = u_t − (η/n) Θ (u_t − y) and
 * u*_{t+1} = u*_t − (η/n) Θ_* (u_t − y), snapshots at the given step counts (ascending).
 */
export function linearisedGd(sys: KernelSystem, Kstar: ArrayLike<number>, sStar: number, u0: ArrayLike<number>, u0Star: ArrayLike<number>, Y: ArrayLike<number>, lr: number, n: number, at: number[]): LinearisedPrediction {
  const { K, s, m } = sys;
  const u = Float64Array.from(u0), uStar = Float64Array.from(u0Star);
  const out: LinearisedPrediction = { steps: [], train: [], test: [] };
  const r = new Float64Array(s * m);
  let t = 0;
  for (const target of at) {
    for (; t < target; t++) {
      for (let i = 0; i < r.length; i++) r[i] = u[i] - Y[i];
      const du = kernelPredict(K, s, s, r, m);
      const duStar = kernelPredict(Kstar, sStar, s, r, m);
      for (let i = 0; i < u.length; i++) u[i] -= (lr / n) * du[i];
      for (let i = 0; i < uStar.length; i++) uStar[i] -= (lr / n) * duStar[i];
    }
    out.steps.push(target);
    out.train.push(u.slice());
    out.test.push(uStar.slice());
  }
  return out;
}

/**
 * Gradient flow of the linearised net in closed form (seeds/001): with c = η t/n,
 *   u(t)  = y + e^{−cΘ}(u0 − y),
 *   u*(t) = u*0 − Θ_* Θ⁻¹ (I − e^{−cΘ}) (u0 − y),
 * through the eigendecomposition Θ = V Λ Vᵀ (Jacobi, float64; Θ⁻¹(I − e^{−cΘ}) has eigenvalues
 * (1 − e^{−cλ})/λ → c as λ → 0, so a singular Θ is fine). Meant for s up to a few hundred.
 */
export function linearisedFlow(sys: KernelSystem, Kstar: ArrayLike<number>, sStar: number, u0: ArrayLike<number>, u0Star: ArrayLike<number>, Y: ArrayLike<number>, lr: number, n: number, times: number[]): LinearisedPrediction {
  const { K, s, m } = sys;
  const { values, vectors: V } = symmetricEigen(K, s);
  const r0 = new Float64Array(s * m);
  for (let i = 0; i < r0.length; i++) r0[i] = u0[i] - Y[i];
  // Coordinates of the initial residual in the eigenbasis: z = Vᵀ r0 [s, m].
  const z = new Float64Array(s * m);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) {
    const v = V[i * s + j];
    for (let c = 0; c < m; c++) z[j * m + c] += v * r0[i * m + c];
  }
  const out: LinearisedPrediction = { steps: [], train: [], test: [] };
  for (const t of times) {
    const cT = (lr * t) / n;
    const decay = new Float64Array(s * m), gain = new Float64Array(s * m);
    for (let j = 0; j < s; j++) {
      const l = Math.max(values[j], 0);
      const e = Math.exp(-cT * l);
      const g = l * cT > 1e-12 ? (1 - e) / l : cT;
      for (let c = 0; c < m; c++) {
        decay[j * m + c] = e * z[j * m + c];
        gain[j * m + c] = g * z[j * m + c];
      }
    }
    const back = (w: Float64Array) => matMul(V, s, s, w, m);
    const resid = back(decay);
    const train = Float64Array.from(resid, (v, i) => Y[i] + v);
    const moved = kernelPredict(Kstar, sStar, s, back(gain), m);
    const test = Float64Array.from(moved, (v, i) => u0Star[i] - v);
    out.steps.push(t);
    out.train.push(train);
    out.test.push(test);
  }
  return out;
}
