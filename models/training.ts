import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';
import { type LossName, lossFunction } from '../lib/losses.js';
import { type OptimiserConfig, makeOptimiser } from '../lib/optimisers.js';
import type { Progress } from '../lib/progress.js';
import { NormalRng } from '../lib/rng.js';
import { type Samples, gatherSamples } from '../lib/samples.js';
import type { Model } from './model.js';
import { withDataInputs } from './layers.js';
import { type Param, paramTensors } from './params.js';

export interface TrainConfig {
  loss: LossName;
  optimiser: OptimiserConfig;
  epochs: number;
  /** Minibatch size; ≥ n means full batch (no shuffling). */
  batchSize: number;
  /** Seed of the minibatch order (epoch e uses the permutation seeded "train/SEED/e"). */
  seed: number | string;
}

export interface TrainHistory {
  /** Mean training loss over each epoch's minibatches, per epoch. */
  loss: number[];
}

/** Parameters as plain Params (the names and shapes of `like`) read back from tensors. */
export function paramsFromTensors(ts: tf.Tensor[], like: Param[]): Param[] {
  return ts.map((t, i) => ({ name: like[i].name, shape: like[i].shape.slice(), values: Float32Array.from(t.dataSync()) }));
}

/**
 * Train a model by minimising loss(f(θ, x_B), y_B) over minibatches B with a first-order optimiser:
 * epochs × ⌈n/batch⌉ steps, gradients by tfjs autodiff of model.apply. Targets y are [n, K] (one-hot for
 * cross-entropy, real values for MSE). Deterministic: the same params, data, config and backend give the same
 * result bit for bit. `onEpoch(e, params)` is called before the first step (e = 0) and after every epoch e
 * listed in `callAt` (kernel tracking, checkpoints), with that epoch's mean loss (NaN before the first step). Returns the trained parameters and the loss history.
 */
export function trainModel(model: Model, init: Param[], data: Samples, y: Float32Array, cfg: TrainConfig, hooks: { callAt?: number[]; onEpoch?: (epoch: number, params: Param[], loss: number) => void; progress?: Progress } = {}): { params: Param[]; history: TrainHistory } {
  const n = data.n, K = model.outputSize;
  if (y.length !== n * K) throw new Error(`trainModel: targets have ${y.length} values, expected ${n}×${K}`);
  if (!(Number.isInteger(cfg.epochs) && cfg.epochs >= 0)) throw new UserError(`--epochs: expected an integer ≥ 0; got ${cfg.epochs}`);
  if (!(Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1)) throw new UserError(`--batch-size: expected an integer ≥ 1; got ${cfg.batchSize}`);
  if (!(cfg.optimiser.lr > 0)) throw new UserError(`--lr: expected a positive learning rate; got ${cfg.optimiser.lr}`);
  const loss = lossFunction(cfg.loss);
  const callAt = new Set(hooks.callAt ?? []);
  const full = cfg.batchSize >= n;
  const batches = full ? 1 : Math.ceil(n / cfg.batchSize);
  let params = paramTensors(init);
  const opt = makeOptimiser(cfg.optimiser);
  const history: TrainHistory = { loss: [] };
  // The full batch is built once; minibatches are gathered per step from the epoch's permutation.
  const fullBatch = full ? { b: model.batch(data), y: tf.tensor2d(y, [n, K]) } : null;
  const valueAndGrads = (b: ReturnType<Model['batch']>, yb: tf.Tensor2D) =>
    tf.valueAndGrads((...ps: tf.Tensor[]) => loss(model.apply(ps, b), yb));
  const fullStep = fullBatch ? valueAndGrads(fullBatch.b, fullBatch.y) : null;
  try {
    hooks.onEpoch?.(0, paramsFromTensors(params, init), NaN);
    for (let e = 1; e <= cfg.epochs; e++) {
      const order = full ? null : new NormalRng(`train/${cfg.seed}/${e}`).permutation(n);
      let sum = 0;
      for (let bi = 0; bi < batches; bi++) {
        // Gradients in the parameters only: the model's first layer need not differentiate in the data.
        const { value, grads } = tf.tidy(() => withDataInputs(() => {
          if (fullStep) return fullStep(params);
          const idx = order!.subarray(bi * cfg.batchSize, Math.min(n, (bi + 1) * cfg.batchSize));
          const yb = new Float32Array(idx.length * K);
          idx.forEach((j, r) => yb.set(y.subarray(j * K, (j + 1) * K), r * K));
          return valueAndGrads(model.batch(gatherSamples(data, idx)), tf.tensor2d(yb, [idx.length, K]))(params);
        }));
        const next = opt.step(params, grads);
        sum += value.dataSync()[0];
        [value, ...grads, ...params].forEach((t) => t.dispose());
        params = next;
      }
      const mean = sum / batches;
      if (!Number.isFinite(mean)) throw new UserError(`training diverged at epoch ${e} (loss ${mean}); lower --lr`);
      history.loss.push(mean);
      if (callAt.has(e)) hooks.onEpoch?.(e, paramsFromTensors(params, init), mean);
      hooks.progress?.update(e);
    }
    return { params: paramsFromTensors(params, init), history };
  } finally {
    params.forEach((t) => t.dispose());
    opt.dispose();
    if (fullBatch) {
      fullBatch.y.dispose();
      fullBatch.b.x.dispose();
      fullBatch.b.graph?.invDeg.dispose();
    }
  }
}

/** f(θ, x) [n, K] of a model at plain parameters, read back row-major (the tensors are freed). */
export function predict(model: Model, params: Param[], s: Samples): Float32Array {
  const out = tf.tidy(() => model.apply(paramTensors(params), model.batch(s)));
  try {
    return Float32Array.from(out.dataSync());
  } finally {
    out.dispose();
  }
}
