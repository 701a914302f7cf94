import * as os from 'node:os';
import { runJobPool } from '../lib/job-pool.js';
import type { Graph } from '../lib/samples.js';
import { type GntkConfig, type GntkReadouts, analyticGntkReadouts, gntkRowPairs } from '../models/gnn-analytic.js';
import type { GntkRowsJob } from './gntk-worker.js';

/** Worker threads the GNTK recursion uses by default: the machine's cores. */
export const defaultGntkWorkers = (): number => Math.max(1, os.availableParallelism());

/**
 * analyticGntkReadouts on `workers` threads, bit for bit the same readouts (each entry is computed by the same code
 * whichever thread runs its row; see gntkReadoutRows). Rows are dealt into jobs of about equal cost, cost of row i
 * = n_i·Σ_j n_j over the graph pairs it computes (node pairs, which the recursion's time follows), 4 jobs per
 * worker so that a slow one does not leave a core idle at the end; the readouts live in SharedArrayBuffers that
 * every worker writes its rows into. One worker (or a tiny set) runs in this thread.
 */
export async function parallelGntkReadouts(cfg: GntkConfig, g1: Graph[], g2: Graph[], featureDim: number, workers = defaultGntkWorkers(), onPairs?: (done: number, total: number) => void): Promise<GntkReadouts> {
  const n1 = g1.length, n2 = g2.length, same = g1 === g2;
  if (workers <= 1 || n1 < 2 * workers) return analyticGntkReadouts(cfg, g1, g2, featureDim, onPairs);
  // Node counts of the column graphs summed from the right: the cost of row i against j ≥ i is n_i·suffix[i].
  const suffix = new Float64Array(n2 + 1);
  for (let j = n2 - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + g2[j].nodes;
  const cost = (i: number) => g1[i].nodes * (same ? suffix[i] : suffix[0]);
  let totalCost = 0;
  for (let i = 0; i < n1; i++) totalCost += cost(i);
  const jobsWanted = 4 * workers;
  const chunks: number[][] = [[]];
  let acc = 0;
  for (let i = 0; i < n1; i++) {
    if (acc >= ((chunks.length) * totalCost) / jobsWanted && chunks[chunks.length - 1].length) chunks.push([]);
    chunks[chunks.length - 1].push(i);
    acc += cost(i);
  }
  const G1 = shareGraphs(g1), G2 = same ? null : shareGraphs(g2);
  const shared = () => Array.from({ length: cfg.blocks }, () => new SharedArrayBuffer(n1 * n2 * 8));
  const q = shared(), t = shared();
  const jobs: GntkRowsJob[] = chunks.map((rows) => ({
    cfg, g1: G1, g2: G2, featureDim, rows: Int32Array.from(rows), q, t,
    pairs: rows.reduce((a, i) => a + gntkRowPairs(i, n2, same), 0),
  }));
  const total = same ? (n1 * (n1 + 1)) / 2 : n1 * n2;
  const fractions = new Float64Array(jobs.length);
  await runJobPool<GntkRowsJob, null>(new URL('./gntk-worker.js', import.meta.url), jobs, workers, (k, f) => {
    fractions[k] = f;
    if (onPairs) {
      let done = 0;
      jobs.forEach((j, m) => (done += fractions[m] * j.pairs));
      onPairs(Math.round(done), total);
    }
  });
  return { q: q.map((b) => new Float64Array(b)), t: t.map((b) => new Float64Array(b)), n1, n2 };
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
