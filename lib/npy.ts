import * as fs from 'node:fs';
import { UserError } from './errors.js';
import { NPY_MAGIC, type WritableArray, npyParts, npyHeaderBytes } from './npy-bytes.js';

export type { WritableArray } from './npy-bytes.js';

/** A dense row-major array with its shape, as stored in a NumPy .npy file. */
export interface NdArray {
  data: Float32Array | Float64Array;
  shape: number[];
}

/** Encode an array as NumPy .npy (npyParts) in one Buffer. */
export function encodeNpy(a: WritableArray): Buffer {
  return Buffer.concat(npyChunks(a));
}

/** npyParts as Buffers (views, no copy): the header and the body, to be written one after the other. */
export function npyChunks(a: WritableArray): Buffer[] {
  return npyParts(a).map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
}

/** npyHeaderBytes as a Buffer. */
export function npyHeader(shape: number[], descr: '<f4' | '<f8' | '<i4'): Buffer {
  const h = npyHeaderBytes(shape, descr);
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
}

/**
 * Decode a .npy file's bytes. Accepts float32/float64 (either endianness) and int/uint arrays of 1–8 bytes
 * (converted to float64), C order only; anything else is a UserError naming `what`.
 */
export function decodeNpy(buf: Buffer, what: string): NdArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(Buffer.from(NPY_MAGIC))) {
    throw new UserError(`${what}: not a NumPy .npy file (bad magic bytes)`);
  }
  const major = buf[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new UserError(`${what}: truncated .npy header`);
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    throw new UserError(`${what}: unsupported .npy version ${major}`);
  }
  if (start + headerLen > buf.length) throw new UserError(`${what}: truncated .npy header`);
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr'\s*:\s*'([<>|=])([a-zA-Z])(\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw new UserError(`${what}: malformed .npy header: ${header.trim()}`);
  if (fortran[1] === 'True') throw new UserError(`${what}: Fortran-order .npy arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeM[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new UserError(`${what}: malformed shape in .npy header`);
  const count = shape.reduce((p, d) => p * d, 1);
  const [, endian, kind, sizeStr] = descr;
  const size = Number(sizeStr);
  const big = endian === '>';
  const dataStart = start + headerLen;
  // The bytes present must be exactly what the header promises: a file cut short (or with bytes appended) is refused.
  if (buf.length - dataStart !== count * size) {
    throw new UserError(`${what}: .npy data ${buf.length - dataStart < count * size ? 'truncated' : 'has trailing bytes'}: shape [${shape}] needs ${count * size} bytes, file has ${buf.length - dataStart}`);
  }
  const read = readerFor(kind, size, big, what);
  if (kind === 'f' && size === 4 && !big) {
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf.subarray(dataStart, dataStart + count * 4));
    return { data, shape };
  }
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(buf, dataStart + i * size);
  return { data, shape };
}

function readerFor(kind: string, size: number, big: boolean, what: string): (b: Buffer, o: number) => number {
  const key = `${kind}${size}`;
  switch (key) {
    case 'f4': return big ? (b, o) => b.readFloatBE(o) : (b, o) => b.readFloatLE(o);
    case 'f8': return big ? (b, o) => b.readDoubleBE(o) : (b, o) => b.readDoubleLE(o);
    case 'i1': return (b, o) => b.readInt8(o);
    case 'u1': return (b, o) => b.readUInt8(o);
    case 'b1': return (b, o) => b.readUInt8(o);
    case 'i2': return big ? (b, o) => b.readInt16BE(o) : (b, o) => b.readInt16LE(o);
    case 'u2': return big ? (b, o) => b.readUInt16BE(o) : (b, o) => b.readUInt16LE(o);
    case 'i4': return big ? (b, o) => b.readInt32BE(o) : (b, o) => b.readInt32LE(o);
    case 'u4': return big ? (b, o) => b.readUInt32BE(o) : (b, o) => b.readUInt32LE(o);
    case 'i8': return big ? (b, o) => Number(b.readBigInt64BE(o)) : (b, o) => Number(b.readBigInt64LE(o));
    case 'u8': return big ? (b, o) => Number(b.readBigUInt64BE(o)) : (b, o) => Number(b.readBigUInt64LE(o));
    default:
      throw new UserError(`${what}: unsupported .npy dtype '${kind}${size}' (expected float32 or float64)`);
  }
}

/** Read a .npy file; a missing or malformed file is a UserError naming the path. */
export function readNpy(path: string): NdArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return decodeNpy(buf, path);
}
