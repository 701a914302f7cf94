import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.js';
import { type WritableArray, npyChunks } from './npy.js';

/** One file a run will write: its path, how the user named it (for messages) and, when known, its size in bytes. */
export interface OutputRequest {
  path: string;
  /** e.g. `--out`, `--save-params`, `metadata of --out` */
  flag: string;
  bytes?: number;
}

/** One file a run reads; no output may be the same file. */
export interface InputRef {
  path: string;
  flag: string;
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

/** Temp files of this process not yet committed or removed: the exit hook removes whatever is left. */
const live = new Set<string>();
let exitHooked = false;
function track(tmp: string): void {
  live.add(tmp);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const t of live) fs.rmSync(t, { force: true });
    });
  }
}

/**
 * A watchdog for the temp files of one run: a detached `sh` that blocks reading a pipe whose only writer is this
 * process, and removes the files when it reads end-of-file, i.e. when this process is gone, however it ended (a
 * signal such as SIGINT/SIGTERM/SIGKILL, which runs no JavaScript while the engine computes synchronously, or a
 * crash). On a normal end the files were already renamed or removed and `rm -f` finds nothing.
 */
function watchdog(files: string[]): ChildProcess | null {
  try {
    const child = spawn('sh', ['-c', 'read _ignored; rm -f -- "$@"', 'ntk-cleanup', ...files], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return child;
  } catch {
    return null;
  }
}

/** The real path a file has or would have: symlinks resolved, also a dangling one (it would create its target). */
function realTarget(p: string): string {
  let abs = path.resolve(p);
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      if (!fs.lstatSync(abs).isSymbolicLink()) break;
      link = fs.readlinkSync(abs);
    } catch {
      break;
    }
    abs = path.resolve(path.dirname(abs), link);
  }
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return abs;
      rest.push(path.basename(cur));
      cur = up;
    }
  }
}

/** The nearest existing folder at or above `dir`. */
function existingAncestor(dir: string): string {
  let cur = path.resolve(dir);
  while (!fs.existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

const idOf = (p: string): string | null => {
  try {
    const s = fs.statSync(p);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
};

/**
 * All outputs of one run, written all-or-nothing. `prepare` checks them before any work: no two are the same file
 * (by real path, or by device and inode for existing files), none is an input, each folder can be created and
 * written, an existing target is a plain file, and each file system has room for the known sizes. It then creates a
 * uniquely named, empty temp file in each target folder (`.NAME.ntk-PID-RANDOM.tmp`, so neither a concurrent run nor
 * a stale file of a killed one is ever reused) and starts a watchdog that removes them if the process dies. `commit`
 * renames every temp into place together: if a rename fails, the targets already replaced get their previous
 * contents back (kept as hard links until the end), so a run leaves either all new files or all old ones.
 */
export class OutputSet {
  private readonly temps = new Map<string, string>();
  private readonly madeDirs: string[] = [];
  private readonly guard: ChildProcess | null;
  private done = false;

  private constructor(readonly outputs: OutputRequest[]) {
    try {
      for (const o of outputs) {
        const dir = path.dirname(path.resolve(o.path));
        this.makeDir(dir, o);
        const tmp = path.join(dir, `.${path.basename(o.path)}.ntk-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
        try {
          fs.closeSync(fs.openSync(tmp, 'wx'));
        } catch (e) {
          throw new UserError(`${o.flag} ${o.path}: cannot write in ${dir} (${errCode(e)})`);
        }
        track(tmp);
        this.temps.set(o.path, tmp);
      }
    } catch (e) {
      this.removeTemps();
      throw e;
    }
    this.guard = watchdog([...this.temps.values()]);
  }

  /** Check the outputs against each other, the inputs and the disks, then reserve their temp files (see the class). */
  static prepare(outputs: OutputRequest[], inputs: InputRef[] = []): OutputSet {
    const seen = new Map<string, OutputRequest>();
    const inputIds = new Map<string, InputRef>();
    for (const i of inputs) {
      seen.set(realTarget(i.path), { path: i.path, flag: i.flag });
      const id = idOf(i.path);
      if (id) inputIds.set(id, i);
    }
    const inputPaths = new Set(inputs.map((i) => realTarget(i.path)));
    for (const o of outputs) {
      const real = realTarget(o.path);
      const prev = seen.get(real);
      const id = idOf(o.path);
      const sameInput = id ? inputIds.get(id) : undefined;
      if (prev || sameInput) {
        const other = prev ?? { ...sameInput!, bytes: undefined };
        const isInput = inputPaths.has(real) || sameInput !== undefined;
        throw new UserError(`${o.flag} ${o.path}: the same file as ${isInput ? 'the input ' : ''}${other.flag} ${other.path}; give the ${isInput ? 'output' : 'outputs'} distinct paths`);
      }
      seen.set(real, o);
      let st: fs.Stats | null = null;
      try {
        st = fs.statSync(o.path);
      } catch {
        // a new file
      }
      if (st && !st.isFile()) throw new UserError(`${o.flag} ${o.path}: exists and is not a plain file`);
      const dir = existingAncestor(path.dirname(path.resolve(o.path)));
      if (!fs.statSync(dir).isDirectory()) throw new UserError(`${o.flag} ${o.path}: ${dir} is not a folder`);
      try {
        fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch (e) {
        throw new UserError(`${o.flag} ${o.path}: folder ${dir} is not writable (${errCode(e)})`);
      }
    }
    checkDiskRoom(outputs);
    return new OutputSet(outputs);
  }

  private makeDir(dir: string, o: OutputRequest): void {
    const top = existingAncestor(dir);
    if (top === dir) return;
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UserError(`${o.flag} ${o.path}: cannot create folder ${dir} (${errCode(e)})`);
    }
    // Remember what we created (deepest first) so an aborted run removes it again.
    for (let d = dir; d !== top; d = path.dirname(d)) this.madeDirs.push(d);
  }

  private request(file: string): OutputRequest {
    const o = this.outputs.find((q) => q.path === file);
    if (!o) throw new Error(`OutputSet: ${file} was not prepared`);
    return o;
  }

  /** The temp file that stands for `file` until `commit`. */
  temp(file: string): string {
    this.request(file);
    return this.temps.get(file)!;
  }

  /** Write the whole contents of one output (to its temp file). */
  write(file: string, data: Buffer | string | Buffer[]): void {
    const o = this.request(file);
    const tmp = this.temps.get(file)!;
    try {
      const fd = fs.openSync(tmp, 'w');
      try {
        for (const chunk of Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data]) {
          for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off, chunk.length - off);
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw new UserError(`${o.flag} ${o.path}: cannot write (${errCode(e)})`);
    }
  }

  /** Rename every temp file into place, all or none (see the class). */
  commit(): void {
    const replaced: { target: string; backup: string | null }[] = [];
    try {
      for (const o of this.outputs) {
        const tmp = this.temps.get(o.path)!;
        let backup: string | null = null;
        const st = fs.lstatSync(o.path, { throwIfNoEntry: false });
        if (st) {
          if (!st.isFile()) throw new UserError(`${o.flag} ${o.path}: exists and is not a plain file`);
          backup = `${tmp}.old`;
          track(backup);
          try {
            fs.linkSync(o.path, backup);
          } catch {
            fs.copyFileSync(o.path, backup); // a file system without hard links
          }
        }
        try {
          fs.renameSync(tmp, o.path);
        } catch (e) {
          if (backup) fs.rmSync(backup, { force: true });
          throw new UserError(`${o.flag} ${o.path}: cannot rename into place (${errCode(e)})`);
        }
        live.delete(tmp);
        replaced.push({ target: o.path, backup });
      }
    } catch (e) {
      for (const r of replaced.reverse()) {
        if (r.backup) fs.renameSync(r.backup, r.target);
        else fs.rmSync(r.target, { force: true });
        if (r.backup) live.delete(r.backup);
      }
      this.abort();
      throw e instanceof UserError ? e : new UserError(`cannot commit outputs (${errCode(e)}); the previous files were kept`);
    }
    for (const r of replaced) {
      if (r.backup) {
        fs.rmSync(r.backup, { force: true });
        live.delete(r.backup);
      }
    }
    this.done = true;
    this.release();
  }

  /** Remove every temp file (and folders this run created); the targets stay as they were. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.removeTemps();
    this.release();
  }

  private removeTemps(): void {
    for (const t of this.temps.values()) {
      fs.rmSync(t, { force: true });
      live.delete(t);
    }
    for (const d of this.madeDirs) {
      try {
        fs.rmdirSync(d);
      } catch {
        break;
      }
    }
  }

  private release(): void {
    this.guard?.stdin?.end();
  }
}

/** Refuse up front when the known sizes of the outputs do not fit the free space of their file systems. */
function checkDiskRoom(outputs: OutputRequest[]): void {
  const need = new Map<string, { bytes: number; free: number; first: OutputRequest }>();
  for (const o of outputs) {
    if (!o.bytes) continue;
    const dir = existingAncestor(path.dirname(path.resolve(o.path)));
    let dev: string, free: number;
    try {
      const s = fs.statfsSync(dir);
      dev = `${fs.statSync(dir).dev}`;
      free = s.bavail * s.bsize;
    } catch {
      continue;
    }
    const e = need.get(dev) ?? { bytes: 0, free, first: o };
    e.bytes += o.bytes;
    need.set(dev, e);
  }
  for (const { bytes, free, first } of need.values()) {
    if (bytes > free) throw new UserError(`${first.flag} ${first.path}: the outputs need ${formatBytes(bytes)} on its disk, which has ${formatBytes(free)} free`);
  }
}

/** "1.5 GB" style sizes for messages. */
export function formatBytes(b: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${i === 0 ? b : b.toPrecision(3)} ${units[i]}`;
}

/**
 * Write several files all-or-nothing (prepare, write, commit of an OutputSet): used by the studies, whose outputs
 * are small and written at the end of the run.
 */
export function writeFilesAtomically(files: { path: string; data: Buffer | string | Buffer[] }[]): void {
  const set = OutputSet.prepare(files.map((f) => ({ path: f.path, flag: 'output', bytes: byteLength(f.data) })));
  try {
    for (const f of files) set.write(f.path, f.data);
    set.commit();
  } catch (e) {
    set.abort();
    throw e;
  }
}

const byteLength = (d: Buffer | string | Buffer[]) => (Array.isArray(d) ? d.reduce((s, c) => s + c.length, 0) : typeof d === 'string' ? Buffer.byteLength(d) : d.length);

/** A text file's contents, or a UserError "`label`: cannot read file (CODE)" naming the flag and file. */
export function readTextFile(file: string, label: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${label}: cannot read file (${errCode(e)})`);
  }
}

/**
 * How a data file is named in metadata and reports: relative to the working folder, so that committed results carry
 * no absolute path of the machine that made them (`../shared/datasets/uci/iris.csv`, not `/work/shared/...`).
 */
export const sourcePath = (file: string): string => path.relative(process.cwd(), path.resolve(file)) || '.';

/** The JSON metadata file that goes beside an output: `K.npy` → `K.json`. */
export function metadataPath(out: string): string {
  return out.replace(/\.npy$/i, '') + '.json';
}

/** Bytes of a .npy file of `shape` with items of `itemBytes` (header of 128 bytes at most for any shape we write). */
export const npyBytes = (shape: number[], itemBytes: number) => 128 + shape.reduce((p, d) => p * d, 1) * itemBytes;

/** The .npy chunks of an array, for OutputSet.write. */
export const npyData = (a: WritableArray): Buffer[] => npyChunks(a);
