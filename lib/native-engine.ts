import { UserError } from './errors.js';
import { type DenseNtkLayer, ENGINES, type EngineName, type Floats, type MatrixEngine, conv2dShape, like, tfjsEngine, useEngine } from './matrix-engine.js';
import { requireCjs } from './node-require.js';

/*
 * The native matrix engine (onnxruntime-node, a Node-only native addon) and the choice of engine. A Node edge:
 * the engine modules see only lib/matrix-engine.ts, where initEngine registers what it chose, so that a
 * browser bundle of the engine never reaches this file.
 */

// ---- ONNX models built in memory: one node (MatMul or Gemm) with symbolic dimensions, encoded as protobuf ----

const utf8 = new TextEncoder();
function varint(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}
const field = (f: number, wire: number) => varint(f * 8 + wire);
const int = (f: number, v: number) => [...field(f, 0), ...varint(v)];
const bytes = (f: number, b: number[]) => [...field(f, 2), ...varint(b.length), ...b];
const text = (f: number, s: string) => bytes(f, [...utf8.encode(s)]);
/** ValueInfoProto: name, TypeProto.tensor_type { elem_type, shape { dim { dim_param } } }. */
const valueInfo = (name: string, elem: number, dims: string[]) =>
  [...text(1, name), ...bytes(2, bytes(1, [...int(1, elem), ...bytes(2, dims.flatMap((d) => bytes(1, text(2, d))))]))];
/** AttributeProto of type INT (2), FLOAT (1) or INTS (7). */
const attrInt = (name: string, v: number) => [...text(1, name), ...int(3, v), ...int(20, 2)];
const attrFloat = (name: string, v: number) => [...text(1, name), ...field(2, 5), ...new Uint8Array(Float32Array.of(v).buffer), ...int(20, 1)];
const attrInts = (name: string, v: number[]) => [...text(1, name), ...v.flatMap((x) => int(8, x)), ...int(20, 7)];

/** A NodeProto: op on named inputs into one named output. */
const node = (op: string, inputs: string[], output: string, attrs: number[][] = []) =>
  [...inputs.flatMap((n) => text(1, n)), ...text(2, output), ...text(4, op), ...attrs.flatMap((a) => bytes(5, a))];

/**
 * ModelProto (IR version 8, default opset 13) of the given nodes, with the given graph inputs (name, symbolic
 * dims, and an element type where it is not `elem`) and one output Y; elem 1 = float32, 7 = int64, 11 = float64.
 */
function onnxModel(nodes: number[][], inputs: ([string, string[]] | [string, string[], number])[], outDims: string[], elem: number): Uint8Array {
  const graph = [...nodes.flatMap((n) => bytes(1, n)), ...text(2, 'product'), ...inputs.flatMap(([n, d, e]) => bytes(11, valueInfo(n, e ?? elem, d))), ...bytes(12, valueInfo('Y', elem, outDims))];
  return Uint8Array.from([...int(1, 8), ...bytes(7, graph), ...bytes(8, [...text(1, ''), ...int(2, 13)])]);
}

/** The parts of onnxruntime-node used here: its synchronous native session and its Tensor class. */
interface OrtTensor { data: Floats }
interface SyncSession { run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, OrtTensor> }
interface OrtModules {
  Tensor: new (type: string, data: Floats | BigInt64Array, dims: number[]) => unknown;
  InferenceSession: new () => SyncSession & { loadModel(buf: ArrayBufferLike, off: number, len: number, options: object): void };
  initOrt: () => void;
}

type Kind = 'matmul' | 'matmulT' | 'matmulTA' | 'update' | 'batch' | 'batchT' | `stacked${number}`;
/** The fused tile's graph: its number of layers and whether it adds a precomputed term E. */
interface DenseNtkKind {
  layers: number;
  withE: boolean;
}

/**
 * The graph of denseNtkTile for L layers (with a precomputed term E when `withE`). Per layer, the input Gram
 * Gemm(a1, a2ᵀ) [r, c] is flattened to [r·c, 1] and multiplied by the row wk = w²·1_K, plus b²: one rank-1
 * Gemm gives the scale w² a_i·a_j + b² already repeated over the column output k' ([r, 1, c, K] after shE);
 * the cotangent Gram Gemm(g1, g2ᵀ) [r·K, c·K] is viewed as [r, K, c, K] (shG) and multiplied by it, the scale
 * broadcast over the row output k only. (Broadcasting the [r, 1, c, 1] scale over both output axes made the Mul
 * take longer than the Gemm: ONNX Runtime walks spans of K = 10 entries one call at a time.) The terms are
 * accumulated layer by layer (then E), the last Add writing straight into Y, [r, K, c, K] in memory, so no final
 * copy. A chain of in-place Mul/Add rather than one Sum of all terms: ONNX Runtime then holds two [r·K, c·K]
 * buffers at a time, not one per layer.
 */
function denseNtkModel(L: number, withE: boolean): Uint8Array {
  const nodes: number[][] = [];
  const inputs: ([string, string[]] | [string, string[], number])[] = [['shP', ['2'], 7], ['shE', ['4'], 7], ['shG', ['4'], 7]];
  const terms: string[] = [];
  for (let l = 0; l < L; l++) {
    inputs.push([`a1_${l}`, ['r', `fi${l}`]], [`a2_${l}`, ['c', `fi${l}`]], [`g1_${l}`, ['rk', `fo${l}`]], [`g2_${l}`, ['ck', `fo${l}`]], [`wk_${l}`, ['1', 'K']], [`b_${l}`, []]);
    nodes.push(
      node('Gemm', [`a1_${l}`, `a2_${l}`], `pa${l}`, [attrInt('transB', 1)]),
      node('Reshape', [`pa${l}`, 'shP'], `qa${l}`),
      node('Gemm', [`qa${l}`, `wk_${l}`, `b_${l}`], `sa${l}`),
      node('Reshape', [`sa${l}`, 'shE'], `ea${l}`),
      node('Gemm', [`g1_${l}`, `g2_${l}`], `pg${l}`, [attrInt('transB', 1)]),
      node('Reshape', [`pg${l}`, 'shG'], `rg${l}`),
      node('Mul', [`rg${l}`, `ea${l}`], `t${l}`),
    );
    terms.push(`t${l}`);
  }
  if (withE) {
    inputs.push(['E', ['rk', 'ck']]);
    nodes.push(node('Reshape', ['E', 'shG'], 'rE'));
    terms.push('rE');
  }
  // A single term still passes through one node into Y (an Identity), so Y is always written by the graph.
  if (terms.length === 1) nodes.push(node('Identity', [terms[0]], 'Y'));
  let acc = terms[0];
  for (let q = 1; q < terms.length; q++) {
    const into = q === terms.length - 1 ? 'Y' : `acc${q}`;
    nodes.push(node('Add', [acc, terms[q]], into));
    acc = into;
  }
  return onnxModel(nodes, inputs, ['r', 'K', 'c', 'K'], 1);
}

/**
 * The graph of stackedGradients for K cotangents: G_k [b, r, 1, m] (each cotangent's memory as it is, seen with a
 * unit axis) concatenated on that axis into [b, r, K, m], reshaped to [b, r, K·m] (shS = [0, 0, −1]), transposed to
 * [b, K·m, r] and multiplied by X [b, r, n], then by the scale S. One product of K·m rows per sample instead of K
 * products of m rows: MLAS runs the seeds/003 CNN's second convolution's gradients (m = 20 channels, r = 400
 * positions, n = 500 patch entries, K = 10, 125 samples) at about twice the rate, and the stacking is one native copy.
 */
function stackedModel(K: number): Uint8Array {
  const gs = Array.from({ length: K }, (_, k) => `G${k}`);
  return onnxModel([
    node('Concat', gs, 'Gc', [attrInt('axis', 2)]),
    node('Reshape', ['Gc', 'shS'], 'Gr'),
    node('Transpose', ['Gr'], 'Gt', [attrInts('perm', [0, 2, 1])]),
    node('MatMul', ['Gt', 'X'], 'P'),
    node('Mul', ['P', 'S'], 'Y'),
  ], [...gs.map((g): [string, string[]] => [g, ['b', 'r', '1', 'm']]), ['X', ['b', 'r', 'n']], ['S', []], ['shS', ['3'], 7]], ['b', 'km', 'n'], 1);
}

/**
 * onnxruntime-node's own InferenceSession.run is asynchronous only in that it defers the synchronous native call
 * to setImmediate; the binding it wraps (dist/binding.js) is called here directly, so the kernel code stays
 * synchronous and a product costs the native call alone (no event-loop round trip per tile).
 */
class NativeEngine implements MatrixEngine {
  readonly name = 'native' as const;
  private sessions = new Map<string, SyncSession>();
  constructor(private ort: OrtModules, private threads: number) {}

  private session(kind: Kind | DenseNtkKind, dtype: 'float32' | 'float64'): SyncSession {
    const key = typeof kind === 'string' ? kind : `ntk:${kind.layers}:${kind.withE}`;
    return this.keyedSession(`${key}:${dtype}`, typeof kind !== 'string', this.threads, () => {
      const elem = dtype === 'float32' ? 1 : 11;
      const mm = [node('MatMul', ['A', 'B'], 'Y')];
      return typeof kind !== 'string' ? denseNtkModel(kind.layers, kind.withE)
        : kind === 'matmul' ? onnxModel(mm, [['A', ['m', 'k']], ['B', ['k', 'n']]], ['m', 'n'], elem)
        : kind === 'batch' ? onnxModel(mm, [['A', ['b', 'm', 'k']], ['B', ['b', 'k', 'n']]], ['b', 'm', 'n'], elem)
        : kind === 'batchT' ? onnxModel([node('Transpose', ['A'], 'At', [attrInts('perm', [0, 2, 1])]), node('MatMul', ['At', 'B'], 'P'), node('Mul', ['P', 'S'], 'Y')], [['A', ['b', 'k', 'm']], ['B', ['b', 'k', 'n']], ['S', []]], ['b', 'm', 'n'], elem)
        : kind === 'matmulT' ? onnxModel([node('Gemm', ['A', 'B'], 'Y', [attrInt('transB', 1)])], [['A', ['m', 'k']], ['B', ['n', 'k']]], ['m', 'n'], elem)
        : kind.startsWith('stacked') ? stackedModel(Number(kind.slice(7)))
        : kind === 'matmulTA' ? onnxModel([node('Gemm', ['A', 'B'], 'Y', [attrInt('transA', 1)])], [['A', ['k', 'm']], ['B', ['k', 'n']]], ['m', 'n'], elem)
        : onnxModel([node('Gemm', ['A', 'B', 'C'], 'Y', [attrInt('transB', 1), attrFloat('alpha', -1), attrFloat('beta', 1)])], [['A', ['m', 'k']], ['B', ['n', 'k']], ['C', ['m', 'n']]], ['m', 'n'], elem);
    });
  }

  private run<T extends Floats>(kind: Kind | DenseNtkKind, feeds: [string, T | BigInt64Array, number[]][], out?: [T, number[]]): T {
    const dtype = feeds.find(([, d]) => !(d instanceof BigInt64Array))![1] instanceof Float64Array ? 'float64' : 'float32';
    const f: Record<string, unknown> = {};
    for (const [name, data, dims] of feeds) {
      if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`native engine: operand ${name} has ${data.length} entries for dims [${dims}]`);
      f[name] = new this.ort.Tensor(data instanceof BigInt64Array ? 'int64' : dtype, data, dims);
    }
    // A given output array is handed to ONNX Runtime as the pre-allocated output, which it writes in place.
    const fetches = { Y: out ? new this.ort.Tensor(dtype, out[0], out[1]) : null } as Record<string, null>;
    const y = this.session(kind, dtype).run(f, fetches, {}).Y;
    if (!out) return y.data as T;
    releaseCopy(y.data, out[0]);
    return out[0];
  }

  matMul<T extends Floats>(A: T, B: T, m: number, k: number, n: number, transB = false, out?: T): T {
    // Empty shapes are answered here: MLAS is not asked for products without entries or without terms.
    if (m * n === 0 || k === 0) return out ? (out.fill(0, 0, m * n).subarray(0, m * n) as T) : like(A, m * n);
    const o: [T, number[]] | undefined = out ? [out.length === m * n ? out : (out.subarray(0, m * n) as T), [m, n]] : undefined;
    return transB ? this.run('matmulT', [['A', A, [m, k]], ['B', B, [n, k]]], o) : this.run('matmul', [['A', A, [m, k]], ['B', B, [k, n]]], o);
  }

  gemmUpdate<T extends Floats>(C: T, A: T, B: T, m: number, k: number, n: number, out?: T): T {
    if (m * n === 0 || k === 0) {
      if (!out) return C.slice() as T;
      out.set(C.subarray(0, m * n));
      return out;
    }
    return this.run('update', [['A', A, [m, k]], ['B', B, [n, k]], ['C', C, [m, n]]], out ? [out, [m, n]] : undefined);
  }

  batchMatMul<T extends Floats>(A: T, B: T, batch: number, m: number, k: number, n: number, transA = false, scale = 1, out?: T): T {
    if (batch * m * n === 0 || k === 0) return out ? (out.fill(0, 0, batch * m * n).subarray(0, batch * m * n) as T) : like(A, batch * m * n);
    const o: [T, number[]] | undefined = out ? [out.length === batch * m * n ? out : (out.subarray(0, batch * m * n) as T), [batch, m, n]] : undefined;
    // One unscaled transposed product is a Gemm with transA (MLAS packs Aᵀ itself; the batched form's Transpose node
    // would copy A first: for a training step's ∂/∂W = patchesᵀ·dz, 40 MB). The batched transposed form carries the
    // scale as a graph input (a Mul node); the plain form is scaled here if asked.
    if (transA && batch === 1 && scale === 1) return this.run('matmulTA', [['A', A, [k, m]], ['B', B, [k, n]]], o ? [o[0], [m, n]] : undefined);
    if (transA) return this.run('batchT', [['A', A, [batch, k, m]], ['B', B, [batch, k, n]], ['S', like(A, 1).fill(scale) as T, []]], o);
    const C = this.run('batch', [['A', A, [batch, m, k]], ['B', B, [batch, k, n]]], o);
    if (scale !== 1) for (let i = 0; i < C.length; i++) C[i] *= scale;
    return C;
  }

  stackedGradients(gs: readonly Float32Array[], X: Float32Array, batch: number, rows: number, m: number, n: number, s: number, out?: Float32Array): Float32Array {
    const K = gs.length, size = batch * K * m * n;
    const y = out ? (out.length === size ? out : out.subarray(0, size)) : new Float32Array(size);
    if (size === 0 || rows === 0) return tfjsEngine.stackedGradients(gs, X, batch, rows, m, n, s, y);
    const feeds: [string, Float32Array | BigInt64Array, number[]][] = gs.map((g, k) => [`G${k}`, g, [batch, rows, 1, m]]);
    feeds.push(['X', X, [batch, rows, n]], ['S', Float32Array.of(s), []], ['shS', BigInt64Array.from([0n, 0n, -1n]), [3]]);
    return this.run(`stacked${K}`, feeds, [y, [batch, K * m, n]]);
  }

  denseNtkTile(layers: readonly DenseNtkLayer[], E: Float32Array | null, nr: number, nc: number, K: number, out?: Float32Array): Float32Array {
    const size = nr * K * nc * K;
    const y = out ? (out.length === size ? out : out.subarray(0, size)) : new Float32Array(size);
    // Shapes MLAS is not asked about (no entries, no layers, an empty inner dimension) are answered by the reference.
    if (size === 0 || layers.length === 0 || layers.some((l) => l.fanIn === 0 || l.fanOut === 0)) return tfjsEngine.denseNtkTile(layers, E, nr, nc, K, y);
    const i64 = (...v: number[]) => BigInt64Array.from(v, BigInt);
    const feeds: [string, Float32Array | BigInt64Array, number[]][] = [['shP', i64(nr * nc, 1), [2]], ['shE', i64(nr, 1, nc, K), [4]], ['shG', i64(nr, K, nc, K), [4]]];
    layers.forEach((l, q) => {
      feeds.push([`a1_${q}`, l.a1, [nr, l.fanIn]], [`a2_${q}`, l.a2, [nc, l.fanIn]], [`g1_${q}`, l.g1, [nr * K, l.fanOut]], [`g2_${q}`, l.g2, [nc * K, l.fanOut]]);
      feeds.push([`wk_${q}`, new Float32Array(K).fill(l.w2), [1, K]], [`b_${q}`, Float32Array.of(l.b2), []]);
    });
    if (E) feeds.push(['E', E, [nr * K, nc * K]]);
    return this.run({ layers: layers.length, withE: E !== null }, feeds, [y, [nr, K, nc, K]]);
  }

  /**
   * ONNX convolutions work in NCHW: the graph transposes x and y around them (ORT's optimiser turns a Conv into its
   * blocked NCHWc kernels), one cached session per graph and padding. Padded by less than the kernel (the transposed
   * convolutions of backward passes), the same sums are a ConvTranspose of x with the kernel flipped and its channel
   * axes swapped, wt[c, o, a, b] = w[kh−1−a, kw−1−b, c, o], cropped by kh−1−pad, which ONNX Runtime runs as one
   * product and a col2im per image: about 2× faster than its Conv on the backward pass of the seeds/003 CNN
   * (dy [125, 20, 20, 20] into 24×24, 5×5; best of 35 calls on one thread, 10.4 against 19.3 ms). Otherwise a Conv
   * of x with w transposed to OIHW in the graph. The ConvTranspose sessions run on one thread: ONNX Runtime splits
   * its product over the pool but runs the col2im of each image on the calling thread, and the pool's wake-ups
   * cost more than the split gains. On the 2-core Intel Xeon, median of 15 calls, one thread against two: the
   * seeds/003 shape above 15.7 against 27.6 ms (5×5, 20 → 20 channels on 50 images 5.7 against 10.1 ms; 3×3,
   * 64 → 64 on [32, 16, 16] 6.3 against 8.5 ms; 3×3, 128 → 128 on [128, 8, 8] 28.0 against 28.2 ms); in the seeds/003
   * CNN's full [5000, 5000] kernel the features stage took 2.35–2.63 s against 2.74–2.98 s (4 runs each,
   * alternating).
   */
  conv2d(x: Float32Array, w: Float32Array, xShape: number[], wShape: number[], pads: number[], out?: Float32Array): Float32Array {
    const yShape = conv2dShape(xShape, wShape, pads);
    const size = yShape.reduce((a, b) => a * b, 1);
    if (out && out.length !== size) throw new Error(`native engine: conv2d output has ${out.length} entries for dims [${yShape}]`);
    if (wShape[0] * wShape[1] * wShape[2] === 0 || size === 0) return out ? out.fill(0) : new Float32Array(size);
    for (const [name, a, dims] of [['x', x, xShape], ['w', w, wShape]] as const) {
      if (a.length !== dims.reduce((p, q) => p * q, 1)) throw new Error(`native engine: conv2d operand ${name} has ${a.length} entries for dims [${dims}]`);
    }
    const [kh, kw, C, Co] = wShape;
    const nhwc = (core: number[][]) => [node('Transpose', ['X'], 'Xc', [attrInts('perm', [0, 3, 1, 2])]), ...core, node('Transpose', ['Yc'], 'Y', [attrInts('perm', [0, 2, 3, 1])])];
    let sess: SyncSession, W: Float32Array, wDims: number[];
    if (pads[0] < kh && pads[2] < kh && pads[1] < kw && pads[3] < kw) {
      W = new Float32Array(w.length);
      for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) for (let c = 0; c < C; c++) for (let o = 0; o < Co; o++) {
        W[((c * Co + o) * kh + a) * kw + b] = w[(((kh - 1 - a) * kw + (kw - 1 - b)) * C + c) * Co + o];
      }
      wDims = [C, Co, kh, kw];
      const crop = [kh - 1 - pads[0], kw - 1 - pads[1], kh - 1 - pads[2], kw - 1 - pads[3]];
      sess = this.keyedSession(`convT:${crop}`, false, 1, () => onnxModel(nhwc([node('ConvTranspose', ['Xc', 'W'], 'Yc', [attrInts('pads', crop)])]),
        [['X', ['n', 'h', 'w', 'c']], ['W', ['c', 'o', 'kh', 'kw']]], ['n', 'ho', 'wo', 'o'], 1));
    } else {
      W = w;
      wDims = wShape;
      sess = this.keyedSession(`conv:${pads}`, false, this.threads, () => onnxModel(nhwc([
        node('Transpose', ['W'], 'Wc', [attrInts('perm', [3, 2, 0, 1])]),
        node('Conv', ['Xc', 'Wc'], 'Yc', [attrInts('pads', [pads[0], pads[1], pads[2], pads[3]])]),
      ]), [['X', ['n', 'h', 'w', 'c']], ['W', ['kh', 'kw', 'c', 'o']]], ['n', 'ho', 'wo', 'o'], 1));
    }
    const T = this.ort.Tensor;
    const y = sess.run({ X: new T('float32', x, xShape), W: new T('float32', W, wDims) }, { Y: out ? new T('float32', out, yShape) : null } as Record<string, null>, {}).Y;
    if (!out) return y.data as Float32Array;
    releaseCopy(y.data, out);
    return out;
  }

  /**
   * The session of an ONNX model made by `make`, cached under `key`, with an intra-op pool of `threads` threads
   * (0: one per core; the engine's own setting except where a graph runs faster on one). Each session has its own pool,
   * whose threads spin for a while after a call before they sleep. Only the fused NTK tile's sessions (`spin`),
   * called back to back with little between the calls, keep that: calls of different sessions in turn (a training
   * step's products and convolutions) otherwise find the last session's threads still spinning on the cores. On
   * the 2-core AMD EPYC: training the seeds/003 CNN on 500 digits 0.83–0.96 s per epoch with every session spinning,
   * 0.57–0.62 s with none; the MNIST MLP kernel's products stage 0.16–0.18 s with spinning, 0.21–0.24 s without.
   */
  private keyedSession(key: string, spin: boolean, threads: number, make: () => Uint8Array): SyncSession {
    let sess = this.sessions.get(key);
    if (!sess) {
      const model = make();
      const fresh = new this.ort.InferenceSession();
      fresh.loadModel(model.buffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
        extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
      });
      this.sessions.set(key, (sess = fresh));
    }
    return sess;
  }
}

/** ArrayBuffer.prototype.transfer (ES2024: Node ≥ 21, or Node 20 with --harmony-rab-gsab-transfer), where present. */
const transfer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer, length?: number) => ArrayBuffer }).transfer;

/**
 * Free at once the copy of a pre-allocated output that onnxruntime-node's binding (1.30) returns: after writing
 * into the given array, it still makes a new ArrayBuffer of the output's size and copies the output into it.
 * Left to the garbage collector, these copies are fresh memory for every product (page faults: on the 2-core AMD
 * EPYC virtual machine a [510, 510] fused NTK tile took 7.0–8.5 ms against 1.5 ms with the copy released, outside
 * the CLI's huge pages) and external-memory pressure that triggers collections. Detaching the copy (transfer to
 * length 0) returns its block to malloc, which hands the same memory to the next product. Skipped where transfer is
 * missing, and never done to the caller's own array (should a binding return that one).
 */
function releaseCopy(copy: Floats, own: Floats): void {
  if (transfer && copy.buffer !== own.buffer && copy.buffer instanceof ArrayBuffer) transfer.call(copy.buffer, 0);
}

/** Loaded native engines by module name (one per process; a failed load is remembered with its reason). */
const loaded = new Map<string, MatrixEngine | string>();

/** Load onnxruntime-node (a native addon: absent or unloadable on some platforms) and check one product. */
async function loadNative(name: string, threads: number): Promise<MatrixEngine | string> {
  // onnxruntime-node 1.30's Linux library starts a telemetry system unless told not to: it keeps an SQLite event
  // store and a device id under ~/.cache/Microsoft/DeveloperTools, tries HTTPS uploads, leaves an empty
  // /tmp/mat-debug-<pid>.log behind in every process, and flushes its store at exit (~0.1 s). A tool that works
  // on users' data does none of that; set before the library loads (it reads the variable at start-up), and an
  // explicit ORT_DISABLE_TELEMETRY=0 from the user is kept.
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  try {
    const ort = await requireCjs<{ Tensor: OrtModules['Tensor'] }>(name);
    const b = await requireCjs<{ binding: { InferenceSession: OrtModules['InferenceSession'] }; initOrt: () => void }>(`${name}/dist/binding.js`);
    b.initOrt();
    const e = new NativeEngine({ Tensor: ort.Tensor, InferenceSession: b.binding.InferenceSession, initOrt: b.initOrt }, threads);
    const y = e.matMul(Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), 2, 2, 2);
    if (y[0] !== 19 || y[3] !== 50) throw new Error(`a test product gave [${Array.from(y)}]`);
    return e;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/**
 * Choose the matrix engine: 'auto' (default; the environment variable NTK_ENGINE, set by the CLI's --engine,
 * overrides it and reaches worker threads) takes the native engine when onnxruntime-node loads, else tfjs;
 * 'native' that cannot load is a UserError; 'tfjs' forces the fallback. `threads`: the native intra-op pool
 * (0 = ONNX Runtime's default, one per core; NTK_NATIVE_THREADS). NTK_ORT_MODULE names the module to load
 * instead of onnxruntime-node (tests make the engine unavailable with it). Returns the engine's name, which
 * every result records.
 */
export async function initEngine(requested: string = process.env.NTK_ENGINE ?? 'auto', threads = Number(process.env.NTK_NATIVE_THREADS ?? 0)): Promise<EngineName> {
  if (!ENGINES.includes(requested)) throw new UserError(`--engine: expected one of ${ENGINES.join(', ')}; got '${requested}'`);
  if (requested === 'tfjs') {
    return useEngine(tfjsEngine);
  }
  // Module names in variables: the engine must not be a static dependency of code that runs without it.
  const name = process.env.NTK_ORT_MODULE ?? 'onnxruntime-node';
  if (!loaded.has(name)) loaded.set(name, await loadNative(name, threads));
  const e = loaded.get(name)!;
  if (typeof e === 'string' && requested === 'native') throw new UserError(`--engine: the native engine (${name}) could not be loaded on this machine: ${e}`);
  return useEngine(typeof e === 'string' ? tfjsEngine : e);
}

