import { UserError } from '../lib/errors.js';
import { noProgress, type ProgressFactory } from '../lib/progress.js';
import type { CnnConfig } from './cnn.js';
import { convGeometry } from './layers.js';
import { type AnalyticActivation, gaussianExpectations, tangentScales } from './mlp-analytic.js';

/** One convolution's geometry: input and output maps, and each output row's/column's clipped input window. */
interface ConvGeo {
  hin: number;
  win: number;
  hout: number;
  wout: number;
  k: number;
  stride: number;
  /** Offset of output row/column 0's window in the input (minus the 'same' padding before). */
  top: number;
  left: number;
  /** Window rows [y0[py], y1[py]) and columns [x0[px], x1[px]) of each output position, clipped to the map. */
  y0: Int32Array;
  y1: Int32Array;
  x0: Int32Array;
  x1: Int32Array;
  /** Coefficients of this layer: Σ = sw2·mean + sb2, Θ = tw·mean + tb + sw2·(mean of K̇Θ). */
  sw2: number;
  sb2: number;
  tw: number;
  tb: number;
}

function geometry(cfg: CnnConfig): ConvGeo[] {
  let [h, w, c] = cfg.imageShape;
  return cfg.convs.map((s) => {
    const gh = convGeometry(h, s.kernel, s.stride, s.padding), gw = convGeometry(w, s.kernel, s.stride, s.padding);
    const clip = (v: number, n: number) => Math.max(0, Math.min(n, v));
    const win = (out: number, before: number, n: number) => {
      const a = new Int32Array(out), b = new Int32Array(out);
      for (let p = 0; p < out; p++) {
        a[p] = clip(p * s.stride - before, n);
        b[p] = clip(p * s.stride - before + s.kernel, n);
      }
      return [a, b];
    };
    const [y0, y1] = win(gh.out, gh.before, h), [x0, x1] = win(gw.out, gw.before, w);
    const g: ConvGeo = {
      hin: h, win: w, hout: gh.out, wout: gw.out, k: s.kernel, stride: s.stride, top: -gh.before, left: -gw.before, y0, y1, x0, x1,
      ...tangentScales(cfg, s.kernel * s.kernel * c),
    };
    [h, w, c] = [gh.out, gw.out, s.channels];
    return g;
  });
}

/**
 * Window means of a map src [hin, win] for every output position of a convolution (zero outside the map,
 * divided by k² as the fan-in C·k² of the finite layer does): out[p] = (1/k²) Σ_{a ∈ window(p)} src[a], from an
 * integral image I [(hin+1)·(win+1)] so that each window costs four look-ups whatever k and stride are.
 */
function windowMeans(src: Float64Array, g: ConvGeo, I: Float64Array, out: Float64Array): void {
  integralImage(src, g, I);
  readWindows(I, g, out);
}

/** I[y, x] = Σ_{y' < y, x' < x} src[y', x'] on [(hin+1), (win+1)]. */
function integralImage(src: Float64Array, g: ConvGeo, I: Float64Array): void {
  const W1 = g.win + 1;
  for (let x = 0; x <= g.win; x++) I[x] = 0;
  for (let y = 0; y < g.hin; y++) {
    let row = 0;
    const o = (y + 1) * W1, u = y * W1, s = y * g.win;
    I[o] = 0;
    for (let x = 0; x < g.win; x++) {
      row += src[s + x];
      I[o + x + 1] = I[u + x + 1] + row;
    }
  }
}

function readWindows(I: Float64Array, g: ConvGeo, out: Float64Array): void {
  const W1 = g.win + 1;
  const inv = 1 / (g.k * g.k);
  for (let py = 0; py < g.hout; py++) {
    const a = g.y0[py] * W1, b = g.y1[py] * W1;
    for (let px = 0; px < g.wout; px++) {
      const l = g.x0[px], r = g.x1[px];
      out[py * g.wout + px] = (I[b + r] - I[a + r] - I[b + l] + I[a + l]) * inv;
    }
  }
}

/**
 * The dual of the activation, per position: given Σ (s), the tangent Θ (t) and the two images' own variances
 * (standard deviations da, db for ReLU; variances va, vb otherwise), writes K = E[φ(u)φ(v)] and KT = E[φ'(u)φ'(v)]·Θ.
 */
function dual(act: AnalyticActivation, n: number, s: Float64Array, t: Float64Array | null, va: Float64Array, vb: Float64Array, sa: Float64Array, sb: Float64Array, K: Float64Array, KT: Float64Array | null): void {
  if (act === 'relu') {
    const inv2pi = 1 / (2 * Math.PI);
    for (let p = 0; p < n; p++) {
      const nrm = sa[p] * sb[p];
      if (nrm === 0) {
        K[p] = 0;
        if (KT) KT[p] = 0.25 * t![p];
        continue;
      }
      let c = s[p] / nrm;
      c = c > 1 ? 1 : c < -1 ? -1 : c;
      const th = Math.PI - Math.acos(c);
      K[p] = nrm * (Math.sqrt(1 - c * c) + th * c) * inv2pi;
      if (KT) KT[p] = th * inv2pi * t![p];
    }
    return;
  }
  for (let p = 0; p < n; p++) {
    const [e, ed] = gaussianExpectations(act, va[p], vb[p], s[p]);
    K[p] = e;
    if (KT) KT[p] = ed * t![p];
  }
}

/** x_q·x'_q / C per pixel q of two images [H·W·C] (the input layer's "K"). */
function pixelProducts(x: ArrayLike<number>, a: number, y: ArrayLike<number>, b: number, hw: number, C: number, out: Float64Array): void {
  const ia = a * hw * C, ib = b * hw * C;
  if (C === 1) {
    for (let q = 0; q < hw; q++) out[q] = x[ia + q] * y[ib + q];
    return;
  }
  for (let q = 0; q < hw; q++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[ia + q * C + c] * y[ib + q * C + c];
    out[q] = s / C;
  }
}

function checkAnalyticCnn(cfg: CnnConfig): AnalyticActivation {
  const act = cfg.activation;
  if (act !== 'relu' && act !== 'erf' && act !== 'identity') throw new UserError(`--activation: the analytic CNTK has closed forms for relu, erf and identity; got '${act}'`);
  return act;
}

/**
 * Analytic infinite-width NTK and NNGP of the CNN of models/cnn.ts (the CNTK of Arora et al. 2019, for exactly
 * that finite net: any strides, 'valid'/'same' padding, NTK or standard parameterisation), float64, per output
 * (the K-output kernel is this ⊗ I_K). With Σ^l_{p,p'} the covariance of layer l's pre-activations at positions
 * p of x and p' of x', K = E[φφ], K̇ = E[φ'φ'] under N(0, [[Σ_{pp}(x,x), Σ_{pp'}], [·, Σ_{p'p'}(x',x')]]):
 *   K⁰_{q,q'} = x_q·x'_{q'}/C₀,  T⁰ = 0;
 *   conv l:  Σ^l_{p,p'} = σ_w² M[K^{l−1}]_{p,p'} + σ_b²,  Θ^l = t_w M[K^{l−1}] + t_b + σ_w² M[K̇^{l−1}Θ^{l−1}],
 *            M[A]_{p,p'} = (1/k²) Σ_{a∈k×k} A_{s·p+a−pad, s·p'+a−pad} (zero outside the map);
 *   readout: 'conv' (a last convolution with a 1×1 output) and 'flatten' (dense, mean over positions p of
 *            A_{p,p}) only see aligned positions p = p', so only those are ever formed: O(P·k²) per image pair and
 *            layer, from integral images O(P); 'gap' (dense on the position mean) sees (1/P²) Σ_{p,p'} A_{p,p'},
 *            so the whole P×P tensors are propagated: O(P²·k) per pair and layer (separable window sums).
 * NTK parameterisation: t_w = σ_w², t_b = σ_b²; standard: t_w = fan-in (C·k², or the readout's), t_b = 1 (with
 * biases), the expected NTK of the finite net, which grows with the channel counts. The NNGP kind is the
 * model's conjugate kernel (the readout's input features, scaled as the readout): for a 'conv' readout whose
 * window is the whole map it is the output NNGP. x1 [N1, H·W·C], x2 [N2, H·W·C] row-major (NHWC); returns
 * [N1, N2] row-major. The kernel of a set with itself is computed on and above the diagonal and mirrored.
 */
export function analyticCnnKernel(
  cfg: CnnConfig,
  x1: ArrayLike<number>,
  n1: number,
  x2: ArrayLike<number>,
  n2: number,
  progress: ProgressFactory = noProgress,
): { ntk: Float64Array; nngp: Float64Array } {
  const act = checkAnalyticCnn(cfg);
  const geo = geometry(cfg);
  const [H, W, C0] = cfg.imageShape;
  const hw = H * W;
  const last = geo.length - 1;
  const conv = cfg.head === 'conv';
  // Layers followed by an activation (all of them but a 'conv' readout).
  const hidden = conv ? last : last + 1;
  const maxMap = Math.max(hw, ...geo.map((g) => g.hout * g.wout));
  const maxI = Math.max(...geo.map((g) => (g.hin + 1) * (g.win + 1)));
  const last1 = geo[last];
  const readout = tangentScales(cfg, cfg.head === 'flatten' ? last1.hout * last1.wout * cfg.convs[last].channels : cfg.convs[last].channels);

  // Each image's own variances Σ^l_{pp}(x, x) (and their square roots) at every hidden layer: the aligned
  // recursion of the pair (x, x), NNGP part only.
  const selfVariances = (x: ArrayLike<number>, n: number): { v: Float64Array[][]; sd: Float64Array[][] } => {
    const K = new Float64Array(maxMap), S = new Float64Array(maxMap), I = new Float64Array(maxI);
    const v: Float64Array[][] = [], sd: Float64Array[][] = [];
    for (let i = 0; i < n; i++) {
      pixelProducts(x, i, x, i, hw, C0, K);
      const vi: Float64Array[] = [], si: Float64Array[] = [];
      for (let l = 0; l < hidden; l++) {
        const g = geo[l], P = g.hout * g.wout;
        windowMeans(K, g, I, S);
        const vl = new Float64Array(P), sl = new Float64Array(P);
        for (let p = 0; p < P; p++) {
          vl[p] = g.sw2 * S[p] + g.sb2;
          sl[p] = Math.sqrt(vl[p]);
        }
        dual(act, P, vl, null, vl, vl, sl, sl, K, null);
        vi.push(vl);
        si.push(sl);
      }
      v.push(vi);
      sd.push(si);
    }
    return { v, sd };
  };
  const same = x1 === x2 && n1 === n2;
  const d1 = selfVariances(x1, n1);
  const d2 = same ? d1 : selfVariances(x2, n2);

  const ntk = new Float64Array(n1 * n2), nngp = new Float64Array(n1 * n2);
  const total = same ? (n1 * (n1 + 1)) / 2 : n1 * n2;
  const bar = progress(`analytic CNTK (${cfg.head === 'gap' ? 'gap readout: all position pairs' : `${cfg.head} readout: aligned positions`})`, total);
  const pair = cfg.head === 'gap' ? gapPair(cfg, geo, act, readout) : alignedPair(cfg, geo, act, readout, maxMap, maxI);
  let done = 0;
  try {
    for (let i = 0; i < n1; i++) {
      const j0 = same ? i : 0;
      for (let j = j0; j < n2; j++) {
        const [s, t] = pair(x1, i, x2, j, d1.v[i], d2.v[j], d1.sd[i], d2.sd[j]);
        nngp[i * n2 + j] = s;
        ntk[i * n2 + j] = t;
        if (same) {
          nngp[j * n2 + i] = s;
          ntk[j * n2 + i] = t;
        }
      }
      done += n2 - j0;
      bar.update(done);
    }
  } finally {
    bar.stop();
  }
  return { ntk, nngp };
}

type PairFn = (x1: ArrayLike<number>, i: number, x2: ArrayLike<number>, j: number, va: Float64Array[], vb: Float64Array[], sa: Float64Array[], sb: Float64Array[]) => [number, number];
type Scales = ReturnType<typeof tangentScales>;

/** The 'conv' and 'flatten' readouts: only aligned positions (p, p) are propagated; returns [NNGP, NTK]. */
function alignedPair(cfg: CnnConfig, geo: ConvGeo[], act: AnalyticActivation, readout: Scales, maxMap: number, maxI: number): PairFn {
  const [H, W, C0] = cfg.imageShape;
  const hw = H * W;
  const last = geo.length - 1;
  const conv = cfg.head === 'conv';
  const K = new Float64Array(maxMap), KT = new Float64Array(maxMap), S = new Float64Array(maxMap), T = new Float64Array(maxMap);
  const M = new Float64Array(maxMap), MT = new Float64Array(maxMap), I = new Float64Array(maxI);
  return (x1, i, x2, j, va, vb, sa, sb) => {
    pixelProducts(x1, i, x2, j, hw, C0, K);
    for (let l = 0; l <= last; l++) {
      const g = geo[l], P = g.hout * g.wout;
      if (conv && l === last) {
        // The model's conjugate kernel: its features are the whole last hidden map, scaled by σ_w/√(C·k²).
        let k = 0;
        for (let q = 0; q < g.hin * g.win; q++) k += K[q];
        const nngp = (g.sw2 * k) / (g.k * g.k) + g.sb2;
        windowMeans(K, g, I, M);
        windowMeans(KT, g, I, MT);
        return [nngp, g.tw * M[0] + g.tb + g.sw2 * MT[0]];
      }
      windowMeans(K, g, I, M);
      if (l > 0) windowMeans(KT, g, I, MT);
      for (let p = 0; p < P; p++) {
        S[p] = g.sw2 * M[p] + g.sb2;
        T[p] = g.tw * M[p] + g.tb + (l > 0 ? g.sw2 * MT[p] : 0);
      }
      dual(act, P, S, T, va[l], vb[l], sa[l], sb[l], K, KT);
    }
    // 'flatten': a dense readout over all positions and channels sees the mean over aligned positions.
    const g = geo[last], P = g.hout * g.wout;
    let k = 0, kt = 0;
    for (let p = 0; p < P; p++) {
      k += K[p];
      kt += KT[p];
    }
    k /= P;
    kt /= P;
    return [readout.sw2 * k + readout.sb2, readout.tw * k + readout.tb + readout.sw2 * kt];
  };
}

/**
 * The window means M[A] of the 'gap' recursion on a [hin, win, hin, win] tensor (positions (y, x) of x and
 * (y', x') of x'), the same offset a applied to both sides: separable, rows then columns,
 * mid[o, x, o', x'] = Σ_{a_y} A[s·o+a_y−pad, x, s·o'+a_y−pad, x'],  out[o, b, o', b'] = Σ_{a_x} mid[o, s·b+a_x−pad, o', s·b'+a_x−pad] / k²
 * (terms outside the map are zero): O(P²·k) instead of O(P²·k²).
 */
function pairWindowMeans(src: Float64Array, mid: Float64Array, out: Float64Array, g: ConvGeo): void {
  const { hin, win, hout, wout, k, stride } = g;
  mid.fill(0, 0, hout * win * hout * win);
  for (let o = 0; o < hout; o++) {
    for (let o2 = 0; o2 < hout; o2++) {
      for (let a = 0; a < k; a++) {
        const y = o * stride + a + g.top, y2 = o2 * stride + a + g.top;
        if (y < 0 || y >= hin || y2 < 0 || y2 >= hin) continue;
        for (let x = 0; x < win; x++) {
          const s0 = ((y * win + x) * hin + y2) * win, d0 = ((o * win + x) * hout + o2) * win;
          for (let x2 = 0; x2 < win; x2++) mid[d0 + x2] += src[s0 + x2];
        }
      }
    }
  }
  const inv = 1 / (k * k);
  for (let o = 0; o < hout; o++) {
    for (let b = 0; b < wout; b++) {
      for (let o2 = 0; o2 < hout; o2++) {
        for (let b2 = 0; b2 < wout; b2++) {
          let s = 0;
          for (let a = 0; a < k; a++) {
            const x = b * stride + a + g.left, x2 = b2 * stride + a + g.left;
            if (x >= 0 && x < win && x2 >= 0 && x2 < win) s += mid[((o * win + x) * hout + o2) * win + x2];
          }
          out[((o * wout + b) * hout + o2) * wout + b2] = s * inv;
        }
      }
    }
  }
}

/**
 * The 'gap' readout: every position pair (p, p') of the two images is propagated, as a [H, W, H, W] tensor;
 * the k×k windows are separable into a pass over rows and one over columns. Returns [NNGP, NTK].
 */
function gapPair(cfg: CnnConfig, geo: ConvGeo[], act: AnalyticActivation, readout: Scales): PairFn {
  const [H, W, C0] = cfg.imageShape;
  const hw = H * W;
  const maxP2 = Math.max(hw * hw, ...geo.map((g) => g.hout * g.wout * g.hout * g.wout));
  const maxMid = Math.max(...geo.map((g) => g.hout * g.win * g.hout * g.win));
  const K = new Float64Array(maxP2), KT = new Float64Array(maxP2);
  const mid = new Float64Array(maxMid), M = new Float64Array(maxP2), MT = new Float64Array(maxP2);
  const S = new Float64Array(maxP2), T = new Float64Array(maxP2);
  const rowVa = new Float64Array(maxP2), rowVb = new Float64Array(maxP2), rowSa = new Float64Array(maxP2), rowSb = new Float64Array(maxP2);
  return (x1, i, x2, j, va, vb, sa, sb) => {
    // K⁰[q, q'] = x_q·x'_{q'}/C₀.
    const ia = i * hw * C0, ib = j * hw * C0;
    for (let q = 0; q < hw; q++) {
      for (let r = 0; r < hw; r++) {
        let s = 0;
        for (let c = 0; c < C0; c++) s += x1[ia + q * C0 + c] * x2[ib + r * C0 + c];
        K[q * hw + r] = s / C0;
      }
    }
    for (let l = 0; l < geo.length; l++) {
      const g = geo[l], P = g.hout * g.wout, n = P * P;
      pairWindowMeans(K, mid, M, g);
      if (l > 0) pairWindowMeans(KT, mid, MT, g);
      for (let t = 0; t < n; t++) {
        S[t] = g.sw2 * M[t] + g.sb2;
        T[t] = g.tw * M[t] + g.tb + (l > 0 ? g.sw2 * MT[t] : 0);
      }
      // The variances of position p of x (rows) and p' of x' (columns), laid out like the tensor.
      for (let p = 0; p < P; p++) {
        for (let r = 0; r < P; r++) {
          rowVa[p * P + r] = va[l][p];
          rowSa[p * P + r] = sa[l][p];
          rowVb[p * P + r] = vb[l][r];
          rowSb[p * P + r] = sb[l][r];
        }
      }
      dual(act, n, S, T, rowVa, rowVb, rowSa, rowSb, K, KT);
    }
    const g = geo[geo.length - 1], n = (g.hout * g.wout) ** 2;
    let k = 0, kt = 0;
    for (let t = 0; t < n; t++) {
      k += K[t];
      kt += KT[t];
    }
    k /= n;
    kt /= n;
    return [readout.sw2 * k + readout.sb2, readout.tw * k + readout.tb + readout.sw2 * kt];
  };
}
