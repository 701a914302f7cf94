import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Args, type Command, runOptions, str } from './flags.js';
import { UserError } from '../../lib/errors.js';
import { compareKernels } from '../../lib/kernel-metrics.js';
import { computeKernel, kernelArgsFromConfig } from './kernel-run.js';
import { readNpy } from '../../lib/npy.js';

export const checkCommand: Command = (y) =>
  y.command(
    'check <dir>',
    'recompute every golden snapshot under <dir> and compare; exit 1 on a regression',
    (c) =>
      runOptions(c)
        .positional('dir', { type: 'string', describe: 'folder of snapshot folders' }),
    async (a: Args) => {
      const dir = str(a, 'dir');
      let names: string[];
      try {
        names = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'snapshot.json'))).sort();
      } catch (e) {
        throw new UserError(`check ${dir}: cannot read folder (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
      if (names.length === 0) throw new UserError(`check ${dir}: no snapshot folders (NAME/snapshot.json) found`);
      const rows: string[][] = [];
      let failed = 0;
      for (const name of names) {
        const sdir = path.join(dir, name);
        const snap = JSON.parse(fs.readFileSync(path.join(sdir, 'snapshot.json'), 'utf8'));
        const golden = readNpy(path.join(sdir, 'kernel.npy'));
        const ka = kernelArgsFromConfig(snap.config, `${sdir}/snapshot.json`);
        ka.backend = str(a, 'backend');
        ka.quiet = true;
        const r = await computeKernel(ka);
        const cmp = compareKernels(golden.data, r.kernel.data);
        const same = golden.shape.join(',') === r.kernel.shape.join(',');
        const ok = same && cmp.relativeFrobenius <= snap.tolerance.relativeFrobenius && cmp.maxAbs <= snap.tolerance.maxAbs;
        if (!ok) failed++;
        rows.push([name, `${snap.kind}/${snap.outputs}`, r.kernel.shape.join('×'), `${snap.backend}→${r.backend}`, cmp.relativeFrobenius.toExponential(2), cmp.maxAbs.toExponential(2), snap.tolerance.relativeFrobenius.toExponential(0), ok ? 'ok' : same ? 'REGRESSION' : 'SHAPE CHANGED']);
      }
      const head = ['snapshot', 'kernel', 'shape', 'backend', 'rel. Frobenius', 'max abs / max|K|', 'tolerance', 'status'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ');
      process.stdout.write([line(head), line(w.map((k) => '-'.repeat(k))), ...rows.map(line)].join('\n') + '\n');
      process.stdout.write(failed ? `${failed} of ${names.length} snapshots regressed\n` : `all ${names.length} snapshots within tolerance\n`);
      if (failed) process.exitCode = 1;
    },
  );
