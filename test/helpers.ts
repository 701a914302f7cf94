import { initBackend } from '../lib/backend.js';
import type { BackendName } from '../lib/backend.js';
import { NormalRng } from '../lib/rng.js';
import type { Param } from '../models/params.js';
import type { MlpConfig } from '../models/mlp.js';

/** Backend for the suite: NTK_TEST_BACKEND (wasm by default, the backend the product is tuned for). */
export async function testBackend(): Promise<BackendName> {
  return initBackend(process.env.NTK_TEST_BACKEND ?? 'wasm');
}

export function randomInputs(n: number, d: number, seed: string | number): Float32Array {
  return new NormalRng(`inputs/${seed}`).normals(n * d);
}

/** Largest |a_i − b_i| and largest |b_i|: the test tolerances are relative to the kernel's scale. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/**
 * An independent float64 reference of the MLP forward pass written from the formula in models/mlp.ts's
 * doc comment (not from its code): z_l = wScale·(a W) + bScale·b, a_{l+1} = φ(z_l). Returns f(x) [K] and the
 * last hidden layer for one sample; used for finite differences and the conjugate kernel.
 */
export function referenceForward(cfg: MlpConfig, params: { values: ArrayLike<number> }[], x: ArrayLike<number>): { out: number[]; hidden: number[] } {
  const phi = (v: number): number => {
    switch (cfg.activation) {
      case 'relu': return Math.max(0, v);
      case 'tanh': return Math.tanh(v);
      case 'identity': return v;
      case 'erf': return erf(v);
    }
  };
  let a = Array.from(x);
  let hidden = a;
  let p = 0;
  const L = cfg.widths.length - 1;
  for (let l = 0; l < L; l++) {
    const nIn = cfg.widths[l], nOut = cfg.widths[l + 1];
    const ntk = cfg.parameterization === 'ntk';
    const wScale = ntk ? cfg.wStd / Math.sqrt(nIn) : 1;
    const bScale = ntk ? cfg.bStd : 1;
    const W = params[p++].values;
    const b = cfg.bias ? params[p++].values : null;
    const z = new Array<number>(nOut).fill(0);
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let i = 0; i < nIn; i++) s += a[i] * W[i * nOut + j];
      z[j] = wScale * s + (b ? bScale * b[j] : 0);
    }
    if (l + 1 < L) {
      a = z.map(phi);
      hidden = a;
    } else {
      return { out: z, hidden };
    }
  }
  throw new Error('unreachable');
}

/** erf to ~1e-15 by its Maclaurin series (|x| < 3) or continued fraction, for the float64 reference. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz), accurate for large |x|.
  let f = ax, C = ax, D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = ax + an * D; D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Params as float64 copies, so finite differences are not limited by float32 rounding. */
export const toFloat64 = (params: Param[]) => params.map((p) => ({ name: p.name, shape: p.shape, values: Float64Array.from(p.values) }));

/**
 * How a Monte-Carlo estimate compares with an oracle: relative Frobenius error, relative size of the
 * standard errors, and the largest |estimate − oracle| in standard errors.
 */
export function compareToOracle(r: { mean: ArrayLike<number>; stderr: ArrayLike<number> }, oracle: ArrayLike<number>): { rel: number; relSe: number; zMax: number } {
  let e2 = 0, o2 = 0, se2 = 0, zMax = 0;
  for (let i = 0; i < oracle.length; i++) {
    e2 += (r.mean[i] - oracle[i]) ** 2;
    o2 += oracle[i] ** 2;
    se2 += r.stderr[i] ** 2;
    zMax = Math.max(zMax, Math.abs(r.mean[i] - oracle[i]) / r.stderr[i]);
  }
  return { rel: Math.sqrt(e2 / o2), relSe: Math.sqrt(se2 / o2), zMax };
}
