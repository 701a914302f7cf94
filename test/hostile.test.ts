import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputSet } from '../lib/files.js';
import { encodeNpy } from '../lib/npy.js';
import { Mlp } from '../models/mlp.js';
import { paramsToJson } from '../models/params.js';
import { randomInputs } from './helpers.js';

// Hostile input to every command and reader, table-driven: the command line, the exit code, the one-line message,
// and the state of the files afterwards (outputs absent, inputs and previous files byte for byte unchanged, no temp
// file left). Then the cases that need a process of their own: signals, the full disk, rollback of a commit.

const cli = fileURLToPath(new URL('../bin/ntk.js', import.meta.url));
const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';

function ntk(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args, '--quiet', '--backend', backend], { encoding: 'utf8', cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its bytes (as base64), to compare the state of a folder before and after a run. */
function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    if (e.isFile()) out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64');
    else if (e.isDirectory()) out[path.relative(dir, p) + '/'] = '';
  }
  return out;
}

const tempFiles = (dir: string) => Object.keys(snapshotDir(dir)).filter((f) => /\.ntk-\d+-[0-9a-f]+\.tmp/.test(f));

interface Case {
  name: string;
  /** The command line, in a fresh folder holding the fixtures (x.npy, p.json, shards s0/s1 and their .json). */
  args: string[];
  /** Prepare hostile fixtures in the folder before the run. */
  setup?: (d: string) => void;
  code: number;
  message: RegExp;
}

describe('hostile input: exit codes, one-line errors and file state', function () {
  // The cases test the command line's input and output handling, which does not depend on the backend: CI runs
  // them in its wasm pass and skips them in the cpu pass (NTK_TEST_BACKEND=cpu) to keep its time down.
  before(function () {
    if (backend === 'cpu') {
      console.log('      hostile-input suite skipped on the cpu backend (backend-independent; run in the wasm pass)');
      this.skip();
    }
  });
  let fixtures: string;
  const x = randomInputs(6, 5, 'hostile');
  const mlp = new Mlp({ model: 'mlp', widths: [5, 7, 2], activation: 'relu', parameterization: 'ntk', wStd: Math.SQRT2, bStd: 0.1, bias: true });
  const shardBase = ['kernel', '--widths', '784,8,3', '--data', 'mnist', '--n', '9', '--tile', '3'];

  before(() => {
    fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-hostile-'));
    fs.writeFileSync(path.join(fixtures, 'x.npy'), encodeNpy({ data: x, shape: [6, 5] }));
    fs.writeFileSync(path.join(fixtures, 'p.json'), paramsToJson(mlp.config, mlp.init(1)));
    for (const i of [0, 1]) {
      const r = ntk([...shardBase, '--shard', `${i}/2`, '--out', `s${i}.npy`], fixtures);
      expect(r.code, r.stderr).to.equal(0);
    }
  });
  after(() => fixtures && fs.rmSync(fixtures, { recursive: true, force: true }));

  const cut = (file: string, bytes: number) => (d: string) => fs.truncateSync(path.join(d, file), bytes);
  const write = (file: string, data: string | Buffer) => (d: string) => fs.writeFileSync(path.join(d, file), data);
  const kx = ['kernel', '--widths', '5,7,2', '--data', 'npy:x.npy'];
  const npyOf = (shape: number[], data: number[]) => encodeNpy({ data: Float32Array.from(data), shape });

  const cases: Case[] = [
    // Outputs that name an input, or each other (one case per pair of output flags), with and without --memory/--shard.
    { name: '--out is the --data file', args: [...kx, '--out', 'x.npy'], code: 2, message: /--out x\.npy: the same file as the input --data x\.npy/ },
    { name: 'metadata of --out is the --load-params file', args: ['kernel', '--load-params', 'p.json', '--data', 'npy:x.npy', '--out', 'p.npy'], code: 2, message: /metadata of --out p\.json: the same file as the input --load-params/ },
    { name: '--out and --save-params the same file', args: [...kx, '--out', 'k.npy', '--save-params', 'k.npy'], code: 2, message: /--save-params k\.npy: the same file as --out k\.npy/ },
    { name: '--save-params is the metadata of --out', args: [...kx, '--out', 'k.npy', '--save-params', 'k.json'], code: 2, message: /--save-params k\.json: the same file as metadata of --out/ },
    { name: '--save-params is the metadata of --out (--memory)', args: [...kx, '--memory', '64', '--out', 'k.npy', '--save-params', 'k.json'], code: 2, message: /--save-params k\.json: the same file as metadata of --out/ },
    { name: '--save-params is the metadata of --out (--shard)', args: [...kx, '--shard', '0/2', '--out', 'k.npy', '--save-params', 'k.json'], code: 2, message: /--save-params k\.json: the same file as metadata of --out/ },
    { name: '--save-params is a symlink to the metadata of --out', setup: (d) => fs.symlinkSync('k.json', path.join(d, 'link.json')), args: [...kx, '--out', 'k.npy', '--save-params', 'link.json'], code: 2, message: /--save-params link\.json: the same file as metadata of --out k\.json/ },
    { name: 'infinite --out and --stderr-out the same file', args: ['infinite', '--widths', '5,7,1', '--data', 'npy:x.npy', '--seeds', '2', '--out', 'm.npy', '--stderr-out', 'm.npy'], code: 2, message: /--stderr-out m\.npy: the same file as --out m\.npy/ },
    { name: 'infinite --stderr-out is the --data file', args: ['infinite', '--widths', '5,7,1', '--data', 'npy:x.npy', '--seeds', '2', '--out', 'm.npy', '--stderr-out', 'x.npy'], code: 2, message: /--stderr-out x\.npy: the same file as the input --data/ },
    { name: 'analytic --out is the --data file', args: ['analytic', '--depth', '1', '--data', 'npy:x.npy', '--out', 'x.npy'], code: 2, message: /--out x\.npy: the same file as the input --data/ },
    { name: 'merge --out is one of the shards', args: ['merge', 's0.npy', 's1.npy', '--out', 's1.npy'], code: 2, message: /--out s1\.npy: the same file as the input shard 2 s1\.npy/ },
    { name: 'snapshot --out folder holds the --config file', setup: (d) => { fs.mkdirSync(path.join(d, 'snap')); write('snap/snapshot.json', '{"model":"mlp","widths":"784,4,2","n":2}')(d); }, args: ['snapshot', '--config', 'snap/snapshot.json', '--out', 'snap'], code: 2, message: /--out snap\/snapshot\.json: the same file as the input --config/ },
    { name: '--out is a folder', setup: (d) => fs.mkdirSync(path.join(d, 'dir.npy')), args: [...kx, '--out', 'dir.npy'], code: 2, message: /--out dir\.npy: exists and is not a plain file/ },
    { name: '--out below a plain file', args: [...kx, '--out', 'x.npy/k.npy'], code: 2, message: /--out x\.npy\/k\.npy: .*x\.npy is not a folder/ },
    // Readers: the bytes present must match what the header or format promises.
    { name: '.npy data cut short', setup: cut('x.npy', 128 + 40), args: [...kx, '--out', 'k.npy'], code: 2, message: /x\.npy: \.npy data truncated: shape \[6,5\] needs 120 bytes, file has 40/ },
    { name: '.npy cut to its header', setup: cut('x.npy', 128), args: [...kx, '--out', 'k.npy'], code: 2, message: /x\.npy: \.npy data truncated/ },
    { name: '.npy header cut short', setup: cut('x.npy', 30), args: [...kx, '--out', 'k.npy'], code: 2, message: /x\.npy: truncated \.npy header/ },
    { name: '.npy with trailing bytes', setup: (d) => fs.appendFileSync(path.join(d, 'x.npy'), Buffer.alloc(8)), args: [...kx, '--out', 'k.npy'], code: 2, message: /x\.npy: \.npy data has trailing bytes/ },
    { name: 'merge: a shard cut short', setup: cut('s1.npy', 500), args: ['merge', 's0.npy', 's1.npy', '--out', 'k.npy'], code: 2, message: /merge s1\.npy: the file has 500 bytes but its header .* needs \d+: cut short/ },
    { name: 'merge: a shard cut to its header', setup: cut('s1.npy', 128), args: ['merge', 's0.npy', 's1.npy', '--out', 'k.npy'], code: 2, message: /merge s1\.npy: .*cut short/ },
    { name: 'merge: a shard with trailing bytes', setup: (d) => fs.appendFileSync(path.join(d, 's0.npy'), Buffer.alloc(4)), args: ['merge', 's0.npy', 's1.npy', '--out', 'k.npy'], code: 2, message: /merge s0\.npy: .*trailing bytes/ },
    { name: 'merge: shard metadata cut short', setup: cut('s0.json', 100), args: ['merge', 's0.npy', 's1.npy', '--out', 'k.npy'], code: 2, message: /merge: cannot read the metadata of s0\.npy/ },
    { name: 'params file cut short', setup: cut('p.json', 200), args: ['kernel', '--load-params', 'p.json', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--load-params p\.json: not valid JSON/ },
    { name: 'params file with values missing', setup: write('q.json', JSON.stringify({ config: mlp.config, params: [{ name: 'dense_0/kernel', shape: [5, 7], values: [1, 2] }] })), args: ['kernel', '--load-params', 'q.json', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /q\.json: dense_0\/kernel has shape \[5,7\] \(35 values\) but 2 values/ },
    { name: 'graph file cut short', setup: write('g.txt', '2\n3 0\n0 1 1\n0 2 0 2\n1 1 1\n2 1\n0 1'), args: ['kernel', '--model', 'gnn', '--data', 'graphs:g.txt', '--out', 'k.npy'], code: 2, message: /g\.txt/ },
    { name: 'CSV cut short in its last row', setup: write('t.csv', 'a,b,c\n1,2,3\n4,5,6\n7,'), args: ['kernel', '--widths', '3,4,1', '--data', 'csv:t.csv', '--out', 'k.npy'], code: 2, message: /t\.csv: row 3 has 2 columns, expected 3/ },
    { name: 'snapshot --config cut short', setup: write('c.json', '{"model":"mlp","wid'), args: ['snapshot', '--config', 'c.json', '--out', 'snap'], code: 2, message: /--config c\.json: cannot read a JSON object/ },
    // No non-finite number written.
    { name: 'analytic kernel overflowing float64', args: ['analytic', '--depth', '200', '--w-std', '100', '--data', 'npy:x.npy', '--out', 'a.npy'], code: 2, message: /analytic kernel overflows float64 .*--w-std 100, --depth 200/ },
    { name: 'kernel of inputs overflowing float32', setup: write('big.npy', npyOf([2, 2], [3e38, 3e38, 1, 1])), args: ['kernel', '--widths', '2,4,1', '--data', 'npy:big.npy', '--out', 'k.npy'], code: 2, message: /non-finite/ },
    // Sizes that cannot fit, refused before any work.
    { name: 'an 11-digit layer', args: ['kernel', '--widths', '4,99999999999,2', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--widths 4,99999999999,2: the model has .* parameters and needs at least .* of memory/ },
    { name: 'a 50-million-unit layer', args: ['kernel', '--widths', '784,50000000,10', '--data', 'mnist', '--n', '2', '--out', 'k.npy'], code: 2, message: /--widths 784,50000000,10: the model has 3\.9\de\+10 parameters/ },
    { name: 'a 400-digit width', args: ['kernel', '--widths', `5,${'9'.repeat(400)},2`, '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--widths: expected/ },
    { name: 'synthetic-graphs with 11 digits', args: ['kernel', '--model', 'gnn', '--data', 'synthetic-graphs:99999999999', '--out', 'k.npy'], code: 2, message: /--data synthetic-graphs:99999999999: .* graphs would need about .* GB of memory/ },
    { name: 'a model beyond the --memory budget', args: ['kernel', '--widths', '784,20000,10', '--data', 'mnist', '--n', '2', '--memory', '64', '--out', 'k.npy'], code: 2, message: /--memory 64: the model has .* more than the budget/ },
    { name: 'an in-memory kernel beyond the machine', args: ['kernel', '--widths', '784,4,2000', '--data', 'mnist', '--n', '100', '--out', 'k.npy'], code: 2, message: /--out k\.npy: needs .* GB in memory.*--memory MB/ },
    // Flags that conflict with a params file, or that the model does not use.
    { name: '--activation conflicting with --load-params', args: ['kernel', '--load-params', 'p.json', '--activation', 'erf', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--activation: erf differs from relu in --load-params p\.json/ },
    { name: '--model conflicting with --load-params', args: ['kernel', '--load-params', 'p.json', '--model', 'cnn', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--model: cnn differs from mlp/ },
    { name: '--parameterization conflicting with --load-params', args: ['kernel', '--load-params', 'p.json', '--parameterization', 'standard', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--parameterization: standard differs from ntk/ },
    { name: '--w-std conflicting with --load-params', args: ['kernel', '--load-params', 'p.json', '--w-std', '3', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--w-std: 3 differs from 1\.41/ },
    { name: '--widths conflicting with --load-params', args: ['kernel', '--load-params', 'p.json', '--widths', '5,8,2', '--data', 'npy:x.npy', '--out', 'k.npy'], code: 2, message: /--widths: 5,8,2 differs from 5,7,2/ },
    { name: 'a cnn flag for the mlp', args: [...kx, '--channels', '3', '--out', 'k.npy'], code: 2, message: /--channels: not used by --model mlp/ },
    { name: 'an mlp flag for the gnn', args: ['infinite', '--model', 'gnn', '--widths', '5,3', '--data', 'synthetic-graphs:4', '--out', 'k.npy'], code: 2, message: /--widths: not used by --model gnn/ },
    { name: 'analytic of a model it does not have', args: ['analytic', '--model', 'mlp', '--widths', '5,7,2', '--activation', 'tanh', '--data', 'npy:x.npy', '--out', 'a.npy'], code: 2, message: /--model: no closed-form kernel/ },
    { name: 'analytic in the standard parameterisation without widths', args: ['analytic', '--depth', '1', '--parameterization', 'standard', '--data', 'npy:x.npy', '--out', 'a.npy'], code: 2, message: /--parameterization: the standard parameterisation's kernel depends on the widths/ },
    { name: '--workers with --memory', args: [...kx, '--memory', '64', '--workers', '2', '--out', 'k.npy'], code: 2, message: /--workers: not used with --memory/ },
    { name: '--n2 without --data2', args: [...kx, '--n2', '3', '--out', 'k.npy'], code: 2, message: /--n2: only with --data2/ },
    { name: '--n2 too large names --n2', args: [...kx, '--data2', 'npy:x.npy', '--n2', '30', '--out', 'k.npy'], code: 2, message: /--n2: asked for 30 samples/ },
    { name: 'negative --shard', args: [...kx, '--shard', '-1/2', '--out', 'k.npy'], code: 2, message: /--shard: invalid value '-1\/2'/ },
    { name: 'empty npy: path', args: ['kernel', '--widths', '5,7,2', '--data', 'npy:', '--out', 'k.npy'], code: 2, message: /--data: expected a file path after 'npy:'/ },
    // A stale temp file of a killed run is neither reused nor touched.
    { name: 'a stale temp file from a killed run', setup: write('.k.npy.ntk-99999-0badf00d.tmp', 'stale'), args: [...kx, '--out', 'k.npy'], code: 0, message: /^$/ },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const d = fs.mkdtempSync(path.join(fixtures, 'case-'));
      for (const f of ['x.npy', 'p.json', 's0.npy', 's0.json', 's1.npy', 's1.json']) fs.copyFileSync(path.join(fixtures, f), path.join(d, f));
      // A previous output that a failed run must leave as it was.
      fs.writeFileSync(path.join(d, 'k.npy'), 'previous kernel');
      c.setup?.(d);
      const before = snapshotDir(d);
      const r = ntk(c.args, d);
      expect(r.code, `${c.args.join(' ')}\n${r.stderr}`).to.equal(c.code);
      const after = snapshotDir(d);
      if (c.code === 0) {
        expect(r.stderr).to.equal('');
        for (const [f, v] of Object.entries(before)) if (f !== 'k.npy') expect(after[f], f).to.equal(v);
        expect(after['k.npy']).to.not.equal(before['k.npy']);
        expect(tempFiles(d)).to.deep.equal(['.k.npy.ntk-99999-0badf00d.tmp']);
      } else {
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).to.have.length(1);
        expect(lines[0]).to.match(/^ntk: error: /).and.match(c.message);
        // Nothing written, nothing removed, nothing changed: the folder is exactly as before.
        expect(after).to.deep.equal(before);
      }
      fs.rmSync(d, { recursive: true, force: true });
    });
  }

  it('check reports every readable snapshot and names the unreadable ones (exit 2)', () => {
    const d = fs.mkdtempSync(path.join(fixtures, 'golden-'));
    fs.writeFileSync(path.join(d, 'c.json'), JSON.stringify({ model: 'mlp', widths: '784,8,2', n: 3 }));
    for (const name of ['good', 'badjson', 'badnpy']) expect(ntk(['snapshot', '--config', 'c.json', '--out', `g/${name}`], d).code).to.equal(0);
    fs.truncateSync(path.join(d, 'g/badjson/snapshot.json'), 40);
    fs.truncateSync(path.join(d, 'g/badnpy/kernel.npy'), 100);
    const r = ntk(['check', 'g'], d);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stdout).to.match(/good\s+ntk\/full\s+6×6.*\sok\s*\n/).and.match(/badjson\s.*UNREADABLE/).and.match(/badnpy\s.*UNREADABLE/);
    const lines = r.stderr.trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^ntk: error: check g: 2 of 3 snapshots unreadable: /).and.match(/badjson\/snapshot\.json: cannot read a JSON object/).and.match(/badnpy\/kernel\.npy: truncated \.npy header/);
  });

  it('a commit that fails after its first rename leaves the previous files, not a mix, and no temp file', () => {
    const d = fs.mkdtempSync(path.join(fixtures, 'commit-'));
    const a = path.join(d, 'a.npy'), b = path.join(d, 'b.json');
    fs.writeFileSync(a, 'old a');
    const set = OutputSet.prepare([{ path: a, flag: '--out' }, { path: b, flag: '--save-params' }]);
    set.write(a, 'new a');
    set.write(b, 'new b');
    // b turns into a non-empty folder after the checks: its rename must fail, and a must get its old bytes back.
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(b, 'inside'), '');
    expect(() => set.commit()).to.throw(/--save-params .*b\.json: exists and is not a plain file/);
    expect(fs.readFileSync(a, 'utf8')).to.equal('old a');
    expect(fs.readdirSync(d).sort()).to.deep.equal(['a.npy', 'b.json']);
  });

  /** Start `ntk`, wait until it has a temp file in `dir`, send `signal`, and report how it ended. */
  async function interrupt(args: string[], dir: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; sawTemp: boolean }> {
    const child: ChildProcess = spawn(process.execPath, [cli, ...args, '--quiet', '--backend', backend], { cwd: dir, stdio: 'ignore' });
    const ended = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, sig) => res({ code, signal: sig })));
    let sawTemp = false;
    for (let i = 0; i < 600 && !sawTemp; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sawTemp = tempFiles(dir).length > 0;
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill(signal);
    return { ...(await ended), sawTemp };
  }

  async function expectNoFilesSoon(dir: string, left: string[]): Promise<void> {
    // The watchdog removes the temp files once the process is gone: give it a moment.
    for (let i = 0; i < 40 && fs.readdirSync(dir).length > left.length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(dir).sort()).to.deep.equal(left);
  }

  for (const [signal, extra] of [
    // The per-sample Jacobian path takes over 10 s here even on an idle machine, so the signal always lands mid-run.
    ['SIGINT', ['--widths', '784,100,100,100,10', '--n', '100', '--implementation', 'jacobian', '--memory', '64']],
    ['SIGTERM', ['--widths', '784,100,100,100,10', '--n', '100', '--implementation', 'jacobian']],
  ] as [NodeJS.Signals, string[]][]) {
    it(`a kernel interrupted by ${signal} while ${extra.includes('--memory') ? 'writing tile by tile' : 'computing'} leaves no file behind`, async () => {
      const d = fs.mkdtempSync(path.join(fixtures, 'signal-'));
      const r = await interrupt(['kernel', '--data', 'mnist', ...extra, '--save-params', 'p.json', '--out', 'k.npy'], d, signal);
      expect(r.sawTemp, 'the run had its temp files').to.equal(true);
      expect(r.signal ?? r.code).to.equal(signal);
      await expectNoFilesSoon(d, []);
    });
  }

  describe('a full disk (a 1 MB tmpfs; needs root)', () => {
    let disk: string;
    let mounted = false;
    before(function () {
      disk = fs.mkdtempSync(path.join(fixtures, 'disk-'));
      const r = process.getuid?.() === 0 ? spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk], { encoding: 'utf8' }) : null;
      mounted = r?.status === 0;
      if (!mounted) {
        console.log(`      full-disk tests skipped: ${r ? `mount -t tmpfs failed (${(r.stderr || r.error?.message || '').trim()})` : 'not running as root'}`);
        this.skip();
      }
    });
    after(() => {
      if (mounted) spawnSync('umount', [disk]);
    });
    const out = () => path.join(disk, 'k.npy');
    for (const [name, args] of [
      ['kernel (4 MB)', () => ['kernel', '--widths', '784,8,10', '--data', 'mnist', '--n', '100', '--save-params', path.join(disk, 'p.json'), '--out', out()]],
      ['kernel --memory (4 MB)', () => ['kernel', '--widths', '784,8,10', '--data', 'mnist', '--n', '100', '--memory', '64', '--save-params', path.join(disk, 'p.json'), '--out', out()]],
      ['infinite (1.3 MB)', () => ['infinite', '--widths', '784,8,1', '--data', 'mnist', '--n', '400', '--seeds', '2', '--out', out()]],
    ] as [string, () => string[]][]) {
      it(`${name}: refused up front with exit 2, nothing left on the disk`, () => {
        const r = ntk(args(), fixtures);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr.trim().split('\n')).to.have.length(1);
        expect(r.stderr).to.match(/^ntk: error: --out .*k\.npy: the outputs need .* on its disk, which has .* free/);
        expect(fs.readdirSync(disk)).to.deep.equal([]);
      });
    }
    it('merge into a nearly full disk: refused, nothing left', () => {
      fs.writeFileSync(path.join(disk, 'filler'), Buffer.alloc(1024 * 1024 - 48 * 1024));
      const r = ntk(['merge', 's0.npy', 's1.npy', '--out', out()], fixtures);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/^ntk: error: --out .*k\.npy: the outputs need/);
      expect(fs.readdirSync(disk)).to.deep.equal(['filler']);
      fs.rmSync(path.join(disk, 'filler'));
    });
  });
});
