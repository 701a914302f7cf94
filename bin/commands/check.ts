import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Args, type Command, runOptions, str } from './flags.js';
import { UserError } from '../../lib/errors.js';
import { compareKernels } from '../../lib/kernel-metrics.js';
import { computeKernel, kernelArgsFromConfig } from './kernel-run.js';
import { type NdArray, readNpy } from '../../lib/npy.js';

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
      const unreadable: string[] = [];
      let failed = 0;
      for (const name of names) {
        const sdir = path.join(dir, name);
        let snap: Snapshot, golden: NdArray, ka: Args, r: Awaited<ReturnType<typeof computeKernel>>;
        try {
          snap = readSnapshot(path.join(sdir, 'snapshot.json'));
          golden = readNpy(path.join(sdir, 'kernel.npy'));
          ka = kernelArgsFromConfig(snap.config, `${sdir}/snapshot.json`);
          ka.backend = str(a, 'backend');
          ka.quiet = true;
          r = await computeKernel(ka);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          // One unreadable snapshot is named, and the others are still checked.
          unreadable.push(e.message);
          rows.push([name, '', '', '', '', '', '', 'UNREADABLE']);
          continue;
        }
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
      // Exit 2 (bad input) names the unreadable snapshots, after the table of all the readable ones.
      if (unreadable.length) throw new UserError(`check ${dir}: ${unreadable.length} of ${names.length} snapshots unreadable${failed ? ` (and ${failed} regressed)` : ''}: ${unreadable.join('; ')}`);
      if (failed) process.exitCode = 1;
    },
  );

interface Snapshot {
  config: Record<string, unknown>;
  kind: string;
  outputs: string;
  backend: string;
  tolerance: { relativeFrobenius: number; maxAbs: number };
}

/** A snapshot.json, complete: a JSON object with config, kind, outputs, backend and positive tolerances. */
function readSnapshot(file: string): Snapshot {
  let s: Snapshot;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: cannot read a JSON object (${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]})`);
  }
  const tolOk = (v: unknown) => typeof v === 'number' && v > 0;
  if (typeof s !== 'object' || s === null || typeof s.config !== 'object' || s.config === null || Array.isArray(s.config) || typeof s.kind !== 'string' || typeof s.outputs !== 'string'
    || typeof s.backend !== 'string' || !s.tolerance || !tolOk(s.tolerance.relativeFrobenius) || !tolOk(s.tolerance.maxAbs)) {
    throw new UserError(`${file}: incomplete snapshot (needs config, kind, outputs, backend and tolerance.relativeFrobenius/maxAbs)`);
  }
  return s;
}
