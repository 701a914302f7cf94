import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { empiricalKernel } from '../jacobian/empirical.js';
import { UserError } from '../lib/errors.js';
import { blockedCholeskyInPlace, choleskyInPlace } from '../lib/linalg.js';
import { type Floats, type MatrixEngine, matrixEngine, nativeEngine, tfjsEngine } from '../lib/matrix-engine.js';
import { initEngine } from '../lib/native-engine.js';
import { runtimeFlags } from '../bin/runtime.js';
import { encodeNpy } from '../lib/npy.js';
import { NormalRng } from '../lib/rng.js';
import { vectors } from '../lib/samples.js';
import { syntheticGraphs } from '../lib/graphs.js';
import { Cnn } from '../models/cnn.js';
import { Gnn } from '../models/gnn.js';
import { Mlp } from '../models/mlp.js';
import type { Model } from '../models/model.js';
import type { Samples } from '../lib/samples.js';
import type { OutputMode } from '../jacobian/kernel-types.js';
import { maxAbsDiff, randomInputs, testBackend } from './helpers.js';

const common = { activation: 'relu' as const, parameterization: 'ntk' as const, wStd: 1.4, bStd: 0.1, bias: true };

const rand = (size: number, seed: string, f64 = false): Floats => {
  const v = new NormalRng(seed).normals(size);
  return f64 ? Float64Array.from(v) : v;
};

/**
 * |native − reference| against the float32 rounding bound of a k-term dot product, γ_k·Σ|a||b| with γ_k = k·2⁻²⁴
 * (float64: 2⁻⁵³), entry by entry: a wrong index, a dropped term or a missing transpose shows up as O(|a||b|).
 */
function expectClose(got: Floats, want: Floats, absBound: Float64Array, k: number, what: string): void {
  expect(got.length, what).to.equal(want.length);
  const eps = got instanceof Float64Array ? 2 ** -53 : 2 ** -24;
  for (let i = 0; i < got.length; i++) {
    const tol = 4 * (k + 2) * eps * absBound[i] + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`${what}: entry ${i} is ${got[i]}, reference ${want[i]} (tolerance ${tol})`);
  }
}

/** Σ_p |A[i,p]|·|B[p,j]| (B [k, n], or [n, k] when transB): the scale of each product entry. */
function absProduct(A: Floats, B: Floats, m: number, k: number, n: number, transB: boolean): Float64Array {
  return tfjsEngine.matMul(Float64Array.from(A, Math.abs), Float64Array.from(B, Math.abs), m, k, n, transB) as Float64Array;
}

describe('matrix engine: native products against the tfjs reference', function () {
  let ne: MatrixEngine;
  before(async () => {
    await testBackend();
    // The native engine is loaded explicitly: these tests run in the fallback suite (NTK_ENGINE=tfjs) too.
    await initEngine('native');
    ne = nativeEngine()!;
    await initEngine();
  });
  after(async () => {
    await initEngine();
  });

  // Adversarial shapes: vectors both ways, inner dimension 1, odd sizes, and empty products (m, n or k = 0).
  const shapes: [number, number, number][] = [[1, 37, 1], [1, 1, 53], [41, 1, 1], [29, 1, 31], [1, 301, 17], [17, 301, 1], [33, 65, 47], [130, 257, 3], [0, 5, 4], [4, 5, 0], [3, 0, 6]];

  it('matMul, A·B and A·Bᵀ, float32 and float64, equal the reference on random and adversarial shapes', () => {
    for (const f64 of [false, true]) {
      for (const [m, k, n] of shapes) {
        for (const transB of [false, true]) {
          const A = rand(m * k, `a${m},${k}`, f64), B = rand(k * n, `b${k},${n}`, f64);
          const got = ne.matMul(A, B, m, k, n, transB);
          expect(got instanceof Float64Array, 'dtype kept').to.equal(f64);
          expectClose(got, tfjsEngine.matMul(A, B, m, k, n, transB), absProduct(A, B, m, k, n, transB), k, `${f64 ? 'f64' : 'f32'} [${m},${k}]·[${k},${n}]${transB ? 'ᵀ' : ''}`);
          if (k === 0) expect(Array.from(got).every((v) => v === 0), 'k = 0 gives zeros').to.equal(true);
          // Into a given (reused, dirty) buffer longer than the product: its first m·n entries, nothing after.
          const buf = f64 ? new Float64Array(m * n + 3).fill(7) : new Float32Array(m * n + 3).fill(7);
          const into = ne.matMul(A, B, m, k, n, transB, buf);
          expect(into.buffer === buf.buffer && into.length === m * n, 'a view of the given buffer').to.equal(true);
          expect(Array.from(into), 'same values as into a new array').to.deep.equal(Array.from(got));
          expect(Array.from(buf.subarray(m * n)), 'nothing written after m·n').to.deep.equal([7, 7, 7]);
        }
      }
    }
  });

  it('operands may be subarray views (offsets into a larger buffer are honoured)', () => {
    const big = rand(1000, 'big') as Float32Array;
    const A = big.subarray(13, 13 + 6 * 7), B = big.subarray(501, 501 + 7 * 5);
    expectClose(ne.matMul(A, B, 6, 7, 5), tfjsEngine.matMul(Float32Array.from(A), Float32Array.from(B), 6, 7, 5), absProduct(A, B, 6, 7, 5, false), 7, 'views');
  });

  it('batched products (plain, and transposed with a scale) equal per-sample reference products', () => {
    // A single unscaled transposed product takes its own Gemm (transA) in the native engine: batch 1 with s = 1.
    for (const [batch, m, k, n] of [[1, 1, 1, 1], [3, 7, 1, 5], [5, 1, 9, 4], [4, 20, 64, 25], [0, 3, 3, 3], [1, 13, 40, 6], [1, 6, 1, 9], [1, 0, 4, 3]]) {
      for (const [transA, s] of [[false, 1], [true, -0.37], [true, 1]] as const) {
        const A = rand(batch * m * k, `ba${batch}`), B = rand(batch * k * n, `bb${batch}`);
        const want = tfjsEngine.batchMatMul(A, B, batch, m, k, n, transA, s);
        // Independent of batchMatMul's own loop: explicit transposes and 2-D products per sample.
        const bound = new Float64Array(batch * m * n);
        for (let b = 0; b < batch; b++) {
          const a = new Float32Array(m * k);
          for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) a[i * k + p] = transA ? A[b * m * k + p * m + i] : A[b * m * k + i * k + p];
          const ref = tfjsEngine.matMul(a, B.subarray(b * k * n, (b + 1) * k * n) as Float32Array, m, k, n);
          for (let q = 0; q < m * n; q++) expect(Math.abs(want[b * m * n + q] - s * ref[q])).to.be.at.most(1e-6 * (1 + Math.abs(ref[q])));
          bound.set(absProduct(a, B.subarray(b * k * n, (b + 1) * k * n), m, k, n, false), b * m * n);
        }
        expectClose(ne.batchMatMul(A, B, batch, m, k, n, transA, s), want, bound, k, `batch ${batch}×[${m},${k}]·[${k},${n}] transA=${transA}`);
        // Into a given (longer, dirty) buffer: the product lands in its first batch·m·n entries, the rest untouched.
        for (const e of [ne, tfjsEngine]) {
          const out = new Float32Array(batch * m * n + 3).fill(Number.NaN);
          const got = e.batchMatMul(A, B, batch, m, k, n, transA, s, out);
          expect(got.buffer).to.equal(out.buffer);
          expectClose(out.subarray(0, batch * m * n), want, bound, k, `${e.name} into out: batch ${batch}×[${m},${k}]·[${k},${n}] transA=${transA}`);
          expect(Array.from(out.subarray(batch * m * n)).every(Number.isNaN)).to.equal(true);
        }
      }
    }
  });

  it('stackedGradients (both engines) equals a float64 loop Σ_r g_k[b, r, c]·x[b, r, f], scaled, on odd and empty shapes', () => {
    for (const [batch, rows, m, n, K] of [[3, 7, 2, 5, 3], [1, 1, 1, 1, 1], [4, 16, 6, 72, 3], [2, 9, 1, 4, 2], [0, 4, 3, 2, 2], [2, 0, 3, 2, 2]]) {
      const gs = Array.from({ length: K }, (_, k) => rand(batch * rows * m, `sg${k}`) as Float32Array);
      const X = rand(batch * rows * n, 'sx') as Float32Array;
      const s = -0.7;
      const want = new Float32Array(batch * K * m * n), bound = new Float64Array(want.length);
      for (let b = 0; b < batch; b++) for (let k = 0; k < K; k++) for (let c = 0; c < m; c++) for (let f = 0; f < n; f++) {
        let v = 0, a = 0;
        for (let r = 0; r < rows; r++) {
          const p = gs[k][(b * rows + r) * m + c] * X[(b * rows + r) * n + f];
          v += p;
          a += Math.abs(p);
        }
        want[((b * K + k) * m + c) * n + f] = s * v;
        bound[((b * K + k) * m + c) * n + f] = Math.abs(s) * a;
      }
      for (const e of [ne, tfjsEngine]) {
        expectClose(e.stackedGradients(gs, X, batch, rows, m, n, s), want, bound, rows, `${e.name} stacked ${batch}×${K}×[${m},${rows}]·[${rows},${n}]`);
        const out = new Float32Array(want.length + 2).fill(Number.NaN);
        expectClose(e.stackedGradients(gs, X, batch, rows, m, n, s, out).subarray(0, want.length), want, bound, rows, `${e.name} into out`);
        expect(Number.isNaN(out[want.length]) && Number.isNaN(out[want.length + 1]), 'nothing written after the product').to.equal(true);
      }
    }
  });

  it('denseNtkTile (both engines) equals the NTK from explicit per-sample gradients [w·a ⊗ g, b·g], in float64', () => {
    // nr, nc, K, layers (fanIn, fanOut), with a precomputed term E: single samples and outputs, fan-in 1, no
    // layers at all, an empty side.
    const cases: [number, number, number, [number, number][], boolean][] = [
      [3, 4, 2, [[5, 6], [6, 2]], true], [1, 1, 1, [[1, 1]], false], [1, 7, 3, [[1, 4]], false],
      [5, 1, 1, [[3, 1], [1, 1], [2, 2]], true], [6, 5, 10, [[17, 9], [9, 10]], false], [2, 3, 2, [], true], [0, 3, 2, [[2, 2]], false],
    ];
    for (const [nr, nc, K, dims, withE] of cases) {
      const what = `nr ${nr}, nc ${nc}, K ${K}, layers ${JSON.stringify(dims)}${withE ? ', E' : ''}`;
      const layers = dims.map(([fanIn, fanOut], l) => ({
        a1: rand(nr * fanIn, `a1${l}${what}`) as Float32Array, a2: rand(nc * fanIn, `a2${l}${what}`) as Float32Array,
        g1: rand(nr * K * fanOut, `g1${l}${what}`) as Float32Array, g2: rand(nc * K * fanOut, `g2${l}${what}`) as Float32Array,
        fanIn, fanOut, w2: 0.5 + l, b2: 0.01 * (l + 1),
      }));
      const E = withE ? (rand(nr * K * nc * K, `E${what}`) as Float32Array) : null;
      const want = new Float64Array(nr * K * nc * K), bound = new Float64Array(nr * K * nc * K);
      for (let i = 0; i < nr; i++) {
        for (let k = 0; k < K; k++) {
          for (let j = 0; j < nc; j++) {
            for (let kk = 0; kk < K; kk++) {
              const e = (i * K + k) * nc * K + j * K + kk;
              let v = E ? E[e] : 0, b = E ? Math.abs(E[e]) : 0;
              for (const l of layers) {
                // ⟨∂f_k(x_i)/∂θ_l, ∂f_k'(x_j)/∂θ_l⟩ over the weights (a ⊗ g entries) and the biases (g entries).
                for (let c = 0; c < l.fanOut; c++) {
                  const gi = l.g1[(i * K + k) * l.fanOut + c], gj = l.g2[(j * K + kk) * l.fanOut + c];
                  for (let f = 0; f < l.fanIn; f++) {
                    const ai = l.a1[i * l.fanIn + f], aj = l.a2[j * l.fanIn + f];
                    v += l.w2 * ai * gi * aj * gj;
                    b += l.w2 * Math.abs(ai * gi * aj * gj);
                  }
                  v += l.b2 * gi * gj;
                  b += l.b2 * Math.abs(gi * gj);
                }
              }
              want[e] = v;
              bound[e] = b;
            }
          }
        }
      }
      const depth = Math.max(1, ...dims.map(([fi, fo]) => fi + fo)) + dims.length;
      for (const engine of [ne, tfjsEngine]) {
        const got = engine.denseNtkTile(layers, E, nr, nc, K);
        expectClose(got, want, bound, depth, `${engine.name} denseNtkTile ${what}`);
        // Into a given (dirty) buffer longer than the tile: its first entries, nothing after.
        const buf = new Float32Array(nr * K * nc * K + 2).fill(7);
        const into = engine.denseNtkTile(layers, E, nr, nc, K, buf.subarray(0, nr * K * nc * K));
        expect(Array.from(into), `${engine.name} into a given buffer: ${what}`).to.deep.equal(Array.from(got));
        expect(Array.from(buf.subarray(nr * K * nc * K)), 'nothing written after the tile').to.deep.equal([7, 7]);
      }
    }
  });

  it('conv2d (NHWC, stride 1, explicit zero padding) equals a direct float64 loop, on both engines', () => {
    // Adversarial shapes: 1×1 kernel, kernel = the whole map, one channel in and out, batch 1, asymmetric
    // padding, padding as large as the kernel allows, a wide non-square case.
    const cases: [number[], number[], number[]][] = [
      [[2, 5, 6, 3], [1, 1, 3, 4], [0, 0, 0, 0]],
      [[3, 4, 5, 2], [4, 5, 2, 3], [0, 0, 0, 0]],
      [[1, 7, 7, 1], [3, 3, 1, 1], [1, 1, 1, 1]],
      [[2, 6, 5, 3], [3, 2, 3, 2], [2, 0, 1, 1]],
      [[1, 3, 3, 2], [3, 3, 2, 5], [2, 2, 2, 2]],
      [[4, 9, 8, 20], [5, 5, 20, 7], [4, 4, 4, 4]],
      // Padding of a kernel's size or more (the native engine's Conv graph; the cases above take its ConvTranspose).
      [[1, 4, 4, 2], [2, 2, 2, 3], [3, 2, 0, 1]],
      [[2, 3, 3, 1], [1, 1, 1, 2], [1, 1, 1, 1]],
    ];
    for (const [xs, ws, pads] of cases) {
      const x = rand(xs.reduce((a, b) => a * b), `cx${xs}`) as Float32Array, w = rand(ws.reduce((a, b) => a * b), `cw${ws}`) as Float32Array;
      const [n, H, W, C] = xs, [kh, kw, , O] = ws;
      const ho = H + pads[0] + pads[2] - kh + 1, wo = W + pads[1] + pads[3] - kw + 1;
      const want = new Float32Array(n * ho * wo * O), bound = new Float64Array(want.length);
      for (let b = 0; b < n; b++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) for (let o = 0; o < O; o++) {
        let v = 0, a = 0;
        for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) {
          const y = oy + dy - pads[0], xx = ox + dx - pads[1];
          if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
          for (let c = 0; c < C; c++) {
            const p = x[((b * H + y) * W + xx) * C + c] * w[((dy * kw + dx) * C + c) * O + o];
            v += p;
            a += Math.abs(p);
          }
        }
        const at = ((b * ho + oy) * wo + ox) * O + o;
        want[at] = v;
        bound[at] = a;
      }
      for (const e of [ne, tfjsEngine]) {
        const what = `${e.name} conv2d x [${xs}] w [${ws}] pads [${pads}]`;
        expectClose(e.conv2d(x, w, xs, ws, pads), want, bound, kh * kw * C, what);
        // Into a given dirty buffer of exactly the output's size.
        const out = new Float32Array(want.length).fill(NaN);
        expect(e.conv2d(x, w, xs, ws, pads, out), `${what}: returns the given buffer`).to.equal(out);
        expectClose(out, want, bound, kh * kw * C, `${what} into a buffer`);
      }
    }
  });

  it('gemmUpdate C − A·Bᵀ in float64, into a new array or a given one', () => {
    for (const [m, k, n] of [[1, 1, 1], [37, 16, 37], [5, 0, 3], [64, 7, 9]]) {
      const A = rand(m * k, 'ua', true), B = rand(n * k, 'ub', true), C = rand(m * n, 'uc', true);
      const want = tfjsEngine.gemmUpdate(C, A, B, m, k, n);
      const bound = absProduct(A, B, m, k, n, true).map((v, i) => v + Math.abs(C[i]));
      expectClose(ne.gemmUpdate(C, A, B, m, k, n), want, bound, k + 1, `update [${m},${k},${n}]`);
      const buf = new Float64Array(m * n + 4).fill(7);
      const got = ne.gemmUpdate(C, A, B, m, k, n, buf.subarray(2, 2 + m * n));
      expectClose(got, want, bound, k + 1, `update into a view [${m},${k},${n}]`);
      expect([buf[0], buf[1], buf[m * n + 2], buf[m * n + 3]], 'nothing written outside the view').to.deep.equal([7, 7, 7, 7]);
    }
  });

  it('the blocked float64 Cholesky equals the Crout Cholesky (native and reference trailing updates)', () => {
    // n = 301: one trailing-update panel per block; n = 600 with block 32: three panels (256, 256, 56 rows).
    for (const [n, cases] of [[301, [[ne, 64], [ne, 512], [tfjsEngine, 37]]], [600, [[ne, 32], [tfjsEngine, 100]]]] as const) {
      const d = 40;
      const X = rand(n * d, 'chol', true);
      const K = tfjsEngine.matMul(X, X, n, d, n, true) as Float64Array;
      for (let i = 0; i < n; i++) K[i * n + i] += 0.05;
      const want = K.slice();
      choleskyInPlace(want, n, 'test');
      for (const [engine, block] of cases) {
        const got = K.slice();
        blockedCholeskyInPlace(got, n, 'test', engine, block);
        let diff = 0, scale = 0;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            // Lower triangle: the factor; strict upper triangle: left as it was.
            diff = Math.max(diff, Math.abs(got[i * n + j] - (j <= i ? want[i * n + j] : K[i * n + j])));
            scale = Math.max(scale, Math.abs(want[i * n + j]));
          }
        }
        expect(diff / scale, `${engine.name}, n ${n}, block ${block}`).to.be.below(1e-12);
      }
    }
  });

  it('the blocked Cholesky rejects a matrix that is not positive definite at the same pivot as Crout', () => {
    const n = 150;
    const X = rand(n * 100, 'npd', true);
    const K = tfjsEngine.matMul(X, X, n, 100, n, true) as Float64Array;
    // Rank-deficient from row 100 on: rows 100..149 repeat rows 0..49 (pivot 100 vanishes).
    for (let i = 100; i < n; i++) for (let j = 0; j < n; j++) K[i * n + j] = K[j * n + i] = K[(i - 100) * n + (j >= 100 ? j - 100 : j)];
    const message = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).to.be.instanceOf(UserError);
        return (e as Error).message.replace(/ is [^ ]+ against/, ' is … against');
      }
      return 'no error';
    };
    const crout = message(() => choleskyInPlace(K.slice(), n, 'ridge'));
    expect(crout).to.match(/pivot 100 /);
    expect(message(() => blockedCholeskyInPlace(K.slice(), n, 'ridge', ne, 32))).to.equal(crout);
  });
});

describe('matrix engine: kernels from the native engine equal the tfjs ones', function () {
  before(async () => {
    await testBackend();
  });
  after(async () => {
    await initEngine();
  });

  const both = async (model: Model, x1: Samples, x2: Samples | null, mode: OutputMode, tile: number, implementation: 'structured' | 'jacobian' = 'structured', rule?: 'explicit') => {
    const params = model.init('engines');
    await initEngine('tfjs');
    const ref = empiricalKernel(model, params, x1, x2, { mode, tile, implementation, rule }).kernel.data;
    await initEngine('native');
    const got = empiricalKernel(model, params, x1, x2, { mode, tile, implementation, rule }).kernel.data;
    const { diff, scale } = maxAbsDiff(got, ref);
    expect(diff / scale, `${model.config.model} ${mode} tile ${tile} ${implementation}`).to.be.below(2e-6);
    expect(scale).to.be.above(0);
  };

  it('MLP, CNN (explicit and outer rules), GNN (ragged rows), Jacobian path: every mode, odd tiles, cross kernels', async () => {
    const mlp = new Mlp({ model: 'mlp', ...common, widths: [6, 12, 12, 3] });
    const xm = vectors(randomInputs(9, 6, 'e1'), 9), ym = vectors(randomInputs(5, 6, 'e2'), 5);
    for (const mode of ['full', 'trace', 'diagonal'] as const) {
      await both(mlp, xm, null, mode, 4);
      await both(mlp, xm, ym, mode, 3);
      await both(mlp, xm, ym, mode, 4, 'jacobian');
    }
    const cnn = new Cnn({ model: 'cnn', ...common, imageShape: [8, 8, 1], head: 'conv', outputs: 2, convs: [{ kernel: 3, channels: 3, stride: 1, padding: 'valid' }, { kernel: 3, channels: 3, stride: 1, padding: 'valid' }, { kernel: 4, channels: 2, stride: 1, padding: 'valid' }] });
    const xc = vectors(randomInputs(7, 64, 'e3'), 7, [8, 8, 1]), yc = vectors(randomInputs(3, 64, 'e4'), 3, [8, 8, 1]);
    for (const mode of ['full', 'trace', 'diagonal'] as const) {
      await both(cnn, xc, null, mode, 3);
      await both(cnn, xc, yc, mode, 2);
    }
    // One-sample tiles: every product has a single row or column.
    await both(cnn, xc, null, 'full', 1);
    // Explicit per-sample gradients large enough for the native engine's batched products: conv 1 (8 channels of
    // 18-long patch rows) one product per output, conv 2 (6 channels of 72-long rows) the outputs stacked.
    const wide = new Cnn({ model: 'cnn', ...common, imageShape: [12, 12, 2], head: 'conv', outputs: 3, convs: [{ kernel: 3, channels: 8, stride: 1, padding: 'valid' }, { kernel: 3, channels: 6, stride: 1, padding: 'valid' }, { kernel: 8, channels: 3, stride: 1, padding: 'valid' }] });
    const xw = vectors(randomInputs(5, 288, 'e6'), 5, [12, 12, 2]);
    await both(wide, xw, null, 'full', 3, 'structured', 'explicit');
    await both(wide, xw, null, 'trace', 2, 'structured', 'explicit');
    // Same padding, several channels: both convolutions' cotangents come from the engine's transposed
    // convolution (ONNX Runtime's Conv on the native engine, tf.conv2d on tfjs).
    const same = new Cnn({ model: 'cnn', ...common, imageShape: [7, 6, 2], head: 'gap', outputs: 3, convs: [{ kernel: 3, channels: 4, stride: 1, padding: 'same' }, { kernel: 4, channels: 5, stride: 1, padding: 'same' }] });
    const xs = vectors(randomInputs(5, 84, 'e5'), 5, [7, 6, 2]);
    for (const mode of ['full', 'trace'] as const) await both(same, xs, null, mode, 2);
    const gnn = new Gnn({ model: 'gnn', ...common, featureDim: 8, hidden: 8, blocks: 2, mlpLayers: 1, aggregation: 'sum', jk: true, outputs: 2 });
    await both(gnn, syntheticGraphs(7, 2), null, 'full', 3);
  });

  it('the native MLP tile combined in sub-tiles (128 outputs: at most 9 samples per sub-tile) equals the tfjs kernel', async () => {
    // Tiles of 13 samples split 7 + 6 on each side, diagonal tiles included, and the last tile's 7 rows whole; the
    // cross kernel's 7 columns make sub-tiles that span whole output rows, written straight into the kernel.
    const wide = new Mlp({ model: 'mlp', ...common, widths: [5, 9, 128] });
    const x = vectors(randomInputs(20, 5, 's1'), 20), y = vectors(randomInputs(7, 5, 's2'), 7);
    await both(wide, x, null, 'full', 13);
    await both(wide, x, y, 'full', 13);
    await both(wide, x, y, 'full', 20);
  });
});

describe('matrix engine: choice and fallback', function () {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  const cli = path.join(root, 'dist', 'bin', 'ntk.js');
  const run = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  let dir = '';
  before(async () => {
    await testBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-engine-'));
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await initEngine();
  });

  it('auto takes the native engine here, tfjs is taken when asked, and an unknown name is a UserError', async () => {
    expect(await initEngine('auto')).to.equal('native');
    expect(matrixEngine().name).to.equal('native');
    expect(await initEngine('tfjs')).to.equal('tfjs');
    expect(nativeEngine()).to.equal(null);
    let err: unknown;
    await initEngine('gpu').catch((e) => (err = e));
    expect(err).to.be.instanceOf(UserError);
  });

  it('when onnxruntime-node cannot be loaded, auto falls back to tfjs (recorded in the metadata) and --engine native exits 2', () => {
    const out = path.join(dir, 'k.npy');
    const base = ['kernel', '--widths', '6,5,2', '--data', `npy:${path.join(dir, 'x.npy')}`, '--backend', 'wasm', '--quiet', '--out', out];
    fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy({ data: randomInputs(4, 6, 'cli'), shape: [4, 6] }));
    const ok = run(base, { NTK_ORT_MODULE: 'onnxruntime-node-absent', NTK_ENGINE: 'auto' });
    expect(ok.status, ok.stderr).to.equal(0);
    expect(JSON.parse(fs.readFileSync(out.replace(/\.npy$/, '.json'), 'utf8')).engine).to.equal('tfjs');
    const native = run(base, { NTK_ENGINE: 'auto' });
    expect(native.status, native.stderr).to.equal(0);
    expect(JSON.parse(fs.readFileSync(out.replace(/\.npy$/, '.json'), 'utf8')).engine).to.equal('native');
    fs.rmSync(out);
    const bad = run([...base, '--engine', 'native'], { NTK_ORT_MODULE: 'onnxruntime-node-absent' });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/^ntk: error: --engine: the native engine \(onnxruntime-node-absent\) could not be loaded/);
    expect(fs.existsSync(out), 'no output left behind').to.equal(false);
  });

  it("with ArrayBuffer.prototype.transfer (as the CLI runs on Node 20), the binding's copy of a given output is freed at once", () => {
    // onnxruntime-node 1.30 returns a new copy of a pre-allocated output on every run; the engine detaches it. In
    // a child process with transfer available: 20 products of a 1 MB output into the same array add (almost)
    // nothing to the ArrayBuffer memory, and the array holds the product.
    const engine = path.join(root, 'dist', 'lib', 'native-engine.js'), me = path.join(root, 'dist', 'lib', 'matrix-engine.js');
    const script = `
      const { initEngine } = await import(${JSON.stringify(engine)});
      const { matrixEngine } = await import(${JSON.stringify(me)});
      await initEngine('native');
      const e = matrixEngine(), m = 512, k = 3;
      const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3), out = new Float32Array(m * m);
      e.matMul(a, a, m, k, m, true, out);
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 20; i++) e.matMul(a, a, m, k, m, true, out);
      let worst = 0;
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
        let v = 0;
        for (let p = 0; p < k; p++) v += a[i * k + p] * a[j * k + p];
        worst = Math.max(worst, Math.abs(out[i * m + j] - v));
      }
      console.log(JSON.stringify({ transfer: typeof ArrayBuffer.prototype.transfer, growth: process.memoryUsage().arrayBuffers - before, worst }));`;
    const r = spawnSync(process.execPath, [...runtimeFlags(), '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(got.transfer).to.equal('function');
    expect(got.worst, 'the output array holds A·Aᵀ').to.equal(0);
    expect(got.growth, 'ArrayBuffer bytes added by 20 products of 1 MB').to.be.below(512 * 512 * 4);
  });

  it('loading the native engine leaves nothing behind: no telemetry store in $HOME, no files in $TMPDIR', () => {
    fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy({ data: randomInputs(4, 6, 'cli'), shape: [4, 6] }));
    const args = ['kernel', '--widths', '6,5,2', '--data', `npy:${path.join(dir, 'x.npy')}`, '--backend', 'wasm', '--engine', 'native', '--quiet', '--out', path.join(dir, 'k.npy')];
    const litter = (tag: string, env: Record<string, string>) => {
      const home = path.join(dir, `home-${tag}`), tmp = path.join(dir, `tmp-${tag}`);
      fs.mkdirSync(home);
      fs.mkdirSync(tmp);
      // This test process has loaded the native engine, which sets ORT_DISABLE_TELEMETRY in its environment: the
      // child gets an environment without it unless the case sets it. ONNX Runtime also keeps its telemetry off
      // on CI machines (it looks for CI, GITHUB_ACTIONS, …; .ci/run sets CI), so those go too: the tool's own
      // default must hold without them.
      const base: Record<string, string | undefined> = { ...process.env };
      for (const v of ['ORT_DISABLE_TELEMETRY', 'CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR']) delete base[v];
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...base, ...env, HOME: home, TMPDIR: tmp } });
      expect(r.status, r.stderr).to.equal(0);
      return [...fs.readdirSync(home).map((f) => `~/${f}`), ...fs.readdirSync(tmp).map((f) => `$TMPDIR/${f}`)];
    };
    // ONNX Runtime's own behaviour when its telemetry is left on (the check below can see the litter)…
    expect(litter('on', { ORT_DISABLE_TELEMETRY: '0' }).length, 'telemetry on writes its store and a debug log').to.be.greaterThan(0);
    // …and what the tool does by default.
    expect(litter('default', {})).to.deep.equal([]);
  });
});
