import { type Args, type Command, checkFit, checkInteger, checkKind, checkModelFlags, commonOptions, dataOptions, loadInputs, modelFlags, modelOptions, num, progressFor, str } from './flags.js';
import { UserError } from '../../lib/errors.js';
import { analyticKernel } from '../../models/analytic.js';
import { analyticMlpKernel } from '../../models/mlp-analytic.js';
import { checkMode, kernelShape, kernelSize } from '../../jacobian/kernel-types.js';
import { checkNpyPath, dataMeta, inputFiles, layoutOf, npyOutput, round, withOutputs, writeJson } from './output.js';
import { expandPerOutput } from '../../jacobian/empirical.js';
import { featureDim } from '../../lib/data.js';
import { modelFromFlags } from '../../models/registry.js';
import { toolVersion } from '../../lib/version.js';
import { metadataPath } from '../../lib/files.js';
import { npyChunks } from '../../lib/npy.js';
import { checkArrayFits, checkModelFits } from './limits.js';

export const analyticCommand: Command = (y) =>
  y.command(
    'analytic',
    'analytic infinite-width NTK or NNGP (mlp, cnn (CNTK), resnet --variant mlp, gnn (GNTK); relu, erf, identity), float64',
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
      // --depth is the mlp's own shortcut (the ntk-parameterised kernel does not depend on the hidden widths).
      const mlpByDepth = modelName === 'mlp' && a.widths === undefined;
      checkModelFlags(a, modelName, mlpByDepth ? ['k'] : []);
      if (a.depth !== undefined && !mlpByDepth) throw new UserError(`--depth: only for --model mlp without --widths (the other models' depth comes from their own flags)`);
      const { d1, d2 } = loadInputs(a);
      let K: number;
      let run: () => Float64Array;
      let config: object;
      if (mlpByDepth) {
        if (a.parameterization !== undefined && a.parameterization !== 'ntk') throw new UserError('--parameterization: the standard parameterisation\'s kernel depends on the widths; give --widths');
        if (d1.kind !== 'vectors' || (d2 && d2.kind !== 'vectors')) throw new UserError('--data: the mlp takes vectors, not graphs');
        const depth = num(a, 'depth');
        if (depth === undefined) throw new UserError('--depth: required (or give --widths)');
        checkInteger(depth, '--depth', 0);
        K = num(a, 'k') ?? 1;
        const cfg = { depth, activation: (a.activation as string | undefined) ?? 'relu', wStd: num(a, 'w-std') ?? Math.SQRT2, bStd: a.bias === false ? 0 : num(a, 'b-std') ?? 0.1 };
        const b = d2 ?? d1;
        if (b.kind !== 'vectors' || featureDim(b) !== featureDim(d1)) throw new UserError('--data2: must have the same number of features as --data');
        run = () => {
          const r = analyticMlpKernel(cfg, d1.x, d1.n, b.x, b.n, featureDim(d1));
          return kind === 'ntk' ? r.ntk : r.nngp;
        };
        config = { model: 'mlp', ...cfg, parameterization: 'ntk' };
      } else {
        const model = modelFromFlags(modelFlags(a), d1);
        checkModelFits(model, `--model ${modelName}`, 'cpu');
        checkFit(model, d1, d2);
        K = model.outputSize;
        let what = '';
        run = () => {
          const r = analyticKernel(model, d1, d2, kind, progressFor(a));
          if (!r) throw new UserError(`--model: no closed-form kernel for this ${model.config.model} (closed forms: mlp, cnn, resnet --variant mlp, gnn; activations relu, erf, identity; the gnn with sum or mean aggregation in the ntk parameterisation)`);
          what = r.what;
          return r.kernel;
        };
        config = { ...model.config, get analytic() { return what; } };
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
