import yargs from 'yargs';
import { type Args, checkFit, checkInteger, checkKind, commonOptions, dataOptions, kernelOptions, loadInputs, modelAndParams, modelOptions, num, progressFor, str } from './flags.js';
import { type Implementation, checkMode } from '../../jacobian/kernel-types.js';
import { type KernelInfo, empiricalKernel, planKernel } from '../../jacobian/empirical.js';
import { UserError } from '../../lib/errors.js';
import { dataMeta, layoutOf } from './output.js';
import { initBackend } from '../../lib/backend.js';
import { parallelStructuredKernel } from '../../jacobian/parallel.js';
import { toolVersion } from '../../lib/version.js';

/** The `kernel` computation shared by `kernel`, `snapshot` and `check`: flags → inputs, model, params, backend → kernel. */
/** The metadata every `kernel` output records: what was computed, from what, on which backend and how. */
export function kernelRunMeta(a: Args, p: Pick<Awaited<ReturnType<typeof prepareKernel>>, 'mode' | 'kind' | 'd1' | 'd2' | 'model' | 'paramsFrom' | 'backend'>, info: KernelInfo, shape: number[]) {
  return {
    tool: toolVersion(), command: 'kernel', kind: p.kind, outputs: p.mode, config: p.model.config, params: p.paramsFrom, seed: num(a, 'seed'), backend: p.backend,
    implementation: info.implementation, tile: info.tile, tiles: info.tiles, symmetric: info.symmetric, rules: info.rules ?? null, notice: info.notice ?? null,
    data: dataMeta(p.d1), data2: dataMeta(p.d2), K: p.model.outputSize, shape, dtype: 'float32', layout: layoutOf(p.mode),
  };
}

/** What every kernel computation of the `kernel` flags needs first: checked modes, inputs, model, params, backend. */
export async function prepareKernel(a: Args) {
  const mode = checkMode(str(a, 'outputs'));
  const kind = checkKind(str(a, 'kind'));
  const { d1, d2 } = loadInputs(a);
  // The backend first: a layers model runs one probe sample through the network when it is built.
  const backend = await initBackend(str(a, 'backend'));
  const { model, params, paramsFrom } = modelAndParams(a, d1);
  checkFit(model, d1, d2);
  return { mode, kind, d1, d2, model, params, paramsFrom, backend };
}

/** The kernel of the `kernel` command's flags (validated), computed on the chosen backend; nothing written. */
export async function computeKernel(a: Args) {
  checkInteger(num(a, 'workers'), '--workers', 1);
  const { mode, kind, d1, d2, model, params, paramsFrom, backend } = await prepareKernel(a);
  const tc = performance.now();
  const kopts = { kind, mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile'), progress: progressFor(a) };
  const workers = num(a, 'workers') ?? 1;
  // Threads pay only when there are several tile pairs to share out (one tile is one thread's work).
  const plan = planKernel(model, d1, d2, kopts);
  if (plan.notice && !a.quiet) process.stderr.write(`ntk: notice: ${plan.notice}\n`);
  const parallel = workers > 1 && kind === 'ntk' && plan.impl === 'structured' && plan.pairs.length > 1;
  const { kernel, info } = parallel
    ? await parallelStructuredKernel(model, params, d1, d2, { ...kopts, workers, backend })
    : empiricalKernel(model, params, d1, d2, kopts);
  return { kernel, info, model, params, paramsFrom, backend, d1, d2, mode, kind, computeSeconds: (performance.now() - tc) / 1000 };
}

/**
 * A golden snapshot's config (an object of `kernel` flags, e.g. {"model": "cnn", "channels": "4,4", "n": 6}) as
 * parsed `kernel` arguments: the same defaults and validation as the command line.
 */
export function kernelArgsFromConfig(config: Record<string, unknown>, what: string): Args {
  const argv: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (['out', 'backend', 'quiet', 'save-params', 'workers'].includes(k)) throw new UserError(`${what}: '${k}' does not belong in a snapshot config`);
    if (typeof v === 'boolean') argv.push(v ? `--${k}` : `--no-${k}`);
    else argv.push(`--${k}`, String(v));
  }
  return commonOptions(kernelOptions(dataOptions(modelOptions(yargs([])))))
    .option('seed', { type: 'number', default: 0 })
    .option('load-params', { type: 'string' })
    .strict()
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      throw new UserError(`${what}: ${err?.message ?? msg ?? 'invalid config'}`);
    })
    .parseSync([...argv, '--out', 'unused.npy']) as Args;
}
