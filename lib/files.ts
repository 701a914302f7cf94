import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.js';
import { type WritableArray, npyChunks } from './npy.js';

/**
 * Write several files all-or-nothing: each is written to a temporary name beside its target and only
 * renamed into place once every one was written, so a failure never leaves a partial output behind.
 */
export function writeFilesAtomically(files: { path: string; data: Buffer | string | Buffer[] }[]): void {
  const tmps: string[] = [];
  try {
    for (const f of files) {
      const dir = path.dirname(path.resolve(f.path));
      try {
        fs.mkdirSync(dir, { recursive: true });
      } catch (e) {
        throw new UserError(`${f.path}: cannot create folder ${dir} (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
      const tmp = `${f.path}.tmp-${process.pid}`;
      try {
        if (Array.isArray(f.data)) {
          const fd = fs.openSync(tmp, 'w');
          try {
            for (const chunk of f.data) fs.writeSync(fd, chunk);
          } finally {
            fs.closeSync(fd);
          }
        } else {
          fs.writeFileSync(tmp, f.data);
        }
      } catch (e) {
        throw new UserError(`${f.path}: cannot write (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
      tmps.push(tmp);
    }
    files.forEach((f, i) => fs.renameSync(tmps[i], f.path));
  } catch (e) {
    for (const t of tmps) fs.rmSync(t, { force: true });
    throw e;
  }
}

/** A text file's contents, or a UserError "`label`: cannot read file (CODE)" naming the flag and file. */
export function readTextFile(file: string, label: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${label}: cannot read file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

/** The JSON metadata file that goes beside an output: `K.npy` → `K.json`. */
export function metadataPath(out: string): string {
  return out.replace(/\.npy$/i, '') + '.json';
}

/**
 * Write an array as `.npy` and its metadata as JSON beside it (`K.npy` + `K.json`), all-or-nothing.
 * Extra arrays (e.g. a standard error) and other files (e.g. a params file) are written in the same atomic step.
 */
export function writeNpyWithMetadata(out: string, arrays: { path: string; array: WritableArray }[], meta: object, others: { path: string; data: string }[] = []): void {
  if (!/\.npy$/i.test(out)) throw new UserError(`--out: expected a path ending in .npy; got '${out}'`);
  writeFilesAtomically([
    ...others,
    ...arrays.map((a) => ({ path: a.path, data: npyChunks(a.array) })),
    { path: metadataPath(out), data: JSON.stringify(meta, null, 2) + '\n' },
  ]);
}
