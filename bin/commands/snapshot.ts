import { currentEngine } from '../../lib/matrix-engine.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Args, type Command, num, runOptions, str } from './flags.js';
import { UserError } from '../../lib/errors.js';
import { kernelArgsFromConfig, prepareKernel, runKernel } from './kernel-run.js';
import { inputFiles, jsonOutput, npyOutput, withOutputs, writeJson } from './output.js';
import { kernelShape } from '../../jacobian/kernel-types.js';
import { npyChunks } from '../../lib/npy.js';
import { toolVersion } from '../../lib/version.js';

export const snapshotCommand: Command = (y) =>
  y.command(
    'snapshot',
    'record a golden kernel: compute the kernel of a config and store it with its config, backend and tool version',
    (c) =>
      runOptions(c)
        .option('config', { type: 'string', demandOption: true, describe: 'path of a JSON file holding an object of kernel flags, e.g. C.json with {"model":"mlp","widths":"784,32,10","n":8}' })
        .option('out', { type: 'string', demandOption: true, describe: 'snapshot folder (kernel.npy + snapshot.json)' })
        .option('rel-tol', { type: 'number', default: 1e-5, describe: 'tolerance of ntk check: relative Frobenius and max-abs error (relative to max |K|)' }),
    async (a: Args) => {
      const file = str(a, 'config');
      let config: Record<string, unknown>;
      try {
        config = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new UserError(`--config ${file}: cannot read a JSON object (${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]})`);
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UserError(`--config ${file}: expected a JSON object of kernel flags`);
      const tol = num(a, 'rel-tol')!;
      if (!(tol > 0)) throw new UserError(`--rel-tol: expected a positive number; got ${tol}`);
      const ka = kernelArgsFromConfig(config, `--config ${file}`);
      ka.backend = str(a, 'backend');
      ka.quiet = true;
      const dir = str(a, 'out');
      const kfile = path.join(dir, 'kernel.npy'), sfile = path.join(dir, 'snapshot.json');
      const p = await prepareKernel(ka);
      const shape = kernelShape(p.mode, p.d1.n, (p.d2 ?? p.d1).n, p.model.outputSize);
      const r = await withOutputs([...npyOutput(kfile, '--out', shape, 4, false), jsonOutput(sfile, '--out')], inputFiles(ka, [{ path: file, flag: '--config' }]), async (set) => {
        const r = await runKernel(ka, p);
        set.write(kfile, npyChunks({ data: r.kernel.data, shape: r.kernel.shape }));
        writeJson(set, sfile, { tool: toolVersion(), config, backend: r.backend, engine: currentEngine(), modelConfig: r.model.config, kind: r.kind, outputs: r.mode, shape: r.kernel.shape, tolerance: { relativeFrobenius: tol, maxAbs: tol }, created: new Date().toISOString() });
        return r;
      });
      if (!a.quiet) process.stderr.write(`wrote snapshot ${dir} [${r.kernel.shape}] (${r.backend})\n`);
    },
  );
