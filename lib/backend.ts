import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle registers no gradient functions and its ESM build cannot be imported by Node
// (extensionless paths); the @tensorflow/tfjs bundle registers them all into the same tfjs-core (~0.3 s).
import '@tensorflow/tfjs';
import { UserError } from './errors.js';
import { registerWasmGradients } from './wasm-gradients.js';
import { initEngine } from './matrix-engine.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

async function tryTensorflow(): Promise<boolean> {
  try {
    // Optional dependency: absent on machines without internet at install time (it downloads libtensorflow).
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmGradients();
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

/**
 * Choose the tfjs backend: 'auto' tries tfjs-node (native TensorFlow), then the wasm backend (SIMD,
 * single-threaded under Node), then the pure-JS cpu backend. A named backend that cannot start is a
 * UserError. Returns the name of the backend in use, which every result records. The matrix engine is chosen
 * here too (initEngine: native when onnxruntime-node loads, unless NTK_ENGINE / --engine says otherwise).
 */
export async function initBackend(requested: string = 'auto'): Promise<BackendName> {
  if (requested !== 'auto' && !BACKENDS.includes(requested as BackendName)) {
    throw new UserError(`--backend: expected one of auto, ${BACKENDS.join(', ')}; got '${requested}'`);
  }
  // PROD silences tfjs's console banners (e.g. the cpu backend's advice to install tfjs-node) on stderr.
  tf.env().set('PROD', true);
  const order: BackendName[] = requested === 'auto' ? [...BACKENDS] : [requested as BackendName];
  for (const b of order) {
    const ok = b === 'tensorflow' ? await tryTensorflow() : b === 'wasm' ? await tryWasm() : await tf.setBackend('cpu');
    if (ok) {
      await tf.ready();
      await initEngine();
      return tf.getBackend() as BackendName;
    }
  }
  throw new UserError(`--backend: backend '${requested}' could not be started on this machine`);
}

/** The backend currently in use. */
export function currentBackend(): string {
  return tf.getBackend();
}

/**
 * Run `fn` in a tfjs scope: every tensor it creates is disposed when it returns, whatever it returns
 * (tf.tidy only accepts tensor containers as results).
 */
export function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

interface WasmInternals {
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: 'float32'): { dataId: object; shape: number[]; dtype: 'float32' };
}

/**
 * A new float32 tensor of `shape` whose values `fill` writes, every entry of the array it is given (which is
 * not zeroed): on wasm the array is the tensor's own memory in the wasm heap, so a large tensor made in JS
 * (im2col's patches) is not built in a JS array and then copied into the heap; elsewhere a new Float32Array.
 * `fill` must not run tfjs ops (they may grow the heap under the view).
 */
export function filledTensor(shape: number[], fill: (values: Float32Array) => void): tf.Tensor {
  if (tf.getBackend() === 'wasm') {
    const b = tf.backend() as unknown as WasmInternals;
    const info = b.makeOutput(shape, 'float32');
    const size = shape.reduce((a, c) => a * c, 1);
    fill(new Float32Array(b.wasm.HEAPU8.buffer, b.dataIdMap.get(info.dataId).memoryOffset, size));
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  const values = new Float32Array(shape.reduce((a, c) => a * c, 1));
  fill(values);
  return tf.tensor(values, shape);
}

/**
 * The values of a float32 tensor without a copy where the backend allows it: on wasm a Float32Array view of
 * the wasm heap (valid until the tensor is disposed or another tfjs op runs, which may grow and move the
 * heap), elsewhere dataSync(). Reading a [5000, 5000] product this way saves ~0.15 s of copying per read.
 */
export function tensorView(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`tensorView: expected float32, got ${t.dtype}`);
  if (tf.getBackend() === 'wasm') {
    const b = tf.backend() as unknown as WasmInternals;
    const info = b.dataIdMap.get(t.dataId);
    return new Float32Array(b.wasm.HEAPU8.buffer, info.memoryOffset, t.size);
  }
  return t.dataSync() as Float32Array;
}
