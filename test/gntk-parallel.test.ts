import { expect } from 'chai';
import { syntheticGraphs } from '../lib/graphs.js';
import { analyticGntkReadouts, type GntkConfig, type GntkReadouts } from '../models/gnn-analytic.js';
import { parallelGntkReadouts } from '../experiments/gntk-parallel.js';
import { scoreFolds } from '../experiments/svm-folds.js';
import { normaliseKernel, stratifiedFolds } from '../lib/cv.js';
import { loadSvm } from '../lib/svm.js';
import { gntkFromReadouts } from '../models/gnn-analytic.js';

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameReadouts(a: GntkReadouts, b: GntkReadouts): void {
  expect([a.n1, a.n2, a.q.length]).to.deep.equal([b.n1, b.n2, b.q.length]);
  for (let l = 0; l < a.q.length; l++) {
    expect(bits(a.q[l]).equals(bits(b.q[l])), `q block ${l}`).to.equal(true);
    expect(bits(a.t[l]).equals(bits(b.t[l])), `t block ${l}`).to.equal(true);
  }
}

describe('parallel GNTK recursion', function () {
  this.timeout(120000);
  const cfg: GntkConfig = { blocks: 3, mlpLayers: 2, aggregation: 'mean', jk: false, activation: 'relu', wStd: Math.SQRT2, bStd: 0.1 };
  const d = syntheticGraphs(30, 11);

  it('a set against itself on 2 and 3 worker threads equals the serial recursion bit for bit, and reports every pair', async () => {
    const serial = analyticGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim);
    // The serial kernel is symmetric and non-zero everywhere: an entry a worker failed to write would show.
    expect(serial.q[2].every((v, k) => v !== 0 && v === serial.q[2][(k % d.n) * d.n + Math.floor(k / d.n)])).to.equal(true);
    for (const workers of [2, 3]) {
      let last = 0, total = 0;
      const par = await parallelGntkReadouts(cfg, d.graphs, d.graphs, d.featureDim, workers, (done, all) => ((last = done), (total = all)));
      expectSameReadouts(par, serial);
      expect([last, total]).to.deep.equal([(d.n * (d.n + 1)) / 2, (d.n * (d.n + 1)) / 2]);
    }
  });

  it('two different sets (no mirroring) on 2 workers equal the serial recursion bit for bit', async () => {
    const a = d.graphs.slice(0, 17), b = syntheticGraphs(9, 12).graphs;
    const sum = { ...cfg, aggregation: 'sum' as const, mlpLayers: 1 };
    expectSameReadouts(await parallelGntkReadouts(sum, a, b, d.featureDim, 2), analyticGntkReadouts(sum, a, b, d.featureDim));
  });

  it('a worker\'s bad configuration comes back as the same error as the serial one', async () => {
    const bad = { ...cfg, activation: 'tanh' };
    expect(() => analyticGntkReadouts(bad, d.graphs, d.graphs, d.featureDim)).to.throw(/--activation/);
    let message = '';
    await parallelGntkReadouts(bad, d.graphs, d.graphs, d.featureDim, 2).catch((e: Error) => (message = e.message));
    expect(message).to.match(/--activation.*relu, erf and identity/);
  });

  it('SVM fold scores on 2 worker threads equal the serial ones, and every fold is reported', async () => {
    await loadSvm();
    const r = analyticGntkReadouts({ ...cfg, aggregation: 'sum' }, d.graphs, d.graphs, d.featureDim);
    const K = normaliseKernel(gntkFromReadouts(cfg, r, 2, true).ntk, d.n);
    const fold = stratifiedFolds(d.labels!, 3, 0);
    const serial = await scoreFolds(K, d.n, d.labels!, fold, 3, [0.1, 10], 2, 0, 1);
    const seen: number[] = [];
    const par = await scoreFolds(K, d.n, d.labels!, fold, 3, [0.1, 10], 2, 0, 2, (done) => seen.push(done));
    expect(par).to.deep.equal(serial);
    expect(seen).to.deep.equal([1, 2, 3]);
    for (const s of serial) for (const a of [...s.acc, ...s.inner]) expect(a).to.be.within(0, 1);
    expect(serial.some((s) => s.acc.some((a) => a > 0.5))).to.equal(true);
  });
});
