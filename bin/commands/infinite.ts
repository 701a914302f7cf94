import { type Args, type Command, checkFit, checkInteger, checkKind, commonOptions, dataOptions, kernelOptions, loadInputs, modelForSeeds, modelOptions, num, progressFor, str } from './flags.js';
import { type Implementation, type KernelKind, checkMode, kernelShape, kernelSize } from '../../jacobian/kernel-types.js';
import type { LoadedData } from '../../lib/data.js';
import type { Model } from '../../models/model.js';
import { type MonteCarloReport, monteCarloKernel } from '../../jacobian/monte-carlo.js';
import { analyticKernel } from '../../models/analytic.js';
import { checkNpyPath, dataMeta, inputFiles, layoutOf, npyOutput, round, withOutputs, writeJson } from './output.js';
import { expandPerOutput } from '../../jacobian/empirical.js';
import { initBackend } from '../../lib/backend.js';
import { currentEngine } from '../../lib/matrix-engine.js';
import { parseIntList } from '../../models/registry.js';
import { toolVersion } from '../../lib/version.js';
import { metadataPath } from '../../lib/files.js';
import { npyChunks } from '../../lib/npy.js';
import { checkArrayFits, checkModelFits } from './limits.js';

export const infiniteCommand: Command = (y) =>
  y.command(
    'infinite',
    'Monte-Carlo NTK∞ (or NNGP∞): mean of S networks\' kernels with per-entry standard errors',
    (c) =>
      commonOptions(kernelOptions(dataOptions(modelOptions(c))))
        .option('seeds', { type: 'number', default: 16, describe: 'number of networks S (≥ 2)' })
        .option('seed', { type: 'number', default: 0, describe: 'base seed; network s uses seed "SEED/s"' })
        .option('stderr-out', { type: 'string', describe: 'write the per-entry standard error here (.npy)' })
        .option('report-at', { type: 'string', describe: 'also report the estimate after these S, e.g. 4,16,64' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      const seOut = a['stderr-out'] as string | undefined;
      checkNpyPath(out, '--out');
      if (seOut !== undefined) checkNpyPath(seOut, '--stderr-out');
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      checkInteger(num(a, 'seed'), '--seed', 0);
      const { d1, d2 } = loadInputs(a);
      // The backend first: a layers model (--model-json) runs one probe sample through the network when it is built.
      const backend = await initBackend(str(a, 'backend'));
      const model = modelForSeeds(a, d1);
      checkModelFits(model, a['model-json'] !== undefined ? `--model-json ${a['model-json']}` : a.widths !== undefined ? `--widths ${a.widths}` : `--model ${str(a, 'model') ?? 'mlp'}`, backend);
      checkFit(model, d1, d2);
      const shape = kernelShape(mode, d1.n, (d2 ?? d1).n, model.outputSize);
      // Running mean and M2 (Welford), the standard error, the analytic oracle and one network's kernel: ~5 float64 copies.
      checkArrayFits(kernelSize(mode, d1.n, (d2 ?? d1).n, model.outputSize), 8, `--out ${out}`, 'use fewer samples (--n) or --outputs trace', 5);
      const reportAt = a['report-at'] === undefined ? [] : parseIntList(str(a, 'report-at'), '--report-at');
      const outputs = [...npyOutput(out, '--out', shape, 8), ...(seOut ? npyOutput(seOut, '--stderr-out', shape, 8, false) : [])];
      const done = await withOutputs(outputs, inputFiles(a), async (set) => {
        const oracle = analyticOracle(model, d1, d2, kind, mode);
        const reports: object[] = [];
        const onReport = (r: MonteCarloReport) => reports.push(summarise(r, oracle));
        const tc = performance.now();
        const mc = monteCarloKernel(model, d1, d2, {
          kind, mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile'),
          seeds: num(a, 'seeds')!, seed: num(a, 'seed') ?? 0, reportAt, onReport, progress: progressFor(a),
        });
        const computeSeconds = (performance.now() - tc) / 1000;
        const meta = {
          tool: toolVersion(), command: 'infinite', kind, outputs: mode, config: model.config, seeds: mc.seeds, seed: num(a, 'seed'),
          networkSeeds: `"${num(a, 'seed')}/s" for s = 0..${mc.seeds - 1}`, backend, engine: currentEngine(), implementation: mc.info.implementation, tile: mc.info.tile,
          data: dataMeta(d1), data2: dataMeta(d2), K: model.outputSize, shape: mc.shape, dtype: 'float64', layout: layoutOf(mode),
          stderrFile: seOut ?? null, reports, analyticOracle: oracle ? oracle.what : 'none for this configuration',
          computeSeconds: round(computeSeconds), totalSeconds: round((performance.now() - t0) / 1000),
        };
        set.write(out, npyChunks({ data: mc.mean, shape: mc.shape }));
        if (seOut) set.write(seOut, npyChunks({ data: mc.stderr, shape: mc.shape }));
        writeJson(set, metadataPath(out), meta);
        const last = reports[reports.length - 1] as Record<string, number>;
        return `wrote ${out} [${mc.shape}] from ${mc.seeds} networks (${backend}); relative stderr ${last.relativeStderr.toPrecision(3)}` +
          (last.relativeErrorToAnalytic !== undefined ? `, relative error to analytic ${last.relativeErrorToAnalytic.toPrecision(3)}` : '') + '\n';
      });
      if (!a.quiet) process.stderr.write(done);
    },
  );

/** The analytic kernel in the output layout of the Monte-Carlo estimate, when a closed form exists. */
function analyticOracle(model: Model, d1: LoadedData, d2: LoadedData | null, kind: KernelKind, mode: 'full' | 'trace' | 'diagonal'): { what: string; data: Float64Array } | null {
  const r = analyticKernel(model, d1, d2, kind);
  if (!r) return null;
  return { what: r.what, data: mode === 'trace' ? r.kernel : Float64Array.from(expandPerOutput(r.kernel, d1.n, (d2 ?? d1).n, model.outputSize, mode)) };
}

/** Summary of one Monte-Carlo report: relative standard error and, with an oracle, the error and z-scores. */
export function summarise(r: MonteCarloReport, oracle: { data: Float64Array } | null): Record<string, number> {
  let m2 = 0, se2 = 0;
  for (let i = 0; i < r.mean.length; i++) {
    m2 += r.mean[i] * r.mean[i];
    se2 += r.stderr[i] * r.stderr[i];
  }
  const s: Record<string, number> = { seeds: r.seeds, relativeStderr: Math.sqrt(se2 / m2) };
  if (oracle) {
    let e2 = 0, o2 = 0, within2 = 0, count = 0;
    for (let i = 0; i < r.mean.length; i++) {
      const e = r.mean[i] - oracle.data[i];
      e2 += e * e;
      o2 += oracle.data[i] * oracle.data[i];
      if (r.stderr[i] > 0) {
        count++;
        if (Math.abs(e) <= 2 * r.stderr[i]) within2++;
      }
    }
    s.relativeErrorToAnalytic = Math.sqrt(e2 / o2);
    s.shareWithin2Stderr = count ? within2 / count : NaN;
  }
  return s;
}
