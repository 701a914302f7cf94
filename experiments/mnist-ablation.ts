/**
 * `node dist/experiments/mnist-ablation.js [--n 200] [--seeds 3] [--epochs 1000] [--workers 2] [--out results/mnist]`:
 * issue 15 item 4, at reduced size. The seed (seeds/003) finds NTK_tr above NTK∞ for the MLP (0.804 vs 0.73);
 * the full study here finds the opposite. Each row changes ONE choice the seed leaves open, from a baseline
 * (NTK parameterisation, grey levels in [0, 1], the cross-entropy coefficient fit's steps and rate, the number of
 * Monte-Carlo nets, the training length), and runs the MLP job of the study (experiments/mnist-job.ts) for
 * every seed; the table gives test accuracies and the paired difference NTK_tr − NTK∞ (mean ± sd over seeds),
 * and says for which choices NTK_tr beats NTK∞ by more than twice the standard error of that mean difference.
 * Writes ablation.md and ablation.json into --out.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFilesAtomically } from '../lib/files.js';
import { runJobPool } from '../lib/job-pool.js';
import { mean, sd } from '../lib/stats.js';
import { toolVersion } from '../lib/version.js';
import type { MnistJob, MnistJobResult } from './mnist-job.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const n = Number(arg('n', '200')), nSeeds = Number(arg('seeds', '3')), epochs = Number(arg('epochs', '1000'));
const workers = Number(arg('workers', '2')), outDir = arg('out', 'results/mnist');
const base = { ceSteps: 2000, ceLr: 1e-2, infSeeds: 8, lr: 1e-3 };

/** One choice changed from the baseline per variant. */
const variants: { name: string; change: Partial<MnistJob> }[] = [
  { name: 'baseline', change: {} },
  { name: 'standard parameterisation', change: { parameterization: 'standard' } },
  { name: 'standardised inputs (x − 0.1307)/0.3081', change: { standardise: true } },
  { name: `cross-entropy fit: ${base.ceSteps / 10} steps`, change: { ceSteps: base.ceSteps / 10 } },
  { name: `cross-entropy fit: rate ${base.ceLr / 10}`, change: { ceLr: base.ceLr / 10 } },
  { name: 'Monte-Carlo NTK∞ of 2 nets', change: { infSeeds: 2 } },
  { name: `training: ${epochs / 10} epochs`, change: { epochs: epochs / 10 } },
];

const jobs: (MnistJob & { backend: string })[] = [];
for (const v of variants) {
  for (let seed = 0; seed < nSeeds; seed++) {
    const e = v.change.epochs ?? epochs;
    jobs.push({
      model: 'mlp', seed, n, dataSeed: 0, backend: 'wasm', widths: [784, 100, 100, 100, 10], infWidths: [784, 200, 200, 200, 10],
      channels: [20, 20], infChannels: [20, 20], epochs: e, batchSize: n, lr: base.lr, infSeeds: base.infSeeds,
      ceSteps: base.ceSteps, ceLr: base.ceLr, ridge: 1e-6, probe: 20, trackAt: [0, e], ...v.change,
    });
  }
}
const t0 = performance.now();
let lastPrint = 0;
const frac = new Array(jobs.length).fill(0);
const results = await runJobPool<MnistJob, MnistJobResult>(new URL('./mnist-worker.js', import.meta.url), jobs, workers, (i, f) => {
  frac[i] = f;
  if (Date.now() - lastPrint > 30000) {
    lastPrint = Date.now();
    process.stderr.write(`ablation: ${(100 * frac.reduce((a, b) => a + b, 0) / jobs.length).toFixed(0)}% after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
});
const seconds = (performance.now() - t0) / 1000;

const test = (r: MnistJobResult, kernel: string) => r.regressors.find((g) => g.kernel === kernel && g.method === 'cross-entropy' && (kernel !== 'NTK_tr' || g.layout === 'full'))!.test;
const pm = (v: number[]) => `${mean(v).toFixed(3)} ± ${sd(v).toFixed(3)}`;
const rows = variants.map((v, vi) => {
  const rs = results.slice(vi * nSeeds, (vi + 1) * nSeeds);
  const tr = rs.map((r) => test(r, 'NTK_tr')), mc = rs.map((r) => test(r, 'NTK∞')), ex = rs.map((r) => test(r, 'NTK∞ analytic'));
  const dEx = tr.map((t, i) => t - ex[i]), dMc = tr.map((t, i) => t - mc[i]);
  const se = (d: number[]) => sd(d) / Math.sqrt(d.length);
  const verdict = (d: number[]) => (mean(d) > 2 * se(d) ? 'NTK_tr > NTK∞' : mean(d) < -2 * se(d) ? 'NTK_tr < NTK∞' : 'not ordered');
  return { name: v.name, net: rs.map((r) => r.net.test), ntkTr: tr, mc, exact: ex, dExact: dEx, dMc, verdictExact: verdict(dEx), verdictMc: verdict(dMc), trainNet: rs.map((r) => r.net.train) };
});

const L: string[] = [];
L.push('# Ablation: which open choice of seeds/003 orders NTK_tr above NTK∞? (MLP, reduced size)', '');
L.push(`Made by ${toolVersion()} (wasm, ${workers} worker threads) in ${(seconds / 60).toFixed(1)} min on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), a machine shared with other jobs at the time.`);
L.push(`Command: \`node dist/experiments/mnist-ablation.js --n ${n} --seeds ${nSeeds} --epochs ${epochs}\`. ${n} training and ${n} test digits (data seed 0), MLP 784-100-100-100-10 trained full-batch with cross-entropy and Adam (lr ${base.lr}) for ${epochs} epochs; NTK_tr = the trained net's full multi-output kernel; NTK∞ = the exact kernel (closed form, *exact*) and the Monte-Carlo mean of ${base.infSeeds} width-200 nets (*MC*); all regressors fitted by cross-entropy (Adam, ${base.ceSteps} full-batch steps, rate ${base.ceLr}), as the seed. Each row changes one choice from the baseline; ${nSeeds} seeds per row (initialisation, Monte-Carlo nets).`, '');
L.push('Test accuracy (mean ± sd over seeds). Δ = NTK_tr − NTK∞ per seed (paired: same test digits), mean ± sd; *ordered* when |mean Δ| exceeds twice its standard error sd/√seeds. With ' + n + ' test digits one accuracy carries a binomial standard error of about ±' + Math.sqrt(0.85 * 0.15 / n).toFixed(3) + '.', '');
L.push('| choice | net | NTK_tr | NTK∞ exact | NTK∞ MC | Δ exact | Δ MC | ordering (exact) | ordering (MC) |', '|---|---|---|---|---|---|---|---|---|');
for (const r of rows) L.push(`| ${r.name} | ${pm(r.net)} | ${pm(r.ntkTr)} | ${pm(r.exact)} | ${pm(r.mc)} | ${pm(r.dExact)} | ${pm(r.dMc)} | ${r.verdictExact} | ${r.verdictMc} |`);
const paper = rows.filter((r) => r.verdictExact === 'NTK_tr > NTK∞' || r.verdictMc === 'NTK_tr > NTK∞').map((r) => r.name);
L.push('', paper.length
  ? `**Finding.** The paper's ordering (NTK_tr above NTK∞) appears, beyond twice the standard error, for: ${paper.join('; ')}. The other choices do not produce it at this size.`
  : '**Finding.** None of these choices reproduces the paper\'s ordering (NTK_tr above NTK∞ beyond twice the standard error) at this size: the gap the seed reports (0.804 vs 0.73) is not explained by any one of them here.');
L.push('', `Reduced size (n = ${n}, ${epochs} epochs, ${base.ceSteps} fit steps, ${nSeeds} seeds) to fit the machine's time; the full study (n = 500, 5000 epochs and steps) is in report.md. Per-seed values: ablation.json.`);
writeFilesAtomically([
  { path: path.join(outDir, 'ablation.md'), data: L.join('\n') + '\n' },
  { path: path.join(outDir, 'ablation.json'), data: JSON.stringify({ tool: toolVersion(), n, seeds: nSeeds, epochs, base, seconds, rows }, null, 1) + '\n' },
]);
process.stderr.write(`wrote ${path.join(outDir, 'ablation.md')} in ${seconds.toFixed(0)} s\n`);
