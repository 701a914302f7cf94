import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliEntry } from '../bin/runtime.js';
import { encodeNpy } from '../lib/npy.js';
import { syntheticGraphs } from '../lib/graphs.js';
import { randomInputs } from './helpers.js';

const bin = new URL('../bin/', import.meta.url);
const cli = fileURLToPath(new URL('ntk.js', bin));
const backend = process.env.NTK_TEST_BACKEND ?? 'wasm';

/** The command line through its bundle (the default after npm run build) or, with modules, through dist/bin/cli.js. */
function ntk(args: string[], modules: boolean): { code: number; stderr: string } {
  const env = { ...process.env, NTK_NO_BUNDLE: modules ? '1' : '0' };
  const r = spawnSync(process.execPath, [cli, ...args, '--quiet', '--backend', backend], { encoding: 'utf8', env });
  return { code: r.status ?? -1, stderr: r.stderr };
}

/** A graph file in the benchmarks' text format (count; per graph "nodes label"; per node "tag degree neighbours"). */
function graphFile(file: string): void {
  const d = syntheticGraphs(24, 3);
  const lines = [String(d.n)];
  d.graphs.forEach((g, k) => {
    const nbrs: number[][] = Array.from({ length: g.nodes }, () => []);
    for (let e = 0; e < g.edges.length; e += 2) if (g.edges[e] !== g.edges[e + 1]) nbrs[g.edges[e]].push(g.edges[e + 1]);
    lines.push(`${g.nodes} ${d.labels![k]}`);
    nbrs.forEach((l, u) => lines.push(`${u % 3} ${l.length} ${l.join(' ')}`.trim()));
  });
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

describe('the bundled command line', function () {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-bundle-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is the default entry after a build; an older bundle, a missing one or NTK_NO_BUNDLE=1 runs the modules', () => {
    const bundle = new URL('cli.bundle.js', bin), modules = new URL('cli.js', bin);
    expect(fs.existsSync(bundle), 'npm run build makes dist/bin/cli.bundle.js').to.equal(true);
    expect(cliEntry(bundle, modules).href).to.equal(bundle.href);
    const b = path.join(dir, 'b.js'), m = path.join(dir, 'm.js');
    fs.writeFileSync(b, '');
    fs.writeFileSync(m, '');
    const at = (f: string, s: number) => fs.utimesSync(f, s, s);
    at(b, 1000);
    at(m, 2000);
    const u = (f: string) => new URL(`file://${f}`);
    expect(cliEntry(u(b), u(m)).href).to.equal(u(m).href);
    at(b, 3000);
    expect(cliEntry(u(b), u(m)).href).to.equal(u(b).href);
    expect(cliEntry(u(path.join(dir, 'none.js')), u(m)).href).to.equal(u(m).href);
    const saved = process.env.NTK_NO_BUNDLE;
    try {
      process.env.NTK_NO_BUNDLE = '1';
      expect(cliEntry(u(b), u(m)).href).to.equal(u(m).href);
    } finally {
      if (saved === undefined) delete process.env.NTK_NO_BUNDLE;
      else process.env.NTK_NO_BUNDLE = saved;
    }
  });

  it('writes the kernel the modules write, bit for bit, its worker threads found from the bundle', () => {
    const xfile = path.join(dir, 'x.npy');
    fs.writeFileSync(xfile, encodeNpy({ data: randomInputs(9, 5, 'bundle'), shape: [9, 5] }));
    const run = (out: string, modules: boolean, workers: string) => {
      const r = ntk(['kernel', '--widths', '5,16,16,3', '--data', `npy:${xfile}`, '--seed', '2', '--tile', '3', '--workers', workers, '--out', path.join(dir, out)], modules);
      expect(r.code, r.stderr).to.equal(0);
      return fs.readFileSync(path.join(dir, out));
    };
    const viaBundle = run('b.npy', false, '2'), viaModules = run('m.npy', true, '1');
    expect(viaBundle.equals(viaModules)).to.equal(true);
  });

  it('runs the GNTK paper protocol (recursion and SVM worker threads) to the same scores as the modules', () => {
    const data = path.join(dir, 'graphs');
    fs.mkdirSync(data);
    graphFile(path.join(data, 'MUTAG.txt'));
    const run = (out: string, modules: boolean) => {
      const r = ntk(['experiment', 'gntk-paper', '--datasets', 'MUTAG', '--data-dir', data, '--methods', 'GNTK', '--layer-grid', '1', '--block-grid', '1,2',
        '--aggregations', 'sum', '--folds', '3', '--inner-folds', '2', '--workers', '2', '--cache-dir', '', '--out-dir', path.join(dir, out)], modules);
      expect(r.code, r.stderr).to.equal(0);
      return JSON.parse(fs.readFileSync(path.join(dir, out, 'summary.json'), 'utf8')).datasets.MUTAG.methods;
    };
    const viaBundle = run('b', false);
    expect(viaBundle.GNTK.map((p: { folds: number[] }) => p.folds.length)).to.deep.equal([3, 3]);
    expect(viaBundle).to.deep.equal(run('m', true));
  });
});
