import { UserError } from './errors.js';
import type { MatrixEngine } from './matrix-engine.js';

/**
 * Float64 dense linear algebra for the kernel-side of the toolkit (tfjs is float32 only). Matrices are
 * row-major Float64Arrays with their size passed alongside. Written by hand rather than with ml-matrix:
 * the Crout Cholesky below runs at ~1.6 GFLOP/s in V8 (a [5000,5000] kernel in ~26 s), its blocked form puts
 * the trailing updates on the native matrix engine's float64 Gemm, and the only other
 * needs (a small symmetric eigensolver, top eigenvalues by subspace iteration) are a few dozen lines each.
 */

/**
 * C = A X for A [rows, inner] (float32 or float64 storage) and X [inner, cols], in float64; zero entries of A are
 * skipped (kernels restricted to sub-blocks, sparse cross kernels).
 */
export function matMul(A: ArrayLike<number>, rows: number, inner: number, X: ArrayLike<number>, cols: number): Float64Array {
  const C = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * inner;
    for (let j = 0; j < inner; j++) {
      const a = A[o + j];
      if (a === 0) continue;
      for (let c = 0; c < cols; c++) C[i * cols + c] += a * X[j * cols + c];
    }
  }
  return C;
}

/**
 * In-place Cholesky A = L Lᵀ of a symmetric positive-definite [n, n] matrix (lower triangle read, L written
 * into it; the strict upper triangle is left as it was). Throws a UserError naming `what` when a pivot is not
 * positive or the matrix is too ill-conditioned for float64 (pivot ratio max/min > 1e13, i.e. a condition
 * number beyond ~1e13), suggesting a larger ridge.
 */
export function choleskyInPlace(L: Float64Array, n: number, what: string): void {
  let maxPivot = 0;
  for (let i = 0; i < n; i++) maxPivot = Math.max(maxPivot, L[i * n + i]);
  crout(L, n, what, maxPivot, 0);
}

/** The Crout loop of choleskyInPlace, pivots checked against `maxPivot` and numbered from `first` in messages. */
function crout(L: Float64Array, n: number, what: string, maxPivot: number, first: number): void {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = L[rj + j];
    for (let k = 0; k < j; k++) d -= L[rj + k] * L[rj + k];
    if (!(d > maxPivot * 1e-13)) {
      throw new UserError(`${what}: the kernel matrix is not numerically positive definite (pivot ${first + j} is ${d.toExponential(2)} against a largest diagonal of ${maxPivot.toExponential(2)}); increase the ridge`);
    }
    d = Math.sqrt(d);
    L[rj + j] = d;
    const inv = 1 / d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s0 = 0, s1 = 0;
      let k = 0;
      for (; k + 1 < j; k += 2) {
        s0 += L[ri + k] * L[rj + k];
        s1 += L[ri + k + 1] * L[rj + k + 1];
      }
      if (k < j) s0 += L[ri + k] * L[rj + k];
      L[ri + j] = (L[ri + j] - s0 - s1) * inv;
    }
  }
}

/**
 * Blocked right-looking Cholesky A = L Lᵀ, the same contract as choleskyInPlace (lower triangle read and
 * overwritten by L, the same pivot checks), with the O(n³) work on `engine`: for each block column of width b,
 * with T the trailing matrix still to factor, T = [[T11, ·], [T21, T22]]:
 *   L11 = chol(T11) (Crout, b³/3),  L21 = T21 · L11⁻ᵀ (one product with the inverse of L11),
 *   T ← T22 − L21 · L21ᵀ (lower triangle only, in row panels).
 * All but O(n·b²) of the n³/3 FLOPs run in the engine's products, in float64 throughout; the strict upper
 * triangle of A is not touched.
 */
export function blockedCholeskyInPlace(A: Float64Array, n: number, what: string, engine: MatrixEngine, block = 512): void {
  let maxPivot = 0;
  for (let i = 0; i < n; i++) maxPivot = Math.max(maxPivot, A[i * n + i]);
  // Right-looking and in place: the trailing matrix T is A's lower triangle from row and column j0 on, updated
  // where it lies (no copies of A, no compaction of T: at n = 5000 those cost as much as the products).
  const P = new Float64Array(Math.min(n, Math.max(PANEL, Math.ceil(n / 8))) * n);
  for (let j0 = 0; j0 < n; j0 += block) {
    const b = Math.min(block, n - j0), rest = n - j0 - b;
    const D = new Float64Array(b * b);
    for (let i = 0; i < b; i++) D.set(A.subarray((j0 + i) * n + j0, (j0 + i) * n + j0 + i + 1), i * b);
    crout(D, b, what, maxPivot, j0);
    for (let i = 0; i < b; i++) A.set(D.subarray(i * b, i * b + i + 1), (j0 + i) * n + j0);
    if (rest === 0) break;
    const T21 = new Float64Array(rest * b);
    const r0 = j0 + b;
    for (let i = 0; i < rest; i++) T21.set(A.subarray((r0 + i) * n + j0, (r0 + i) * n + j0 + b), i * b);
    const L21 = engine.matMul(T21, lowerInverse(D, b), rest, b, b, true);
    for (let i = 0; i < rest; i++) A.set(L21.subarray(i * b, (i + 1) * b), (r0 + i) * n + j0);
    // T22 ← T22 − L21·L21ᵀ on and below the diagonal only (the factorisation never reads above it): row panels
    // [p0, p1) take the product L21[p0, p1) · L21[0, p1)ᵀ, about (1 + 1/panels)/2 of the full update's FLOPs,
    // subtracted row by row where T22 lies in A. Panels of ≥ PANEL rows keep MLAS at its full rate.
    const h = Math.max(PANEL, Math.ceil(rest / 8));
    for (let p0 = 0; p0 < rest; p0 += h) {
      const p1 = Math.min(rest, p0 + h);
      const prod = engine.matMul(L21.subarray(p0 * b, p1 * b), L21.subarray(0, p1 * b), p1 - p0, b, p1, true, P);
      for (let i = p0; i < p1; i++) {
        const o = (r0 + i) * n + r0, q = (i - p0) * p1;
        for (let j = 0; j <= i; j++) A[o + j] -= prod[q + j];
      }
    }
  }
}

/** Least rows of a trailing-update panel of blockedCholeskyInPlace. */
const PANEL = 256;

/** X = L⁻¹ [b, b] of a lower-triangular L (row-major; strict upper triangle of L ignored) by forward substitution. */
function lowerInverse(L: Float64Array, b: number): Float64Array {
  const X = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    X[j * b + j] = 1 / L[j * b + j];
    for (let i = j + 1; i < b; i++) {
      let sum = 0;
      for (let k = j; k < i; k++) sum += L[i * b + k] * X[k * b + j];
      X[i * b + j] = -sum / L[i * b + i];
    }
  }
  return X;
}

/** Solve L Lᵀ X = B in place for B [n, m] (m right-hand sides, row-major), L from choleskyInPlace. */
export function choleskySolveInPlace(L: Float64Array, n: number, B: Float64Array, m: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const l = L[ri + k];
      if (l !== 0) for (let c = 0; c < m; c++) B[i * m + c] -= l * B[k * m + c];
    }
    const inv = 1 / L[ri + i];
    for (let c = 0; c < m; c++) B[i * m + c] *= inv;
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l !== 0) for (let c = 0; c < m; c++) B[i * m + c] -= l * B[k * m + c];
    }
    const inv = 1 / L[i * n + i];
    for (let c = 0; c < m; c++) B[i * m + c] *= inv;
  }
}

/**
 * Eigendecomposition A = V diag(λ) Vᵀ of a symmetric [n, n] matrix by cyclic Jacobi rotations (accurate to
 * float64 round-off, O(n³) per sweep: meant for n up to a few hundred). Returns eigenvalues in descending
 * order and V [n, n] row-major with eigenvector j in column j.
 */
export function symmetricEigen(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, tot = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) (i === j ? (tot += a[i * n + j] ** 2) : (off += a[i * n + j] ** 2));
    if (off <= 1e-30 * (tot + off) || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) order.forEach((src, c) => (vectors[r * n + c] = v[r * n + src]));
  return { values, vectors };
}

/**
 * The k largest eigenvalues of a symmetric positive semi-definite [n, n] matrix by block subspace iteration
 * with Rayleigh–Ritz (Jacobi on the k×k projection), `iters` rounds from a fixed start: O(iters·n²·k) instead
 * of a full O(n³) decomposition, enough for kernel spectra whose top eigenvalues are well separated.
 */
export function topEigenvalues(A: ArrayLike<number>, n: number, k: number, iters = 60): number[] {
  k = Math.min(k, n);
  let Q: Float64Array = new Float64Array(n * k);
  // Deterministic start: columns of a fixed pseudo-random pattern (no Math.random: results must repeat).
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) Q[i * k + c] = Math.sin(1 + i * 12.9898 + c * 78.233) * 43758.5453 % 1;
  const mulA = (X: Float64Array): Float64Array => matMul(A, n, n, X, k);
  const orthonormalise = (X: Float64Array) => {
    for (let c = 0; c < k; c++) {
      for (let d = 0; d < c; d++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += X[i * k + c] * X[i * k + d];
        for (let i = 0; i < n; i++) X[i * k + c] -= dot * X[i * k + d];
      }
      let nrm = 0;
      for (let i = 0; i < n; i++) nrm += X[i * k + c] ** 2;
      nrm = Math.sqrt(nrm) || 1;
      for (let i = 0; i < n; i++) X[i * k + c] /= nrm;
    }
  };
  orthonormalise(Q);
  for (let it = 0; it < iters; it++) {
    Q = mulA(Q);
    orthonormalise(Q);
  }
  const AQ = mulA(Q);
  const H = new Float64Array(k * k);
  for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[i * k + a] * AQ[i * k + b];
    H[a * k + b] = s;
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) H[a * k + b] = H[b * k + a] = (H[a * k + b] + H[b * k + a]) / 2;
  return Array.from(symmetricEigen(H, k).values);
}
