import * as tf from '@tensorflow/tfjs-core';

/**
 * The matrix engine: where the heavy dense products run. 'native' is ONNX Runtime's CPU kernels (MLAS, AVX2/
 * AVX-512, its own intra-op thread pool) through onnxruntime-node, driven synchronously; 'tfjs' is the tfjs
 * backend in use (wasm: 128-bit SIMD, one thread), the fallback wherever the native library cannot load.
 * Callers ask `nativeEngine()` and keep their tfjs code as the fallback branch, so that the fallback's kernels
 * stay bit-identical to the tfjs-only tool; `tfjsEngine` implements the same interface on tfjs (float32) and
 * plain JS (float64) as the reference the native products are tested against.
 */
export type EngineName = 'native' | 'tfjs';
export const ENGINES: readonly string[] = ['auto', 'native', 'tfjs'];

export type Floats = Float32Array | Float64Array;

export interface MatrixEngine {
  readonly name: EngineName;
  /**
   * C [m, n] = A [m, k] · B [k, n], or A · Bᵀ for B stored [n, k] when `transB`; row-major, float32 or float64
   * (both operands and the result alike). Operands may be subarray views; they are read, never written. With
   * `out` (at least m·n entries, not overlapping the operands) the product is written into its first m·n entries
   * and a view of them returned: callers that run many products of one shape reuse one buffer instead of a
   * fresh array (and its page faults) for each.
   */
  matMul<T extends Floats>(A: T, B: T, m: number, k: number, n: number, transB?: boolean, out?: T): T;
  /**
   * C − A·Bᵀ for C [m, n], A [m, k], B [n, k], the trailing update of a blocked Cholesky: written into `out`
   * (m·n entries, not overlapping the operands) when given and returned, else a new array; C is not written.
   */
  gemmUpdate<T extends Floats>(C: T, A: T, B: T, m: number, k: number, n: number, out?: T): T;
  /**
   * C[b] = s · A[b] · B[b] for A [batch, m, k] (or s · A[b]ᵀ · B[b] for A stored [batch, k, m] when `transA`),
   * B [batch, k, n]: C [batch, m, n], written into `out` (batch·m·n entries, not overlapping the operands) when
   * given and returned, else a new array.
   */
  batchMatMul<T extends Floats>(A: T, B: T, batch: number, m: number, k: number, n: number, transA?: boolean, s?: number, out?: T): T;
  /**
   * Per-sample weight gradients of K cotangents at once: for gs[k] [batch, rows, m] (k < K) and X [batch, rows, n],
   *   C[b, k, c, f] = s · Σ_r gs[k][b, r, c] · X[b, r, f],   C [batch, K, m, n],
   * i.e. per sample one product of its K·m cotangent columns (stacked) with its rows of X. float32; written into
   * `out` (batch·K·m·n entries, not overlapping the operands) when given and returned, else a new array.
   */
  stackedGradients(gs: readonly Float32Array[], X: Float32Array, batch: number, rows: number, m: number, n: number, s: number, out?: Float32Array): Float32Array;
  /**
   * The full-mode NTK tile of layers with one row per sample, fused (products and their Hadamard combination in
   * one call): for row samples i < nr, column samples j < nc and outputs k, k' < K,
   *   Y[(i,k), (j,k')] = E[(i,k), (j,k')] + Σ_l (w_l²·a1_l[i]·a2_l[j] + b_l²) · g1_l[(i,k)]·g2_l[(j,k')],
   * a1_l [nr, fanIn_l], a2_l [nc, fanIn_l] the layer's inputs, g1_l [nr·K, fanOut_l], g2_l [nc·K, fanOut_l] its
   * cotangents (row i·K + k), E [nr·K, nc·K] an optional precomputed term (the explicit layers' Gram). float32;
   * written into `out` (nr·K·nc·K entries) when given, else a new array. Layers with nothing to sum (no layers and
   * no E) give zeros.
   */
  denseNtkTile(layers: readonly DenseNtkLayer[], E: Float32Array | null, nr: number, nc: number, K: number, out?: Float32Array): Float32Array;
  /**
   * Stride-1 undilated 2-D convolution (cross-correlation) in NHWC, float32: for x [n, H, W, C], w [kh, kw, C, Co]
   * and zero padding pads = [top, left, bottom, right] (each ≥ 0),
   *   y[b, oy, ox, o] = Σ_{a<kh, d<kw, c<C} x[b, oy + a − top, ox + d − left, c] · w[a, d, c, o]   (0 outside x),
   * y [n, H + top + bottom − kh + 1, W + left + right − kw + 1, Co]; written into `out` (exactly that size, not
   * overlapping the operands) when given, else into a new array, and returned.
   */
  conv2d(x: Float32Array, w: Float32Array, xShape: number[], wShape: number[], pads: number[], out?: Float32Array): Float32Array;
}

/** One layer of denseNtkTile: inputs and cotangents of both sides, sizes, and the squared scales w², b². */
export interface DenseNtkLayer {
  a1: Float32Array;
  a2: Float32Array;
  g1: Float32Array;
  g2: Float32Array;
  fanIn: number;
  fanOut: number;
  w2: number;
  b2: number;
}

/** Output shape [n, Ho, Wo, Co] of MatrixEngine.conv2d. */
export function conv2dShape(xShape: number[], wShape: number[], pads: number[]): number[] {
  const [n, H, W] = xShape, [kh, kw, , co] = wShape;
  return [n, H + pads[0] + pads[2] - kh + 1, W + pads[1] + pads[3] - kw + 1, co];
}

/** A new zeroed array of `size` entries of the same float type as `a`. */
export const like = <T extends Floats>(a: T, size: number): T => (a instanceof Float64Array ? new Float64Array(size) : new Float32Array(size)) as T;

/** Plain row-major triple loop in float64 arithmetic (the float64 reference, and tfjs's float64 path). */
function jsMatMul<T extends Floats>(A: T, B: T, m: number, k: number, n: number, transB: boolean): T {
  const C = like(A, m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[i * k + p] * (transB ? B[j * k + p] : B[p * n + j]);
      C[i * n + j] = s;
    }
  }
  return C;
}

/** The reference engine: tfjs's matMul for float32 (on the current tfjs backend), JS loops for float64. */
export const tfjsEngine: MatrixEngine = {
  name: 'tfjs',
  matMul(A, B, m, k, n, transB = false, out?) {
    let P: typeof A;
    if (A instanceof Float64Array || m * n === 0 || k === 0) P = jsMatMul(A, B, m, k, n, transB);
    else {
      const C = tf.tidy(() => {
        const b = tf.tensor2d(B as Float32Array, transB ? [n, k] : [k, n]);
        return tf.matMul(tf.tensor2d(A as Float32Array, [m, k]), transB ? tf.transpose(b) : b);
      });
      P = C.dataSync() as typeof A;
      C.dispose();
    }
    if (!out) return P;
    out.set(P.subarray(0, m * n));
    return out.subarray(0, m * n) as typeof A;
  },
  gemmUpdate(C, A, B, m, k, n, out = like(C, m * n)) {
    const P = this.matMul(A, B, m, k, n, true);
    for (let i = 0; i < m * n; i++) out[i] = C[i] - P[i];
    return out;
  },
  batchMatMul(A, B, batch, m, k, n, transA = false, scale = 1, out?) {
    const C = out ? out.subarray(0, batch * m * n) as typeof A : like(A, batch * m * n);
    for (let b = 0; b < batch; b++) {
      let a = A.subarray(b * m * k, (b + 1) * m * k) as typeof A;
      if (transA) {
        const t = like(A, m * k);
        for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) t[i * k + p] = a[p * m + i];
        a = t;
      }
      C.set(this.matMul(a, B.subarray(b * k * n, (b + 1) * k * n), m, k, n), b * m * n);
    }
    if (scale !== 1) for (let i = 0; i < C.length; i++) C[i] *= scale;
    return C;
  },
  stackedGradients(gs, X, batch, rows, m, n, s, out?) {
    const K = gs.length, size = batch * K * m * n;
    const C = out ? out.subarray(0, size) : new Float32Array(size);
    gs.forEach((g, k) => {
      const P = this.batchMatMul(g, X, batch, m, rows, n, true, s);
      for (let b = 0; b < batch; b++) C.set(P.subarray(b * m * n, (b + 1) * m * n), (b * K + k) * m * n);
    });
    return C;
  },
  denseNtkTile(layers, E, nr, nc, K, out = new Float32Array(nr * K * nc * K)) {
    // The reference: each product by matMul, the combination in float64 per entry.
    const A = layers.map((l) => this.matMul(l.a1, l.a2, nr, l.fanIn, nc, true));
    const G = layers.map((l) => this.matMul(l.g1, l.g2, nr * K, l.fanOut, nc * K, true));
    const ld = nc * K;
    for (let i = 0; i < nr; i++) {
      for (let j = 0; j < nc; j++) {
        const s = layers.map((l, q) => l.w2 * A[q][i * nc + j] + l.b2);
        for (let k = 0; k < K; k++) {
          for (let kk = 0; kk < K; kk++) {
            const e = (i * K + k) * ld + j * K + kk;
            let v = E ? E[e] : 0;
            for (let q = 0; q < layers.length; q++) v += s[q] * G[q][e];
            out[e] = v;
          }
        }
      }
    }
    return out;
  },
  conv2d(x, w, xShape, wShape, pads, out?) {
    const [t, l, b, r] = pads;
    const y = tf.tidy(() => tf.conv2d(tf.pad(tf.tensor4d(x, xShape as [number, number, number, number]), [[0, 0], [t, b], [l, r], [0, 0]]), tf.tensor4d(w, wShape as [number, number, number, number]), 1, 'valid'));
    const v = y.dataSync() as Float32Array;
    y.dispose();
    if (!out) return v;
    out.set(v);
    return out;
  },
};

let current: MatrixEngine = tfjsEngine;

/**
 * Make `e` the engine in use. The engine modules never load a native library themselves: Node's edge
 * (lib/native-engine.ts, called by initBackend) registers onnxruntime-node's engine here, and a browser build,
 * which has no such edge, keeps the tfjs engine.
 */
export function useEngine(e: MatrixEngine): EngineName {
  current = e;
  return current.name;
}

/** The engine in use ('tfjs' until initEngine chose the native one). */
export const currentEngine = (): EngineName => current.name;

/** The native engine when it is the one in use, else null (callers then take their tfjs path). */
export const nativeEngine = (): MatrixEngine | null => (current.name === 'native' ? current : null);

/** The engine in use. */
export const matrixEngine = (): MatrixEngine => current;
