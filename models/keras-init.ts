import { UserError } from '../lib/errors.js';
import { NormalRng } from '../lib/rng.js';

/** A Keras/tfjs-layers initialiser as serialised in a layer's config: `{class_name, config}`. */
export interface InitializerSpec {
  class_name: string;
  config?: Record<string, unknown>;
}

/** Keras' fans of a weight shape (channels last): dense [in, out]; conv [..., in, out] × receptive field; else √size. */
export function computeFans(shape: number[]): [number, number] {
  if (shape.length === 2) return [shape[0], shape[1]];
  if (shape.length >= 3 && shape.length <= 5) {
    const field = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    return [shape[shape.length - 2] * field, shape[shape.length - 1] * field];
  }
  const s = Math.sqrt(shape.reduce((a, b) => a * b, 1));
  return [s, s];
}

/** Variance-scaling presets by class name: [scale, mode, distribution]. */
const PRESETS: Record<string, [number, string, string]> = {
  GlorotNormal: [1, 'fanAvg', 'normal'],
  GlorotUniform: [1, 'fanAvg', 'uniform'],
  HeNormal: [2, 'fanIn', 'normal'],
  HeUniform: [2, 'fanIn', 'uniform'],
  LeCunNormal: [1, 'fanIn', 'normal'],
  LecunNormal: [1, 'fanIn', 'normal'],
  LeCunUniform: [1, 'fanIn', 'uniform'],
  LecunUniform: [1, 'fanIn', 'uniform'],
};

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const num = (cfg: Record<string, unknown>, key: string, dflt: number): number => {
  const v = cfg[key] ?? cfg[camel(key)];
  return typeof v === 'number' ? v : dflt;
};

/** A normal draw truncated to [−2σ, 2σ] (tfjs's and Keras' truncated normal): redraw outside. */
function truncated(rng: NormalRng): number {
  for (;;) {
    const z = rng.normal();
    if (Math.abs(z) <= 2) return z;
  }
}

/** Q of the QR factorisation of a [rows, cols] Gaussian matrix, sign-corrected (Haar-distributed), in float64. */
function orthogonal(rows: number, cols: number, rng: NormalRng): Float64Array {
  const t = rows < cols;
  const [m, n] = t ? [cols, rows] : [rows, cols];
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  // Modified Gram–Schmidt on the n columns of a [m, n]; the sign of each column follows R's diagonal.
  for (let j = 0; j < n; j++) {
    for (let q = 0; q < j; q++) {
      let d = 0;
      for (let i = 0; i < m; i++) d += a[i * n + q] * a[i * n + j];
      for (let i = 0; i < m; i++) a[i * n + j] -= d * a[i * n + q];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) a[i * n + j] /= norm;
  }
  if (!t) return a;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * cols + i] = a[i * n + j];
  return out;
}

/**
 * Values of a weight of `shape` drawn by the Keras initialiser `spec`, from our seeded stream (seedrandom ARC4 +
 * Box–Muller, the same numbers on every backend), with the distributions of tfjs-layers 4.22:
 * VarianceScaling σ² = scale / max(1, fan) with fan = fan_in, fan_out or their mean; 'normal' a normal truncated
 * at 2σ (tfjs: no correction factor), 'truncated_normal' the same with σ/0.8796 (Keras 2), 'untruncated_normal'
 * a plain normal, 'uniform' U(±√(3σ²)); Glorot/He/LeCun are its presets; RandomNormal, RandomUniform,
 * TruncatedNormal, Zeros, Ones, Constant, Orthogonal (gain · Q of a Gaussian matrix's QR) and Identity.
 * `what` names the weight in errors.
 */
export function initialValues(spec: InitializerSpec | string | undefined, shape: number[], seed: string, what: string): Float32Array {
  const s: InitializerSpec = typeof spec === 'string' ? { class_name: spec[0].toUpperCase() + camel(spec).slice(1) } : spec ?? { class_name: 'Zeros' };
  const cfg = s.config ?? {};
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const rng = new NormalRng(seed);
  const cls = s.class_name;
  if (cls === 'Zeros') return out;
  if (cls === 'Ones') return out.fill(1);
  if (cls === 'Constant') return out.fill(num(cfg, 'value', 0));
  if (cls === 'RandomNormal') {
    const m = num(cfg, 'mean', 0), sd = num(cfg, 'stddev', 0.05);
    for (let i = 0; i < size; i++) out[i] = m + sd * rng.normal();
    return out;
  }
  if (cls === 'TruncatedNormal') {
    const m = num(cfg, 'mean', 0), sd = num(cfg, 'stddev', 0.05);
    for (let i = 0; i < size; i++) out[i] = m + sd * truncated(rng);
    return out;
  }
  if (cls === 'RandomUniform') {
    const lo = num(cfg, 'minval', -0.05), hi = num(cfg, 'maxval', 0.05);
    for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * rng.uniform();
    return out;
  }
  if (cls === 'VarianceScaling' || cls in PRESETS) {
    const p = PRESETS[cls];
    const scale0 = p ? p[0] : num(cfg, 'scale', 1);
    const mode = camel(String(p ? p[1] : cfg.mode ?? 'fanIn')).replace(/^fan(in|out|avg)$/i, (_, m: string) => `fan${m[0].toUpperCase()}${m.slice(1)}`);
    const dist = String(p ? p[2] : cfg.distribution ?? 'normal');
    const [fanIn, fanOut] = computeFans(shape);
    const fan = mode === 'fanIn' ? fanIn : mode === 'fanOut' ? fanOut : mode === 'fanAvg' ? (fanIn + fanOut) / 2 : NaN;
    if (!Number.isFinite(fan)) throw new UserError(`${what}: initialiser ${cls} has an unknown mode '${String(cfg.mode)}'`);
    const v = scale0 / Math.max(1, fan);
    if (dist === 'uniform') {
      const lim = Math.sqrt(3 * v);
      for (let i = 0; i < size; i++) out[i] = -lim + 2 * lim * rng.uniform();
    } else if (dist === 'normal' || dist === 'truncated_normal' || dist === 'truncatedNormal') {
      const sd = Math.sqrt(v) / (dist === 'normal' ? 1 : 0.87962566103423978);
      for (let i = 0; i < size; i++) out[i] = sd * truncated(rng);
    } else if (dist === 'untruncated_normal') {
      const sd = Math.sqrt(v);
      for (let i = 0; i < size; i++) out[i] = sd * rng.normal();
    } else throw new UserError(`${what}: initialiser ${cls} has an unknown distribution '${dist}'`);
    return out;
  }
  if (cls === 'Orthogonal') {
    const cols = shape[shape.length - 1], rows = size / Math.max(cols, 1);
    const q = orthogonal(rows, cols, rng);
    const gain = num(cfg, 'gain', 1);
    for (let i = 0; i < size; i++) out[i] = gain * q[i];
    return out;
  }
  if (cls === 'Identity') {
    if (shape.length !== 2 || shape[0] !== shape[1]) throw new UserError(`${what}: the Identity initialiser needs a square 2-D weight; got [${shape}]`);
    const gain = num(cfg, 'gain', 1);
    for (let i = 0; i < shape[0]; i++) out[i * shape[0] + i] = gain;
    return out;
  }
  throw new UserError(`${what}: initialiser '${cls}' is not supported (supported: Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Glorot/He/LeCun Normal/Uniform, Orthogonal, Identity); re-initialise through fromFunction with your own init`);
}
