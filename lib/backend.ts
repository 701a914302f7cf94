import * as tf from '@tensorflow/tfjs-core';
import { UserError } from './errors.js';
import { registerWasmGradients } from './wasm-gradients.js';
import { initEngine } from './native-engine.js';
import { requireCjs } from './node-require.js';

// The engine's tensor helpers live in lib/tensors.ts (no Node edge there, so a browser bundle can use them).
export { scoped, tensorView } from './tensors.js';

/**
 * tfjs-core's Node bundle registers no gradient functions, and its ESM build, which has them, cannot be imported
 * by Node (extensionless paths). `npm run build` bundles that build's register_all_gradients into
 * dist/lib/tfjs-gradients.cjs (esbuild): tfjs-core's gradient registry, engine and kernel registry are process-
 * wide globals, so the bundle's registrations serve the tfjs-core loaded here. Loading it costs ~0.1 s of CPU,
 * against ~0.5 s for the @tensorflow/tfjs union package (which also loads tfjs-layers, -converter, -data and
 * -backend-webgl), the same gradients, used where the bundle was not built.
 */
async function registerGradients(): Promise<void> {
  try {
    await requireCjs('../lib/tfjs-gradients.cjs');
  } catch {
    await requireCjs('@tensorflow/tfjs');
  }
}
await registerGradients();

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

async function tryTensorflow(): Promise<boolean> {
  try {
    // Optional dependency: absent on machines without internet at install time (it downloads libtensorflow).
    await requireCjs('@tensorflow/tfjs-node');
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await requireCjs('@tensorflow/tfjs-backend-wasm');
    registerWasmGradients();
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

/** The pure-JS backend, loaded only when it is the one asked for (or the last resort). */
async function tryCpu(): Promise<boolean> {
  await requireCjs('@tensorflow/tfjs-backend-cpu');
  return await tf.setBackend('cpu');
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
    const ok = b === 'tensorflow' ? await tryTensorflow() : b === 'wasm' ? await tryWasm() : await tryCpu();
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
