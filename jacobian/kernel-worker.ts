/**
 * Worker thread of the parallel structured kernel: it owns its own tfjs backend (wasm is single-threaded per
 * instance, so each worker is one core's worth of work), rebuilds the model from its config, computes the
 * features of the sample blocks it is given and the kernel tiles of the block pairs it is given. Messages:
 *   {type:'init', backend, config, params, rules, K}        → {type:'ready', backend}
 *   {type:'features', block, samples}                        → {type:'features', block, features}
 *   {type:'block', block, features}                          (a block computed elsewhere; no reply)
 *   {type:'release', block}                                  (no pair needs the block any more; no reply)
 *   {type:'tile', pair, r, c, mode}                          → {type:'tile', pair, data, timing}
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/backend.js';
import type { Samples } from '../lib/samples.js';
import type { Model } from '../models/model.js';
import { type Param, paramTensors } from '../models/params.js';
import { modelFromConfig } from '../models/registry.js';
import { type OutputMode, kernelSize } from './kernel-types.js';
import { type LayerRule, type TileFeatures, disposeTileFeatures, newTiming, structuredTile, tileFeatures } from './structured.js';

let model: Model;
let params: tf.Tensor[] = [];
let rules: LayerRule[] = [];
let K = 1;
const blocks = new Map<number, TileFeatures>();

const port = parentPort!;
port.on('message', async (m: Record<string, unknown>) => {
  try {
    if (m.type === 'init') {
      const backend = await initBackend(m.backend as string);
      model = modelFromConfig(m.config as Record<string, unknown>, 'worker');
      params = paramTensors(m.params as Param[]);
      rules = m.rules as LayerRule[];
      K = m.K as number;
      port.postMessage({ type: 'ready', backend });
    } else if (m.type === 'features') {
      const f = tileFeatures(model, params, m.samples as Samples, rules);
      blocks.set(m.block as number, f);
      port.postMessage({ type: 'features', block: m.block, features: { ...f, cache: undefined } });
    } else if (m.type === 'block') {
      blocks.set(m.block as number, m.features as TileFeatures);
    } else if (m.type === 'release') {
      const f = blocks.get(m.block as number);
      if (f) disposeTileFeatures(f);
      blocks.delete(m.block as number);
    } else if (m.type === 'tile') {
      const f1 = blocks.get(m.r as number)!, f2 = blocks.get(m.c as number)!;
      const mode = m.mode as OutputMode;
      const out = new Float32Array(kernelSize(mode, f1.n, f2.n, K));
      const timing = newTiming();
      structuredTile(f1, f2, K, mode, { out, n2: f2.n, r0: 0, c0: 0 }, timing);
      port.postMessage({ type: 'tile', pair: m.pair, data: out, timing }, [out.buffer]);
    } else if (m.type === 'close') {
      blocks.forEach(disposeTileFeatures);
      params.forEach((p) => p.dispose());
      port.close();
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: (e as Error).message, name: (e as Error).name, stack: (e as Error).stack });
  }
});
