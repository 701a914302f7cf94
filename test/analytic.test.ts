import { expect } from 'chai';
import { analyticMlpKernel, gaussianExpectations } from '../models/mlp-analytic.js';
import { erf } from './helpers.js';

/** E[g(u, v)] for (u, v) ~ N(0, [[a, c], [c, b]]) by 2-D Gauss–Hermite quadrature (an independent method). */
function gaussHermite2(g: (u: number, v: number) => number, a: number, b: number, c: number, n = 120): number {
  // Golub–Welsch would be exact; simple Newton on the Hermite recurrence is enough for n = 120.
  const nodes: number[] = [], weights: number[] = [];
  for (let i = 0; i < n; i++) {
    let z = i === 0 ? Math.sqrt(2 * n + 1) - 1.85575 * Math.pow(2 * n + 1, -1 / 6)
      : i === 1 ? nodes[0] - (1.14 * Math.pow(n, 0.426)) / nodes[0]
      : i === 2 ? 1.86 * nodes[1] - 0.86 * nodes[0]
      : i === 3 ? 1.91 * nodes[2] - 0.91 * nodes[1]
      : 2 * nodes[i - 1] - nodes[i - 2];
    let pp = 0;
    for (let it = 0; it < 100; it++) {
      let p1 = Math.pow(Math.PI, -0.25), p2 = 0;
      for (let j = 0; j < n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = z * Math.sqrt(2 / (j + 1)) * p2 - Math.sqrt(j / (j + 1)) * p3;
      }
      pp = Math.sqrt(2 * n) * p2;
      const dz = p1 / pp;
      z -= dz;
      if (Math.abs(dz) < 1e-14) break;
    }
    nodes.push(z);
    weights.push(2 / (pp * pp));
  }
  // u = √(2a) s, v = ρ-correlated: v = c/a·u + √(b − c²/a)·√2 t.
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const u = Math.sqrt(2 * a) * nodes[i];
    const v = (c / a) * u + Math.sqrt(Math.max(b - (c * c) / a, 0) * 2) * nodes[j];
    s += weights[i] * weights[j] * g(u, v);
  }
  return s / Math.PI;
}

describe('analytic infinite-width kernels', () => {
  it('reproduces the check values of the notes (3 hidden ReLU layers, σ_w = 1, σ_b = 0.1)', () => {
    const xs = [0, Math.PI / 2, Math.PI].flatMap((g) => [Math.cos(g), Math.sin(g)]);
    const { ntk } = analyticMlpKernel({ depth: 3, activation: 'relu', wStd: 1, bStd: 0.1 }, [1, 0], 1, xs, 3, 2);
    expect(ntk[0]).to.be.closeTo(0.2825, 5e-5);
    expect(ntk[1]).to.be.closeTo(0.092702, 5e-7);
    expect(ntk[2]).to.be.closeTo(0.064354, 5e-7);
  });

  it("gives Arora et al.'s 2, 1/π, 0 for one hidden ReLU layer on unit vectors (σ_w² = 2 = n₀, σ_b = 0)", () => {
    const xs = [0, Math.PI / 2, Math.PI].flatMap((g) => [Math.cos(g), Math.sin(g)]);
    const { ntk } = analyticMlpKernel({ depth: 1, activation: 'relu', wStd: Math.SQRT2, bStd: 0 }, [1, 0], 1, xs, 3, 2);
    expect(ntk[0]).to.be.closeTo(2, 1e-12);
    expect(ntk[1]).to.be.closeTo(1 / Math.PI, 1e-12);
    expect(ntk[2]).to.be.closeTo(0, 1e-12);
  });

  it('closed-form Gaussian expectations for relu and erf agree with Gauss–Hermite quadrature', () => {
    const relu = (t: number) => Math.max(0, t);
    const step = (t: number) => (t > 0 ? 1 : 0);
    const derf = (t: number) => (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t);
    for (const [a, b, c] of [[1, 1, 0.3], [0.5, 2, -0.7], [1.3, 0.8, 0.9]]) {
      const [e, ed] = gaussianExpectations('relu', a, b, c);
      expect(e).to.be.closeTo(gaussHermite2((u, v) => relu(u) * relu(v), a, b, c), 2e-3);
      expect(ed).to.be.closeTo(gaussHermite2((u, v) => step(u) * step(v), a, b, c), 2e-2);
      const [f, fd] = gaussianExpectations('erf', a, b, c);
      expect(f).to.be.closeTo(gaussHermite2((u, v) => erf(u) * erf(v), a, b, c), 1e-8);
      expect(fd).to.be.closeTo(gaussHermite2((u, v) => derf(u) * derf(v), a, b, c), 1e-8);
    }
  });

  it('the NNGP of the identity network is the linear kernel propagated through the layers', () => {
    const x = [0.3, -1.2, 0.5, 2.0];
    const { nngp, ntk } = analyticMlpKernel({ depth: 2, activation: 'identity', wStd: 1.5, bStd: 0.2 }, x, 2, x, 2, 2);
    const s1 = (2.25 * (0.3 * 0.5 + -1.2 * 2.0)) / 2 + 0.04;
    const s2 = 2.25 * s1 + 0.04;
    const s3 = 2.25 * s2 + 0.04;
    expect(nngp[1]).to.be.closeTo(s3, 1e-12);
    expect(ntk[1]).to.be.closeTo(s3 + 2.25 * (s2 + 2.25 * s1), 1e-12);
  });
});
