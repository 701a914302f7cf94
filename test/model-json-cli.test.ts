import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { empiricalKernel } from '../jacobian/empirical.js';
import { encodeNpy, readNpy } from '../lib/npy.js';
import { vectors } from '../lib/samples.js';
import { readModelJson } from '../lib/model-json.js';
import { layersNetworkFromNamedWeights } from '../models/layers-network.js';
import { randomInputs, testBackend } from './helpers.js';

const cli = fileURLToPath(new URL('../bin/ntk.js', import.meta.url));
const fixture = fileURLToPath(new URL('../../test/fixtures/layers-small/model.json', import.meta.url));
const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';

function ntk(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args, '--quiet', '--backend', backend], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2 with one line `ntk: error: …` matching `pattern`, and no output file. */
function refused(args: string[], pattern: RegExp, out: string): void {
  const r = ntk(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).to.equal(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^ntk: error: /).and.match(pattern);
  expect(fs.existsSync(out)).to.equal(false);
}

describe('ntk kernel/infinite --model-json (a saved tfjs-layers model)', function () {
  let dir: string;
  let xfile: string;
  const n = 5;
  const x = randomInputs(n, 64, 'model-json');

  before(async () => {
    await testBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-model-json-'));
    xfile = path.join(dir, 'x.npy');
    fs.writeFileSync(xfile, encodeNpy({ data: x, shape: [n, 8, 8, 1] }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A copy of the fixture in its own folder, with `edit` applied to the parsed model.json (and the shard kept). */
  function variant(name: string, edit: (j: Record<string, unknown>) => void, shard?: (b: Buffer) => Buffer): string {
    const d = path.join(dir, name);
    fs.mkdirSync(d, { recursive: true });
    const j = JSON.parse(fs.readFileSync(fixture, 'utf8'));
    edit(j);
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify(j));
    const bin = fs.readFileSync(path.join(path.dirname(fixture), 'weights.bin'));
    fs.writeFileSync(path.join(d, 'weights.bin'), shard ? shard(bin) : bin);
    return path.join(d, 'model.json');
  }

  it('kernel: the fixture\'s NTK equals the library computation bit for bit, the structured path covers θ, params round-trip', () => {
    const out = path.join(dir, 'K.npy'), pfile = path.join(dir, 'P.json');
    const r = ntk(['kernel', '--model-json', fixture, '--data', `npy:${xfile}`, '--out', out, '--save-params', pfile, '--workers', '1']);
    expect(r.code, r.stderr).to.equal(0);
    const { topology, weights } = readModelJson(fixture);
    const { model, params } = layersNetworkFromNamedWeights(topology, weights, 'fixture');
    const want = empiricalKernel(model, params, vectors(x, n, [8, 8, 1]), null, { mode: 'full' });
    const got = readNpy(out);
    expect(got.shape).to.deep.equal([n * 3, n * 3]);
    expect(Array.from(got.data)).to.deep.equal(Array.from(want.kernel.data));
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'K.json'), 'utf8'));
    expect(meta.implementation).to.equal('structured');
    expect(meta.notice).to.equal(null);
    expect(meta.config.model).to.equal('layers');
    expect(meta.data.indices).to.equal(`0..${n - 1}`);
    const saved = JSON.parse(fs.readFileSync(pfile, 'utf8'));
    expect(saved.params.map((p: { name: string }) => p.name)).to.include('bn/gamma').and.not.include('bn/moving_mean');
    const out2 = path.join(dir, 'K2.npy');
    expect(ntk(['kernel', '--load-params', pfile, '--data', `npy:${xfile}`, '--out', out2, '--workers', '1']).code).to.equal(0);
    expect(Array.from(readNpy(out2).data)).to.deep.equal(Array.from(got.data));
  });

  it('--workers 2 and --memory give the same kernel bit for bit as one thread in memory (layers models are rebuilt in the workers)', () => {
    const one = path.join(dir, 'one.npy'), two = path.join(dir, 'two.npy'), disk = path.join(dir, 'disk.npy');
    const common = ['kernel', '--model-json', fixture, '--data', `npy:${xfile}`, '--tile', '2'];
    expect(ntk([...common, '--workers', '1', '--out', one]).code).to.equal(0);
    const r2 = ntk([...common, '--workers', '2', '--out', two]);
    expect(r2.code, r2.stderr).to.equal(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'two.json'), 'utf8')).workers).to.equal(2);
    const r3 = ntk([...common, '--memory', '64', '--out', disk]);
    expect(r3.code, r3.stderr).to.equal(0);
    const k1 = Array.from(readNpy(one).data);
    expect(Array.from(readNpy(two).data)).to.deep.equal(k1);
    expect(Array.from(readNpy(disk).data)).to.deep.equal(k1);
  });

  it('infinite re-initialises the topology per seed; MNIST metadata records digit indices and labels; --labels-out writes them', () => {
    const out = path.join(dir, 'M.npy');
    const r = ntk(['infinite', '--model-json', fixture, '--data', `npy:${xfile}`, '--seeds', '3', '--outputs', 'trace', '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const m = readNpy(out);
    expect(m.shape).to.deep.equal([n, n]);
    expect(Array.from(m.data).every(Number.isFinite)).to.equal(true);
    const kout = path.join(dir, 'mn.npy'), lout = path.join(dir, 'labels.npy');
    expect(ntk(['kernel', '--data', 'mnist', '--n', '7', '--widths', '784,10,10', '--labels-out', lout, '--out', kout]).code).to.equal(0);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'mn.json'), 'utf8'));
    const labels = readNpy(lout);
    expect(meta.data.indices).to.have.length(7);
    expect(Array.from(labels.data)).to.deep.equal(meta.data.labels);
    expect(new Set(meta.data.indices).size).to.equal(7);
  });

  it('bad model files, shards and inputs: exit 2 with one line, no output', () => {
    const out = path.join(dir, 'bad.npy');
    const notJson = path.join(dir, 'broken.json');
    fs.writeFileSync(notJson, '{"modelTopology": ');
    refused(['kernel', '--model-json', notJson, '--data', `npy:${xfile}`, '--out', out], /not valid JSON/, out);
    refused(['kernel', '--model-json', path.join(dir, 'absent.json'), '--data', `npy:${xfile}`, '--out', out], /cannot read file/, out);
    const gru = variant('gru', (j) => {
      const layers = ((j.modelTopology as Record<string, Record<string, unknown>>).config.layers) as Record<string, unknown>[];
      layers[1].class_name = 'GRU';
    });
    refused(['kernel', '--model-json', gru, '--data', `npy:${xfile}`, '--out', out], /GRU is not supported.*fromFunction/, out);
    const short = variant('short', () => {}, (b) => b.subarray(0, b.length - 8));
    refused(['kernel', '--model-json', short, '--data', `npy:${xfile}`, '--out', out], /hold \d+ bytes; the manifest's weights need \d+/, out);
    const missing = variant('missing', (j) => {
      (j.weightsManifest as { paths: string[] }[])[0].paths = ['nowhere.bin'];
    });
    refused(['kernel', '--model-json', missing, '--data', `npy:${xfile}`, '--out', out], /weight shard 'nowhere.bin' cannot be read/, out);
    fs.writeFileSync(path.join(dir, 'outside.bin'), fs.readFileSync(path.join(path.dirname(fixture), 'weights.bin')));
    const escape = variant('escape', (j) => {
      (j.weightsManifest as { paths: string[] }[])[0].paths = ['../outside.bin'];
    });
    refused(['kernel', '--model-json', escape, '--data', `npy:${xfile}`, '--out', out], /outside the folder of model.json; refused/, out);
    fs.symlinkSync(path.join(dir, 'outside.bin'), path.join(dir, 'escape', 'link.bin'));
    const link = variant('escape', (j) => {
      (j.weightsManifest as { paths: string[] }[])[0].paths = ['link.bin'];
    });
    refused(['kernel', '--model-json', link, '--data', `npy:${xfile}`, '--out', out], /links outside the folder/, out);
    refused(['kernel', '--model-json', fixture, '--data', 'mnist', '--n', '3', '--out', out], /shape \[784\].*takes inputs of shape \[8,8,1\]/, out);
    refused(['kernel', '--model-json', fixture, '--widths', '3,4', '--data', `npy:${xfile}`, '--out', out], /--widths: the network comes from --model-json/, out);
    refused(['kernel', '--model-json', fixture, '--load-params', fixture, '--data', `npy:${xfile}`, '--out', out], /--model-json and --load-params/, out);
    refused(['kernel', '--model-json', fixture, '--data', `npy:${xfile}`, '--kind', 'nngp', '--out', out], /conjugate-kernel|nngp/, out);
  });

  it('--version prints ntk-ts\'s own version', () => {
    const r = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8', cwd: os.tmpdir() });
    const pkg = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
    expect(r.stdout.trim()).to.equal(pkg.version);
  });
});
