import { expect } from 'chai';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { loadMnist, mnistPool, scanNumbers, valueStarts } from '../lib/data.js';
import { decodeNpy, encodeNpy } from '../lib/npy.js';

describe('data and file formats', () => {
  it('the MNIST split is seeded and disjoint, with real digits', () => {
    const pool = mnistPool();
    expect(pool.n).to.be.above(5000);
    const tr = loadMnist('train', 500, 0);
    const te = loadMnist('test', 500, 0);
    const again = loadMnist('train', 500, 0);
    const other = loadMnist('train', 500, 1);
    expect(tr.x).to.deep.equal(again.x);
    expect(tr.x).to.not.deep.equal(other.x);
    const key = (x: Float32Array, i: number) => Buffer.from(x.buffer, i * 784 * 4, 784 * 4).toString('base64');
    const trainKeys = new Set(Array.from({ length: 500 }, (_, i) => key(tr.x, i)));
    let shared = 0;
    for (let i = 0; i < 500; i++) if (trainKeys.has(key(te.x, i))) shared++;
    expect(shared).to.equal(0);
    // every class is present and pixel values are grey levels in [0, 1]
    expect(new Set(tr.labels).size).to.equal(10);
    expect(tr.x.every((v) => v >= 0 && v <= 1)).to.equal(true);
    expect(tr.x.some((v) => v > 0.99)).to.equal(true);
  });

  it('the fast digit-file scanner gives exactly what JSON.parse gives', () => {
    const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
    for (const d of [0, 7]) {
      const buf = fs.readFileSync(path.join(dir, `${d}.json`));
      const ref = Float32Array.from(JSON.parse(buf.toString('utf8')).data as number[]);
      // The whole list as one group of values: its start, then every number up to the closing ']'.
      const out = new Float32Array(ref.length + 1).fill(7);
      expect(scanNumbers(buf, valueStarts(buf, ref.length)[0], out, 0, ref.length + 1)).to.equal(ref.length);
      expect(Buffer.from(out.buffer, 0, ref.byteLength).equals(Buffer.from(ref.buffer))).to.equal(true);
      expect(out[ref.length]).to.equal(7);
    }
    const small = Buffer.from('{"data": [0, 0.5, -1.25,3]}'), got = new Float32Array(6).fill(9);
    expect(scanNumbers(small, valueStarts(small, 1)[0], got, 1, 5)).to.equal(4);
    expect(Array.from(got)).to.deep.equal([9, 0, 0.5, -1.25, 3, 9]);
    expect(scanNumbers(small, valueStarts(small, 1)[0], got, 0, 2)).to.equal(2);
    expect(Array.from(got)).to.deep.equal([0, 0.5, 0.5, -1.25, 3, 9]);
  });

  it('digits parsed on demand are exactly the JSON.parse values of the digit they index, with its label', () => {
    const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
    const ref: number[][] = [], refLabels: number[] = [];
    for (let d = 0; d < 10; d++) {
      const v = JSON.parse(fs.readFileSync(path.join(dir, `${d}.json`), 'utf8')).data as number[];
      for (let k = 0; k + 784 <= v.length; k += 784) {
        ref.push(v.slice(k, k + 784));
        refLabels.push(d);
      }
    }
    expect(mnistPool().n).to.equal(ref.length);
    for (const [split, n, seed] of [['test', 400, 3], ['train', 300, 0]] as const) {
      const s = loadMnist(split, n, seed);
      for (let i = 0; i < n; i++) {
        const j = s.indices[i];
        expect(s.labels[i]).to.equal(refLabels[j]);
        const want = Float32Array.from(ref[j]), got = s.x.subarray(i * 784, (i + 1) * 784);
        expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer))).to.equal(true, `digit ${j}`);
      }
    }
    // Group starts: every 3rd value of a small list; a partial last group is not counted.
    const b = Buffer.from('{"data": [1,22,3,4.5,5,6,7]}');
    expect(Array.from(valueStarts(b, 3)).map((o) => b.toString('latin1', o, o + 3))).to.deep.equal(['1,2', '4.5']);
  });

  it('.npy files decode as NumPy writes them (header bytes fixed by NumPy 1.x) and round-trip', () => {
    // np.save of np.arange(6, dtype='<f8').reshape(2, 3), byte for byte.
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    const pad = 128 - 10 - header.length - 1;
    const bytes = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]),
      Buffer.from(header + ' '.repeat(pad) + '\n', 'latin1'),
      Buffer.from(new Float64Array([0, 1, 2, 3, 4, 5]).buffer),
    ]);
    const a = decodeNpy(bytes, 'fixture');
    expect(a.shape).to.deep.equal([2, 3]);
    expect(Array.from(a.data)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(encodeNpy(a).equals(bytes)).to.equal(true);
    const f = { data: Float32Array.from([1.5, -2, 3e-8]), shape: [3] };
    const enc = encodeNpy(f);
    expect((enc.readUInt16LE(8) + 10) % 64).to.equal(0);
    expect(Array.from(decodeNpy(enc, 'rt').data)).to.deep.equal(Array.from(f.data));
    const big = Buffer.from(enc);
    big.write("'>f4'", big.indexOf("'<f4'"), 'latin1');
    for (let i = 0; i < 3; i++) big.writeFloatBE(f.data[i], enc.length - 12 + 4 * i);
    expect(Array.from(decodeNpy(big, 'be').data)).to.deep.equal(Array.from(f.data));
  });
});
