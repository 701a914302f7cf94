import { UserError } from '../lib/errors.js';

export type OutputMode = 'full' | 'trace' | 'diagonal';
export const OUTPUT_MODES: readonly OutputMode[] = ['full', 'trace', 'diagonal'];
export type KernelKind = 'ntk' | 'nngp';
export type Implementation = 'auto' | 'jacobian' | 'structured';

/**
 * A kernel between N1 and N2 samples with K outputs, row-major:
 *   full     [N1·K, N2·K], entry (i·K + k, j·K + k') = Θ(x_i, x_j)[k, k'];
 *   trace    [N1, N2], the mean over k of Θ(x_i, x_j)[k, k] (neural-tangents' trace_axes convention);
 *   diagonal [N1, N2, K], Θ(x_i, x_j)[k, k].
 */
export interface Kernel {
  data: Float32Array;
  shape: number[];
  mode: OutputMode;
  kind: KernelKind;
  n1: number;
  n2: number;
  K: number;
}

export function kernelShape(mode: OutputMode, n1: number, n2: number, K: number): number[] {
  return mode === 'full' ? [n1 * K, n2 * K] : mode === 'trace' ? [n1, n2] : [n1, n2, K];
}

export function checkMode(mode: string): OutputMode {
  if (!OUTPUT_MODES.includes(mode as OutputMode)) {
    throw new UserError(`--outputs: expected one of ${OUTPUT_MODES.join(', ')}; got '${mode}'`);
  }
  return mode as OutputMode;
}

/** Reduce a full kernel [N1·K, N2·K] to trace [N1, N2] or diagonal [N1, N2, K] (mode 'full' copies). */
export function reduceFull(full: Float32Array, n1: number, n2: number, K: number, mode: OutputMode): Float32Array {
  if (mode === 'full') return full.slice();
  const ld = n2 * K;
  const out = new Float32Array(mode === 'trace' ? n1 * n2 : n1 * n2 * K);
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const v = full[(i * K + k) * ld + j * K + k];
        if (mode === 'trace') s += v;
        else out[(i * n2 + j) * K + k] = v;
      }
      if (mode === 'trace') out[i * n2 + j] = s / K;
    }
  }
  return out;
}

/**
 * Copy a tile computed for rows [r0, r0+nr) and columns [c0, c0+nc) of samples into the output array, and,
 * when `mirror` is set, its transpose into the symmetric position (for kernels of a set with itself).
 * `tile` has the layout of `kernelShape(mode, nr, nc, K)`.
 */
export function placeTile(
  out: Float32Array, mode: OutputMode, n2: number, K: number,
  tile: Float32Array, r0: number, nr: number, c0: number, nc: number, mirror: boolean,
): void {
  if (mode === 'full') {
    const ld = n2 * K;
    const tl = nc * K;
    for (let r = 0; r < nr * K; r++) {
      out.set(tile.subarray(r * tl, (r + 1) * tl), (r0 * K + r) * ld + c0 * K);
    }
    if (mirror) {
      for (let r = 0; r < nr * K; r++) {
        for (let c = 0; c < nc * K; c++) out[(c0 * K + c) * ld + r0 * K + r] = tile[r * tl + c];
      }
    }
    return;
  }
  const e = mode === 'trace' ? 1 : K;
  for (let i = 0; i < nr; i++) {
    out.set(tile.subarray(i * nc * e, (i + 1) * nc * e), ((r0 + i) * n2 + c0) * e);
  }
  if (mirror) {
    for (let i = 0; i < nr; i++) {
      for (let j = 0; j < nc; j++) {
        for (let k = 0; k < e; k++) out[((c0 + j) * n2 + r0 + i) * e + k] = tile[(i * nc + j) * e + k];
      }
    }
  }
}
