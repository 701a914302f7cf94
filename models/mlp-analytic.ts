import { UserError } from '../lib/errors.js';

export type AnalyticActivation = 'relu' | 'erf' | 'identity';

/**
 * Configuration of the infinite-width fully-connected net: L hidden layers. NTK parameterisation unless
 * `parameterization` is 'standard', which needs the finite net's fan-ins n_0..n_L (`widths`, the last entry,
 * the output size, is not used) and `bias` (whether the net has biases, whatever σ_b is).
 */
export interface AnalyticMlpConfig {
  depth: number;
  activation: string;
  wStd: number;
  bStd: number;
  parameterization?: 'ntk' | 'standard';
  widths?: number[];
  bias?: boolean;
}

/**
 * Coefficients of one linear layer with fan-in n in the kernel recursions: the NNGP step Σ = sw2·K + sb2 and the
 * NTK step Θ = tw·K + tb + sw2·(K̇Θ)_in, with K the (window-averaged) covariance of the layer's input units.
 * sw2 = σ_w², sb2 = σ_b² (0 without biases) in both parameterisations, as the functions they define at init are
 * the same. The layer's own parameters' share of Θ differs: NTK parameterisation W, b ~ N(0, 1) scaled by
 * σ_w/√n and σ_b gives tw = σ_w², tb = σ_b²; standard parameterisation (unscaled W ~ N(0, σ_w²/n), b ~ N(0, σ_b²))
 * gives ∂z/∂W = the input itself, tw = n, and tb = 1 — the expected NTK of the finite net (Lee et al. 2019).
 */
export function tangentScales(c: { parameterization?: string; wStd: number; bStd: number; bias?: boolean }, fanIn: number): { sw2: number; sb2: number; tw: number; tb: number } {
  const sw2 = c.wStd * c.wStd;
  const bias = c.bias ?? c.bStd > 0;
  const sb2 = bias ? c.bStd * c.bStd : 0;
  if (c.parameterization === 'standard') return { sw2, sb2, tw: fanIn, tb: bias ? 1 : 0 };
  return { sw2, sb2, tw: sw2, tb: sb2 };
}

/**
 * Gaussian expectations E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]), closed forms:
 * ReLU (arc-cosine kernels, Cho & Saul): c = s12/√(s11 s22), θ = arccos c,
 *   E[φφ] = √(s11 s22)(sin θ + (π−θ)c)/(2π),  E[φ'φ'] = (π−θ)/(2π);
 * erf (Williams 1997): E[φφ] = (2/π) asin(2 s12/√((1+2s11)(1+2s22))),
 *   E[φ'φ'] = (4/π)/√((1+2s11)(1+2s22) − 4 s12²);
 * identity: s12 and 1.
 */
export function gaussianExpectations(act: AnalyticActivation, s11: number, s22: number, s12: number): [number, number] {
  switch (act) {
    case 'relu': {
      const nrm = Math.sqrt(s11 * s22);
      if (nrm === 0) return [0, 0.25];
      const c = Math.max(-1, Math.min(1, s12 / nrm));
      const th = Math.acos(c);
      return [(nrm * (Math.sin(th) + (Math.PI - th) * c)) / (2 * Math.PI), (Math.PI - th) / (2 * Math.PI)];
    }
    case 'erf': {
      const d = (1 + 2 * s11) * (1 + 2 * s22);
      const r = Math.max(-1, Math.min(1, (2 * s12) / Math.sqrt(d)));
      return [(2 / Math.PI) * Math.asin(r), 4 / Math.PI / Math.sqrt(Math.max(d - 4 * s12 * s12, Number.MIN_VALUE))];
    }
    case 'identity':
      return [s12, 1];
  }
}

/**
 * Analytic infinite-width NNGP Σ and NTK Θ of the fully-connected net (Jacot et al. 2018; notes §3), per output
 * (the full multi-output kernel is Θ ⊗ I_K), in float64:
 *   Σ¹ = σ_w² x·x'/n₀ + σ_b²,  Θ¹ = Σ¹;  for l = 1..L:
 *   Σ^{l+1} = σ_w² E[φ(u)φ(v)] + σ_b²,  Σ̇^{l+1} = σ_w² E[φ'(u)φ'(v)],  Θ^{l+1} = Σ^{l+1} + Σ̇^{l+1} Θ^l,
 * (u, v) ~ N(0, Λ^l) with Λ^l the 2×2 matrix of Σ^l on {x, x'}. Standard parameterisation replaces the
 * layer's own term Σ^{l+1} in Θ^{l+1} by n_l E[φφ] + 1 (and Θ¹ by x·x' + 1): see tangentScales. Inputs x1 [N1, d], x2 [N2, d] row-major;
 * returns Θ^{L+1} and Σ^{L+1} as [N1, N2] row-major Float64Arrays.
 */
export function analyticMlpKernel(
  cfg: AnalyticMlpConfig,
  x1: ArrayLike<number>,
  n1: number,
  x2: ArrayLike<number>,
  n2: number,
  d: number,
): { ntk: Float64Array; nngp: Float64Array } {
  const act = cfg.activation;
  if (act !== 'relu' && act !== 'erf' && act !== 'identity') {
    throw new UserError(`--activation: the analytic kernel has closed forms for relu, erf and identity; got '${act}'`);
  }
  if (!(Number.isInteger(cfg.depth) && cfg.depth >= 0)) throw new UserError(`--depth: expected a non-negative integer; got ${cfg.depth}`);
  if (!(cfg.wStd > 0) || !(cfg.bStd >= 0)) throw new UserError('--w-std must be > 0 and --b-std >= 0');
  const standard = cfg.parameterization === 'standard';
  if (standard && !(cfg.widths && cfg.widths.length >= cfg.depth + 1 && cfg.widths[0] === d)) {
    throw new UserError(`--widths: the standard parameterisation's kernel needs the layer widths (input ${d} first)`);
  }
  const ts = Array.from({ length: cfg.depth + 1 }, (_, l) => tangentScales(cfg, standard ? cfg.widths![l] : 1));
  const { sw2, sb2 } = ts[0];
  const dot = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += a[i * d + t] * b[j * d + t];
    return s;
  };
  // Diagonal variances per layer for each sample.
  const diag = (x: ArrayLike<number>, n: number): Float64Array[] => {
    const out: Float64Array[] = [];
    let q = new Float64Array(n);
    for (let i = 0; i < n; i++) q[i] = (sw2 * dot(x, i, x, i)) / d + sb2;
    out.push(q);
    for (let l = 0; l < cfg.depth; l++) {
      const next = new Float64Array(n);
      for (let i = 0; i < n; i++) next[i] = sw2 * gaussianExpectations(act, q[i], q[i], q[i])[0] + sb2;
      q = next;
      out.push(q);
    }
    return out;
  };
  const q1 = diag(x1, n1);
  const q2 = diag(x2, n2);
  const ntk = new Float64Array(n1 * n2);
  const nngp = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      const k0 = dot(x1, i, x2, j) / d;
      let s = sw2 * k0 + sb2;
      let th = ts[0].tw * k0 + ts[0].tb;
      for (let l = 0; l < cfg.depth; l++) {
        const [e, ed] = gaussianExpectations(act, q1[l][i], q2[l][j], s);
        s = sw2 * e + sb2;
        th = ts[l + 1].tw * e + ts[l + 1].tb + sw2 * ed * th;
      }
      ntk[i * n2 + j] = th;
      nngp[i * n2 + j] = s;
    }
  }
  return { ntk, nngp };
}
