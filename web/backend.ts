import * as tf from '@tensorflow/tfjs-core';
// The browser's tfjs: core with its gradients (the Node build of tfjs-core registers none; lib/backend.ts loads
// @tensorflow/tfjs there for them) and the browser backends.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradients } from '../lib/wasm-gradients.js';

/** The WebGL renderer's name where the browser reveals it, e.g. 'ANGLE (…, SwiftShader …)'; null without WebGL. */
export function webglRenderer(): string | null {
  try {
    const c = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : null;
    const gl = (c?.getContext('webgl2') ?? c?.getContext('webgl')) as WebGLRenderingContext | null | undefined;
    if (!gl) return null;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  } catch {
    return null;
  }
}

const softwareWebgl = (): boolean => /swiftshader|llvmpipe|software/i.test(webglRenderer() ?? '');

/** The browser backends in the order `auto` tries them. */
export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

/**
 * Start a tfjs backend in the browser (or its Web Worker): `auto` takes WebGPU where the browser offers it,
 * else WebGL on a GPU (not a software rasteriser), else wasm (its .wasm files are served beside the bundle, under `wasmBase`), else the pure-JS cpu
 * backend. Returns the name of the backend in use, which the page shows. The matrix engine stays tfjs (the
 * native engine is Node's: lib/native-engine.ts is no part of a browser bundle).
 */
export async function initBrowserBackend(requested: string, wasmBase: string): Promise<string> {
  tf.env().set('PROD', true);
  setWasmPaths(wasmBase);
  registerWasmGradients();
  const order: string[] = requested === 'auto' ? [...BROWSER_BACKENDS] : [requested];
  if (!order.every((b) => (BROWSER_BACKENDS as readonly string[]).includes(b))) {
    throw new Error(`backend: expected auto, ${BROWSER_BACKENDS.join(', ')}; got '${requested}'`);
  }
  for (const b of order) {
    if (b === 'webgpu' && !(globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) continue;
    // WebGL drawn by a software rasteriser (SwiftShader, llvmpipe: no GPU, e.g. headless browsers) is many times
    // slower than wasm here (measured ~20× on the explorer's MLP kernel); `auto` passes it by, a named webgl not.
    if (b === 'webgl' && requested === 'auto' && softwareWebgl()) continue;
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        // A backend that registers but cannot compute (e.g. WebGL without a usable context) is skipped.
        const t = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
        const v = await t.data();
        t.dispose();
        if (v[0] === 19 && v[3] === 50) return b;
      }
    } catch {
      // try the next backend
    }
  }
  throw new Error(`backend: no tfjs backend could be started here (tried ${order.join(', ')})`);
}
