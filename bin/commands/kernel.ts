import * as os from 'node:os';
import { type Args, type Command, checkInteger, commonOptions, dataOptions, kernelOptions, modelOptions, num, progressFor, str } from './flags.js';
import { type Implementation, kernelShape, kernelSize } from '../../jacobian/kernel-types.js';
import { NpyFileWriter } from '../../lib/npy-file.js';
import { type ShardInfo, fileTileSink, parseShard } from '../../jacobian/out-of-core.js';
import { UserError } from '../../lib/errors.js';
import { checkNpyPath, dataMeta, inputFiles, jsonOutput, npyOutput, round, withOutputs, writeJson } from './output.js';
import { kernelRunMeta, parallelMinFlops, prepareKernel, runKernel } from './kernel-run.js';
import { checkArrayFits } from './limits.js';
import { empiricalKernel, planKernel } from '../../jacobian/empirical.js';
import { metadataPath } from '../../lib/files.js';
import { currentEngine } from '../../lib/matrix-engine.js';
import { npyChunks } from '../../lib/npy.js';
import type { Model } from '../../models/model.js';
import { paramCount, paramsToJson } from '../../models/params.js';
import { toolVersion } from '../../lib/version.js';

export const kernelCommand: Command = (y) =>
  y.command(
    'kernel',
    'empirical NTK (or NNGP) of one network at initialisation or at loaded parameters',
    (c) =>
      commonOptions(kernelOptions(dataOptions(modelOptions(c))))
        .option('seed', { type: 'number', default: 0, describe: 'initialisation seed' })
        .option('save-params', { type: 'string', describe: 'write the parameters used to this JSON file' })
        .option('load-params', { type: 'string', describe: 'use the parameters (and model config) of this JSON file' })
        .option('labels-out', { type: 'string', describe: 'write the labels of the --data samples used (int32 .npy; the data must have labels)' })
        .option('workers', { type: 'number', describe: `threads for the structured ntk (each with its own backend); default: ${os.availableParallelism()} (the cores) when the estimated work is large enough to pay for them, else 1; same kernel bit for bit` })
        .option('memory', { type: 'number', describe: 'out-of-core: write the kernel tile by tile into --out on disk (never held in memory), tiles sized for this budget in MB' })
        .option('shard', { type: 'string', describe: 'I/N: compute only shard I of N (tile pairs p with p mod N = I) into --out; assemble with ntk merge' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      checkNpyPath(out, '--out');
      checkInteger(num(a, 'workers'), '--workers', 1);
      if (a.memory !== undefined || a.shard !== undefined) {
        if (a.workers !== undefined) throw new UserError('--workers: not used with --memory or --shard (they write tiles in order on one thread); drop it');
        return streamKernel(a, out, t0);
      }
      const p = await prepareKernel(a);
      const shape = kernelShape(p.mode, p.d1.n, (p.d2 ?? p.d1).n, p.model.outputSize);
      checkArrayFits(kernelSize(p.mode, p.d1.n, (p.d2 ?? p.d1).n, p.model.outputSize), 4, `--out ${out}`, 'write it tile by tile with --memory MB');
      const saveParams = a['save-params'] as string | undefined;
      const labelsOut = a['labels-out'] as string | undefined;
      if (labelsOut !== undefined) {
        checkNpyPath(labelsOut, '--labels-out');
        if (!p.d1.labels) throw new UserError(`--labels-out: ${p.d1.source} has no labels`);
      }
      const outputs = [
        ...npyOutput(out, '--out', shape, 4), ...(saveParams ? [jsonOutput(saveParams, '--save-params', paramsJsonBytes(p.model))] : []),
        ...(labelsOut !== undefined ? npyOutput(labelsOut, '--labels-out', [p.d1.n], 4, false) : []),
      ];
      const done = await withOutputs(outputs, inputFiles(a), async (set) => {
        const r = await runKernel(a, p);
        const { kernel, info, model, params, backend } = r;
        const meta = {
          ...kernelRunMeta(a, r, info, kernel.shape), workers: info.workers ?? 1,
          workersFrom: a.workers !== undefined ? '--workers' : `cost model: estimated ${r.plan.estimatedFlops === null ? 'n/a (one tile pair or not the structured ntk)' : `${(r.plan.estimatedFlops / 1e9).toFixed(1)} GFLOP`} against ${parallelMinFlops() / 1e9} GFLOP for threads on the ${currentEngine()} engine`,
          stageSeconds: Object.fromEntries(Object.entries(info.timing).map(([k, v]) => [k, round(v)])),
          computeSeconds: round(r.computeSeconds), totalSeconds: round((performance.now() - t0) / 1000), labelsFile: labelsOut ?? null,
        };
        set.write(out, npyChunks({ data: kernel.data, shape: kernel.shape }));
        if (labelsOut !== undefined) set.write(labelsOut, npyChunks({ data: Int32Array.from(r.d1.labels!), shape: [r.d1.n] }));
        writeJson(set, metadataPath(out), meta);
        if (saveParams) set.write(saveParams, paramsToJson(model.config, params));
        return `wrote ${out} [${kernel.shape}] (${backend}, ${info.implementation}, ${r.computeSeconds.toFixed(2)} s)\n`;
      });
      // Reported only once every output is in place, so that a failed commit stays a one-line error.
      if (!a.quiet) process.stderr.write(done);
    },
  );

/** Bytes of a params file of `model` at most: a float32 printed in JSON takes at most ~16 characters and a comma. */
const paramsJsonBytes = (model: Model) => 17 * paramCount(model.paramSpecs) + JSON.stringify(model.config).length + (1 << 16);

/**
 * `kernel --memory MB` / `--shard I/N`: the kernel goes to disk tile by tile (positional writes into the .npy), so
 * its size is bounded by the disk, not by memory; the tile is chosen so that a tile's buffers (about 16 bytes per
 * entry of a [tile·K]² block) take at most a quarter of the budget. One thread (tiles are written in order).
 */
async function streamKernel(a: Args, out: string, t0: number): Promise<void> {
  const mb = num(a, 'memory');
  if (mb !== undefined && !(mb >= 64)) throw new UserError(`--memory: expected a budget of at least 64 (MB); got ${mb}`);
  const shard = a.shard === undefined ? undefined : parseShard(str(a, 'shard'));
  const budget = mb === undefined ? undefined : { bytes: mb * 2 ** 20, flag: `--memory ${mb}` };
  const { mode, kind, d1, d2, model, params, paramsFrom, backend } = await prepareKernel(a, budget);
  const K = model.outputSize;
  const e = mode === 'full' ? K : 1;
  const budgetTile = mb === undefined ? undefined : Math.max(1, Math.floor(Math.sqrt((mb * 2 ** 20) / 4 / 16) / e));
  const tile = num(a, 'tile') ?? (budgetTile === undefined ? undefined : Math.min(budgetTile, Math.max(d1.n, d2?.n ?? d1.n)));
  const kopts = { kind, mode, implementation: str(a, 'implementation') as Implementation, tile, progress: progressFor(a), shard };
  const plan = planKernel(model, d1, d2, kopts);
  const shape = kernelShape(mode, d1.n, plan.b.n, K);
  const saveParams = a['save-params'] as string | undefined;
  const outputs = [...npyOutput(out, '--out', shape, 4), ...(saveParams ? [jsonOutput(saveParams, '--save-params', paramsJsonBytes(model))] : [])];
  const done = await withOutputs(outputs, inputFiles(a), (set) => {
    const writer = new NpyFileWriter(set.temp(out), shape, `--out ${out}`);
    let info;
    try {
      info = empiricalKernel(model, params, d1, d2, { ...kopts, plan, sink: fileTileSink(writer, mode, plan.b.n, K) }).info;
    } finally {
      writer.close();
    }
    const fingerprint = JSON.stringify({ config: model.config, params: paramsFrom, kind, mode, data: dataMeta(d1), data2: dataMeta(d2), backend, implementation: info.implementation, tool: toolVersion() });
    const shardInfo: ShardInfo | null = shard ? { ...shard, pairs: plan.pairs.filter((_, p) => p % shard.count === shard.index), tile: plan.tile, mode, K, n1: d1.n, n2: plan.b.n, symmetric: plan.symmetric, shape, fingerprint } : null;
    const meta = {
      ...kernelRunMeta(a, { mode, kind, d1, d2, model, paramsFrom, backend }, info, shape),
      outOfCore: true, memoryBudgetMB: mb ?? null, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), shard: shardInfo,
      totalSeconds: round((performance.now() - t0) / 1000),
    };
    writeJson(set, metadataPath(out), meta);
    if (saveParams) set.write(saveParams, paramsToJson(model.config, params));
    return `wrote ${out} [${shape}] tile by tile (${backend}, tile ${plan.tile}, ${info.tiles} tile pairs${shard ? `, shard ${shard.index}/${shard.count}` : ''}, peak RSS ${meta.peakRssMB} MB)\n`;
  });
  if (!a.quiet) process.stderr.write(done);
}
