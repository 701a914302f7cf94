import { UserError } from '../lib/errors.js';
import { NpyFileReader, NpyFileWriter } from '../lib/npy-file.js';
import { type OutputMode, type TileSink, tileRows, transposeTile } from './kernel-types.js';

/**
 * A TileSink that writes every tile (and, for a symmetric kernel, its mirrored block) straight into a .npy file
 * on disk, so that the kernel is never held in memory: its rows go to their places by positional writes.
 */
export function fileTileSink(writer: NpyFileWriter, mode: OutputMode, n2: number, K: number): TileSink {
  return (tile, r0, nr, c0, nc, mirror) => {
    for (const [dst, src, len] of tileRows(mode, n2, K, r0, nr, c0, nc)) writer.writeAt(dst, tile.subarray(src, src + len));
    if (mirror) {
      const t = transposeTile(mode, K, tile, nr, nc);
      for (const [dst, src, len] of tileRows(mode, n2, K, c0, nc, r0, nr)) writer.writeAt(dst, t.subarray(src, src + len));
    }
  };
}

/** What a shard's metadata must say for `ntk merge` to place its tiles. */
export interface ShardInfo {
  index: number;
  count: number;
  /** Tile pairs (row block, column block) this shard computed. */
  pairs: [number, number][];
  tile: number;
  mode: OutputMode;
  K: number;
  n1: number;
  n2: number;
  symmetric: boolean;
  shape: number[];
  /** Everything that must agree between shards of one kernel (config, data, seed, backend, tool). */
  fingerprint: string;
}

/** Parse "I/N" (0 ≤ I < N). */
export function parseShard(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m || Number(m[1]) >= Number(m[2]) || Number(m[2]) < 1) throw new UserError(`--shard: expected I/N with 0 ≤ I < N, e.g. 0/4; got '${v}'`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/**
 * Assemble the shards of one kernel (each a full-shape .npy in which only its own tiles and their mirrors were
 * written, with its ShardInfo) into `writer` (the caller commits it), copying every tile's rows by positional reads and writes: memory stays
 * at one row. Refuses shards of different kernels, a missing or repeated shard index, or mismatched shapes.
 */
export function mergeShards(shards: { path: string; info: ShardInfo }[], writer: NpyFileWriter): { tiles: number } {
  if (shards.length === 0) throw new UserError('merge: no shard files given');
  const first = shards[0].info;
  const seen = new Set<number>();
  for (const { path, info } of shards) {
    if (info.fingerprint !== first.fingerprint || info.count !== first.count || info.shape.join(',') !== first.shape.join(',') || info.tile !== first.tile) {
      throw new UserError(`merge: ${path} is a shard of a different kernel (config, data, tile or shard count differ from ${shards[0].path})`);
    }
    if (seen.has(info.index)) throw new UserError(`merge: shard ${info.index}/${info.count} is given twice (${path})`);
    seen.add(info.index);
  }
  const missing = Array.from({ length: first.count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new UserError(`merge: missing shard(s) ${missing.map((i) => `${i}/${first.count}`).join(', ')}`);
  if (writer.shape.join(',') !== first.shape.join(',')) throw new Error(`mergeShards: writer shape [${writer.shape}] differs from the shards' [${first.shape}]`);
  let tiles = 0;
  for (const { path, info } of shards) {
    const reader = new NpyFileReader(path, 'merge');
    try {
      if (reader.shape.join(',') !== info.shape.join(',')) throw new UserError(`merge: ${path} has shape [${reader.shape}], its metadata says [${info.shape}]`);
      const copy = (r0: number, nr: number, c0: number, nc: number) => {
        for (const [dst, , len] of tileRows(info.mode, info.n2, info.K, r0, nr, c0, nc)) writer.writeAt(dst, reader.readAt(dst, len));
      };
      for (const [r, c] of info.pairs) {
        const r0 = r * info.tile, c0 = c * info.tile;
        const nr = Math.min(info.tile, info.n1 - r0), nc = Math.min(info.tile, info.n2 - c0);
        copy(r0, nr, c0, nc);
        if (info.symmetric && r !== c) copy(c0, nc, r0, nr);
        tiles++;
      }
    } finally {
      reader.close();
    }
  }
  return { tiles };
}
