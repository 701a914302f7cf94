import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import { type MatrixEngine, nativeEngine } from '../lib/matrix-engine.js';
import { NormalRng } from '../lib/rng.js';
import { filledTensor, tensorView } from '../lib/tensors.js';
import type { ChannelwiseRecord, LinearRecord, Taps } from './model.js';
import type { Param, ParamSpec } from './params.js';

export type Activation = 'relu' | 'erf' | 'tanh' | 'identity';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'erf', 'tanh', 'identity'];
export type Parameterization = 'ntk' | 'standard';

export function activate(a: Activation, z: tf.Tensor): tf.Tensor {
  switch (a) {
    case 'relu': return tf.relu(z);
    case 'erf': return tf.erf(z);
    case 'tanh': return tf.tanh(z);
    case 'identity': return z;
  }
}

/** Settings shared by every architecture. */
export interface CommonConfig {
  activation: Activation;
  parameterization: Parameterization;
  wStd: number;
  bStd: number;
  bias: boolean;
}

export function checkCommon(c: CommonConfig): void {
  if (!ACTIVATIONS.includes(c.activation)) throw new UserError(`--activation: expected one of ${ACTIVATIONS.join(', ')}; got '${c.activation}'`);
  if (c.parameterization !== 'ntk' && c.parameterization !== 'standard') {
    throw new UserError(`--parameterization: expected ntk or standard; got '${c.parameterization}'`);
  }
  if (!(Number.isFinite(c.wStd) && c.wStd > 0)) throw new UserError(`--w-std: expected a positive number; got ${c.wStd}`);
  if (!(Number.isFinite(c.bStd) && c.bStd >= 0)) throw new UserError(`--b-std: expected a non-negative number; got ${c.bStd}`);
}

/**
 * Scales of a linear layer with fan-in n: NTK parameterisation wScale = σ_w/√n, bScale = σ_b (W, b ~ N(0,1));
 * standard parameterisation wScale = bScale = 1 (W ~ N(0, σ_w²/n), b ~ N(0, σ_b²)).
 */
export function linearScales(c: CommonConfig, fanIn: number, wStd = c.wStd): { wScale: number; bScale: number } {
  if (c.parameterization === 'standard') return { wScale: 1, bScale: c.bias ? 1 : 0 };
  return { wScale: wStd / Math.sqrt(fanIn), bScale: c.bias ? c.bStd : 0 };
}

/** Parameter specs of one linear layer: kernel (shape given, fan-in = product of all but the last dim) and bias. */
export function linearSpecs(name: string, kernelShape: number[], bias: boolean): ParamSpec[] {
  const s: ParamSpec[] = [{ name: `${name}/kernel`, shape: kernelShape }];
  if (bias) s.push({ name: `${name}/bias`, shape: [kernelShape[kernelShape.length - 1]] });
  return s;
}

/**
 * Seeded initialisation of parameter specs: kernels and biases in order from one normal stream. NTK
 * parameterisation: N(0, 1); standard: kernels N(0, σ_w²/fan_in) and biases N(0, σ_b²), fan_in = product of
 * the kernel's leading dims. `wStdOf(name)` may give a layer its own σ_w (e.g. residual branches).
 */
export function initParams(specs: ParamSpec[], c: CommonConfig, seed: string | number, wStdOf: (name: string) => number = () => c.wStd): Param[] {
  const rng = new NormalRng(seed);
  return specs.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    let std = 1;
    if (c.parameterization === 'standard') {
      const fanIn = s.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      std = s.name.endsWith('/kernel') ? wStdOf(s.name) / Math.sqrt(fanIn) : c.bStd;
    }
    return { name: s.name, shape: s.shape, values: rng.normals(size, std) };
  });
}

export type Padding = 'valid' | 'same';

/** Output size and the padding before/after of a convolution along one axis (TensorFlow's 'same' rule). */
export function convGeometry(size: number, k: number, stride: number, padding: Padding): { out: number; before: number; after: number } {
  if (padding === 'valid') {
    const out = Math.floor((size - k) / stride) + 1;
    return { out, before: 0, after: 0 };
  }
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}

/**
 * tf.customGrad with plain tensor arguments. Tensors the gradient needs must pass through `save` (tfjs keeps
 * only those alive for the backward pass) and come back as `saved`.
 */
type CustomFn = (...xs: tf.Tensor[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };
const customOp = (nInputs: number, f: (xs: tf.Tensor[], save: (ts: tf.Tensor[]) => void) => ReturnType<CustomFn>) =>
  tf.customGrad(((...args: unknown[]) => f(args.slice(0, nInputs) as tf.Tensor[], args[nInputs] as (ts: tf.Tensor[]) => void)) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * im2col: x [n, H, W, C] → patches [n·Ho·Wo, kh·kw·C], feature index (dy·kw + dx)·C + c, which matches a kernel
 * [kh, kw, C, Cout] reshaped row-major to [kh·kw·C, Cout]; tap (dy, dx) of output (oy, ox) reads input row
 * oy·s_h + dy·d_h − pad_top, column ox·s_w + dx·d_w − pad_left (strides s, dilations d). A custom op: the copy
 * (and its adjoint, the scatter-add col2im) run as JS loops, several times faster on wasm than a chain of
 * kh·kw slice/concat ops and their gradients, each of which allocates an activation-sized tensor.
 */
export function im2col(x: tf.Tensor4D, kh: number, kw: number, stride: number | [number, number], padding: Padding, dilation: [number, number] = [1, 1]): { patches: tf.Tensor2D; ho: number; wo: number } {
  const [n, H, W, C] = x.shape;
  const [sh, sw] = typeof stride === 'number' ? [stride, stride] : stride;
  const [dh, dw] = dilation;
  const gh = convGeometry(H, (kh - 1) * dh + 1, sh, padding);
  const gw = convGeometry(W, (kw - 1) * dw + 1, sw, padding);
  const ho = gh.out, wo = gw.out;
  if (ho < 1 || wo < 1) throw new UserError(`convolution ${kh}×${kw} stride ${sh}×${sw} dilation ${dh}×${dw} does not fit a ${H}×${W} input`);
  if (padding === 'valid' && kh === H && kw === W) return { patches: tf.reshape(x, [n, H * W * C]) as tf.Tensor2D, ho: 1, wo: 1 };
  const F = kh * kw * C;
  const rows = n * ho * wo;
  const taps = kh * kw;
  // Source offset in x of every (row, dy, dx) block of C values, or -1 where it falls in the padding: for the
  // adjoint only (built on its first call; tapped passes never ask for it).
  let src: Int32Array | null = null;
  const sources = (): Int32Array => {
    if (src) return src;
    src = new Int32Array(rows * taps);
    for (let i = 0; i < n; i++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          const r = (i * ho + oy) * wo + ox;
          for (let dy = 0; dy < kh; dy++) {
            const y = oy * sh + dy * dh - gh.before;
            for (let dx = 0; dx < kw; dx++) {
              const xx = ox * sw + dx * dw - gw.before;
              src[r * taps + dy * kw + dx] = y < 0 || y >= H || xx < 0 || xx >= W ? -1 : ((i * H + y) * W + xx) * C;
            }
          }
        }
      }
    }
    return src;
  };
  const op = customOp(1, ([xt]) => {
    const value = filledTensor([rows, F], (out) => {
      // Read x after the output exists: allocating it may grow (and move) the wasm heap that xv views.
      const xv = tensorView(xt);
      // Without width dilation the taps dx of one (row, dy) read kw·C consecutive values of x: one copy per run
      // (a native memmove within the wasm heap, where both arrays live, for runs long enough to pay for the call).
      const heap = out.buffer === xv.buffer ? new Float32Array(out.buffer) : null;
      const ob = out.byteOffset / 4, xb = xv.byteOffset / 4;
      const runs = dw === 1;
      for (let i = 0, r = 0; i < n; i++) {
        for (let oy = 0; oy < ho; oy++) {
          for (let ox = 0; ox < wo; ox++, r++) {
            const x0 = ox * sw - gw.before;
            for (let dy = 0; dy < kh; dy++) {
              const y = oy * sh + dy * dh - gh.before;
              const d = (r * taps + dy * kw) * C;
              if (y < 0 || y >= H) {
                out.fill(0, d, d + kw * C);
                continue;
              }
              const row = (i * H + y) * W;
              if (runs) {
                const lo = Math.max(0, -x0), hi = Math.min(kw, W - x0);
                if (lo > 0) out.fill(0, d, d + lo * C);
                if (hi < kw) out.fill(0, d + hi * C, d + kw * C);
                const s0 = (row + x0 + lo) * C, len = (hi - lo) * C, d0 = d + lo * C;
                if (heap && len >= 64) heap.copyWithin(ob + d0, xb + s0, xb + s0 + len);
                else for (let c = 0; c < len; c++) out[d0 + c] = xv[s0 + c];
                continue;
              }
              for (let dx = 0; dx < kw; dx++) {
                const xx = x0 + dx * dw;
                const db = d + dx * C;
                if (xx < 0 || xx >= W) out.fill(0, db, db + C);
                else for (let c = 0, s0 = (row + xx) * C; c < C; c++) out[db + c] = xv[s0 + c];
              }
            }
          }
        }
      }
    }) as tf.Tensor2D;
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const s = sources();
        const dv = tensorView(dy);
        const dx = new Float32Array(n * H * W * C);
        for (let t = 0; t < s.length; t++) {
          const s0 = s[t];
          if (s0 < 0) continue;
          const d = t * C;
          for (let c = 0; c < C; c++) dx[s0 + c] += dv[d + c];
        }
        return [tf.tensor4d(dx, [n, H, W, C])];
      },
    };
  });
  return { patches: op(x) as tf.Tensor2D, ho, wo };
}

/**
 * a·W for rows a [R, fanIn], W [fanIn, fanOut], with gradients that transpose explicitly: tfjs's own
 * gradient of matMul calls matMul(dy, W, false, true), which runs ~10× slower on wasm. With `paramGrad`
 * false, W is treated as a constant (only ∂/∂a is formed), which is all that cotangent passes need. With
 * `inputGrad` false (training, a layer whose input depends on no parameter: the data), a is the constant and
 * only ∂/∂W = aᵀ·dy is formed. On the native engine the training products (z = a·W, ∂/∂a = dy·Wᵀ, ∂/∂W) run in
 * ONNX Runtime, each read from and written into the tensors' own memory (the engine takes Wᵀ as an operand flag).
 */
export function linearOp(a: tf.Tensor2D, W: tf.Tensor2D, paramGrad: boolean, inputGrad = true): tf.Tensor2D {
  if (!paramGrad) {
    const WT = tf.transpose(W);
    const op = customOp(1, ([at], save) => {
      save([WT]);
      return { value: tf.matMul(at as tf.Tensor2D, W), gradFunc: (dy, [wt]) => [tf.matMul(dy as tf.Tensor2D, wt as tf.Tensor2D)] };
    });
    return op(a) as tf.Tensor2D;
  }
  const ne = nativeEngine();
  const [R, fanIn] = a.shape, fanOut = W.shape[1];
  if (!inputGrad) {
    const op = customOp(1, ([Wt], save) => {
      save([a]);
      return { value: layerProduct(ne, a, Wt, R, fanIn, fanOut), gradFunc: (dy, [as]) => [weightGrad(ne, as, dy, R, fanIn, fanOut)] };
    });
    return op(W) as tf.Tensor2D;
  }
  const op = customOp(2, ([at, Wt], save) => {
    save([at, Wt]);
    return {
      value: layerProduct(ne, at, Wt, R, fanIn, fanOut),
      gradFunc: (dy, [as, ws]) => [
        ne ? filledTensor([R, fanIn], (out) => ne.matMul(tensorView(dy), tensorView(ws), R, fanOut, fanIn, true, out))
          // ∂/∂a = dy Wᵀ. wasm transposes slowly (a [1024, 1024] W: 9 ms), so for a few rows (small training
          // batches) it is cheaper to transpose dy and the product: (W dyᵀ)ᵀ (1.2 ms against 13 ms there).
          : dy.shape[0] * 4 < ws.shape[0] ? tf.transpose(tf.matMul(ws as tf.Tensor2D, tf.transpose(dy))) : tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)),
        weightGrad(ne, as, dy, R, fanIn, fanOut),
      ],
    };
  });
  return op(a, W) as tf.Tensor2D;
}

/**
 * A layer's product a·W [R, fanOut] (a [R, fanIn], W [fanIn, fanOut]) in training passes and the kernels' forward
 * convolutions: one ONNX Runtime product on the native engine, else tf.matMul.
 */
function layerProduct(ne: MatrixEngine | null, a: tf.Tensor, W: tf.Tensor, R: number, fanIn: number, fanOut: number): tf.Tensor2D {
  return ne ? (filledTensor([R, fanOut], (out) => ne.matMul(tensorView(a), tensorView(W), R, fanIn, fanOut, false, out)) as tf.Tensor2D) : tf.matMul(a as tf.Tensor2D, W as tf.Tensor2D);
}

/**
 * ∂/∂W = aᵀ·dy [fanIn, fanOut] of a training product (a [R, fanIn], dy [R, fanOut]). On the native engine one ONNX
 * Runtime Gemm with its first operand transposed in place. That operand is the narrower of the two: for
 * fanOut < fanIn the product is (dyᵀ·a)ᵀ, its [fanOut, fanIn] result transposed here (for the seeds/003 CNN's
 * second convolution on 50 digits, [500, 20000]·[20000, 20]: 5.3 against 7.9 ms, both cores).
 */
function weightGrad(ne: MatrixEngine | null, a: tf.Tensor, dy: tf.Tensor, R: number, fanIn: number, fanOut: number): tf.Tensor {
  if (!ne) return tf.matMul(tf.transpose(a), dy as tf.Tensor2D);
  if (fanOut >= fanIn) return filledTensor([fanIn, fanOut], (out) => ne.batchMatMul(tensorView(a), tensorView(dy), 1, fanIn, R, fanOut, true, 1, out));
  const t = ne.batchMatMul(tensorView(dy), tensorView(a), 1, fanOut, R, fanIn, true);
  return filledTensor([fanIn, fanOut], (out) => {
    for (let o = 0; o < fanOut; o++) for (let i = 0; i < fanIn; i++) out[i * fanOut + o] = t[o * fanIn + i];
  });
}

/**
 * The transposed convolution that is the adjoint of a stride-1 convolution of x [n, H, W, C] by W [kh, kw, C, Cout]
 * in x: dx = conv(pad(dz), W̃), W̃[a, b, co, ci] = W[kh−1−a, kw−1−b, ci, co] (`flipped`), dz [n·Ho·Wo, Cout] padded by
 * kh−1−before rows above and kh−1−after below (likewise for columns). On the native engine one ONNX Runtime
 * ConvTranspose from dz's memory into dx's; else one tfjs conv2d.
 */
function convAdjoint(dy: tf.Tensor, flipped: tf.Tensor4D, xShape: number[], gh: ReturnType<typeof convGeometry>, gw: ReturnType<typeof convGeometry>): tf.Tensor4D {
  const [n, H, Wd, C] = xShape;
  const [kh, kw, Cout] = flipped.shape;
  const ne = nativeEngine();
  if (ne) {
    const pads = [kh - 1 - gh.before, kw - 1 - gw.before, kh - 1 - gh.after, kw - 1 - gw.after];
    return filledTensor([n, H, Wd, C], (out) => ne.conv2d(tensorView(dy), tensorView(flipped), [n, gh.out, gw.out, Cout], [kh, kw, Cout, C], pads, out)) as tf.Tensor4D;
  }
  const d4 = tf.reshape(dy, [n, gh.out, gw.out, Cout]) as tf.Tensor4D;
  const padded = tf.pad(d4, [[0, 0], [kh - 1 - gh.before, kh - 1 - gh.after], [kw - 1 - gw.before, kw - 1 - gw.after], [0, 0]]);
  return tf.conv2d(padded as tf.Tensor4D, flipped, 1, 'valid');
}

/**
 * A stride-1 convolution for training: z = patches·W [n·Ho·Wo, Cout] (patches = im2col(x), given) for x
 * [n, H, W, C] and the kernel parameter Wt (any shape of kh·kw·C·Cout values), differentiable in both:
 * ∂/∂x is the transposed convolution (convAdjoint) and ∂/∂W = patchesᵀ·dz [kh·kw·C, Cout], so neither the
 * patch-sized ∂/∂patches = dz·Wᵀ [R, kh·kw·C] nor its col2im scatter-add is formed (for the seeds/003 CNN's second
 * convolution on 50 digits a [20000, 500] product with 20-long inner sums and 10 million scattered adds per step).
 * With `inputGrad` false (x depends on no parameter) only ∂/∂W is formed. On the native engine the products run
 * in ONNX Runtime.
 */
export function convTrainRows(x: tf.Tensor4D, patches: tf.Tensor2D, Wt: tf.Tensor, kh: number, kw: number, padding: Padding, inputGrad: boolean): tf.Tensor2D {
  const [n, H, Wd, C] = x.shape;
  const Cout = Wt.shape[Wt.rank - 1], F = kh * kw * C, R = patches.shape[0];
  const gh = convGeometry(H, kh, 1, padding), gw = convGeometry(Wd, kw, 1, padding);
  const ne = nativeEngine();
  const forward = (wt: tf.Tensor) => layerProduct(ne, patches, tf.reshape(wt, [F, Cout]), R, F, Cout);
  const kernelGrad = (p: tf.Tensor, dy: tf.Tensor) => tf.reshape(weightGrad(ne, p, dy, R, F, Cout), Wt.shape);
  if (!inputGrad) {
    const op = customOp(1, ([wt], save) => {
      save([patches]);
      return { value: forward(wt), gradFunc: (dy, [p]) => [kernelGrad(p, dy)] };
    });
    return op(Wt) as tf.Tensor2D;
  }
  const op = customOp(2, ([, wt], save) => {
    const flipped = tf.reverse(tf.transpose(tf.reshape(wt, [kh, kw, C, Cout]), [0, 1, 3, 2]), [0, 1]) as tf.Tensor4D;
    save([patches, flipped]);
    return {
      value: forward(wt),
      gradFunc: (dy, [p, wf]) => [convAdjoint(dy, wf as tf.Tensor4D, [n, H, Wd, C], gh, gw), kernelGrad(p, dy)],
    };
  });
  return op(x, Wt) as tf.Tensor2D;
}

/**
 * A stride-1 convolution of x [n, H, W, C] with a constant kernel W [kh, kw, C, Cout] as rows
 * z = patches·W [n·Ho·Wo, Cout] (patches = im2col(x), given), differentiable in x only. Its adjoint is the
 * transposed convolution dx = conv(pad(dz), W̃), W̃[a, b, co, ci] = W[kh−1−a, kw−1−b, ci, co], with dz padded by
 * kh−1−before rows above and kh−1−after below (likewise for columns): one tfjs conv2d, which XNNPACK runs at
 * matMul speed on wasm, where the patch-sized product dz·Wᵀ [R, C·kh·kw] (a matMul with Cout-long inner
 * products) followed by the col2im scatter-add costs several times more.
 */
export function convRows(x: tf.Tensor4D, patches: tf.Tensor2D, W: tf.Tensor4D, padding: Padding): tf.Tensor2D {
  const [n, H, Wd] = x.shape;
  const [kh, kw, C, Cout] = W.shape;
  const gh = convGeometry(H, kh, 1, padding), gw = convGeometry(Wd, kw, 1, padding);
  const W2 = tf.reshape(W, [kh * kw * C, Cout]) as tf.Tensor2D;
  const flipped = tf.reverse(tf.transpose(W, [0, 1, 3, 2]), [0, 1]) as tf.Tensor4D;
  const op = customOp(1, (_xs, save) => {
    save([flipped]);
    return {
      value: layerProduct(nativeEngine(), patches, W2, patches.shape[0], kh * kw * C, Cout),
      gradFunc: (dy, [wf]) => [convAdjoint(dy, wf as tf.Tensor4D, [n, H, Wd, C], gh, gw)],
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * Sparse aggregation out[u] = Σ_{(v→u) ∈ edges} w_e·h[v] for rows h [R, F] and weighted edges (source and
 * destination rows): a product with the R×R matrix of the edges that never forms it (GraphBatch's edges hold Ā
 * between classes of nodes, the identity included). Custom op with JS loops (tfjs-wasm has no UnsortedSegmentSum
 * kernel); its adjoint sends w_e·dy[u] back along the reversed edges.
 */
export function aggregateNeighbours(h: tf.Tensor2D, src: Int32Array, dst: Int32Array, weight: Float32Array): tf.Tensor2D {
  const [R, F] = h.shape;
  const op = customOp(1, ([ht]) => {
    const out = new Float32Array(R * F);
    addAlongEdges(tensorView(ht), out, src, dst, weight, F);
    return {
      value: tf.tensor2d(out, [R, F]),
      gradFunc: (dy) => {
        const dh = new Float32Array(R * F);
        addAlongEdges(tensorView(dy), dh, dst, src, weight, F);
        return [tf.tensor2d(dh, [R, F])];
      },
    };
  });
  return op(h) as tf.Tensor2D;
}

/**
 * out[to_e] += w_e·h[from_e] for every edge e in order, rows of F values. Rows that are mostly zeros (one-hot node
 * tags or degrees: COLLAB's first block aggregates ~400 columns with one nonzero each) are added through lists
 * of their nonzero columns. Each entry still receives the same nonzero addends in the same order; a skipped
 * addend is ±0, which leaves every nonzero sum unchanged (only a sum of zeros may differ in the sign of its zero).
 */
export function addAlongEdges(h: Float32Array, out: Float32Array, from: Int32Array, to: Int32Array, w: Float32Array, F: number): void {
  const R = h.length / F;
  let nnz = 0;
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) nnz++;
  if (nnz * 4 > h.length) {
    for (let e = 0; e < from.length; e++) {
      const a = from[e] * F, b = to[e] * F, we = w[e];
      for (let f = 0; f < F; f++) out[b + f] += we * h[a + f];
    }
    return;
  }
  // Compressed rows of h: the nonzero entries of row r are cols[start[r] .. start[r + 1]).
  const start = new Int32Array(R + 1), cols = new Int32Array(nnz);
  for (let r = 0, k = 0; r < R; r++) {
    for (let f = 0, o = r * F; f < F; f++) if (h[o + f] !== 0) cols[k++] = f;
    start[r + 1] = k;
  }
  for (let e = 0; e < from.length; e++) {
    const a = from[e] * F, b = to[e] * F, we = w[e];
    for (let k = start[from[e]], end = start[from[e] + 1]; k < end; k++) out[b + cols[k]] += we * h[a + cols[k]];
  }
}

/**
 * Weighted sum of the rows of each segment: out[i] = Σ_{r ∈ segment i} size_r·h[r] for h [R, F] → [n, F], rows of
 * segment i = [segments[i], segments[i+1]) (size: the nodes a row of a graph batch stands for).
 */
export function segmentSum(h: tf.Tensor2D, segments: Int32Array, size: Float32Array): tf.Tensor2D {
  const F = h.shape[1];
  const n = segments.length - 1;
  const op = customOp(1, ([ht]) => {
    const hv = tensorView(ht);
    const out = new Float32Array(n * F);
    for (let i = 0; i < n; i++) {
      for (let r = segments[i]; r < segments[i + 1]; r++) for (let f = 0; f < F; f++) out[i * F + f] += size[r] * hv[r * F + f];
    }
    return {
      value: tf.tensor2d(out, [n, F]),
      gradFunc: (dy) => {
        const dv = tensorView(dy);
        const dh = new Float32Array(h.shape[0] * F);
        for (let i = 0; i < n; i++) {
          for (let r = segments[i]; r < segments[i + 1]; r++) for (let f = 0; f < F; f++) dh[r * F + f] = size[r] * dv[i * F + f];
        }
        return [tf.tensor2d(dh, [h.shape[0], F])];
      },
    };
  });
  return op(h) as tf.Tensor2D;
}

/** Row offsets for n samples of `rows` rows each. */
export function uniformSegments(n: number, rows: number): Int32Array {
  const s = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) s[i] = i * rows;
  return s;
}

/**
 * Segments as the records keep them: null when every sample owns exactly one row (a convolution whose output map
 * is 1×1, a layer on a sequence of length 1), so that the structured kernel treats the layer as the dense layer it
 * is (its fused one-row-per-sample combination) instead of summing 1×1 blocks of row pairs.
 */
function rowsOrNull(segments: Int32Array | null): Int32Array | null {
  return segments && segments.every((v, i) => v === i) ? null : segments;
}

/** Strides, dilations and padding of a convolution (per axis: height, width). */
export interface ConvGeometry {
  strides: [number, number];
  dilations: [number, number];
  padding: Padding;
}

let dataInputs = false;

/**
 * Run f (a training step: gradients in the parameters only) with the model passes it makes told that their input
 * batch is data: the layer that consumes the first parameter then forms no gradient in its input (for the seeds/003
 * CNN, the transposed convolution of its first layer back to the images; for the MNIST MLP, the [500, 784]
 * product dy·Wᵀ of every full-batch step). Outside it, every pass differentiates in its input, as a user's
 * tf.grads in the input expects.
 */
export function withDataInputs<T>(f: () => T): T {
  const was = dataInputs;
  dataInputs = true;
  try {
    return f();
  } finally {
    dataInputs = was;
  }
}

/**
 * A forward pass that consumes the parameter list in order. With `tapped` set, every linear layer is computed
 * as rows × matrix (convolutions through im2col), recorded with the indices of the parameters it uses, and gets
 * a tap added to its output, and the parameters are constants (no ∂/∂W is formed); without it, parameters get
 * gradients and convolutions use tf.conv2d where the backend can differentiate it (not on wasm, nor with
 * dilations: there im2col).
 */
export class Forward {
  private p = 0;
  private records = 0;
  readonly linear: LinearRecord[] = [];
  readonly channelwiseRecords: ChannelwiseRecord[] = [];

  /** Whether the layer that consumes the first parameter reads the data (see withDataInputs). */
  private readonly inputIsData: boolean;

  /**
   * `readsData`: this pass runs the model on its input batch (the model's own apply, not a frozen layer's
   * constants), so that inside withDataInputs a layer before the first parameter reads a batch that depends on
   * no parameter.
   */
  constructor(private readonly params: tf.Tensor[], private readonly taps: Taps, readonly tapped: boolean, readsData = false) {
    this.inputIsData = readsData && dataInputs && !tapped;
  }

  /** Whether a layer's input needs a gradient: not when it reads the data (no parameter consumed before it). */
  private inputGrad(): boolean {
    return !(this.inputIsData && this.p === 0);
  }

  /** The next parameter and its index in the list. */
  private next(): tf.Tensor {
    if (this.p >= this.params.length) throw new Error('Forward: the model consumed more parameters than it declared');
    return this.params[this.p++];
  }

  /** The tap of the next record: a zero tensor of the output's shape, the given one, or none. */
  private tapFor(shape: number[]): tf.Tensor | undefined {
    const t = this.records++;
    return this.taps === 'zeros' ? tf.zeros(shape) : this.taps?.[t];
  }

  /**
   * z = wScale·(a W) + bScale·b (+ tap) for rows a [R, fanIn]; W [fanIn, fanOut] (or any shape reshaped so).
   * `product` computes a W itself when the rows a are a view of another tensor (a convolution's patches).
   */
  dense(a: tf.Tensor2D, s: { wScale: number; bScale: number }, bias: boolean, segments: Int32Array | null, product?: (W: tf.Tensor) => tf.Tensor2D): tf.Tensor2D {
    const kIndex = this.p;
    const inputGrad = this.inputGrad();
    const Wt = this.next();
    const fanOut = Wt.shape[Wt.shape.length - 1];
    const W = Wt.rank === 2 ? (Wt as tf.Tensor2D) : (tf.reshape(Wt, [a.shape[1], fanOut]) as tf.Tensor2D);
    let z: tf.Tensor2D = tf.mul(product ? product(Wt) : linearOp(a, W, !this.tapped, inputGrad), s.wScale);
    const params = [kIndex];
    if (bias) {
      params.push(this.p);
      z = tf.add(z, tf.mul(this.next(), s.bScale));
    }
    if (this.tapped) {
      const tap = this.tapFor([a.shape[0], fanOut]);
      this.linear.push({ input: a, segments: rowsOrNull(segments), wScale: s.wScale, bScale: bias ? s.bScale : 0, outShape: [a.shape[0], fanOut], tap, params });
      if (tap) z = tf.add(z, tap);
    }
    return z;
  }

  /**
   * Parameters used channel by channel (see ChannelwiseRecord): z_r[c] = wScale·Σ_t u_r[t, c]·γ[t, c] +
   * bScale·β[c] for rows u [R, T·C] (t-major), γ the next parameter (any shape of T·C values) when `gain`,
   * then β [C] when `offset`. Returns z [R, C].
   */
  channelwise(u: tf.Tensor2D | null, C: number, T: number, s: { wScale: number; bScale: number }, gain: boolean, offset: boolean, segments: Int32Array | null, rows: number): tf.Tensor2D {
    const params: number[] = [];
    let z: tf.Tensor2D | null = null;
    if (gain) {
      if (!u) throw new Error('Forward.channelwise: a gain needs its input rows');
      params.push(this.p);
      const g = this.next();
      z = (T === 1 ? tf.mul(u, tf.reshape(g, [C])) : tf.sum(tf.mul(tf.reshape(u, [rows, T, C]), tf.reshape(g, [1, T, C])), 1)) as tf.Tensor2D;
      if (s.wScale !== 1) z = tf.mul(z, s.wScale) as tf.Tensor2D;
    }
    if (offset) {
      params.push(this.p);
      const b = tf.mul(tf.reshape(this.next(), [C]), s.bScale);
      z = (z ? tf.add(z, b) : tf.add(tf.zeros([rows, C]), b)) as tf.Tensor2D;
    }
    if (!z) throw new Error('Forward.channelwise: neither gain nor offset');
    if (this.tapped) {
      const tap = this.tapFor([rows, C]);
      this.channelwiseRecords.push({ input: gain ? u : null, taps: T, segments: rowsOrNull(segments), wScale: s.wScale, bScale: offset ? s.bScale : 0, outShape: [rows, C], tap, params });
      if (tap) z = tf.add(z, tap) as tf.Tensor2D;
    }
    return z;
  }

  /**
   * Convolution of x [n, H, W, C] with the next kernel [kh, kw, C, Cout]; output [n, Ho, Wo, Cout]. `g` is a
   * stride (both axes, no dilation) or the full geometry.
   */
  conv(x: tf.Tensor4D, kh: number, kw: number, g: number | ConvGeometry, padding: Padding, s: { wScale: number; bScale: number }, bias: boolean): tf.Tensor4D {
    const n = x.shape[0];
    const geo: ConvGeometry = typeof g === 'number' ? { strides: [g, g], dilations: [1, 1], padding } : g;
    const [sh, sw] = geo.strides;
    const dilated = geo.dilations[0] !== 1 || geo.dilations[1] !== 1;
    // tfjs-wasm has no fast differentiable convolution, and tfjs has no gradient of a dilated one: there the
    // convolution is im2col + linear too.
    if (this.tapped || tf.getBackend() === 'wasm' || dilated) {
      const { patches, ho, wo } = im2col(x, kh, kw, geo.strides, geo.padding, geo.dilations);
      // Cotangent passes (parameters constant, stride 1): the patches feed the layer record, while the
      // product is taken from x itself, so that the backward pass is one transposed convolution instead of
      // a patch-sized [R, fanIn] matMul plus a scatter-add; only where that padded convolution does at most
      // twice the patch product's work (not, e.g., for a kernel that covers the whole map).
      const [, H, Wd] = x.shape;
      const C = x.shape[3];
      // (The kernel may come as [k, C, Cout] from a 1-D convolution: read it as [kh, kw, C, Cout].)
      // Training passes (gradients in x and the kernel) likewise (convTrainRows), where the same holds.
      const adjointPays = sh === 1 && sw === 1 && !dilated && H * Wd <= 2 * ho * wo;
      const inputGrad = this.inputGrad();
      const product = !adjointPays ? undefined : this.tapped
        ? (W: tf.Tensor) => convRows(x, patches, tf.reshape(W, [kh, kw, C, W.shape[W.rank - 1]]) as tf.Tensor4D, geo.padding)
        : (W: tf.Tensor) => convTrainRows(x, patches, W, kh, kw, geo.padding, inputGrad);
      const z = this.dense(patches, s, bias, uniformSegments(n, ho * wo), product);
      return tf.reshape(z, [n, ho, wo, z.shape[1]]) as tf.Tensor4D;
    }
    const Wt = this.next();
    const W = tf.reshape(Wt, [kh, kw, x.shape[3], Wt.shape[Wt.rank - 1]]) as tf.Tensor4D;
    let z: tf.Tensor4D = tf.mul(tf.conv2d(x, W, [sh, sw], geo.padding), s.wScale);
    if (bias) z = tf.add(z, tf.mul(this.next(), s.bScale));
    return z;
  }

  /** Check that every parameter was used exactly once (a model bug otherwise). */
  done(): void {
    if (this.p !== this.params.length) throw new Error(`Forward: the model used ${this.p} of ${this.params.length} parameters`);
  }
}
