import * as tf from '@tensorflow/tfjs-core';
import { sharedForwardVjps } from '../lib/autodiff.js';
import { scoped, tensorView } from '../lib/tensors.js';
import { type MatrixEngine, nativeEngine } from '../lib/matrix-engine.js';
import { type Samples, sliceSamples } from '../lib/samples.js';
import { UserError } from '../lib/errors.js';
import type { ChannelwiseRecord, LinearRecord, Model, TappedForward, Taps } from '../models/model.js';
import { type OutputMode, placeTile } from './kernel-types.js';

/**
 * How one linear layer's NTK contribution is computed (see LinearRecord for the formula).
 * 'outer':    through Grams of inputs and of cotangents over rows, A = a·a' [R_I, R_J] and G = g·g'
 *             [R_I·K, R_J·K], combined as Σ_{r∈i,s∈j} (w²A + b²)⊙G. For dense layers (one row per sample) this
 *             costs 2n²(fanIn + K²·fanOut) against 2n²K²·fanIn·fanOut for explicit gradients.
 * 'explicit': per-sample weight gradients J_l[i,k] = [w·Σ_r a_r ⊗ g_rk, b·Σ_r g_rk] (size fanIn·fanOut +
 *             fanOut), then the Gram J_l J_lᵀ; the right choice when a sample has many rows (conv positions).
 */
export type LayerRule = 'outer' | 'explicit';

/** Per-layer shapes, read off a tapped forward pass, from which the rules are chosen. */
export interface LayerShape {
  fanIn: number;
  fanOut: number;
  /** Mean number of rows per sample. */
  rows: number;
  wScale: number;
  bScale: number;
}

/** Estimated FLOPs of one [t, t] tile pair for a layer under each rule. */
export function ruleFlops(s: LayerShape, t: number, K: number): Record<LayerRule, number> {
  const R = t * s.rows;
  return {
    outer: 2 * R * R * s.fanIn + 2 * (R * K) * (R * K) * s.fanOut + (R * K) * (R * K),
    explicit: 2 * (t * K) * (t * K) * (s.fanIn + 1) * s.fanOut + 4 * R * K * s.fanIn * s.fanOut,
  };
}

/** The cheaper rule of each layer for tiles of t samples. */
export function chooseRules(shapes: LayerShape[], t: number, K: number): LayerRule[] {
  return shapes.map((s) => {
    const f = ruleFlops(s, t, K);
    return f.explicit < f.outer ? 'explicit' : 'outer';
  });
}

/** Whether `model` has conjugate-kernel features (a tapped pass with a last hidden layer), read on one sample. */
export function hasCkFeatures(model: Model, probe: Samples): boolean {
  if (typeof model.applyTapped !== 'function' || probe.n === 0) return false;
  return scoped(() => tappedPass(model, model.paramSpecs.map((p) => tf.zeros(p.shape)), sliceSamples(probe, 0, 1), null).ck !== undefined);
}

/** The model's tapped forward pass, or a UserError for a model that has none. */
function tappedPass(model: Model, params: tf.Tensor[], s: Samples, taps: Taps): TappedForward {
  if (typeof model.applyTapped !== 'function') throw new UserError(`--implementation structured: the ${model.config.model} model exposes no layer records (applyTapped); use --implementation jacobian or auto`);
  return model.applyTapped(params, model.batch(s), taps);
}

/** Shapes of the linear layers for the first samples (one tapped forward pass, no gradients). */
export function layerShapes(model: Model, params: tf.Tensor[], probe: Samples): LayerShape[] {
  return scoped(() => {
    const fw = tappedPass(model, params, probe, null);
    return fw.linear.map((r) => ({ fanIn: r.input.shape[1], fanOut: r.outShape[1], rows: r.outShape[0] / probe.n, wScale: r.wScale, bScale: r.bScale }));
  });
}

/** Size of a channelwise record's gradient block: T·C gains (when it has them) and C offsets (when it has them). */
const channelwiseSize = (r: ChannelwiseRecord) => (r.input ? r.taps * r.outShape[1] : 0) + (r.bScale !== 0 ? r.outShape[1] : 0);

/**
 * Why the structured rules would miss part of the NTK of `model`, or null when they cover it: every parameter
 * tensor of θ must be consumed by exactly one record (a linear layer: kernel fanIn·fanOut values, bias fanOut;
 * a channelwise record: gains T·C, offsets C), since a parameter outside every record contributes nothing to
 * the structured kernel (a silent error). Records that do not name their parameters are checked by their
 * total size. One tapped forward pass of `probe` at zero parameters (only the structure is read).
 */
export function structuredCoverage(model: Model, probe: Samples): string | null {
  if (typeof model.applyTapped !== 'function') return `the ${model.config.model} model exposes no layer records`;
  const specs = model.paramSpecs;
  const sizes = specs.map((p) => p.shape.reduce((a, b) => a * b, 1));
  return scoped(() => {
    const fw = tappedPass(model, specs.map((p) => tf.zeros(p.shape)), probe, null);
    const used = new Int32Array(specs.length);
    let anonymous = 0;
    const claims: { what: string; params?: number[]; sizes: number[]; needs: number }[] = [
      ...fw.linear.map((r, l) => ({ what: `linear layer ${l}`, params: r.params, sizes: [r.input.shape[1] * r.outShape[1], r.outShape[1]], needs: r.bScale !== 0 ? 2 : 1 })),
      ...(fw.channelwise ?? []).map((r, l) => ({
        what: `channelwise record ${l}`, params: r.params, sizes: [...(r.input ? [r.taps * r.outShape[1]] : []), r.outShape[1]],
        needs: (r.input ? 1 : 0) + (r.bScale !== 0 ? 1 : 0),
      })),
    ];
    for (const c of claims) {
      if (!c.params) {
        anonymous += c.sizes.slice(0, c.needs).reduce((a, b) => a + b, 0);
        continue;
      }
      if (c.params.length < c.needs || c.params.length > c.sizes.length) return `${c.what} names ${c.params.length} parameters, its rule needs ${c.needs}`;
      for (let j = 0; j < c.params.length; j++) {
        const q = c.params[j];
        if (!(q >= 0 && q < specs.length)) return `${c.what} names parameter ${q}, which the model does not have`;
        if (sizes[q] !== c.sizes[j]) return `${c.what}: parameter ${specs[q].name} [${specs[q].shape}] has ${sizes[q]} values, the rule expects ${c.sizes[j]}`;
        used[q]++;
      }
    }
    const named = sizes.reduce((acc, v, q) => acc + (used[q] > 0 ? v : 0), 0);
    const twice = specs.findIndex((_, q) => used[q] > 1);
    if (twice >= 0) return `parameter ${specs[twice].name} is used by ${used[twice]} records (weight sharing across layers has no structured rule)`;
    const total = sizes.reduce((a, b) => a + b, 0);
    if (named + anonymous !== total || (anonymous === 0 && used.some((u) => u === 0))) {
      const missing = specs.filter((_, q) => used[q] === 0).map((p) => p.name);
      return anonymous > 0
        ? `the layer records cover ${named + anonymous} of the model's ${total} parameters`
        : `no structured rule covers parameter${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`;
    }
    return null;
  });
}

/** Features of an 'outer' layer: inputs [R, fanIn] and cotangents [R, K, fanOut] in JS memory. */
export interface OuterFeatures {
  input: Float32Array;
  cot: Float32Array;
  segments: Int32Array | null;
  rows: number;
  fanIn: number;
  fanOut: number;
  wScale: number;
  bScale: number;
}

/** What the tiles of a block of n samples are built from. */
export interface TileFeatures {
  n: number;
  outer: OuterFeatures[];
  /** Explicit per-sample gradients of all 'explicit' layers, concatenated: [n, K, P_explicit]. */
  explicit: Float32Array | null;
  pExplicit: number;
  /** Operand tensors of this block's products (explicit column chunks, layer inputs, cotangents, and their
   * transposes), uploaded once and kept (tf.keep) across the tile pairs that use the block; released by
   * disposeTileFeatures. */
  cache?: Map<string, tf.Tensor2D>;
}

/**
 * Columns per chunk of the explicit Gram. Measured on wasm: [1250, 10540]·[10540, 1250] runs at 16-23
 * GFLOP/s, the same product as a sum over chunks of 512-2048 columns at ~30 GFLOP/s.
 */
const CHUNK = 2048;

/** Release the tensors a block keeps for its tile pairs. */
export function disposeTileFeatures(f: TileFeatures): void {
  f.cache?.forEach((t) => t.dispose());
  f.cache = undefined;
}

/** The block's operand `key`, made (and kept) on first use. */
function operand(f: TileFeatures, key: string, make: () => tf.Tensor2D): tf.Tensor2D {
  f.cache ??= new Map();
  let t = f.cache.get(key);
  if (!t) {
    t = tf.keep(make());
    f.cache.set(key, t);
  }
  return t;
}

/**
 * The transpose of the block's operand `key`, kept likewise: a·bᵀ is matMul(a, kept bᵀ) because wasm's matMul
 * with transposeB runs ~10× slower, and its transpose of a large matrix costs as much as a product.
 */
const operandT = (f: TileFeatures, key: string, make: () => tf.Tensor2D) => operand(f, `${key}ᵀ`, () => tf.transpose(operand(f, key, make)));

/** Rows [r0, r0 + rows) of column chunk c of a block's explicit gradients [n·K, P]: [rows, ≤ CHUNK]. */
function explicitChunk(f: TileFeatures, K: number, c: number, r0 = 0, rows = f.n * K - r0): tf.Tensor2D {
  const c0 = c * CHUNK, w = Math.min(CHUNK, f.pExplicit - c0);
  const buf = new Float32Array(rows * w);
  for (let r = 0; r < rows; r++) buf.set(f.explicit!.subarray((r0 + r) * f.pExplicit + c0, (r0 + r) * f.pExplicit + c0 + w), r * w);
  return tf.tensor2d(buf, [rows, w]);
}

/** Row stripes of the Gram of a diagonal block (wasm's matMul runs as fast on ~200 rows as on 1250). */
const STRIPES = 6;

/** Row ranges [r0, rows] of the stripes of an m-row diagonal block. */
function stripesOf(m: number): [number, number][] {
  const h = Math.ceil(m / STRIPES);
  const stripes: [number, number][] = [];
  for (let r0 = 0; r0 < m; r0 += h) stripes.push([r0, Math.min(h, m - r0)]);
  return stripes;
}

/** FLOPs of diagonalGram for an m-row block with P columns: Σ_{t ≥ s} 2·h_t·h_s·P. */
export function diagonalGramFlops(m: number, P: number): number {
  const hs = stripesOf(m).map(([, h]) => h);
  return hs.reduce((acc, ht, t) => acc + hs.slice(0, t + 1).reduce((a, h) => a + 2 * ht * h * P, 0), 0);
}

/**
 * The Gram E = J Jᵀ [m, m] (m = n·K) of one block's explicit gradients, for a diagonal tile pair, on and below
 * the diagonal only: with rows cut into S stripes R_s, E[R_t, R_s] = Σ_c J_c[R_t] · J_c[R_s]ᵀ for t ≥ s, then
 * mirrored: (S+1)/(2S) of the FLOPs of the whole product. Stripe operands are cut from the JS array, since
 * tf.slice on wasm costs as much as a product.
 */
function diagonalGram(f: TileFeatures, K: number): tf.Tensor2D {
  const m = f.n * K;
  const stripes = stripesOf(m);
  const acc = new Map<string, tf.Tensor>();
  for (let c = 0; c * CHUNK < f.pExplicit; c++) {
    const A = stripes.map(([r0, rows]) => explicitChunk(f, K, c, r0, rows));
    const AT = A.map((t) => tf.transpose(t));
    stripes.forEach((_, t) => {
      for (let s = 0; s <= t; s++) {
        const p = tf.matMul(A[t], AT[s]);
        const prev = acc.get(`${t},${s}`);
        acc.set(`${t},${s}`, prev ? tf.add(prev, p) : p);
        if (prev) {
          prev.dispose();
          p.dispose();
        }
      }
    });
    [...A, ...AT].forEach((x) => x.dispose());
  }
  const E = new Float32Array(m * m);
  stripes.forEach(([rt, ht], t) => {
    for (let s = 0; s <= t; s++) {
      const [rs, hs] = stripes[s];
      const v = tensorView(acc.get(`${t},${s}`)!);
      for (let i = 0; i < ht; i++) {
        for (let j = 0; j < hs; j++) {
          E[(rt + i) * m + rs + j] = v[i * hs + j];
          E[(rs + j) * m + rt + i] = v[i * hs + j];
        }
      }
    }
  });
  acc.forEach((x) => x.dispose());
  return tf.tensor2d(E, [m, m]);
}

/**
 * diagonalGram on the native engine: stripe t is one product J[R_t] · J[0, end_t)ᵀ straight from the block's
 * gradients (contiguous rows, no copies, no transposes), (S+1)/(2S) of the FLOPs of J Jᵀ, then mirrored.
 */
function nativeDiagonalGram(ne: MatrixEngine, f: TileFeatures, K: number): Float32Array {
  const m = f.n * K, P = f.pExplicit, J = f.explicit!;
  const E = new Float32Array(m * m);
  for (const [r0, h] of stripesOf(m)) {
    const end = r0 + h;
    const S = ne.matMul(J.subarray(r0 * P, end * P), J.subarray(0, end * P), h, P, end, true);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < end; j++) {
        E[(r0 + i) * m + j] = S[i * end + j];
        E[j * m + r0 + i] = S[i * end + j];
      }
    }
  }
  return E;
}

/** Size of a layer's explicit gradient block: fanOut·fanIn weights, plus fanOut biases when it has a bias. */
const explicitSize = (r: LinearRecord) => r.outShape[1] * r.input.shape[1] + (r.bScale !== 0 ? r.outShape[1] : 0);

/**
 * Write the per-sample gradients of one layer into J [n, K, P] at column offset `off`:
 *   J[i, k, off + c·fanIn + f] = w·Σ_{r∈i} g_rk[c]·a_r[f],   J[i, k, off + fanOut·fanIn + c] = b·Σ_{r∈i} g_rk[c]
 * (fanOut-major: any fixed order of the parameters gives the same Gram). For samples with equal numbers of
 * rows (convolutions) each sample is one product [K·fanOut, rows] × [rows, fanIn]: batched on the native engine,
 * a loop of 2-D tf.matMul on tfjs (wasm's batched matMul is ~10× slower); ragged rows (graphs) use a JS loop.
 */
function explicitGradients(rec: LinearRecord, cots: Float32Array[], n: number, J: Float32Array, P: number, off: number): void {
  const K = cots.length;
  const [R, fanIn] = rec.input.shape;
  const fanOut = rec.outShape[1];
  const seg = rec.segments ?? identitySegments(n);
  const w = rec.wScale, b = rec.bScale;
  const hasBias = b !== 0;
  const ne = nativeEngine();
  if (ne && seg.every((v, i) => v === i * (R / n)) && (R / n) * fanIn * fanOut * K > 4096) {
    // A view, not a copy: no tfjs op runs below, so the wasm heap cannot move under it.
    const X = tensorView(rec.input);
    // Native engine: batched products over samples straight from the cotangents [n, rows, fanOut] and inputs
    // [n, rows, fanIn] as laid out (transpose and scale are nodes of the ONNX graph), and the bias gradients
    // b·1ᵀ·g_k likewise; ~8M floats of products per call. For few output channels and long input rows the K outputs'
    // cotangents go into one product per sample (stackedGradients, K·fanOut rows), else one product per output k
    // (fanOut rows). Per block of 125 samples on the 2-core Intel Xeon, per k against stacked: fanOut 20 × fanIn
    // 500 (seeds/003 conv 2) 134 against 94 ms, 10 × 250: 32 against 25, 8 × 72: 7.4 against 5.3; but 20 × 25
    // (conv 1) 12.6 against 19.6, 32 × 200: 19 against 24, 50 × 100: 15 against 20, 64 × 576: 40 against 83.
    const rows = R / n;
    const wSize = fanOut * fanIn;
    const stacked = fanOut <= 20 && fanIn >= 64;
    // Entries of the product per sample (and the stride between samples in it): one output's, or all K stacked.
    const step = stacked ? K * wSize : wSize;
    const bs = Math.max(1, Math.min(n, Math.floor(8e6 / step)));
    const ones = new Float32Array(bs * rows).fill(1);
    // One product buffer for all batches: ONNX Runtime writes into it, so that its memory is touched fresh once.
    const buf = new Float32Array(bs * step), bbuf = new Float32Array(bs * fanOut);
    for (let i0 = 0; i0 < n; i0 += bs) {
      const nb = Math.min(bs, n - i0);
      const gs = cots.map((c) => c.subarray(i0 * rows * fanOut, (i0 + nb) * rows * fanOut));
      const x = X.subarray(i0 * rows * fanIn, (i0 + nb) * rows * fanIn);
      // prod(k) [nb, fanOut, fanIn] at sample stride `step`: views of one stacked product, or output k's own.
      const all = stacked ? ne.stackedGradients(gs, x, nb, rows, fanOut, fanIn, w, buf) : null;
      for (let k = 0; k < K; k++) {
        const prod = all ? all.subarray(k * wSize) : ne.batchMatMul(gs[k], x, nb, fanOut, rows, fanIn, true, w, buf);
        const bias = hasBias ? ne.batchMatMul(ones.subarray(0, nb * rows), gs[k], nb, 1, rows, fanOut, false, b, bbuf) : null;
        for (let i = i0; i < i0 + nb; i++) {
          const o = (i * K + k) * P + off;
          J.set(prod.subarray((i - i0) * step, (i - i0) * step + wSize), o);
          if (bias) J.set(bias.subarray((i - i0) * fanOut, (i - i0 + 1) * fanOut), o + wSize);
        }
      }
    }
    return;
  }
  // A JS copy: heap views of the wasm backend are invalidated when its memory grows (and tf.slice of one
  // sample's rows is far slower there).
  const X = tensorView(rec.input).slice();
  if (seg.every((v, i) => v === i * (R / n)) && (R / n) * fanIn * fanOut * K > 4096) {
    const rows = R / n;
    const CT = new Float32Array(K * fanOut * rows);
    for (let i = 0; i < n; i++) {
      const r0 = i * rows;
      // w folded into the transposed cotangents, so that the product lands in J as it is, one row (i, k) per
      // output; the bias gradient b·Σ_r g_rk is summed on the way.
      for (let k = 0; k < K; k++) {
        const Ck = cots[k];
        const ob = (i * K + k) * P + off + fanOut * fanIn;
        for (let c = 0; c < fanOut; c++) {
          const d = (k * fanOut + c) * rows;
          let sum = 0;
          for (let p = 0, q = r0 * fanOut + c; p < rows; p++, q += fanOut) {
            const g = Ck[q];
            CT[d + p] = w * g;
            sum += g;
          }
          if (hasBias) J[ob + c] = b * sum;
        }
      }
      scoped(() => {
        const prod = tensorView(tf.matMul(tf.tensor2d(CT, [K * fanOut, rows]), tf.tensor2d(X.subarray(r0 * fanIn, (r0 + rows) * fanIn), [rows, fanIn])));
        for (let k = 0; k < K; k++) J.set(prod.subarray(k * fanOut * fanIn, (k + 1) * fanOut * fanIn), (i * K + k) * P + off);
      });
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) {
      const o = (i * K + k) * P + off;
      for (let r = seg[i]; r < seg[i + 1]; r++) {
        for (let c = 0; c < fanOut; c++) {
          const g = cots[k][r * fanOut + c];
          if (hasBias) J[o + fanOut * fanIn + c] += b * g;
          if (g === 0) continue;
          const oc = o + c * fanIn;
          for (let f = 0; f < fanIn; f++) J[oc + f] += w * g * X[r * fanIn + f];
        }
      }
    }
  }
}

/**
 * Write the per-sample gradients of one channelwise record into J [n, K, P] at column offset `off`:
 *   J[i, k, off + t·C + c] = wScale·Σ_{r∈i} g_rk[c]·u_r[t·C + c],   J[i, k, off + T·C + c] = bScale·Σ_{r∈i} g_rk[c]
 * (gains first, as in channelwiseSize). JS loops: R·K·T·C multiply-adds, small beside the layers' products.
 */
function channelwiseGradients(rec: ChannelwiseRecord, cots: Float32Array[], n: number, J: Float32Array, P: number, off: number): void {
  const K = cots.length;
  const [R, C] = rec.outShape;
  const T = rec.taps;
  const seg = rec.segments ?? identitySegments(n);
  const U = rec.input ? tensorView(rec.input).slice() : null;
  const w = rec.wScale, b = rec.bScale;
  const bOff = U ? T * C : 0;
  if (R !== seg[n]) throw new Error(`structured: a channelwise record has ${R} rows, its segments ${seg[n]}`);
  for (let k = 0; k < K; k++) {
    const G = cots[k];
    for (let i = 0; i < n; i++) {
      const o = (i * K + k) * P + off;
      for (let r = seg[i]; r < seg[i + 1]; r++) {
        for (let c = 0; c < C; c++) {
          const g = G[r * C + c];
          if (g === 0) continue;
          if (b !== 0) J[o + bOff + c] += b * g;
          if (U) for (let t = 0; t < T; t++) J[o + t * C + c] += w * g * U[(r * T + t) * C + c];
        }
      }
    }
  }
}

/**
 * Features of a block of samples for the structured rules. The cotangents g = ∂f_k/∂z of every linear layer
 * come from K reverse passes over the whole block with zero "taps" added to each layer's output: since
 * z(x_i) depends on x_i alone, the gradient of Σ_i f_k(x_i) with respect to the tap rows of sample i is exactly
 * that sample's cotangent. No [n, K, P] Jacobian of the whole network is ever formed.
 */
export function tileFeatures(model: Model, params: tf.Tensor[], s: Samples, rules: LayerRule[]): TileFeatures {
  const K = model.outputSize;
  const n = s.n;
  return scoped(() => {
    const b = model.batch(s);
    // One recorded forward pass (with zero taps it creates itself; its layer inputs are kept for the rules
    // below), then K reverse walks, output k selected in every sample. Kept tensors are released at the end.
    let recs: LinearRecord[] = [];
    let chw: ChannelwiseRecord[] = [];
    const selectors = Array.from({ length: K }, (_, k) => () => {
      const sel = new Float32Array(n * K);
      for (let i = 0; i < n; i++) sel[i * K + k] = 1;
      return tf.tensor2d(sel, [n, K]);
    });
    // Cotangents leave the wasm heap as each walk ends (JS arrays, cots[layer][k] [R, fanOut]): kept there, the K
    // walks' cotangents would grow the heap by K activations' worth, and every fresh wasm page is a page fault
    // (4 KB, no huge pages for wasm memory), which a virtual machine makes expensive.
    const cots: Float32Array[][] = [];
    sharedForwardVjps(() => {
      const fw = model.applyTapped!(params, b, 'zeros');
      recs = fw.linear;
      chw = fw.channelwise ?? [];
      recs.forEach((r) => tf.keep(r.input));
      chw.forEach((r) => r.input && tf.keep(r.input));
      return { y: fw.out, xs: [...recs.map((r) => r.tap!), ...chw.map((r) => r.tap!)] };
    }, selectors, (_k, gs) => {
      gs.forEach((c, l) => (cots[l] ??= []).push(tensorView(c).slice()));
    });
    if (recs.length !== rules.length) throw new Error(`structured: the model has ${recs.length} linear layers, ${rules.length} rules`);
    const outer: OuterFeatures[] = [];
    const pExplicit = recs.reduce((acc, r, l) => acc + (rules[l] === 'explicit' ? explicitSize(r) : 0), 0) + chw.reduce((acc, r) => acc + channelwiseSize(r), 0);
    const ex = pExplicit > 0 ? new Float32Array(n * K * pExplicit) : null;
    let off = 0;
    recs.forEach((r, l) => {
      if (rules[l] === 'explicit') {
        explicitGradients(r, cots[l], n, ex!, pExplicit, off);
        off += explicitSize(r);
        return;
      }
      const R = r.outShape[0];
      const m = r.outShape[1];
      const cot = new Float32Array(R * K * m);
      cots[l].forEach((v, k) => {
        for (let i = 0; i < R; i++) cot.set(v.subarray(i * m, (i + 1) * m), (i * K + k) * m);
      });
      outer.push({ input: tensorView(r.input).slice(), cot, segments: r.segments, rows: R, fanIn: r.input.shape[1], fanOut: m, wScale: r.wScale, bScale: r.bScale });
    });
    chw.forEach((r, j) => {
      channelwiseGradients(r, cots[recs.length + j], n, ex!, pExplicit, off);
      off += channelwiseSize(r);
    });
    recs.forEach((r) => r.input.dispose());
    chw.forEach((r) => r.input?.dispose());
    return { n, outer, explicit: ex, pExplicit };
  });
}

const mat = (a: Float32Array, rows: number, cols: number) => tf.tensor2d(a, [rows, cols]);

/** Rows of output k only, [n, m], from an array laid out [n, K, m]. */
function outputRowsArray(a: Float32Array, n: number, K: number, k: number, m: number): Float32Array {
  const buf = new Float32Array(n * m);
  for (let i = 0; i < n; i++) buf.set(a.subarray((i * K + k) * m, (i * K + k + 1) * m), i * m);
  return buf;
}
const outputRows = (a: Float32Array, n: number, K: number, k: number, m: number): tf.Tensor2D => tf.tensor2d(outputRowsArray(a, n, K, k, m), [n, m]);

/**
 * The products of structuredTile on the native engine, each one A·Bᵀ product of the blocks' arrays as they are
 * laid out: explicit gradients [n·K, P] (full; the diagonal pair by row stripes), [n, K·P] (trace: Σ_k, then /K)
 * or output `pass`'s rows [n, P] (diagonal); outer layers' inputs [R, fanIn] and cotangents [R·K, fanOut] (full),
 * [R, K·fanOut] (trace) or [R, fanOut] (diagonal).
 */
function nativeProducts(ne: MatrixEngine, f1: TileFeatures, f2: TileFeatures, K: number, mode: OutputMode, pass: number): { E: Float32Array | null; A: Float32Array[]; G: Float32Array[] } {
  const nr = f1.n, nc = f2.n;
  let E: Float32Array | null = null;
  if (f1.explicit && f2.explicit) {
    const P = f1.pExplicit;
    if (mode === 'full') E = f1 === f2 ? nativeDiagonalGram(ne, f1, K) : ne.matMul(f1.explicit, f2.explicit, nr * K, P, nc * K, true);
    else if (mode === 'trace') E = ne.matMul(f1.explicit, f2.explicit, nr, K * P, nc, true).map((v) => v / K);
    else E = ne.matMul(outputRowsArray(f1.explicit, nr, K, pass, P), outputRowsArray(f2.explicit, nc, K, pass, P), nr, P, nc, true);
  }
  const A = f1.outer.map((f, l) => ne.matMul(f.input, f2.outer[l].input, f.rows, f.fanIn, f2.outer[l].rows, true));
  const G = f1.outer.map((f, l) => {
    const g = f2.outer[l];
    if (mode === 'full') return ne.matMul(f.cot, g.cot, f.rows * K, f.fanOut, g.rows * K, true);
    if (mode === 'trace') return ne.matMul(f.cot, g.cot, f.rows, K * f.fanOut, g.rows, true);
    return ne.matMul(outputRowsArray(f.cot, f.rows, K, pass, f.fanOut), outputRowsArray(g.cot, g.rows, K, pass, g.fanOut), f.rows, f.fanOut, g.rows, true);
  });
  return { E, A, G };
}

/** Seconds spent per stage of a kernel computation, accumulated over tiles. */
export type StageTiming = Record<'features' | 'products' | 'combine' | 'mirror', number>;

export const newTiming = (): StageTiming => ({ features: 0, products: 0, combine: 0, mirror: 0 });

/** A stopwatch that adds the time since its last call to the named stage (a no-op without `timing`). */
export function stageClock(timing?: StageTiming): (stage: keyof StageTiming) => void {
  let last = performance.now();
  return (stage) => {
    const now = performance.now();
    if (timing) timing[stage] += (now - last) / 1000;
    last = now;
  };
}

/** Where a tile goes: the whole output array, its number of column samples, and the tile's first row/column sample. */
export interface TileTarget {
  out: Float32Array;
  n2: number;
  r0: number;
  c0: number;
}

/** Index of the output entry for samples (i, j) of the tile and outputs (k, k') in the given mode. */
function indexer(mode: OutputMode, t: TileTarget, K: number): (i: number, j: number, k: number, kk: number) => number {
  if (mode === 'full') return (i, j, k, kk) => (t.r0 * K + i * K + k) * t.n2 * K + t.c0 * K + j * K + kk;
  if (mode === 'trace') return (i, j) => (t.r0 + i) * t.n2 + t.c0 + j;
  return (i, j, k) => ((t.r0 + i) * t.n2 + t.c0 + j) * K + k;
}

/**
 * The products of structuredTile on tfjs: tf.matMul on pre-transposed operands kept with the blocks, explicit
 * gradients summed over column chunks; returns views of the products (valid until the next tfjs op).
 */
function tfjsProducts(f1: TileFeatures, f2: TileFeatures, K: number, mode: OutputMode, pass: number): { E: Float32Array | null; A: Float32Array[]; G: Float32Array[] } {
  const nr = f1.n, nc = f2.n;
  // Gram of explicit gradients, in the output mode's shape: full [nr·K, nc·K], trace/diagonal [nr, nc].
  let Et: tf.Tensor | null = null;
  if (f1.explicit && f2.explicit) {
    const P = f1.pExplicit;
    if (mode === 'full' && f1 === f2) Et = diagonalGram(f1, K);
    else if (mode === 'full') {
      for (let c = 0; c * CHUNK < P; c++) {
        const p = tf.matMul(operand(f1, `J${c}`, () => explicitChunk(f1, K, c)), operandT(f2, `J${c}`, () => explicitChunk(f2, K, c)));
        Et = Et ? tf.add(Et, p) : p;
      }
    }
    else if (mode === 'trace') Et = tf.div(tf.matMul(operand(f1, 'Jt', () => mat(f1.explicit!, nr, K * P)), operandT(f2, 'Jt', () => mat(f2.explicit!, nc, K * P))), K);
    else Et = tf.matMul(operand(f1, `Jd${pass}`, () => outputRows(f1.explicit!, nr, K, pass, P)), operandT(f2, `Jd${pass}`, () => outputRows(f2.explicit!, nc, K, pass, P)));
  }
  const cotOf = (f: OuterFeatures) => () =>
    mode === 'full' ? mat(f.cot, f.rows * K, f.fanOut) : mode === 'trace' ? mat(f.cot, f.rows, K * f.fanOut) : outputRows(f.cot, f.rows, K, pass, f.fanOut);
  const inputOf = (f: OuterFeatures) => () => mat(f.input, f.rows, f.fanIn);
  const cotKey = (l: number) => `g${l}:${mode}:${pass}`;
  const At = f1.outer.map((f, l) => tf.matMul(operand(f1, `a${l}`, inputOf(f)), operandT(f2, `a${l}`, inputOf(f2.outer[l]))));
  const Gt = f1.outer.map((f, l) => tf.matMul(operand(f1, cotKey(l), cotOf(f)), operandT(f2, cotKey(l), cotOf(f2.outer[l]))));
  return { E: Et ? tensorView(Et) : null, A: At.map(tensorView), G: Gt.map(tensorView) };
}

/**
 * One kernel tile between blocks f1 (nr samples) and f2 (nc samples), written into `t.out` at sample offsets
 * (t.r0, t.c0) in the layout of the output mode:
 *   Θ = J_e,1 J_e,2ᵀ  (explicit layers, one Gram over their concatenated gradients)
 *     + Σ_outer layers Σ_{r∈i,s∈j} (w² a_r·a_s + b²)(g_rk·g_sk').
 * Products run on the native matrix engine when it is in use (nativeProducts), else as tf.matMul on
 * pre-transposed operands (tfjsProducts); for one-row-per-sample layers the Hadamard combination
 * of all layers is one fused JS pass over views of the products (each output entry written once). trace uses
 * cotangents flattened to [R, K·fanOut] (Σ_k g_rk·g_sk), K× fewer FLOPs than full.
 */
export function structuredTile(f1: TileFeatures, f2: TileFeatures, K: number, mode: OutputMode, t: TileTarget, timing?: StageTiming): void {
  const clock = stageClock(timing);
  const nr = f1.n, nc = f2.n;
  const at = indexer(mode, t, K);
  const single = f1.outer.map((f, l) => f.segments === null && f2.outer[l].segments === null);
  const passes = mode === 'diagonal' ? K : 1;
  const ne = nativeEngine();
  if (ne && mode === 'full' && single.every(Boolean)) {
    nativeFullTile(ne, f1, f2, K, t, clock);
    return;
  }
  for (let pass = 0; pass < passes; pass++) {
    scoped(() => {
      // Gram of explicit gradients in the output mode's shape (full [nr·K, nc·K], trace/diagonal [nr, nc]), Grams
      // of the outer layers' inputs A and cotangents G: on the native engine straight from the blocks' arrays.
      const { E, A, G } = ne ? nativeProducts(ne, f1, f2, K, mode, pass) : tfjsProducts(f1, f2, K, mode, pass);
      clock('products');
      const fused = Int32Array.from(f1.outer.map((_, l) => l).filter((l) => single[l]));
      const nf = fused.length;
      const w2 = f1.outer.map((f) => f.wScale * f.wScale);
      const b2 = f1.outer.map((f) => f.bScale * f.bScale);
      const s = new Float64Array(f1.outer.length);
      if (mode === 'full') {
        const gl = nc * K;
        const ld = t.n2 * K;
        const Af = Array.from(fused, (l) => A[l]);
        const Gf = Array.from(fused, (l) => G[l]);
        const w2f = Float64Array.from(fused, (l) => w2[l]);
        const b2f = Float64Array.from(fused, (l) => b2[l]);
        const out = t.out;
        for (let i = 0; i < nr; i++) {
          for (let k = 0; k < K; k++) {
            const grow = (i * K + k) * gl;
            const orow = (t.r0 * K + i * K + k) * ld + t.c0 * K;
            for (let j = 0; j < nc; j++) {
              const aij = i * nc + j;
              for (let q = 0; q < nf; q++) s[q] = w2f[q] * Af[q][aij] + b2f[q];
              const g = grow + j * K;
              const o = orow + j * K;
              for (let kk = 0; kk < K; kk++) {
                let v = E ? E[g + kk] : 0;
                for (let q = 0; q < nf; q++) v += s[q] * Gf[q][g + kk];
                out[o + kk] = v;
              }
            }
          }
        }
      } else {
        for (let i = 0; i < nr; i++) {
          for (let j = 0; j < nc; j++) {
            let v = E ? E[i * nc + j] : 0;
            for (let q = 0; q < nf; q++) {
              const l = fused[q];
              v += ((w2[l] * A[l][i * nc + j] + b2[l]) * G[l][i * nc + j]) / (mode === 'trace' ? K : 1);
            }
            t.out[at(i, j, pass, 0)] = v;
          }
        }
      }
      // Layers with several rows per sample: sum the Hadamard product over each pair of row segments.
      f1.outer.forEach((f, l) => {
        if (single[l]) return;
        const g2 = f2.outer[l];
        const seg1 = f.segments ?? identitySegments(nr);
        const seg2 = g2.segments ?? identitySegments(nc);
        const R2 = g2.rows;
        const Kc = mode === 'full' ? K : 1;
        const scale = mode === 'trace' ? 1 / K : 1;
        for (let i = 0; i < nr; i++) {
          for (let j = 0; j < nc; j++) {
            for (let k = 0; k < Kc; k++) {
              for (let kk = 0; kk < Kc; kk++) {
                let v = 0;
                for (let r = seg1[i]; r < seg1[i + 1]; r++) {
                  for (let q = seg2[j]; q < seg2[j + 1]; q++) {
                    v += (w2[l] * A[l][r * R2 + q] + b2[l]) * G[l][(r * Kc + k) * R2 * Kc + q * Kc + kk];
                  }
                }
                t.out[at(i, j, mode === 'full' ? k : pass, kk)] += v * scale;
              }
            }
          }
        }
      });
      clock('combine');
    });
  }
}

/**
 * structuredTile in full mode on the native engine when every 'outer' layer has one row per sample: the explicit
 * layers' Gram E as in nativeProducts, then the outer layers' products and their Hadamard combination in native
 * calls (denseNtkTile), each written straight into the output when it spans whole output rows (a block of rows of
 * the kernel is contiguous), else into a reused buffer placed row by row. Without explicit layers (an MLP) the
 * tile is combined in sub-tiles of at most SUBTILE_FLOATS entries, split evenly (a remainder sub-tile of a few
 * samples runs its GEMMs at a poor rate): the combination reads and writes each layer's [r·K, c·K] Gram a few
 * times, so it runs at the speed of the cache that holds them, while a fused call has a fixed cost (31 graph nodes
 * for the MNIST MLP) and its GEMMs lose rate on small shapes. Measured on the 2-core AMD EPYC for the MNIST MLP's
 * full kernel (products stage in runs alternating with a [1250, 100]·[1250, 100]ᵀ GEMM in one process, median
 * against the GEMM's median; 15 runs each at N = 500, 7 at 1000, 4 at 2000): N = 500 (tiles of 125 samples),
 * sub-tiles of at most 51 samples (51 + 51 + 23, the previous rule) 66 %, 63 + 62 70 %, whole tiles 79 %;
 * N = 1000 and 2000 (tiles of 250 and 500), sub-tiles of 125 samples 77 % and 76 % against 71 % and 73 % for
 * sub-tiles of at most 51.
 */
function nativeFullTile(ne: MatrixEngine, f1: TileFeatures, f2: TileFeatures, K: number, t: TileTarget, clock: (stage: keyof StageTiming) => void): void {
  const nr = f1.n, nc = f2.n;
  let E: Float32Array | null = null;
  if (f1.explicit && f2.explicit) E = f1 === f2 ? nativeDiagonalGram(ne, f1, K) : ne.matMul(f1.explicit, f2.explicit, nr * K, f1.pExplicit, nc * K, true);
  const ld = t.n2 * K;
  if (f1.outer.length === 0) {
    if (E) placeTile(t.out, 'full', t.n2, K, E, t.r0, nr, t.c0, nc, false);
    clock('products');
    return;
  }
  // With E the whole tile is one call (E's sub-blocks are not contiguous); without it, even sub-tiles of ≤ most samples.
  const most = E ? Math.max(nr, nc) : Math.max(1, Math.floor(Math.sqrt(SUBTILE_FLOATS) / K));
  const rows = evenParts(nr, most), cols = evenParts(nc, most);
  for (let p = 0; p + 1 < rows.length; p++) {
    const i0 = rows[p], mr = rows[p + 1] - i0;
    for (let q = 0; q + 1 < cols.length; q++) {
      const j0 = cols[q], mc = cols[q + 1] - j0;
      const layers = f1.outer.map((f, l) => {
        const g = f2.outer[l];
        return {
          a1: f.input.subarray(i0 * f.fanIn, (i0 + mr) * f.fanIn), a2: g.input.subarray(j0 * g.fanIn, (j0 + mc) * g.fanIn),
          g1: f.cot.subarray(i0 * K * f.fanOut, (i0 + mr) * K * f.fanOut), g2: g.cot.subarray(j0 * K * g.fanOut, (j0 + mc) * K * g.fanOut),
          fanIn: f.fanIn, fanOut: f.fanOut, w2: f.wScale * f.wScale, b2: f.bScale * f.bScale,
        };
      });
      const whole = t.c0 + j0 === 0 && mc === t.n2;
      const r0 = (t.r0 + i0) * K * ld;
      const dst = whole ? t.out.subarray(r0, r0 + mr * K * ld) : tileScratch(mr * K * mc * K);
      ne.denseNtkTile(layers, E, mr, mc, K, dst);
      clock('products');
      if (!whole) placeTile(t.out, 'full', t.n2, K, dst, t.r0 + i0, mr, t.c0 + j0, mc, false);
      clock('combine');
    }
  }
}

/** Entries of a tile in full mode per sub-tile of the native combination (6.4 MB of float32: 126 samples at K = 10). */
const SUBTILE_FLOATS = 1.6e6;

/** Starts of ⌈n / most⌉ parts of 0..n as equal as can be (their sizes differ by at most one), and n. */
function evenParts(n: number, most: number): number[] {
  const parts = Math.ceil(n / most);
  return Array.from({ length: parts + 1 }, (_, p) => Math.round((p * n) / parts));
}

/**
 * A tile buffer reused from tile to tile: a fresh [nr·K, nc·K] array per tile costs its first-touch page faults
 * every time (6.25 MB, ~1,500 pages at tile 125), as much as the tile's products on some virtual machines.
 */
let scratch = new Float32Array(0);
function tileScratch(size: number): Float32Array {
  if (scratch.length < size) scratch = new Float32Array(size);
  return scratch.subarray(0, size);
}

const identitySegments = (n: number) => Int32Array.from({ length: n + 1 }, (_, i) => i);

/**
 * Conjugate-kernel features of samples: CK(x_i, x_j) = scale²·h(x_i)·h(x_j) + offset², h the input of the
 * network's output layer; the caller builds the kernel and expands it to the output mode (full: CK ⊗ I_K).
 */
export function ckFeatures(model: Model, params: tf.Tensor[], s: Samples): { h: Float32Array; width: number; scale: number; offset: number } {
  return scoped(() => {
    const { ck } = tappedPass(model, params, s, null);
    if (!ck) throw new UserError(`--kind nngp: the ${model.config.model} model has no conjugate-kernel features (a last hidden layer before a linear read-out); use --kind ntk`);
    return { h: tensorView(ck.features).slice(), width: ck.features.shape[1], scale: ck.scale, offset: ck.offset };
  });
}
