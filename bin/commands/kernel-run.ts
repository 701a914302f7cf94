import * as os from 'node:os';
import yargs from 'yargs';
import { type Args, checkFit, checkInteger, checkKind, commonOptions, dataOptions, kernelOptions, loadInputs, modelAndParams, modelOptions, num, progressFor, str } from './flags.js';
import { type Implementation, checkMode } from '../../jacobian/kernel-types.js';
import { type KernelInfo, type KernelPlan, empiricalKernel, planKernel } from '../../jacobian/empirical.js';
import { layerShapes, ruleFlops } from '../../jacobian/structured.js';
import { paramTensors } from '../../models/params.js';
import { sliceSamples } from '../../lib/samples.js';
import { UserError } from '../../lib/errors.js';
import { dataMeta, layoutOf } from './output.js';
import { checkModelFits } from './limits.js';
import { initBackend } from '../../lib/backend.js';
import { currentEngine } from '../../lib/matrix-engine.js';
import { parallelStructuredKernel } from '../../jacobian/parallel.js';
import { toolVersion } from '../../lib/version.js';

// The `kernel` computation shared by `kernel`, `snapshot` and `check`: flags → inputs, model, params, backend → kernel.

/** The metadata every `kernel` output records: what was computed, from what, on which backend and how. */
export function kernelRunMeta(a: Args, p: Pick<Awaited<ReturnType<typeof prepareKernel>>, 'mode' | 'kind' | 'd1' | 'd2' | 'model' | 'paramsFrom' | 'backend'>, info: KernelInfo, shape: number[]) {
  return {
    tool: toolVersion(), command: 'kernel', kind: p.kind, outputs: p.mode, config: p.model.config, params: p.paramsFrom, seed: num(a, 'seed'), backend: p.backend, engine: currentEngine(),
    implementation: info.implementation, tile: info.tile, tiles: info.tiles, symmetric: info.symmetric, rules: info.rules ?? null, notice: info.notice ?? null,
    data: dataMeta(p.d1), data2: dataMeta(p.d2), K: p.model.outputSize, shape, dtype: 'float32', layout: layoutOf(p.mode),
  };
}

/** What every kernel computation of the `kernel` flags needs first: checked modes, inputs, model, params, backend. */
export async function prepareKernel(a: Args, budget?: { bytes: number; flag: string }) {
  const mode = checkMode(str(a, 'outputs'));
  const kind = checkKind(str(a, 'kind'));
  const { d1, d2 } = loadInputs(a);
  const backendName = str(a, 'backend');
  // The backend first: a layers model (--model-json) runs one probe sample through the network when it is built.
  const backend = await initBackend(backendName);
  const { model, params, paramsFrom } = modelAndParams(a, d1, (m, flag) => checkModelFits(m, flag, backend, budget));
  checkFit(model, d1, d2);
  return { mode, kind, d1, d2, model, params, paramsFrom, backend };
}

export type PreparedKernel = Awaited<ReturnType<typeof prepareKernel>>;

/**
 * Below this estimate of the tile products' FLOPs (≈ 4 s of one wasm thread at 25 GFLOP/s) worker threads do not
 * pay: each starts its own backend and computes its own block features, about 2 s on the 2-core machines measured
 * (the MNIST MLP's full kernel, ~15 GFLOP, ran 2.6 s on one thread and 5.5 s on two; the seeds/003 CNN's, ~280
 * GFLOP, 16.4 s on one and 10.3 s on two). `npm run bench` compares the default against 1 and 2 workers.
 */
export const PARALLEL_MIN_FLOPS = 100e9;

/**
 * The same threshold when the native engine is in use: its products, and the convolutions of the CNN's reverse
 * walks, already run on ONNX Runtime's pool over all cores in one thread, while each worker thread adds its own
 * start-up and the copies of every block's features between threads. Measured on the shared 2-core AMD EPYC
 * (load 3.5–5), seeds/003 CNN full [5000, 5000] NTK (~550 GFLOP estimated): 13.2–19.5 s whole process on one
 * thread against 22.3–24.8 s on two, in the same runs.
 */
export const PARALLEL_MIN_FLOPS_NATIVE = 2e12;

/** The threshold of the engine in use. */
export const parallelMinFlops = (): number => (currentEngine() === 'native' ? PARALLEL_MIN_FLOPS_NATIVE : PARALLEL_MIN_FLOPS);

/**
 * The plan the defaults choose: how many threads a structured NTK uses. `--workers` given is obeyed; otherwise the
 * cost model above: estimated FLOPs Σ_pairs Σ_layers min(rule FLOPs) (the per-layer rules of jacobian/structured.ts)
 * against parallelMinFlops() (the engine's threshold), and never more threads than cores.
 */
export function kernelWorkers(a: Args, p: PreparedKernel): { workers: number; estimatedFlops: number | null; notice?: string; plan: KernelPlan } {
  const given = num(a, 'workers');
  const kopts = { kind: p.kind, mode: p.mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile') };
  const plan = planKernel(p.model, p.d1, p.d2, kopts);
  const structured = p.kind === 'ntk' && plan.impl === 'structured';
  // Threads pay only when there are several tile pairs to share out (one tile is one thread's work).
  if (!structured || plan.pairs.length < 2) return { workers: 1, estimatedFlops: null, notice: plan.notice, plan };
  if (given !== undefined) return { workers: given, estimatedFlops: null, plan };
  const ps = paramTensors(p.params);
  let perPair = 0;
  try {
    const shapes = layerShapes(p.model, ps, sliceSamples(p.d1, 0, Math.min(8, p.d1.n)));
    for (const s of shapes) {
      const f = ruleFlops(s, plan.tile, p.model.outputSize);
      perPair += Math.min(f.outer, f.explicit);
    }
  } finally {
    ps.forEach((t) => t.dispose());
  }
  const estimatedFlops = perPair * plan.pairs.length;
  return { workers: estimatedFlops >= parallelMinFlops() ? Math.max(1, os.availableParallelism()) : 1, estimatedFlops, plan };
}

/** The kernel of prepared `kernel` flags, computed on the chosen backend and plan; nothing written. */
export async function runKernel(a: Args, p: PreparedKernel) {
  const { mode, kind, d1, d2, model, params, paramsFrom, backend } = p;
  const tc = performance.now();
  const kopts = { kind, mode, implementation: str(a, 'implementation') as Implementation, tile: num(a, 'tile'), progress: progressFor(a) };
  const plan = kernelWorkers(a, p);
  const { workers } = plan;
  if (plan.notice && !a.quiet) process.stderr.write(`ntk: notice: ${plan.notice}\n`);
  const { kernel, info } = workers > 1
    ? await parallelStructuredKernel(model, params, d1, d2, { ...kopts, workers, backend, plan: plan.plan })
    : empiricalKernel(model, params, d1, d2, { ...kopts, plan: plan.plan });
  return { kernel, info, model, params, paramsFrom, backend, d1, d2, mode, kind, plan, computeSeconds: (performance.now() - tc) / 1000 };
}

/** The kernel of the `kernel` command's flags (validated), computed on the chosen backend; nothing written. */
export async function computeKernel(a: Args) {
  checkInteger(num(a, 'workers'), '--workers', 1);
  return runKernel(a, await prepareKernel(a));
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
