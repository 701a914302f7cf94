import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient kernels that tfjs-backend-wasm 4.22 lacks (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
 * DepthwiseConv2dNativeBackpropInput, UnsortedSegmentSum — the last is tf.gather's gradient) or runs at
 * 0.5-3 GFLOP/s (Conv2DBackpropInput), registered for the wasm backend so that a user's own tf.grads through
 * tf.conv2d / tf.depthwiseConv2d / tf.gather, and tfjs-layers' model.fit of a conv net or an embedding, work
 * once ntk-ts has chosen wasm; and MaxPoolGrad, whose wasm version loses the gradient of all-negative windows. The convolution adjoints are one wasm matMul each (through the backend's own
 * BatchMatMul kernel) around a JS im2col / col2im; the depthwise and segment kernels are JS loops (their work is
 * linear in the data). NHWC only, as tfjs's wasm convolutions.
 */

interface WasmBackend {
  incRef(dataId: unknown): void;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: ArrayBufferView): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
  disposeData(dataId: unknown): boolean;
}

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
interface KernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** a [m, k] · b [k, n] by the wasm backend's BatchMatMul kernel, on tensor infos (rank 3, batch 1). */
function wasmMatMul(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const k = tf.getKernel('BatchMatMul', 'wasm');
  if (!k) throw new Error('wasm backend: BatchMatMul kernel not registered');
  return k.kernelFunc({ inputs: { a, b }, backend: backend as unknown as tf.KernelBackend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
}

const as3d = (t: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo => ({ dataId: t.dataId, shape: [1, rows, cols], dtype: t.dtype });

function checkNhwc(info: Conv2DInfo, kernel: string): void {
  if (info.dataFormat !== 'channelsLast') throw new Error(`${kernel} on wasm: only NHWC data is supported`);
}

/**
 * For every output position r = (b, oy, ox) and filter tap t = (fy, fx): the offset of input pixel
 * (b, oy·s_h + fy·d_h − top, ox·s_w + fx·d_w − left) in NHWC x, or −1 in the padding. [R·T].
 */
function tapOffsets(c: Conv2DInfo): Int32Array {
  const { batchSize: n, inHeight: H, inWidth: W, inChannels: C, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = c;
  const T = kh * kw;
  const src = new Int32Array(n * ho * wo * T);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const r = (b * ho + oy) * wo + ox;
        for (let fy = 0; fy < kh; fy++) {
          const y = oy * c.strideHeight + fy * c.dilationHeight - c.padInfo.top;
          for (let fx = 0; fx < kw; fx++) {
            const x = ox * c.strideWidth + fx * c.dilationWidth - c.padInfo.left;
            src[r * T + fy * kw + fx] = y < 0 || y >= H || x < 0 || x >= W ? -1 : ((b * H + y) * W + x) * C;
          }
        }
      }
    }
  }
  return src;
}

/** dW [kh, kw, C, Co] = im2col(x)ᵀ [kh·kw·C, R] · dy [R, Co]. */
function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { x, dy } = inputs;
  const a = attrs as { strides: [number, number] | number; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
  const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(a.dataFormat));
  checkNhwc(c, 'Conv2DBackpropFilter');
  const C = c.inChannels, T = c.filterHeight * c.filterWidth, F = T * C, R = c.batchSize * c.outHeight * c.outWidth;
  const src = tapOffsets(c);
  const colsT = be.makeOutput([1, F, R], 'float32');
  const xv = be.typedArrayFromHeap(x), cv = be.typedArrayFromHeap(colsT);
  cv.fill(0);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < T; t++) {
      const s0 = src[r * T + t];
      if (s0 < 0) continue;
      for (let ch = 0; ch < C; ch++) cv[(t * C + ch) * R + r] = xv[s0 + ch];
    }
  }
  const out = wasmMatMul(be, colsT, as3d(dy, R, c.outChannels));
  be.disposeData(colsT.dataId);
  return { dataId: out.dataId, shape: a.filterShape, dtype: 'float32' };
}

/** dx = col2im(dy [R, Co] · Wᵀ [Co, kh·kw·C]): the scatter-add of every patch's cotangent into the input. */
function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { dy, filter } = inputs;
  const a = attrs as { inputShape: [number, number, number, number]; strides: [number, number] | number; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  const c = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(a.dataFormat));
  checkNhwc(c, 'Conv2DBackpropInput');
  const C = c.inChannels, Co = c.outChannels, T = c.filterHeight * c.filterWidth, F = T * C, R = c.batchSize * c.outHeight * c.outWidth;
  const WT = be.makeOutput([1, Co, F], 'float32');
  {
    const wv = be.typedArrayFromHeap(filter), tv = be.typedArrayFromHeap(WT);
    for (let f = 0; f < F; f++) for (let o = 0; o < Co; o++) tv[o * F + f] = wv[f * Co + o];
  }
  const cols = wasmMatMul(be, as3d(dy, R, Co), WT);
  be.disposeData(WT.dataId);
  const dx = be.makeOutput(a.inputShape, 'float32');
  const src = tapOffsets(c);
  // Views only after the last allocation: a growing wasm heap detaches earlier ones.
  const cv = be.typedArrayFromHeap(cols), xv = be.typedArrayFromHeap(dx);
  xv.fill(0);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < T; t++) {
      const s0 = src[r * T + t];
      if (s0 < 0) continue;
      const d = r * F + t * C;
      for (let ch = 0; ch < C; ch++) xv[s0 + ch] += cv[d + ch];
    }
  }
  be.disposeData(cols.dataId);
  return dx;
}

interface DepthwiseAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Depthwise geometry: filter [kh, kw, C, m], output channel o = c·m + j. */
function depthwiseInfo(xShape: number[], filterShape: number[], a: DepthwiseAttrs): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
}

/**
 * Depthwise adjoints in one pass over (position, tap, channel, multiplier):
 *   dW[t, c, j] += x[src(r, t) + c]·dy[r, c·m + j]   and   dx[src(r, t) + c] += W[t, c, j]·dy[r, c·m + j].
 */
function depthwiseAdjoint(c: Conv2DInfo, xv: Float32Array | null, wv: Float32Array | null, dyv: Float32Array, dW: Float32Array | null, dx: Float32Array | null): void {
  const C = c.inChannels, m = c.outChannels / c.inChannels, T = c.filterHeight * c.filterWidth, Co = c.outChannels;
  const R = c.batchSize * c.outHeight * c.outWidth;
  const src = tapOffsets(c);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < T; t++) {
      const s0 = src[r * T + t];
      if (s0 < 0) continue;
      for (let ch = 0; ch < C; ch++) {
        for (let j = 0; j < m; j++) {
          const g = dyv[r * Co + ch * m + j];
          if (dW) dW[(t * C + ch) * m + j] += xv![s0 + ch] * g;
          if (dx) dx[s0 + ch] += wv![(t * C + ch) * m + j] * g;
        }
      }
    }
  }
}

/** The depthwise adjoint kernels: ∂/∂filter (inputs x, dy) or ∂/∂x (inputs dy, filter), by depthwiseAdjoint. */
const depthwiseBackprop = (wrt: 'filter' | 'input') => ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo => {
  const be = backend as WasmBackend;
  const a = attrs as unknown as DepthwiseAttrs & { filterShape: number[]; inputShape: number[] };
  const xShape = wrt === 'filter' ? inputs.x.shape : a.inputShape;
  const c = depthwiseInfo(xShape, wrt === 'filter' ? a.filterShape : inputs.filter.shape, a);
  const out = be.makeOutput(wrt === 'filter' ? a.filterShape : a.inputShape, 'float32');
  const ov = be.typedArrayFromHeap(out) as Float32Array;
  ov.fill(0);
  const view = (t: tf.TensorInfo | undefined) => (t ? (be.typedArrayFromHeap(t) as Float32Array) : null);
  depthwiseAdjoint(c, view(inputs.x), view(inputs.filter), be.typedArrayFromHeap(inputs.dy) as Float32Array, wrt === 'filter' ? ov : null, wrt === 'input' ? ov : null);
  return out;
};

/**
 * Max pooling's adjoint: dx[argmax of each window] += dy, the first maximum of the window winning (tfjs-cpu's
 * rule). tfjs-backend-wasm 4.22's own MaxPoolGrad drops the gradient of windows whose values are all negative
 * (measured: a 2×2 window of −0.99, −0.42, −0.32, −1.00 gets no gradient), so it is replaced.
 */
function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { dy, input } = inputs;
  const a = attrs as { filterSize: [number, number] | number; strides: [number, number] | number; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  const c = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const { batchSize: n, inHeight: H, inWidth: W, inChannels: C, outHeight: ho, outWidth: wo } = c;
  const out = be.makeOutput(input.shape, 'float32');
  const xv = be.typedArrayFromHeap(input), gv = be.typedArrayFromHeap(dy), ov = be.typedArrayFromHeap(out);
  ov.fill(0);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        for (let ch = 0; ch < C; ch++) {
          let best = -Infinity, at = -1;
          for (let fy = 0; fy < c.filterHeight; fy++) {
            const y = oy * c.strideHeight + fy * c.dilationHeight - c.padInfo.top;
            if (y < 0 || y >= H) continue;
            for (let fx = 0; fx < c.filterWidth; fx++) {
              const x = ox * c.strideWidth + fx * c.dilationWidth - c.padInfo.left;
              if (x < 0 || x >= W) continue;
              const q = ((b * H + y) * W + x) * C + ch;
              if (xv[q] > best || at < 0) {
                best = xv[q];
                at = q;
              }
            }
          }
          if (at >= 0) ov[at] += gv[((b * ho + oy) * wo + ox) * C + ch];
        }
      }
    }
  }
  return out;
}

/** out[s, …] = Σ_{i: ids[i] = s} x[i, …] for s in [0, numSegments); ids outside that range are dropped (TF's rule). */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { x, segmentIds } = inputs;
  const S = (attrs as { numSegments: number }).numSegments;
  const N = segmentIds.shape.reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(segmentIds.shape.length).reduce((p, d) => p * d, 1);
  const out = be.makeOutput([S, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const xv = be.typedArrayFromHeap(x), iv = be.typedArrayFromHeap(segmentIds), ov = be.typedArrayFromHeap(out);
  ov.fill(0);
  for (let i = 0; i < N; i++) {
    const s = iv[i];
    if (s < 0 || s >= S) continue;
    for (let f = 0; f < inner; f++) ov[s * inner + f] += xv[i * inner + f];
  }
  return out;
}

/**
 * Identity (tf.clone, and the engine's copy of every tensor a gradient saves for the backward pass) as a new
 * reference to the same memory, as tfjs-backend-cpu does: tfjs tensors are immutable (a variable's assign
 * switches it to new memory), so a copy buys nothing, and wasm's own Identity copies. A recorded forward pass
 * saves its activations this way: for the structured CNN kernel that was ~67 MB of copies per block of samples,
 * all of it fresh wasm heap (4 KB page faults). Strings keep wasm's own kernel.
 */
function sharedIdentity(original: tf.KernelFunc | undefined): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const x = args.inputs.x;
    if (x.dtype === 'string' && original) return original(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

let registered = false;

/** Register the kernels above for the wasm backend (once; replaces wasm's slow Conv2DBackpropInput and its copying Identity). */
export function registerWasmGradients(): void {
  if (registered) return;
  registered = true;
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo][] = [
    ['Conv2DBackpropFilter', conv2DBackpropFilter],
    ['Conv2DBackpropInput', conv2DBackpropInput],
    ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackprop('filter')],
    ['DepthwiseConv2dNativeBackpropInput', depthwiseBackprop('input')],
    ['UnsortedSegmentSum', unsortedSegmentSum],
    ['MaxPoolGrad', maxPoolGrad],
    ['Identity', sharedIdentity(tf.getKernel('Identity', 'wasm')?.kernelFunc)],
  ];
  for (const [kernelName, f] of kernels) {
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: f as unknown as tf.KernelFunc });
  }
}
