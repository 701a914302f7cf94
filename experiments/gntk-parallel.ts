import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFilesAtomically } from '../lib/files.js';
import { runJobPool } from '../lib/job-pool.js';
import { decodeNpy, npyChunks } from '../lib/npy.js';
import type { Graph } from '../lib/samples.js';
import { type GntkConfig, type GntkReadouts, gntkPairCount, gntkReadoutRows, gntkRowPairs } from '../models/gnn-analytic.js';
import type { GntkRowsJob } from './gntk-worker.js';

/** Worker threads the GNTK recursion uses by default: the machine's cores. */
export const defaultGntkWorkers = (): number => Math.max(1, os.availableParallelism());

/** Row chunks of the recursion: a fixed number, so that a rerun with another thread count finds the same chunks. */
const CHUNKS = 64;
let runs = 0;

/**
 * Where the recursion leaves finished row chunks so that a stopped run resumes: files `${name}-rows-${c}.npy`
 * (+ .json) in `dir`, used only when their JSON holds exactly `meta` (what the readouts depend on).
 */
export interface GntkCheckpoint {
  dir: string;
  name: string;
  meta: unknown;
}

/**
 * analyticGntkReadouts on `workers` threads, bit for bit the same readouts (each entry is computed by the same code
 * whichever thread runs its row; see gntkReadoutRows). Rows are dealt into 64 chunks of about equal cost, cost of
 * row i = n_i·Σ_j n_j over the graph pairs it computes (node pairs, which the recursion's time follows), many per
 * worker so that a slow one does not leave a core idle at the end; the readouts live in SharedArrayBuffers that
 * every worker writes its rows into (one worker: the chunks run in this thread). With `checkpoint`, every finished
 * chunk is written to disk as it completes and chunks found there are not recomputed: a run stopped after hours
 * loses at most the chunks in flight. `onPairs` hears graph pairs done (resumed chunks count as done).
 */
export async function parallelGntkReadouts(cfg: GntkConfig, g1: Graph[], g2: Graph[], featureDim: number, workers = defaultGntkWorkers(), onPairs?: (done: number, total: number) => void, checkpoint?: GntkCheckpoint): Promise<GntkReadouts> {
  const n1 = g1.length, n2 = g2.length, same = g1 === g2, B = cfg.blocks;
  const chunks = rowChunks(g1, g2, same);
  const shared = () => Array.from({ length: B }, () => new Float64Array(new SharedArrayBuffer(n1 * n2 * 8)));
  const q = shared(), t = shared();
  const pairsOf = (rows: number[]) => rows.reduce((a, i) => a + gntkRowPairs(i, n2, same), 0);
  const total = gntkPairCount(n1, n2, same);
  const todo: number[] = [];
  let resumed = 0;
  chunks.forEach((rows, c) => {
    if (checkpoint && loadChunk(checkpoint, c, rows, q, t, n2, same)) resumed += pairsOf(rows);
    else todo.push(c);
  });
  onPairs?.(resumed, total);
  // Each saved chunk carries this run's name and its wall seconds so far: a resumed group's time adds the earlier
  // runs' (checkpointSeconds) instead of counting only the last run's share.
  const started = performance.now(), runName = `${process.pid}:${Date.now()}:${++runs}`;
  const save = (c: number) => checkpoint && saveChunk(checkpoint, c, chunks[c], q, t, n2, { run: runName, seconds: (performance.now() - started) / 1000 });
  if (workers <= 1 || todo.length < 2) {
    // One call over every row to do (one memo of per-graph work), each chunk saved when its last row is done.
    const rows = todo.flatMap((c) => chunks[c]);
    let done = resumed, k = 0, left = todo.length ? chunks[todo[0]].length : 0;
    gntkReadoutRows(cfg, g1, same ? g1 : g2, same, featureDim, rows, { q, t }, (p) => {
      onPairs?.((done += p), total);
      if (--left === 0) {
        save(todo[k]);
        if (++k < todo.length) left = chunks[todo[k]].length;
      }
    });
  } else {
    const G1 = shareGraphs(g1), G2 = same ? null : shareGraphs(g2);
    const run = `${process.pid}:${++runs}`;
    const jobs: GntkRowsJob[] = todo.map((c) => ({
      run, cfg, g1: G1, g2: G2, featureDim, rows: Int32Array.from(chunks[c]), q: q.map((a) => a.buffer as SharedArrayBuffer), t: t.map((a) => a.buffer as SharedArrayBuffer), pairs: pairsOf(chunks[c]),
    }));
    const fractions = new Float64Array(jobs.length);
    await runJobPool<GntkRowsJob, null>(new URL('../experiments/gntk-worker.js', import.meta.url), jobs, workers, (k, f) => {
      // A job reports 1 once, when its worker has written all its rows: the chunk is complete in the buffers.
      if (f === 1 && fractions[k] !== 1) save(todo[k]);
      fractions[k] = f;
      let done = resumed;
      jobs.forEach((j, m) => (done += fractions[m] * j.pairs));
      onPairs?.(Math.round(done), total);
    });
  }
  return { q, t, n1, n2 };
}

/**
 * Wall seconds that earlier runs spent on a checkpoint's saved chunks: Σ over runs of the largest `seconds` among
 * that run's chunks for this meta (a run's time up to its last saved chunk; work in flight when it stopped is not
 * counted, it is redone). 0 when nothing is saved.
 */
export function checkpointSeconds(cp: GntkCheckpoint): number {
  if (!fs.existsSync(cp.dir)) return 0;
  const perRun = new Map<string, number>();
  const prefix = `${cp.name}-rows-`;
  for (const f of fs.readdirSync(cp.dir)) {
    if (!f.startsWith(prefix) || !f.endsWith('.json')) continue;
    const saved = chunkRecord(path.join(cp.dir, f), cp.meta);
    if (!saved || typeof saved.run !== 'string' || !(Number(saved.seconds) >= 0)) continue;
    perRun.set(saved.run, Math.max(perRun.get(saved.run) ?? 0, Number(saved.seconds)));
  }
  let sum = 0;
  for (const v of perRun.values()) sum += v;
  return sum;
}

/** Remove the chunk files of a checkpoint (once the whole group is saved elsewhere). */
export function clearGntkCheckpoint(cp: Pick<GntkCheckpoint, 'dir' | 'name'>): void {
  if (!fs.existsSync(cp.dir)) return;
  const prefix = `${cp.name}-rows-`;
  for (const f of fs.readdirSync(cp.dir)) if (f.startsWith(prefix)) fs.rmSync(path.join(cp.dir, f), { force: true });
}

/** Consecutive rows dealt into CHUNKS chunks of about equal cost (fewer when there are fewer rows). */
function rowChunks(g1: Graph[], g2: Graph[], same: boolean): number[][] {
  const n1 = g1.length, n2 = g2.length;
  // Node counts of the column graphs summed from the right: the cost of row i against j ≥ i is n_i·suffix[i].
  const suffix = new Float64Array(n2 + 1);
  for (let j = n2 - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + g2[j].nodes;
  const cost = (i: number) => Math.max(1, g1[i].nodes * (same ? suffix[i] : suffix[0]));
  let totalCost = 0;
  for (let i = 0; i < n1; i++) totalCost += cost(i);
  const chunks: number[][] = [];
  let acc = 0;
  for (let i = 0; i < n1; i++) {
    if (!chunks.length || (acc >= (chunks.length * totalCost) / CHUNKS && chunks[chunks.length - 1].length)) chunks.push([]);
    chunks[chunks.length - 1].push(i);
    acc += cost(i);
  }
  return chunks;
}

const chunkFiles = (cp: GntkCheckpoint, c: number) => {
  const base = path.join(cp.dir, `${cp.name}-rows-${c}`);
  return { npy: `${base}.npy`, json: `${base}.json` };
};

/** Rows i of chunk c, entries j ≥ i (all j for two sets), as [2, B, rows, n2]: q then t; `when`: run and its seconds. */
function saveChunk(cp: GntkCheckpoint, c: number, rows: number[], q: Float64Array[], t: Float64Array[], n2: number, when: { run: string; seconds: number }): void {
  const B = q.length, data = new Float64Array(2 * B * rows.length * n2);
  [...q, ...t].forEach((a, k) => rows.forEach((i, r) => data.set(a.subarray(i * n2, (i + 1) * n2), (k * rows.length + r) * n2)));
  const f = chunkFiles(cp, c);
  writeFilesAtomically([
    { path: f.npy, data: npyChunks({ data, shape: [2, B, rows.length, n2] }) },
    { path: f.json, data: JSON.stringify({ meta: cp.meta, rows: [rows[0], rows[rows.length - 1]], ...when }) + '\n' },
  ]);
}

/** A chunk's JSON record (saveChunk), or null when it is missing, unreadable or saved for another meta. */
function chunkRecord(file: string, meta: unknown): { rows?: number[]; run?: string; seconds?: number } | null {
  let saved: { meta?: unknown; rows?: number[]; run?: string; seconds?: number };
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  return JSON.stringify(saved.meta) === JSON.stringify(meta) ? saved : null;
}

/** Chunk c from disk into the readouts (its rows, and their mirror when `same`), if saved for this meta and rows. */
function loadChunk(cp: GntkCheckpoint, c: number, rows: number[], q: Float64Array[], t: Float64Array[], n2: number, same: boolean): boolean {
  const f = chunkFiles(cp, c);
  if (!fs.existsSync(f.npy)) return false;
  const saved = chunkRecord(f.json, cp.meta);
  if (!saved || saved.rows?.[0] !== rows[0] || saved.rows?.[1] !== rows[rows.length - 1]) return false;
  const a = decodeNpy(fs.readFileSync(f.npy), f.npy);
  const B = q.length;
  if (!(a.data instanceof Float64Array) || a.data.length !== 2 * B * rows.length * n2) return false;
  [...q, ...t].forEach((dst, k) => rows.forEach((i, r) => {
    const src = a.data.subarray((k * rows.length + r) * n2, (k * rows.length + r + 1) * n2);
    for (let j = same ? i : 0; j < n2; j++) {
      dst[i * n2 + j] = src[j];
      if (same) dst[j * n2 + i] = src[j];
    }
  }));
  return true;
}

/**
 * The graphs with their features and edges moved into two SharedArrayBuffers: every job's message then carries
 * views (shared, not copied) instead of a structured clone of the whole dataset (COLLAB's one-hot degree features
 * are ~0.7 GB).
 */
function shareGraphs(graphs: Graph[]): Graph[] {
  let nf = 0, ne = 0;
  for (const g of graphs) {
    nf += g.features.length;
    ne += g.edges.length;
  }
  const F = new Float32Array(new SharedArrayBuffer(4 * nf)), E = new Int32Array(new SharedArrayBuffer(4 * ne));
  let of = 0, oe = 0;
  return graphs.map((g) => {
    F.set(g.features, of);
    E.set(g.edges, oe);
    const s = { ...g, features: F.subarray(of, of + g.features.length), edges: E.subarray(oe, oe + g.edges.length) };
    of += g.features.length;
    oe += g.edges.length;
    return s;
  });
}
