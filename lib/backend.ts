import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle registers no gradient functions and its ESM build cannot be imported by Node
// (extensionless paths); the @tensorflow/tfjs bundle registers them all into the same tfjs-core (~0.3 s).
import '@tensorflow/tfjs';
import { UserError } from './errors.js';
import { registerWasmGradients } from './wasm-gradients.js';
import { initEngine } from './native-engine.js';

// The engine's tensor helpers live in lib/tensors.ts (no Node edge there, so a browser bundle can use them).
export { scoped, tensorView } from './tensors.js';

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
