import { topEigenvalues } from './linalg.js';

/** Frobenius inner product ⟨A, B⟩ = Σ A_ij B_ij (float64 accumulation). */
export function frobeniusDot(A: ArrayLike<number>, B: ArrayLike<number>): number {
  if (A.length !== B.length) throw new Error(`frobeniusDot: sizes differ (${A.length} vs ${B.length})`);
  let s = 0;
  for (let i = 0; i < A.length; i++) s += A[i] * B[i];
  return s;
}

export const frobeniusNorm = (A: ArrayLike<number>): number => Math.sqrt(frobeniusDot(A, A));

/** Kernel distance 1 − ⟨K0,Kt⟩/(‖K0‖‖Kt‖) (Fort et al. 2020): 0 for kernels equal up to scale, ≤ 2. */
export function kernelDistance(K0: ArrayLike<number>, Kt: ArrayLike<number>): number {
  return 1 - frobeniusDot(K0, Kt) / (frobeniusNorm(K0) * frobeniusNorm(Kt));
}

/** Relative Frobenius change ‖Kt − K0‖/‖K0‖. */
export function relativeChange(K0: ArrayLike<number>, Kt: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < K0.length; i++) s += (Kt[i] - K0[i]) ** 2;
  return Math.sqrt(s) / frobeniusNorm(K0);
}

/**
 * Centred kernel-target alignment (Cortes, Mohri & Rostamizadeh 2012) of an [n, n] kernel with targets
 * Y [n, m]: A = ⟨K_c, Y_c Y_cᵀ⟩/(‖K_c‖·‖Y_c Y_cᵀ‖) with K_c = HKH, Y_c = HY and H = I − 11ᵀ/n. Centring
 * removes the constant mode that dominates NTKs of ReLU nets (all entries positive), which would otherwise
 * make every kernel look aligned with every target. ⟨K_c, Y_cY_cᵀ⟩ = Σ_c y_cᵀ K_c y_c and ‖Y_cY_cᵀ‖ = ‖Y_cᵀY_c‖,
 * so Y Yᵀ is never formed. In [−1, 1]; 1 when K_c is a positive multiple of Y_c Y_cᵀ.
 */
export function kernelTargetAlignment(K: ArrayLike<number>, n: number, Y: ArrayLike<number>, m: number): number {
  const rowMean = new Float64Array(n);
  let all = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += K[i * n + j];
    rowMean[i] = s / n;
    all += s;
  }
  all /= n * n;
  const Kc = new Float64Array(n * n);
  // K symmetric: column means equal row means.
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Kc[i * n + j] = K[i * n + j] - rowMean[i] - rowMean[j] + all;
  const Yc = new Float64Array(n * m);
  for (let c = 0; c < m; c++) {
    let mu = 0;
    for (let i = 0; i < n; i++) mu += Y[i * m + c];
    mu /= n;
    for (let i = 0; i < n; i++) Yc[i * m + c] = Y[i * m + c] - mu;
  }
  let num = 0;
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += Kc[i * n + j] * Yc[j * m + c];
      num += Yc[i * m + c] * s;
    }
  }
  let yy = 0;
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Yc[i * m + a] * Yc[i * m + b];
    yy += s * s;
  }
  return num / (frobeniusNorm(Kc) * Math.sqrt(yy));
}

/** Effective rank (Σλ)²/Σλ² = tr(K)²/‖K‖²_F of a symmetric [n, n] kernel (no eigendecomposition needed). */
export function effectiveRank(K: ArrayLike<number>, n: number): number {
  let tr = 0;
  for (let i = 0; i < n; i++) tr += K[i * n + i];
  return (tr * tr) / frobeniusDot(K, K);
}

/** What kernel tracking records at one step, relative to the kernel at the first recorded step. */
export interface KernelMetrics {
  distance: number;
  relativeChange: number;
  /** ‖Kt‖/‖K0‖. */
  normRatio: number;
  alignment: number;
  effectiveRank: number;
  topEigenvalues: number[];
}

/**
 * All tracking metrics of Kt [n, n] against K0; the alignment is that of `forAlignment` ([a, a], default Kt
 * itself) with targets Y [a, m].
 */
export function kernelMetrics(K0: ArrayLike<number>, Kt: ArrayLike<number>, n: number, Y: ArrayLike<number>, m: number, topK = 5, forAlignment?: { K: ArrayLike<number>; n: number }): KernelMetrics {
  return {
    distance: kernelDistance(K0, Kt),
    relativeChange: relativeChange(K0, Kt),
    normRatio: frobeniusNorm(Kt) / frobeniusNorm(K0),
    alignment: kernelTargetAlignment(forAlignment?.K ?? Kt, forAlignment?.n ?? n, Y, m),
    effectiveRank: effectiveRank(Kt, n),
    topEigenvalues: topEigenvalues(Kt, n, topK),
  };
}

/**
 * How far a recomputed kernel is from a reference: relative Frobenius error ‖K − R‖/‖R‖ and the largest entry
 * error relative to the largest reference entry, max|K − R|/max|R| (0 and 0 when bit-identical).
 */
export function compareKernels(reference: ArrayLike<number>, K: ArrayLike<number>): { relativeFrobenius: number; maxAbs: number } {
  if (reference.length !== K.length) return { relativeFrobenius: Infinity, maxAbs: Infinity };
  let md = 0, mr = 0;
  for (let i = 0; i < K.length; i++) {
    md = Math.max(md, Math.abs(K[i] - reference[i]));
    mr = Math.max(mr, Math.abs(reference[i]));
  }
  return { relativeFrobenius: relativeChange(reference, K), maxAbs: md / mr };
}
