/** An array to write: float32, float64 or int32 (labels, indices). */
export interface WritableArray {
  data: Float32Array | Float64Array | Int32Array;
  shape: number[];
}

// The .npy encoding as bytes (plain Uint8Arrays, no Buffer, no file): shared by the CLI's writers (lib/npy.ts)
// and the browser explorer's downloads.

/** The first six bytes of every .npy file. */
export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * The NumPy .npy format version 1.0 encoding of an array (little-endian '<f4', '<f8' or '<i4', C order) as
 * [header, body], the body a view of `a.data` (no copy of a possibly very large kernel). The header is padded
 * with spaces so that the data start at a multiple of 64 bytes, as NumPy itself writes it.
 */
export function npyParts(a: WritableArray): Uint8Array[] {
  const count = a.shape.reduce((p, d) => p * d, 1);
  if (count !== a.data.length) {
    throw new Error(`encodeNpy: shape [${a.shape}] holds ${count} values, data has ${a.data.length}`);
  }
  const head = npyHeaderBytes(a.shape, a.data instanceof Float64Array ? '<f8' : a.data instanceof Int32Array ? '<i4' : '<f4');
  return [head, new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)];
}

/** The .npy v1.0 header of a C-order array [shape] of dtype `descr`, padded to a multiple of 64 bytes. */
export function npyHeaderBytes(shape: number[], descr: '<f4' | '<f8' | '<i4'): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const base = NPY_MAGIC.length + 2 + 2;
  const pad = 64 - ((base + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const head = new Uint8Array(base + header.length);
  head.set(NPY_MAGIC, 0);
  head[6] = 1;
  head[7] = 0;
  head[8] = header.length & 0xff;
  head[9] = header.length >> 8;
  // The header is ASCII (latin1 in NumPy's reader): one byte per character.
  for (let i = 0; i < header.length; i++) head[base + i] = header.charCodeAt(i);
  return head;
}
