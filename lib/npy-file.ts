import * as fs from 'node:fs';
import { UserError } from './errors.js';
import { npyHeader } from './npy.js';

/**
 * A float32 .npy file written in pieces at element offsets (positional writes), so that an array larger than
 * memory can be produced tile by tile. The data go to `PATH.tmp-PID` and are renamed into place by `commit`
 * (all-or-nothing, like every output of the tool); `abort` removes them. Regions never written read as 0.
 */
export class NpyFileWriter {
  private readonly fd: number;
  private readonly tmp: string;
  readonly dataOffset: number;
  readonly size: number;

  constructor(readonly path: string, readonly shape: number[]) {
    this.size = shape.reduce((p, d) => p * d, 1);
    const head = npyHeader(shape, '<f4');
    this.tmp = `${path}.tmp-${process.pid}`;
    try {
      this.fd = fs.openSync(this.tmp, 'w');
      fs.writeSync(this.fd, head, 0, head.length, 0);
      fs.ftruncateSync(this.fd, head.length + this.size * 4);
    } catch (e) {
      throw new UserError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    this.dataOffset = head.length;
  }

  /** Write `data` at element offset `at`. */
  writeAt(at: number, data: Float32Array): void {
    fs.writeSync(this.fd, data, 0, data.byteLength, this.dataOffset + at * 4);
  }

  commit(): void {
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.path);
  }

  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Positional reads of a float32 .npy file written by NpyFileWriter (or NumPy, '<f4', C order, version 1). */
export class NpyFileReader {
  private readonly fd: number;
  readonly dataOffset: number;
  readonly shape: number[];

  constructor(readonly path: string, what: string) {
    let head: Buffer;
    try {
      this.fd = fs.openSync(path, 'r');
      head = Buffer.alloc(10);
      fs.readSync(this.fd, head, 0, 10, 0);
    } catch (e) {
      throw new UserError(`${what} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    if (head[0] !== 0x93 || head.subarray(1, 6).toString('latin1') !== 'NUMPY' || head[6] !== 1) throw new UserError(`${what} ${path}: not a version-1 .npy file`);
    const len = head.readUInt16LE(8);
    const text = Buffer.alloc(len);
    fs.readSync(this.fd, text, 0, len, 10);
    const h = text.toString('latin1');
    if (!h.includes("'<f4'") || h.includes("'fortran_order': True")) throw new UserError(`${what} ${path}: expected a float32 C-order .npy`);
    const m = /'shape':\s*\(([^)]*)\)/.exec(h);
    this.shape = m ? m[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number) : [];
    this.dataOffset = 10 + len;
  }

  readAt(at: number, count: number): Float32Array {
    const out = new Float32Array(count);
    fs.readSync(this.fd, out, 0, count * 4, this.dataOffset + at * 4);
    return out;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
