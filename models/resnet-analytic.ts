import { UserError } from '../lib/errors.js';
import { type AnalyticActivation, gaussianExpectations, tangentScales } from './mlp-analytic.js';
import type { ResNetConfig } from './resnet.js';

/**
 * Analytic infinite-width NTK and NNGP of the residual MLP of models/resnet.ts (variant 'mlp', seeds/002: m
 * branches of d dense layers, branch scale α), float64, per output (the K-output kernel is this ⊗ I_K). With
 * (Σ, Θ) the covariance and tangent kernel of the residual stream h and E, Ė the Gaussian expectations of φφ and
 * φ'φ' under N(0, [[Σ(x,x), Σ(x,x')], [·, Σ(x',x')]]) (notes §3):
 *   h₀ = dense_in(x):  Σ = σ_w² x·x'/n₀ + σ_b²,  Θ = t_w x·x'/n₀ + t_b;
 *   each branch:       (s, t) ← (Σ, Θ), then d times  s ← σ_w² E(s) + σ_b²,  t ← t_w E(s) + t_b + σ_w² Ė(s)·t;
 *                      Σ ← Σ + α² s,  Θ ← Θ + α² t
 *   (the branch's last weights are independent of h and have mean zero, so at infinite width the cross terms
 *   between h and the branch vanish, in the covariance and in the tangent kernel alike);
 *   output = dense_out(φ(h)):  NNGP = σ_w² E(Σ) + σ_b²,  NTK = t_w E(Σ) + t_b + σ_w² Ė(Σ)·Θ.
 * t_w, t_b as in tangentScales (NTK or standard parameterisation). As α → 0 this is the one-hidden-layer MLP's
 * kernel. x1 [N1, n₀], x2 [N2, n₀] row-major; returns [N1, N2] row-major.
 */
export function analyticResNetMlpKernel(cfg: ResNetConfig, x1: ArrayLike<number>, n1: number, x2: ArrayLike<number>, n2: number): { ntk: Float64Array; nngp: Float64Array } {
  const act = cfg.activation as AnalyticActivation;
  if (!['relu', 'erf', 'identity'].includes(act)) throw new UserError(`--activation: the analytic residual-MLP kernel has closed forms for relu, erf and identity; got '${act}'`);
  if (cfg.variant !== 'mlp') throw new UserError(`--variant: the analytic ResNet kernel is implemented for the residual MLP; got '${cfg.variant}'`);
  const d = cfg.inputSize;
  const a2 = cfg.alpha * cfg.alpha;
  const inp = tangentScales(cfg, d), hid = tangentScales(cfg, cfg.width);
  const dot = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += a[i * d + t] * b[j * d + t];
    return s / d;
  };
  // Each sample's own variance at every point where φ is applied, in forward order (m·d + 1 of them).
  const variances = (x: ArrayLike<number>, n: number): Float64Array[] => {
    const out: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      const v = new Float64Array(cfg.branches * cfg.branchDepth + 1);
      let q = inp.sw2 * dot(x, i, x, i) + inp.sb2, t = 0;
      for (let m = 0; m < cfg.branches; m++) {
        let s = q;
        for (let l = 0; l < cfg.branchDepth; l++) {
          v[t++] = s;
          s = hid.sw2 * gaussianExpectations(act, s, s, s)[0] + hid.sb2;
        }
        q += a2 * s;
      }
      v[t] = q;
      out.push(v);
    }
    return out;
  };
  const same = x1 === x2 && n1 === n2;
  const v1 = variances(x1, n1), v2 = same ? v1 : variances(x2, n2);
  const ntk = new Float64Array(n1 * n2), nngp = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++) {
    for (let j = same ? i : 0; j < n2; j++) {
      const k0 = dot(x1, i, x2, j);
      let S = inp.sw2 * k0 + inp.sb2, T = inp.tw * k0 + inp.tb, t = 0;
      for (let m = 0; m < cfg.branches; m++) {
        let s = S, th = T;
        for (let l = 0; l < cfg.branchDepth; l++, t++) {
          const [e, ed] = gaussianExpectations(act, v1[i][t], v2[j][t], s);
          s = hid.sw2 * e + hid.sb2;
          th = hid.tw * e + hid.tb + hid.sw2 * ed * th;
        }
        S += a2 * s;
        T += a2 * th;
      }
      const [e, ed] = gaussianExpectations(act, v1[i][t], v2[j][t], S);
      nngp[i * n2 + j] = hid.sw2 * e + hid.sb2;
      ntk[i * n2 + j] = hid.tw * e + hid.tb + hid.sw2 * ed * T;
      if (same) {
        nngp[j * n2 + i] = nngp[i * n2 + j];
        ntk[j * n2 + i] = ntk[i * n2 + j];
      }
    }
  }
  return { ntk, nngp };
}
