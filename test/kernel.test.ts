import { expect } from 'chai';
import { vectors } from '../lib/samples.js';
import * as tf from '@tensorflow/tfjs-core';
import { empiricalKernel, planKernel } from '../jacobian/empirical.js';
import { reduceFull } from '../jacobian/kernel-types.js';
import { perSampleJacobians } from '../jacobian/per-sample.js';
import { Mlp, type MlpConfig } from '../models/mlp.js';
import { paramTensors } from '../models/params.js';
import { maxAbsDiff, randomInputs, referenceForward, testBackend, toFloat64 } from './helpers.js';

const base: MlpConfig = { model: 'mlp', widths: [6, 9, 7, 4], activation: 'relu', parameterization: 'ntk', wStd: 1.3, bStd: 0.4, bias: true };

describe('empirical NTK of an MLP', function () {
  before(async () => {
    await testBackend();
  });

  it('per-sample Jacobians match float64 central finite differences of an independent forward pass', () => {
    for (const activation of ['relu', 'erf', 'tanh', 'identity'] as const) {
      for (const parameterization of ['ntk', 'standard'] as const) {
        const cfg = { ...base, activation, parameterization };
        const m = new Mlp(cfg);
        const params = m.init(`fd/${activation}/${parameterization}`);
        const n = 3, d = 6, K = 4;
        const x = randomInputs(n, d, 'fd');
        const ps = paramTensors(params);
        const J = perSampleJacobians(m, ps, vectors(x, n));
        ps.forEach((t) => t.dispose());
        const P = J.length / (n * K);
        const p64 = toFloat64(params);
        const h = 1e-5;
        let worst = 0, scale = 0;
        for (let i = 0; i < n; i++) {
          const xi = x.subarray(i * d, (i + 1) * d);
          let flat = 0;
          for (const t of p64) {
            for (let q = 0; q < t.values.length; q++, flat++) {
              const v = t.values[q];
              t.values[q] = v + h;
              const up = referenceForward(cfg, p64, xi).out;
              t.values[q] = v - h;
              const dn = referenceForward(cfg, p64, xi).out;
              t.values[q] = v;
              for (let k = 0; k < K; k++) {
                const fd = (up[k] - dn[k]) / (2 * h);
                worst = Math.max(worst, Math.abs(fd - J[(i * K + k) * P + flat]));
                scale = Math.max(scale, Math.abs(fd));
              }
            }
          }
        }
        expect(worst / scale, `${activation}/${parameterization}`).to.be.below(2e-6);
      }
    }
  });

  it('structured rule equals the Jacobian contraction for every activation, parameterisation and output mode', () => {
    const x1 = randomInputs(7, 6, 'a');
    const x2 = randomInputs(5, 6, 'b');
    for (const activation of ['relu', 'erf', 'tanh', 'identity'] as const) {
      for (const parameterization of ['ntk', 'standard'] as const) {
        for (const bias of [true, false]) {
          const m = new Mlp({ ...base, activation, parameterization, bias });
          const params = m.init(`s/${activation}`);
          for (const mode of ['full', 'trace', 'diagonal'] as const) {
            for (const second of [null, vectors(x2, 5)]) {
              const a = empiricalKernel(m, params, vectors(x1, 7), second, { mode, implementation: 'jacobian' }).kernel;
              const b = empiricalKernel(m, params, vectors(x1, 7), second, { mode, implementation: 'structured', tile: 3 }).kernel;
              expect(b.shape).to.deep.equal(a.shape);
              const { diff, scale } = maxAbsDiff(b.data, a.data);
              expect(diff / scale, `${activation}/${parameterization}/${bias}/${mode}`).to.be.below(2e-6);
            }
          }
        }
      }
    }
  });

  it('full kernel equals the explicit double sum Σ_p J[i,k,p] J[j,k2,p] in float64, and trace/diagonal are its reductions', () => {
    const m = new Mlp(base);
    const params = m.init(7);
    const n = 5, d = 6, K = 4;
    const x = randomInputs(n, d, 'c');
    const ps = paramTensors(params);
    const J = perSampleJacobians(m, ps, vectors(x, n));
    ps.forEach((t) => t.dispose());
    const P = J.length / (n * K);
    const ref = new Float64Array(n * K * n * K);
    for (let r = 0; r < n * K; r++) for (let c = 0; c < n * K; c++) {
      let s = 0;
      for (let p = 0; p < P; p++) s += J[r * P + p] * J[c * P + p];
      ref[r * n * K + c] = s;
    }
    const full = empiricalKernel(m, params, vectors(x, n), null, { mode: 'full', tile: 2 }).kernel;
    const d1 = maxAbsDiff(full.data, ref);
    expect(d1.diff / d1.scale).to.be.below(1e-6);
    for (const mode of ['trace', 'diagonal'] as const) {
      const k = empiricalKernel(m, params, vectors(x, n), null, { mode }).kernel;
      const dd = maxAbsDiff(k.data, reduceFull(full.data, n, n, K, mode));
      expect(dd.diff / dd.scale, mode).to.be.below(1e-6);
    }
    // Symmetric and positive semi-definite on the diagonal blocks.
    for (let r = 0; r < n * K; r++) for (let c = 0; c < n * K; c++) expect(full.data[r * n * K + c]).to.equal(full.data[c * n * K + r]);
  });

  it('a plan made by the caller is the one used (the kernel command plans once): its tile, the same kernel bit for bit', () => {
    const m = new Mlp(base);
    const params = m.init('plan');
    const x = vectors(randomInputs(5, 6, 'plan'), 5);
    const plan = planKernel(m, x, null, { mode: 'full', tile: 2 });
    const direct = empiricalKernel(m, params, x, null, { mode: 'full', tile: 2 });
    // No tile in the options: only the plan says 2 (the default for 5 samples is one tile of 5).
    const planned = empiricalKernel(m, params, x, null, { mode: 'full', plan });
    expect(empiricalKernel(m, params, x, null, { mode: 'full' }).info.tile).to.equal(5);
    expect(planned.info.tile).to.equal(2);
    expect(planned.info.tiles).to.equal(direct.info.tiles);
    expect(Buffer.from(planned.kernel.data.buffer).equals(Buffer.from(direct.kernel.data.buffer))).to.equal(true);
  });

  it('the NNGP (conjugate kernel) equals σ_w²/n_L h·h\' + σ_b² from the float64 reference forward pass', () => {
    const cfg = { ...base, activation: 'erf' as const };
    const m = new Mlp(cfg);
    const params = m.init(3);
    const x = randomInputs(4, 6, 'd');
    const k = empiricalKernel(m, params, vectors(x, 4), null, { kind: 'nngp', mode: 'trace' }).kernel;
    const nL = cfg.widths[cfg.widths.length - 2];
    const hs = [0, 1, 2, 3].map((i) => referenceForward(cfg, toFloat64(params), x.subarray(i * 6, (i + 1) * 6)).hidden);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
      const dot = hs[i].reduce((s, v, t) => s + v * hs[j][t], 0);
      expect(k.data[i * 4 + j]).to.be.closeTo((cfg.wStd ** 2 / nL) * dot + cfg.bStd ** 2, 1e-5);
    }
    const full = empiricalKernel(m, params, vectors(x, 4), null, { kind: 'nngp', mode: 'full' }).kernel;
    expect(full.data[(1 * 4 + 2) * 16 + 3 * 4 + 2]).to.equal(k.data[1 * 4 + 3]);
    expect(full.data[(1 * 4 + 2) * 16 + 3 * 4 + 1]).to.equal(0);
  });

  it('is deterministic: same seed and inputs give the same kernel bit for bit; another seed does not', () => {
    const m = new Mlp(base);
    const x = randomInputs(6, 6, 'e');
    const a = empiricalKernel(m, m.init(11), vectors(x, 6), null).kernel.data;
    const b = empiricalKernel(m, m.init(11), vectors(x, 6), null).kernel.data;
    const c = empiricalKernel(m, m.init(12), vectors(x, 6), null).kernel.data;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).to.equal(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).to.equal(false);
  });

  it('tiling does not change the kernel beyond float32 rounding, for any tile size', () => {
    const m = new Mlp(base);
    const params = m.init(5);
    const x = randomInputs(11, 6, 'f');
    // Tensors held before (other suites' models) are not this test's; tiling must not leak any.
    const held = tf.memory().numTensors;
    const ref = empiricalKernel(m, params, vectors(x, 11), null, { tile: 11 }).kernel.data;
    for (const tile of [1, 2, 4, 5, 10]) {
      const k = empiricalKernel(m, params, vectors(x, 11), null, { tile }).kernel.data;
      const { diff, scale } = maxAbsDiff(k, ref);
      expect(diff / scale, `tile ${tile}`).to.be.below(1e-6);
    }
    expect(tf.memory().numTensors - held).to.equal(0);
  });
});
