import { expect } from 'chai';
import { runJobPool } from '../lib/job-pool.js';
import { syntheticGraphs } from '../lib/graphs.js';
import { vectors } from '../lib/samples.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { parallelStructuredKernel } from '../jacobian/parallel.js';
import { Cnn } from '../models/cnn.js';
import { Gnn } from '../models/gnn.js';
import { Mlp } from '../models/mlp.js';
import type { Model } from '../models/model.js';
import type { Samples } from '../lib/samples.js';
import { randomInputs, testBackend } from './helpers.js';

const common = { activation: 'relu' as const, parameterization: 'ntk' as const, wStd: 1.4, bStd: 0.1, bias: true };

describe('worker threads', function () {
  let backend: string;
  before(async () => {
    backend = await testBackend();
  });

  const same = async (model: Model, x1: Samples, x2: Samples | null, mode: 'full' | 'trace' | 'diagonal', tile: number) => {
    const params = model.init(3);
    const one = empiricalKernel(model, params, x1, x2, { mode, tile }).kernel;
    const two = await parallelStructuredKernel(model, params, x1, x2, { mode, tile, workers: 2, backend });
    expect(two.kernel.shape).to.deep.equal(one.shape);
    expect(Buffer.from(two.kernel.data.buffer).equals(Buffer.from(one.data.buffer)), `${model.config.model} ${mode}`).to.equal(true);
    expect(two.info.workers).to.equal(2);
  };

  it('give the same kernel bit for bit as one thread (mlp, cnn, gnn; symmetric and cross; all modes)', async () => {
    const mlp = new Mlp({ model: 'mlp', ...common, widths: [6, 12, 12, 3] });
    await same(mlp, vectors(randomInputs(9, 6, 'p1'), 9), null, 'full', 4);
    await same(mlp, vectors(randomInputs(9, 6, 'p1'), 9), vectors(randomInputs(5, 6, 'p2'), 5), 'diagonal', 3);
    const cnn = new Cnn({ model: 'cnn', ...common, imageShape: [6, 6, 1], head: 'gap', outputs: 2, convs: [{ kernel: 3, channels: 3, stride: 1, padding: 'same' }] });
    await same(cnn, vectors(randomInputs(5, 36, 'p3'), 5, [6, 6, 1]), null, 'trace', 2);
    // Two convolutions (the second one's cotangent passes through a transposed convolution) and a conv head,
    // 4 blocks and 10 tile pairs for 2 threads: pairs wait for blocks computed by the other thread, and blocks
    // are dropped when no pair needs them any more.
    const cnn2 = new Cnn({ model: 'cnn', ...common, imageShape: [8, 8, 1], head: 'conv', outputs: 2, convs: [{ kernel: 3, channels: 3, stride: 1, padding: 'valid' }, { kernel: 3, channels: 3, stride: 1, padding: 'valid' }, { kernel: 4, channels: 2, stride: 1, padding: 'valid' }] });
    await same(cnn2, vectors(randomInputs(7, 64, 'p4'), 7, [8, 8, 1]), null, 'full', 2);
    await same(cnn2, vectors(randomInputs(7, 64, 'p4'), 7, [8, 8, 1]), vectors(randomInputs(3, 64, 'p5'), 3, [8, 8, 1]), 'full', 2);
    const gnn = new Gnn({ model: 'gnn', ...common, featureDim: 8, hidden: 8, blocks: 2, mlpLayers: 1, aggregation: 'sum', jk: true, outputs: 1 });
    await same(gnn, syntheticGraphs(7, 2), null, 'full', 3);
  });
});

describe('job pool: the native thread pool of each worker', function () {
  it('is one thread whatever the number of workers (results independent of it), unless NTK_NATIVE_THREADS is set', async () => {
    const url = new URL('./fixtures/env-worker.js', import.meta.url);
    const saved = process.env.NTK_NATIVE_THREADS;
    try {
      delete process.env.NTK_NATIVE_THREADS;
      expect(await runJobPool(url, [0, 1, 2], 2, () => {})).to.deep.equal(['1', '1', '1']);
      expect(await runJobPool(url, [0], 1, () => {})).to.deep.equal(['1']);
      process.env.NTK_NATIVE_THREADS = '3';
      expect(await runJobPool(url, [0, 1], 2, () => {})).to.deep.equal(['3', '3']);
    } finally {
      if (saved === undefined) delete process.env.NTK_NATIVE_THREADS;
      else process.env.NTK_NATIVE_THREADS = saved;
    }
  });
});
