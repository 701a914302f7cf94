import { expect } from 'chai';
import { vectors } from '../lib/samples.js';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { empiricalKernel } from '../jacobian/empirical.js';
import { encodeNpy, readNpy } from '../lib/npy.js';
import { pageFaultMicros, relaunchWanted, runtimeEnv, runtimeFlags } from '../bin/runtime.js';
import { Mlp } from '../models/mlp.js';
import { randomInputs, testBackend } from './helpers.js';

const cli = fileURLToPath(new URL('../bin/ntk.js', import.meta.url));
const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';

function ntk(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args, '--quiet', '--backend', backend], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Bad input: exit code 2 and one line on stderr, `ntk: error: …` matching `pattern`. */
function expectUsageError(args: string[], pattern: RegExp): void {
  const r = ntk(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).to.equal(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^ntk: error: /).and.match(pattern);
}

describe('ntk command line', function () {
  let dir: string;
  let xfile: string;
  const x = randomInputs(6, 5, 'cli');

  before(async () => {
    await testBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-cli-'));
    xfile = path.join(dir, 'x.npy');
    fs.writeFileSync(xfile, encodeNpy({ data: x, shape: [6, 5] }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the command line's process: huge pages where 4 KB faults are expensive (or as NTK_HUGEPAGES says), ArrayBuffer transfer on every Node", () => {
    const saved = { t: process.env.GLIBC_TUNABLES, d: process.env.NTK_HUGEPAGES };
    try {
      process.env.NTK_HUGEPAGES = '1';
      process.env.GLIBC_TUNABLES = 'glibc.malloc.arena_max=2';
      expect(runtimeEnv().GLIBC_TUNABLES).to.equal('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
      expect(runtimeEnv().NTK_HUGEPAGES).to.equal('1');
      delete process.env.GLIBC_TUNABLES;
      expect(runtimeEnv().GLIBC_TUNABLES).to.equal('glibc.malloc.hugetlb=1');
      // Decided against: the tunable is not added, and the child inherits the decision (it does not probe again).
      process.env.NTK_HUGEPAGES = '0';
      expect(runtimeEnv().GLIBC_TUNABLES).to.equal(undefined);
      expect(runtimeEnv().NTK_HUGEPAGES).to.equal('0');
      process.env.GLIBC_TUNABLES = 'glibc.malloc.arena_max=2';
      expect(runtimeEnv().GLIBC_TUNABLES).to.equal('glibc.malloc.arena_max=2');
      // A tunable the user set is kept as it is, and such a process is not started again for huge pages.
      process.env.NTK_HUGEPAGES = '1';
      process.env.GLIBC_TUNABLES = 'glibc.malloc.hugetlb=0';
      expect(runtimeEnv().GLIBC_TUNABLES).to.equal('glibc.malloc.hugetlb=0');
      if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function') expect(relaunchWanted()).to.equal(false);
      // Without a decision the probe decides, from the first touches of fresh pages (a real, positive time).
      delete process.env.NTK_HUGEPAGES;
      const micros = pageFaultMicros();
      expect(micros).to.be.greaterThan(0).and.lessThan(1e5);
      expect(runtimeEnv().NTK_HUGEPAGES).to.match(/^[01]$/);
    } finally {
      for (const [k, v] of [['GLIBC_TUNABLES', saved.t], ['NTK_HUGEPAGES', saved.d]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    // The flags runtimeFlags adds (none where transfer is standard) give the child ArrayBuffer.prototype.transfer.
    const r = spawnSync(process.execPath, [...runtimeFlags(), '-e', 'console.log(typeof ArrayBuffer.prototype.transfer)'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('function');
  });

  it('a relaunched process gets the huge-page decision, its tunable and ArrayBuffer transfer, and is not started again', () => {
    // A script that starts as bin/ntk.ts does and prints the environment it ends up running in, and how many times
    // it ran (each run appends a line to a file).
    const script = path.join(dir, 'launch.mjs');
    const runtime = new URL('../bin/runtime.js', import.meta.url).href;
    fs.writeFileSync(script, [
      `import { relaunch, relaunchWanted } from '${runtime}';`,
      `import * as fs from 'node:fs';`,
      `fs.appendFileSync(process.argv[2], 'run\\n');`,
      `if (relaunchWanted()) relaunch('launch: could not start');`,
      `else console.log(JSON.stringify([process.env.GLIBC_TUNABLES ?? '', process.env.NTK_HUGEPAGES ?? '', typeof ArrayBuffer.prototype.transfer]));`,
    ].join('\n'));
    for (const [d, tunable] of [['1', 'glibc.malloc.hugetlb=1'], ['0', '']]) {
      const runs = path.join(dir, `runs${d}`);
      const env: NodeJS.ProcessEnv = { ...process.env, NTK_HUGEPAGES: d };
      delete env.GLIBC_TUNABLES;
      const r = spawnSync(process.execPath, [script, runs], { encoding: 'utf8', env });
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout)).to.deep.equal(process.platform === 'linux' ? [tunable, d, 'function'] : ['', d, typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer]);
      const started = fs.readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;
      const relaunched = process.platform === 'linux' && (d === '1' || typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function');
      expect(started).to.equal(relaunched ? 2 : 1);
    }
  });

  it('kernel writes the .npy and its metadata, equal to the library call', () => {
    const out = path.join(dir, 'k.npy');
    const r = ntk(['kernel', '--widths', '5,16,16,3', '--data', `npy:${xfile}`, '--seed', '4', '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const k = readNpy(out);
    expect(k.shape).to.deep.equal([18, 18]);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'k.json'), 'utf8'));
    expect(meta.backend).to.equal(backend);
    expect(meta.shape).to.deep.equal([18, 18]);
    expect(meta.config).to.include({ model: 'mlp', activation: 'relu', parameterization: 'ntk' });
    const m = new Mlp({ model: 'mlp', widths: [5, 16, 16, 3], activation: 'relu', parameterization: 'ntk', wStd: Math.SQRT2, bStd: 0.1, bias: true });
    const lib = empiricalKernel(m, m.init(4), vectors(x, 6), null).kernel.data;
    expect(Buffer.from(k.data.buffer).equals(Buffer.from(lib.buffer))).to.equal(true);
  });

  it('params saved with --save-params reload with --load-params to the same kernel, in the documented format', () => {
    const p = path.join(dir, 'p.json');
    const a = path.join(dir, 'a.npy');
    const b = path.join(dir, 'b.npy');
    expect(ntk(['kernel', '--widths', '5,7,2', '--activation', 'erf', '--data', `npy:${xfile}`, '--seed', '9', '--outputs', 'trace', '--save-params', p, '--out', a]).code).to.equal(0);
    const file = JSON.parse(fs.readFileSync(p, 'utf8'));
    expect(Object.keys(file)).to.deep.equal(['config', 'params']);
    expect(file.config).to.deep.include({ model: 'mlp', widths: [5, 7, 2], activation: 'erf', parameterization: 'ntk', bStd: 0.1 });
    expect(file.params.map((q: { name: string; shape: number[] }) => `${q.name}:${q.shape}`)).to.deep.equal(['dense_0/kernel:5,7', 'dense_0/bias:7', 'dense_1/kernel:7,2', 'dense_1/bias:2']);
    expect(file.params[0].values).to.have.length(35);
    const r = ntk(['kernel', '--load-params', p, '--data', `npy:${xfile}`, '--outputs', 'trace', '--out', b]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readNpy(a).data).to.deep.equal(readNpy(b).data);
  });

  it('infinite writes mean and standard error and checks itself against the analytic kernel', () => {
    const out = path.join(dir, 'mc.npy');
    const se = path.join(dir, 'mc-se.npy');
    const r = ntk(['infinite', '--widths', '5,256,1', '--data', `npy:${xfile}`, '--seeds', '8', '--report-at', '2,4', '--outputs', 'trace', '--out', out, '--stderr-out', se]);
    expect(r.code, r.stderr).to.equal(0);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'mc.json'), 'utf8'));
    expect(meta.reports.map((q: { seeds: number }) => q.seeds)).to.deep.equal([2, 4, 8]);
    expect(meta.reports[2].relativeErrorToAnalytic).to.be.below(0.1);
    expect(readNpy(se).data.every((v) => v > 0)).to.equal(true);
    const an = path.join(dir, 'an.npy');
    expect(ntk(['analytic', '--widths', '5,256,1', '--data', `npy:${xfile}`, '--out', an]).code).to.equal(0);
    const A = readNpy(an).data, M = readNpy(out).data;
    expect(A).to.be.instanceOf(Float64Array);
    let e2 = 0, a2 = 0;
    A.forEach((v, i) => { e2 += (v - M[i]) ** 2; a2 += v * v; });
    expect(Math.sqrt(e2 / a2)).to.be.closeTo(meta.reports[2].relativeErrorToAnalytic, 1e-6);
  });

  it('kernel, infinite and analytic work for the cnn, resnet and gnn models', () => {
    const cnn = path.join(dir, 'cnn.npy');
    let r = ntk(['kernel', '--model', 'cnn', '--preset', 'seed-cnn', '--channels', '3,3', '--data', 'mnist', '--n', '3', '--outputs', 'trace', '--out', cnn]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readNpy(cnn).shape).to.deep.equal([3, 3]);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'cnn.json'), 'utf8'));
    expect(meta.config).to.include({ model: 'cnn', preset: 'seed-cnn', head: 'conv' });
    const res = path.join(dir, 'res.npy');
    r = ntk(['kernel', '--model', 'resnet', '--width', '8', '--branches', '3', '--k', '2', '--data', `npy:${xfile}`, '--out', res]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readNpy(res).shape).to.deep.equal([12, 12]);
    const gk = path.join(dir, 'g.npy');
    r = ntk(['infinite', '--model', 'gnn', '--hidden', '64', '--data', 'synthetic-graphs:6', '--seeds', '4', '--outputs', 'trace', '--out', gk]);
    expect(r.code, r.stderr).to.equal(0);
    const gmeta = JSON.parse(fs.readFileSync(path.join(dir, 'g.json'), 'utf8'));
    expect(gmeta.analyticOracle).to.match(/GNTK/);
    expect(gmeta.reports[0].relativeErrorToAnalytic).to.be.below(0.5);
    const ga = path.join(dir, 'ga.npy');
    r = ntk(['analytic', '--model', 'gnn', '--data', 'synthetic-graphs:6', '--out', ga]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readNpy(ga).shape).to.deep.equal([6, 6]);
    // The closed forms of the cnn (CNTK) and the residual mlp, through the same dispatch as the oracle of infinite.
    const ca = path.join(dir, 'ca.npy');
    r = ntk(['analytic', '--model', 'cnn', '--preset', 'seed-cnn', '--data', 'mnist', '--n', '3', '--outputs', 'full', '--out', ca]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readNpy(ca).shape).to.deep.equal([30, 30]);
    const ci = path.join(dir, 'ci.npy');
    r = ntk(['infinite', '--model', 'cnn', '--channels', '16,16', '--kernel-sizes', '5', '--strides', '2', '--head', 'flatten', '--data', 'mnist', '--n', '3', '--seeds', '4', '--outputs', 'trace', '--out', ci]);
    expect(r.code, r.stderr).to.equal(0);
    const cmeta = JSON.parse(fs.readFileSync(path.join(dir, 'ci.json'), 'utf8'));
    expect(cmeta.analyticOracle).to.match(/CNTK/);
    expect(cmeta.reports[0].relativeErrorToAnalytic).to.be.below(0.5);
    const ra = path.join(dir, 'ra.npy');
    r = ntk(['analytic', '--model', 'resnet', '--branches', '3', '--data', `npy:${xfile}`, '--kind', 'nngp', '--out', ra]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readNpy(ra).shape).to.deep.equal([6, 6]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'ra.json'), 'utf8')).config.analytic).to.match(/residual mlp/);
  });

  describe('bad input: one line on stderr, exit code 2, no output file', () => {
    const bad = (name: string, args: (d: string, x: string) => string[], pattern: RegExp) =>
      it(name, () => {
        const out = path.join(dir, `bad-${name.replace(/\W+/g, '_')}.npy`);
        expectUsageError([...args(dir, xfile), '--out', out], pattern);
        expect(fs.existsSync(out)).to.equal(false);
        expect(fs.existsSync(out.replace(/\.npy$/, '.json'))).to.equal(false);
        expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
      });
    bad('unknown model', (_d, f) => ['kernel', '--model', 'transformer', '--data', `npy:${f}`], /--model.*transformer/);
    bad('analytic without a closed form', (_d, f) => ['analytic', '--widths', '5,3,2', '--activation', 'tanh', '--data', `npy:${f}`], /--model: no closed-form kernel/);
    bad('malformed widths', (_d, f) => ['kernel', '--widths', '5,abc,2', '--data', `npy:${f}`], /--widths/);
    bad('missing npy', (d) => ['kernel', '--widths', '5,3', '--data', `npy:${d}/nope.npy`], /nope\.npy.*cannot read/);
    bad('malformed npy', (d) => {
      fs.writeFileSync(`${d}/junk.npy`, 'this is not numpy');
      return ['kernel', '--widths', '5,3', '--data', `npy:${d}/junk.npy`];
    }, /junk\.npy.*not a NumPy/);
    bad('shape mismatch', (_d, f) => ['kernel', '--widths', '784,3', '--data', `npy:${f}`], /5 features.*784/);
    bad('non-finite input', (d) => {
      fs.writeFileSync(`${d}/nan.npy`, encodeNpy({ data: Float32Array.from([1, NaN, 3, 4]), shape: [2, 2] }));
      return ['kernel', '--widths', '2,3', '--data', `npy:${d}/nan.npy`];
    }, /nan\.npy.*non-finite/);
    bad('malformed csv', (d) => {
      fs.writeFileSync(`${d}/bad.csv`, 'a,b\n1,2\n3,x\n');
      return ['kernel', '--widths', '2,3', '--data', `csv:${d}/bad.csv`];
    }, /bad\.csv.*row 2 column 2/);
    bad('unknown output mode', (_d, f) => ['kernel', '--widths', '5,3', '--data', `npy:${f}`, '--outputs', 'diag'], /--outputs/);
    bad('too few seeds', (_d, f) => ['infinite', '--widths', '5,3', '--data', `npy:${f}`, '--seeds', '1'], /--seeds/);
    bad('unknown flag', (_d, f) => ['kernel', '--widths', '5,3', '--data', `npy:${f}`, '--wdiths', '3'], /wdiths/);
    bad('too many samples', (_d, f) => ['kernel', '--widths', '5,3', '--data', `npy:${f}`, '--n', '60'], /--n.*60.*only 6/);
    bad('malformed graph file', (d) => {
      fs.writeFileSync(`${d}/g.txt`, '2\n3 1\n0 1 1\n0 2 0 2\n1 1 7\n');
      return ['kernel', '--model', 'gnn', '--data', `graphs:${d}/g.txt`];
    }, /g\.txt line 5: neighbour index out of range/);
    bad('truncated graph file', (d) => {
      fs.writeFileSync(`${d}/t.txt`, '2\n2 0\n0 1 1\n0 1 0\n');
      return ['kernel', '--model', 'gnn', '--data', `graphs:${d}/t.txt`];
    }, /t\.txt: unexpected end of file/);
    bad('graphs for an mlp', () => ['kernel', '--widths', '8,3', '--data', 'synthetic-graphs:4'], /--data.*not graphs/);
    bad('vectors for a gnn', (_d, f) => ['kernel', '--model', 'gnn', '--data', `npy:${f}`], /--data.*gnn takes graphs/);
    bad('cnn head that does not fit', () => ['kernel', '--model', 'cnn', '--channels', '4', '--kernel-sizes', '3', '--head', 'conv', '--n', '2'], /--head conv/);
    bad('params of another shape', (d, f) => {
      fs.writeFileSync(`${d}/p.json`, JSON.stringify({ config: { model: 'mlp', widths: [5, 3] }, params: [{ name: 'dense_0/kernel', shape: [5, 4], values: new Array(20).fill(0) }] }));
      return ['kernel', '--load-params', `${d}/p.json`, '--data', `npy:${f}`];
    }, /p\.json/);
  });
});

describe('golden snapshots: ntk snapshot and ntk check', function () {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-golden-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a snapshot checks clean; a perturbed one is reported as a regression with exit code 1', () => {
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ model: 'mlp', widths: '784,16,3', data: 'mnist', n: 4, outputs: 'full' }));
    const g = path.join(dir, 'golden');
    const s = ntk(['snapshot', '--config', cfg, '--out', path.join(g, 'a')]);
    expect(s.code, s.stderr).to.equal(0);
    const snap = JSON.parse(fs.readFileSync(path.join(g, 'a', 'snapshot.json'), 'utf8'));
    expect(snap.config).to.deep.equal({ model: 'mlp', widths: '784,16,3', data: 'mnist', n: 4, outputs: 'full' });
    expect(snap.shape).to.deep.equal([12, 12]);
    const ok = ntk(['check', g]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/a\s+ntk\/full\s+12×12.*\sok\s*\n/).and.match(/all 1 snapshots within tolerance/);
    // Move one entry by 1e-3 relative: far beyond float32 noise (1e-7), so a regression.
    fs.cpSync(path.join(g, 'a'), path.join(g, 'b'), { recursive: true });
    const k = readNpy(path.join(g, 'b', 'kernel.npy'));
    k.data[5] *= 1.001;
    fs.writeFileSync(path.join(g, 'b', 'kernel.npy'), encodeNpy(k));
    const bad = ntk(['check', g]);
    expect(bad.code).to.equal(1);
    expect(bad.stdout).to.match(/b\s+ntk\/full.*REGRESSION/).and.match(/1 of 2 snapshots regressed/);
  });

  it('rejects a bad config or folder with one line and exit code 2', () => {
    const cfg = path.join(dir, 'bad.json');
    fs.writeFileSync(cfg, JSON.stringify({ model: 'mlp', widths: '784,16,3', colour: 'red' }));
    for (const [args, msg] of [
      [['snapshot', '--config', cfg, '--out', path.join(dir, 'x')], /--config .*bad\.json: Unknown argument: colour/],
      [['snapshot', '--config', path.join(dir, 'none.json'), '--out', path.join(dir, 'x')], /--config .*none\.json: cannot read/],
      [['check', path.join(dir, 'empty-nothing')], /cannot read folder/],
    ] as [string[], RegExp][]) {
      expectUsageError(args, msg);
    }
    expect(fs.existsSync(path.join(dir, 'x'))).to.equal(false);
  });
});

describe('out-of-core kernels, shards and merge', function () {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-ooc-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const base = ['kernel', '--widths', '784,16,16,10', '--data', 'mnist', '--n', '23', '--tile', '6'];

  for (const [label, extra] of [['symmetric, full', ['--outputs', 'full']], ['symmetric, diagonal', ['--outputs', 'diagonal']], ['cross kernel, trace', ['--outputs', 'trace', '--data2', 'mnist:test', '--n2', '13']]] as [string, string[]][]) {
    it(`written tile by tile (--memory) and as 3 shard processes merged, it equals the in-memory kernel bit for bit (${label})`, () => {
      const tag = label.replace(/\W+/g, '-');
      const f = (name: string) => path.join(dir, `${tag}-${name}.npy`);
      const runs = [
        ntk([...base, ...extra, '--workers', '1', '--out', f('mem')]),
        ntk([...base, ...extra, '--memory', '64', '--out', f('disk')]),
        ...[0, 1, 2].map((i) => ntk([...base, ...extra, '--shard', `${i}/3`, '--out', f(`s${i}`)])),
        ntk(['merge', f('s2'), f('s0'), f('s1'), '--out', f('merged')]),
      ];
      runs.forEach((r) => expect(r.code, r.stderr).to.equal(0));
      const mem = fs.readFileSync(f('mem'));
      expect(fs.readFileSync(f('disk')).equals(mem)).to.equal(true);
      expect(fs.readFileSync(f('merged')).equals(mem)).to.equal(true);
      // Each shard holds only its own tiles (the rest of its file reads as zeros).
      expect(fs.readFileSync(f('s0')).equals(mem)).to.equal(false);
      const meta = JSON.parse(fs.readFileSync(f('s1').replace(/\.npy$/, '.json'), 'utf8'));
      expect(meta.shard.index).to.equal(1);
      expect(meta.shard.pairs.length).to.be.above(0);
    });
  }

  it('rejects a bad --shard, a missing shard and shards of different kernels (exit 2, one line, no output)', () => {
    const f = (name: string) => path.join(dir, `bad-${name}.npy`);
    expect(ntk([...base, '--shard', '0/2', '--out', f('a0')]).code).to.equal(0);
    expect(ntk([...base, '--shard', '1/2', '--seed', '9', '--out', f('b1')]).code).to.equal(0);
    for (const [args, msg] of [
      [[...base, '--shard', '3/2', '--out', f('x')], /--shard: expected I\/N/],
      [['merge', f('a0'), '--out', f('x')], /missing shard\(s\) 1\/2/],
      [['merge', f('a0'), f('b1'), '--out', f('x')], /is a shard of a different kernel/],
      [[...base, '--memory', '10', '--out', f('x')], /--memory: expected a budget of at least 64/],
    ] as [string[], RegExp][]) {
      expectUsageError(args, msg);
    }
    expect(fs.existsSync(f('x'))).to.equal(false);
  });
});
