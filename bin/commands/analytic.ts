import { type Args, type Command, checkFit, checkInteger, checkKind, checkModelFlags, commonOptions, dataOptions, loadInputs, modelFlags, modelOptions, num, str } from './flags.js';
import type { Gnn } from '../../models/gnn.js';
import type { GraphSamples } from '../../lib/samples.js';
import { UserError } from '../../lib/errors.js';
import { analyticGntk } from '../../models/gnn-analytic.js';
import { analyticMlpKernel } from '../../models/mlp-analytic.js';
import { checkMode, kernelShape, kernelSize } from '../../jacobian/kernel-types.js';
import { checkNpyPath, dataMeta, inputFiles, layoutOf, npyOutput, round, withOutputs, writeJson } from './output.js';
import { expandPerOutput } from '../../jacobian/empirical.js';
import { featureDim } from '../../lib/data.js';
import { modelFromFlags, parseWidths } from '../../models/registry.js';
import { toolVersion } from '../../lib/version.js';
import { metadataPath } from '../../lib/files.js';
import { npyChunks } from '../../lib/npy.js';
import { checkArrayFits, checkModelFits } from './limits.js';

export const analyticCommand: Command = (y) =>
  y.command(
    'analytic',
    'analytic infinite-width NTK or NNGP (mlp: relu, erf, identity; gnn: the GNTK), float64',
    (c) =>
      commonOptions(dataOptions(modelOptions(c)))
        .option('depth', { type: 'number', describe: 'mlp: number of hidden layers L (or give --widths)' })
        .option('kind', { type: 'string', default: 'ntk', describe: 'ntk | nngp' })
        .option('outputs', { type: 'string', default: 'trace', describe: 'trace [N1, N2] (per output) | full (⊗ I_K) | diagonal' }),
    async (a: Args) => {
      const t0 = performance.now();
      const out = str(a, 'out');
      checkNpyPath(out, '--out');
      const mode = checkMode(str(a, 'outputs'));
      const kind = checkKind(str(a, 'kind'));
      const modelName = (a.model as string | undefined) ?? 'mlp';
      if (modelName !== 'mlp' && modelName !== 'gnn') throw new UserError(`--model: the analytic kernel is implemented for mlp and gnn; got '${modelName}'`);
      checkModelFlags(a, modelName, modelName === 'mlp' ? ['k'] : []);
      if (a.parameterization !== undefined && a.parameterization !== 'ntk') throw new UserError(`--parameterization: the analytic kernel is that of the ntk parameterisation; got '${a.parameterization}'`);
      if (a.depth !== undefined && modelName !== 'mlp') throw new UserError(`--depth: only for --model mlp (the gnn's depth is --blocks and --mlp-layers)`);
      const { d1, d2 } = loadInputs(a);
      let K: number;
      let run: () => Float64Array;
      let config: object;
      if (modelName === 'mlp') {
        if (d1.kind !== 'vectors' || (d2 && d2.kind !== 'vectors')) throw new UserError('--data: the mlp takes vectors, not graphs');
        const widths = a.widths !== undefined ? parseWidths(str(a, 'widths')) : null;
        const depth = num(a, 'depth') ?? (widths ? widths.length - 2 : undefined);
        if (depth === undefined) throw new UserError('--depth: required (or give --widths)');
        checkInteger(depth, '--depth', 0);
        if (widths && widths[0] !== featureDim(d1)) throw new UserError(`--data: ${d1.source} has ${featureDim(d1)} features per sample but --widths starts with ${widths[0]}`);
        K = num(a, 'k') ?? (widths ? widths[widths.length - 1] : 1);
        const cfg = { depth, activation: (a.activation as string | undefined) ?? 'relu', wStd: num(a, 'w-std') ?? Math.SQRT2, bStd: a.bias === false ? 0 : num(a, 'b-std') ?? 0.1 };
        const b = d2 ?? d1;
        if (b.kind !== 'vectors' || featureDim(b) !== featureDim(d1)) throw new UserError('--data2: must have the same number of features as --data');
        run = () => {
          const r = analyticMlpKernel(cfg, d1.x, d1.n, b.x, b.n, featureDim(d1));
          return kind === 'ntk' ? r.ntk : r.nngp;
        };
        config = { model: 'mlp', ...cfg, parameterization: 'ntk' };
      } else if (modelName === 'gnn') {
        const model = modelFromFlags(modelFlags(a), d1) as Gnn;
        checkModelFits(model, `--model gnn`, 'cpu');
        checkFit(model, d1, d2);
        K = model.outputSize;
        const c = model.config;
        const cfg = { blocks: c.blocks, mlpLayers: c.mlpLayers, aggregation: c.aggregation, jk: c.jk, activation: c.activation, wStd: c.wStd, bStd: c.bias ? c.bStd : 0 };
        const g1 = (d1 as GraphSamples).graphs, g2 = ((d2 ?? d1) as GraphSamples).graphs;
        run = () => {
          const r = analyticGntk(cfg, g1, g2, c.featureDim);
          return kind === 'ntk' ? r.ntk : r.nngp;
        };
        config = { model: 'gnn', ...cfg, featureDim: c.featureDim, parameterization: 'ntk' };
      } else {
        throw new UserError(`--model: the analytic kernel is implemented for mlp and gnn; got '${modelName}'`);
      }
      checkInteger(K, '--k', 1);
      const n2 = (d2 ?? d1).n;
      checkArrayFits(kernelSize(mode, d1.n, n2, K), 8, `--out ${out}`, 'use fewer samples (--n) or --outputs trace', 2);
      const shape = kernelShape(mode, d1.n, n2, K);
      await withOutputs(npyOutput(out, '--out', shape, 8), inputFiles(a), (set) => {
        const per = run();
        checkFiniteAnalytic(per, a);
        const data = mode === 'trace' ? per : Float64Array.from(expandPerOutput(per, d1.n, n2, K, mode));
        const meta = {
          tool: toolVersion(), command: 'analytic', kind, outputs: mode, config, K,
          data: dataMeta(d1), data2: dataMeta(d2), shape, dtype: 'float64', layout: layoutOf(mode), totalSeconds: round((performance.now() - t0) / 1000),
        };
        set.write(out, npyChunks({ data, shape }));
        writeJson(set, metadataPath(out), meta);
      });
      if (!a.quiet) process.stderr.write(`wrote ${out} [${shape}]\n`);
    },
  );

/**
 * No non-finite number leaves the tool: the recursion of the analytic kernel scales by σ_w² per layer (and adds the
 * NTK term of every layer), so a large --w-std with many layers, or inputs of huge norm, overflow float64.
 */
function checkFiniteAnalytic(per: Float64Array, a: Args): void {
  const i = per.findIndex((v) => !Number.isFinite(v));
  if (i < 0) return;
  const scale = [a['w-std'] !== undefined ? `--w-std ${a['w-std']}` : '', a.depth !== undefined ? `--depth ${a.depth}` : a.widths !== undefined ? `--widths ${a.widths}` : '', a.blocks !== undefined ? `--blocks ${a.blocks}` : ''].filter(Boolean).join(', ');
  throw new UserError(`the analytic kernel overflows float64 (entry ${i} is ${per[i]}): its scale grows as σ_w² per layer${scale ? ` (${scale})` : ''} and with the inputs' norm; use a smaller --w-std, fewer layers or scaled inputs`);
}
