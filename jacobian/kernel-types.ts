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

/** Number of entries of a kernel in the given output mode. */
export const kernelSize = (mode: OutputMode, n1: number, n2: number, K: number): number => kernelShape(mode, n1, n2, K).reduce((p, s) => p * s, 1);

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
  const e = mode === 'full' ? K : 1;
  const rowLen = mode === 'full' ? nc * K : mode === 'trace' ? nc : nc * K;
  const rows = mode === 'full' ? nr * K : nr;
  const ld = mode === 'diagonal' ? n2 * K : n2 * e;
  const col0 = mode === 'trace' ? c0 : c0 * K;
  const row0 = mode === 'full' ? r0 * K : r0;
  for (let r = 0; r < rows; r++) out.set(tile.subarray(r * rowLen, (r + 1) * rowLen), (row0 + r) * ld + col0);
  if (mirror) mirrorTile(out, mode, n2, K, r0, nr, c0, nc);
}

/**
 * Fill the block of samples (c0.., r0..) of a symmetric kernel from the block (r0.., c0..) already in `out`:
 * out[(j,k'),(i,k)] = out[(i,k),(j,k')] (full), out[j,i] = out[i,j] (trace), out[j,i,k] = out[i,j,k]
 * (diagonal). Copied in 64×64 blocks so that the strided side stays in cache.
 */
export function mirrorTile(out: Float32Array, mode: OutputMode, n2: number, K: number, r0: number, nr: number, c0: number, nc: number): void {
  const B = 64;
  if (mode === 'diagonal') {
    for (let i = 0; i < nr; i++) {
      for (let j = 0; j < nc; j++) {
        const src = ((r0 + i) * n2 + c0 + j) * K;
        out.copyWithin(((c0 + j) * n2 + r0 + i) * K, src, src + K);
      }
    }
    return;
  }
  const e = mode === 'full' ? K : 1;
  const ld = n2 * e;
  const R0 = r0 * e, C0 = c0 * e, R = nr * e, C = nc * e;
  for (let rb = 0; rb < R; rb += B) {
    for (let cb = 0; cb < C; cb += B) {
      const re = Math.min(rb + B, R), ce = Math.min(cb + B, C);
      for (let r = rb; r < re; r++) {
        const src = (R0 + r) * ld + C0;
        for (let c = cb; c < ce; c++) out[(C0 + c) * ld + R0 + r] = out[src + c];
      }
    }
  }
}

/**
 * Where the rows of a tile (samples r0..r0+nr × c0..c0+nc, in placeTile's tile layout) go in a kernel with n2
 * columns of samples: one contiguous run per tile row, as [destination offset, offset in the tile, length].
 */
export function tileRows(mode: OutputMode, n2: number, K: number, r0: number, nr: number, c0: number, nc: number): [number, number, number][] {
  const e = mode === 'full' ? K : 1;
  const rowLen = mode === 'trace' ? nc : nc * K;
  const rows = mode === 'full' ? nr * K : nr;
  const ld = mode === 'diagonal' ? n2 * K : n2 * e;
  const col0 = mode === 'trace' ? c0 : c0 * K;
  const row0 = mode === 'full' ? r0 * K : r0;
  return Array.from({ length: rows }, (_, r) => [(row0 + r) * ld + col0, r * rowLen, rowLen]);
}

/** The tile of the mirrored block (c, r) of a symmetric kernel from the tile of (r, c), in tile layout. */
export function transposeTile(mode: OutputMode, K: number, tile: Float32Array, nr: number, nc: number): Float32Array {
  const out = new Float32Array(tile.length);
  if (mode === 'diagonal') {
    for (let i = 0; i < nr; i++) for (let j = 0; j < nc; j++) out.set(tile.subarray((i * nc + j) * K, (i * nc + j + 1) * K), (j * nr + i) * K);
    return out;
  }
  const R = mode === 'full' ? nr * K : nr, C = mode === 'full' ? nc * K : nc;
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = tile[r * C + c];
  return out;
}

/** Something that receives finished tiles (tile layout) instead of one in-memory kernel: a file, a shard. */
export type TileSink = (tile: Float32Array, r0: number, nr: number, c0: number, nc: number, mirror: boolean) => void;

/** The metadata's `layout` of a kernel in output mode `mode`: which entry holds which Θ(x_i, x_j)[k, k2]. */
export const layoutOf = (mode: string) =>
  mode === 'full' ? 'row i*K+k, column j*K+k2: Theta(x_i, x_j)[k, k2]' : mode === 'trace' ? 'mean over k of Theta(x_i, x_j)[k, k]' : '[i, j, k] = Theta(x_i, x_j)[k, k]';
