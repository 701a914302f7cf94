import * as fs from 'node:fs';
import { UserError } from './errors.js';
import { npyHeader } from './npy.js';

/**
 * A float32 .npy file written in pieces at element offsets (positional writes), so that an array larger than
 * memory can be produced tile by tile. It writes into `file` as given: the caller passes the temp file of an
 * OutputSet (lib/files.ts), which renames it into place with the run's other outputs. Regions never written read
 * as 0 (the file is extended to its full size up front; the caller checked the disk room for it). Write errors
 * (a disk filled by someone else meanwhile) are UserErrors naming `label`.
 */
export class NpyFileWriter {
  private fd: number | null;
  readonly dataOffset: number;
  readonly size: number;

  constructor(readonly file: string, readonly shape: number[], readonly label: string) {
    this.size = shape.reduce((p, d) => p * d, 1);
    const head = npyHeader(shape, '<f4');
    try {
      this.fd = fs.openSync(file, 'w');
      fs.writeSync(this.fd, head, 0, head.length, 0);
      fs.ftruncateSync(this.fd, head.length + this.size * 4);
    } catch (e) {
      throw new UserError(`${label}: cannot write (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    this.dataOffset = head.length;
  }

  /** Write `data` at element offset `at`. */
  writeAt(at: number, data: Float32Array): void {
    try {
      for (let off = 0; off < data.byteLength; ) off += fs.writeSync(this.fd!, data, off, data.byteLength - off, this.dataOffset + at * 4 + off);
    } catch (e) {
      throw new UserError(`${this.label}: cannot write (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
  }

  /** Close the file (idempotent). */
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Positional reads of a float32 .npy file written by NpyFileWriter (or NumPy, '<f4', C order, version 1). The
 * file must hold exactly the bytes its header promises: a shard cut short is refused, never read as zeros.
 */
export class NpyFileReader {
  private readonly fd: number;
  readonly dataOffset: number;
  readonly shape: number[];

  constructor(readonly path: string, what: string) {
    const fail = (why: string): never => {
      try {
        fs.closeSync(this.fd);
      } catch {
        // not open
      }
      throw new UserError(`${what} ${path}: ${why}`);
    };
    let size: number;
    try {
      this.fd = fs.openSync(path, 'r');
      size = fs.fstatSync(this.fd).size;
    } catch (e) {
      throw new UserError(`${what} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    const head = Buffer.alloc(10);
    if (fs.readSync(this.fd, head, 0, 10, 0) < 10) fail('truncated .npy header');
    if (head[0] !== 0x93 || head.subarray(1, 6).toString('latin1') !== 'NUMPY' || head[6] !== 1) fail('not a version-1 .npy file');
    const len = head.readUInt16LE(8);
    const text = Buffer.alloc(len);
    if (fs.readSync(this.fd, text, 0, len, 10) < len) fail('truncated .npy header');
    const h = text.toString('latin1');
    if (!h.includes("'<f4'") || h.includes("'fortran_order': True")) fail('expected a float32 C-order .npy');
    const m = /'shape':\s*\(([^)]*)\)/.exec(h);
    this.shape = m ? m[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number) : [];
    if (!m || this.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail('malformed shape in the .npy header');
    this.dataOffset = 10 + len;
    const want = this.dataOffset + this.shape.reduce((p, d) => p * d, 1) * 4;
    if (size !== want) fail(`the file has ${size} bytes but its header (shape [${this.shape}], float32) needs ${want}: ${size < want ? 'cut short' : 'trailing bytes'}`);
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
