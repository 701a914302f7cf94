import { expect } from 'chai';
import { vectors } from '../lib/samples.js';
import { Welford, monteCarloKernel } from '../jacobian/monte-carlo.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import { Mlp } from '../models/mlp.js';
import { NormalRng } from '../lib/rng.js';
import { compareToOracle, testBackend } from './helpers.js';

describe('Monte-Carlo NTK∞', function () {
  before(async () => {
    await testBackend();
  });

  it('Welford mean and standard error equal the two-pass formulas', () => {
    const rng = new NormalRng('w');
    const rows = Array.from({ length: 9 }, () => Array.from({ length: 5 }, () => 3 + 2 * rng.normal()));
    const w = new Welford(5);
    rows.forEach((r) => w.add(r));
    const se = w.stderr();
    for (let j = 0; j < 5; j++) {
      const col = rows.map((r) => r[j]);
      const mean = col.reduce((a, b) => a + b, 0) / 9;
      const v = col.reduce((a, b) => a + (b - mean) ** 2, 0) / 8;
      expect(w.mean[j]).to.be.closeTo(mean, 1e-12);
      expect(se[j]).to.be.closeTo(Math.sqrt(v / 9), 1e-12);
    }
  });

  it('approaches the analytic kernel as width grows, within its reported standard errors', () => {
    // Five inputs on the unit sphere in R^3; 2 hidden ReLU layers; NTK parameterisation.
    const rng = new NormalRng('mc-inputs');
    const n = 5, d = 3;
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const v = [rng.normal(), rng.normal(), rng.normal()];
      const r = Math.hypot(...v);
      v.forEach((c, t) => (x[i * d + t] = c / r));
    }
    const cfg = { depth: 2, activation: 'relu', wStd: Math.SQRT2, bStd: 0.2 };
    const oracle = analyticMlpKernel(cfg, x, n, x, n, d).ntk;
    const run = (width: number) => {
      const m = new Mlp({ model: 'mlp', widths: [d, width, width, 1], activation: 'relu', parameterization: 'ntk', wStd: cfg.wStd, bStd: cfg.bStd, bias: true });
      const r = monteCarloKernel(m, vectors(x, n), null, { seeds: 24, seed: 1, mode: 'trace' });
      return compareToOracle(r, oracle);
    };
    const narrow = run(16);
    const wide = run(1024);
    if (process.env.NTK_TEST_VERBOSE) console.log({ narrow, wide });
    // The error shrinks roughly like 1/√width (16 → 1024: a factor of 8); demand at least 3.
    expect(wide.rel).to.be.below(narrow.rel / 3);
    // At width 1024 the finite-width bias O(1/n) is below the noise: every entry within 4 standard errors,
    // and the standard error itself is a fair estimate of the error (not 10× too large).
    expect(wide.zMax).to.be.below(4);
    expect(wide.rel).to.be.above(wide.relSe / 10);
    expect(wide.rel).to.be.below(3 * wide.relSe);
    // The reported uncertainty itself shrinks with width (fluctuations of the NTK are O(1/√width)).
    expect(wide.relSe).to.be.below(narrow.relSe / 4);
  });

  it('reports intermediate estimates at the requested numbers of networks', () => {
    const m = new Mlp({ model: 'mlp', widths: [3, 8, 2], activation: 'erf', parameterization: 'ntk', wStd: 1, bStd: 0.1, bias: true });
    const x = new NormalRng('r').normals(6);
    const seen: number[] = [];
    const r = monteCarloKernel(m, vectors(x, 2), null, { seeds: 6, seed: 0, reportAt: [2, 4], onReport: (rep) => seen.push(rep.seeds) });
    expect(seen).to.deep.equal([2, 4, 6]);
    expect(r.seeds).to.equal(6);
    expect(() => monteCarloKernel(m, vectors(x, 2), null, { seeds: 1, seed: 0 })).to.throw(/--seeds/);
  });
});
