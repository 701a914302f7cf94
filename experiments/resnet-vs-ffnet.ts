import * as path from 'node:path';
import { writeFilesAtomically } from '../lib/files.js';
import { noProgress, type ProgressFactory } from '../lib/progress.js';
import { NormalRng, derivedSeed } from '../lib/rng.js';
import { vectors } from '../lib/samples.js';
import { histogramSvg } from '../lib/svg.js';
import { empiricalKernel } from '../jacobian/empirical.js';
import { Mlp } from '../models/mlp.js';
import type { Model } from '../models/model.js';
import { ResNet } from '../models/resnet.js';
import { currentEngine } from '../lib/matrix-engine.js';

export interface ResnetVsFfnetOptions {
  seeds: number;
  width: number;
  /** Feedforward depth (hidden layers). */
  depth: number;
  /** ResNet: branches m and branch depth d. */
  branches: number;
  branchDepth: number;
  seed: number;
  outDir: string;
  backend: string;
  progress?: ProgressFactory;
}

export interface Spread {
  mean: number;
  sd: number;
  cv: number;
  sdLog: number;
  /** E[q²]/E[q]² estimated from the samples. */
  secondMomentRatio: number;
}

/** Mean, standard deviation, coefficient of variation, sd of log and E[q²]/E[q]² of positive samples. */
export function spread(q: number[]): Spread {
  const n = q.length;
  const mean = q.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(q.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const logs = q.map(Math.log);
  const ml = logs.reduce((a, b) => a + b, 0) / n;
  const sdLog = Math.sqrt(logs.reduce((a, b) => a + (b - ml) ** 2, 0) / (n - 1));
  const m2 = q.reduce((a, b) => a + b * b, 0) / n;
  return { mean, sd, cv: sd / mean, sdLog, secondMomentRatio: m2 / (mean * mean) };
}

/**
 * seeds/002: at equal width, the diagonal NTK Θ(x, x) (and CK) of a deep ReLU feedforward net (depth d = 100)
 * varies across initialisations far more than that of a residual net with m = 20 branches of depth 5 (same
 * number of layers). One fixed unit input x ∈ R^10; NTK parameterisation, σ_w = √2, no biases (the seed's
 * zero-initialised biases with σ_b = 0 contribute nothing); ResNet branch scale α = 1/√m. For the feedforward
 * CK the exact finite-width value E[q²]/E[q]² = Π_k (1 + 5/n_k) (notes §5) is printed beside the estimate.
 */
export function runResnetVsFfnet(o: ResnetVsFfnetOptions): { summary: Record<string, unknown>; files: string[] } {
  const t0 = performance.now();
  const n0 = 10;
  const rng = new NormalRng(`resnet-vs-ffnet/input/${o.seed}`);
  const x = rng.normals(n0);
  const norm = Math.hypot(...x);
  x.forEach((v, i) => (x[i] = v / norm));
  const common = { activation: 'relu' as const, parameterization: 'ntk' as const, wStd: Math.SQRT2, bStd: 0, bias: false };
  const ff = new Mlp({ model: 'mlp', ...common, widths: [n0, ...new Array(o.depth).fill(o.width), 1] });
  const rn = new ResNet({ model: 'resnet', ...common, variant: 'mlp', inputSize: n0, width: o.width, branches: o.branches, branchDepth: o.branchDepth, alpha: 1 / Math.sqrt(o.branches), outputs: 1 });
  const nets: [string, Model][] = [[`feedforward d=${o.depth}`, ff], [`resnet m=${o.branches} d=${o.branchDepth}`, rn]];
  const samples: Record<string, { ntk: number[]; ck: number[] }> = {};
  const bar = (o.progress ?? noProgress)('resnet-vs-ffnet', o.seeds * nets.length);
  let done = 0;
  for (const [name, model] of nets) {
    samples[name] = { ntk: [], ck: [] };
    for (let s = 0; s < o.seeds; s++) {
      const params = model.init(derivedSeed(o.seed, s));
      const input = vectors(x, 1);
      samples[name].ntk.push(empiricalKernel(model, params, input, null, { mode: 'trace' }).kernel.data[0]);
      samples[name].ck.push(empiricalKernel(model, params, input, null, { mode: 'trace', kind: 'nngp' }).kernel.data[0]);
      bar.update(++done);
    }
  }
  bar.stop();
  const exactFfCk = Math.pow(1 + 5 / o.width, o.depth);
  const rows = nets.map(([name]) => ({ net: name, ntk: spread(samples[name].ntk), ck: spread(samples[name].ck) }));
  const [f, r] = rows;
  const summary = {
    experiment: 'resnet-vs-ffnet', backend: o.backend, engine: currentEngine(), seeds: o.seeds, width: o.width, input: 'one fixed unit vector in R^10',
    nets: rows, exactFeedforwardCkSecondMomentRatio: exactFfCk, betaFeedforward: (5 * o.depth) / o.width,
    ntkSdLogRatio: f.ntk.sdLog / r.ntk.sdLog, seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  const g = (v: number) => Number(v.toPrecision(4));
  const md = `# Diagonal NTK across initialisations: deep feedforward vs residual (seeds/002)

Command: \`ntk experiment resnet-vs-ffnet --seeds ${o.seeds} --width ${o.width}\` (backend ${o.backend}, ${summary.seconds} s).
One fixed unit input x ∈ R^10; ReLU, NTK parameterisation, σ_w = √2, no biases; width n = ${o.width}.
Feedforward: ${o.depth} hidden layers. ResNet: ${o.branches} branches of ${o.branchDepth} dense layers, α = 1/√${o.branches}.
Each row: ${o.seeds} independent initialisations; q is Θ(x, x) (NTK) or the conjugate kernel CK(x, x).

| net | kernel | mean | sd | sd / mean | sd of log q | E[q²]/E[q]² |
|---|---|---|---|---|---|---|
${rows.flatMap((row) => (['ntk', 'ck'] as const).map((k) => `| ${row.net} | ${k.toUpperCase()} | ${g(row[k].mean)} | ${g(row[k].sd)} | ${g(row[k].cv)} | ${g(row[k].sdLog)} | ${g(row[k].secondMomentRatio)} |`)).join('\n')}

- Exact finite-width E[q²]/E[q]² of the feedforward CK: Π_k (1 + 5/n_k) = (1 + 5/${o.width})^${o.depth} = ${g(exactFfCk)}
  (β = Σ 5/n_k = ${g(summary.betaFeedforward)}); with heavy log-normal tails, a sample of ${o.seeds} underestimates it.
- Log-normal law (notes §5): sd of log q ≈ √β = ${g(Math.sqrt(summary.betaFeedforward))} for the feedforward CK; measured ${g(f.ck.sdLog)}.
- The spread of log Θ(x, x) is ${g(summary.ntkSdLogRatio)}× larger for the feedforward net than for the ResNet of the
  same width and number of layers${summary.ntkSdLogRatio > 2 ? ': the deep feedforward NTK is far noisier, as seeds/002 states' : '; this run does not show the difference seeds/002 states'}.

![log NTK histogram](log-ntk-hist.svg)
`;
  const svg = histogramSvg('log Θ(x,x) across initialisations', 'log q − mean log q', nets.map(([name], i) => {
    const logs = samples[name].ntk.map(Math.log);
    const m = logs.reduce((a, b) => a + b, 0) / logs.length;
    return { label: name, values: logs.map((v) => v - m), color: i === 0 ? '#d62728' : '#1f77b4' };
  }));
  const csv = 'net,seed,ntk,ck\n' + nets.flatMap(([name]) => samples[name].ntk.map((v, s) => `${name},${s},${v},${samples[name].ck[s]}`)).join('\n') + '\n';
  const files = [
    { path: path.join(o.outDir, 'report.md'), data: md },
    { path: path.join(o.outDir, 'summary.json'), data: JSON.stringify(summary, null, 2) + '\n' },
    { path: path.join(o.outDir, 'samples.csv'), data: csv },
    { path: path.join(o.outDir, 'log-ntk-hist.svg'), data: svg },
  ];
  writeFilesAtomically(files);
  return { summary, files: files.map((f) => f.path) };
}
