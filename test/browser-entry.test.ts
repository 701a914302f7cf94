import { expect } from 'chai';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { ENTRIES, ROOT, browserOptions } from '../web/build.js';
import { npyParts } from '../lib/npy-bytes.js';
import { decodeNpy, encodeNpy } from '../lib/npy.js';
import { parseParamsText, paramsToJson } from '../models/params.js';
import { circleData } from '../web/explorer.js';

/** Bundle the explorer's entries (and the library's browser entry) for the browser, in memory. */
const bundle = (plugins: esbuild.Plugin[] = []) => esbuild.build({ ...browserOptions(ENTRIES, path.join(ROOT, 'dist', 'explorer-test')), write: false, plugins });

describe('browser build: the engine imports no Node-only module', function () {
  this.timeout(120000);

  it('bundles for platform=browser, and the bundle holds no Node edge of the library', async () => {
    const r = await bundle();
    expect(r.errors).to.have.length(0);
    const inputs = Object.keys(r.metafile!.inputs);
    // The engine modules are in; the Node edges (files, data loading, native engine, workers, terminal) are out.
    for (const m of ['jacobian/empirical.ts', 'jacobian/monte-carlo.ts', 'models/analytic.ts', 'models/training.ts', 'jacobian/tracking.ts', 'lib/npy-bytes.ts']) expect(inputs).to.include(m);
    for (const m of ['lib/native-engine.ts', 'lib/files.ts', 'lib/data.ts', 'lib/npy.ts', 'lib/progress-bar.ts', 'lib/backend.ts', 'jacobian/parallel.ts', 'models/params-file.ts']) expect(inputs).to.not.include(m);
    // '(disabled):…' inputs are Node modules that a package's own "browser" field maps to nothing (tfjs-backend-wasm's
    // worker_threads): never loaded.
    expect(inputs.filter((f) => !f.startsWith('(disabled):') && /onnxruntime|cli-progress|node_modules\/yargs|worker_threads/.test(f))).to.deep.equal([]);
  });

  it('fails when an engine module gains a Node-only import (the check can fail)', async () => {
    // The same build with `import * as fs from 'node:fs'` added to an engine module, as a careless edit would.
    const addNodeImport: esbuild.Plugin = {
      name: 'add-node-import',
      setup(b) {
        b.onLoad({ filter: /lib[\\/]samples\.ts$/ }, async (args) => {
          const fs = await import('node:fs');
          return { contents: `import * as nodeFs from 'node:fs';\nexport const leak = nodeFs.readFileSync;\n${fs.readFileSync(args.path, 'utf8')}`, loader: 'ts' };
        });
      },
    };
    let err: unknown = null;
    try {
      await bundle([addNodeImport]);
    } catch (e) {
      err = e;
    }
    expect(err, 'the build should have failed').to.not.equal(null);
    expect(String((err as Error).message)).to.match(/node:fs/);
  });

  it('npyParts (browser) writes the bytes of encodeNpy (CLI), which decodeNpy reads back', () => {
    const a = { data: Float32Array.from({ length: 35 }, (_, i) => Math.sin(i) * 1e3), shape: [5, 7] };
    const parts = npyParts(a);
    const joined = Buffer.concat(parts.map((p) => Buffer.from(p)));
    expect(joined.equals(encodeNpy(a))).to.equal(true);
    expect(joined.length % 64).to.equal((35 * 4) % 64);
    const back = decodeNpy(joined, 'x');
    expect(back.shape).to.deep.equal([5, 7]);
    expect(Array.from(back.data)).to.deep.equal(Array.from(a.data));
    // The params text round-trips through the browser-safe parser.
    const p = parseParamsText(paramsToJson({ model: 'mlp' }, [{ name: 'w', shape: [2], values: Float32Array.of(0.1, -3) }]), 'p.json');
    expect(p.config).to.deep.equal({ model: 'mlp' });
    expect(Array.from(p.params[0].values)).to.deep.equal([Math.fround(0.1), -3]);
  });

  it('circle data: unit vectors at equally spaced angles, labelled by the sign of sin 2γ + cos γ', () => {
    const d = circleData(8);
    for (let i = 0; i < 8; i++) {
      const g = (2 * Math.PI * i) / 8;
      expect(Math.hypot(d.x.x[2 * i], d.x.x[2 * i + 1])).to.be.closeTo(1, 1e-6);
      expect(Math.atan2(d.x.x[2 * i + 1], d.x.x[2 * i])).to.be.closeTo(Math.atan2(Math.sin(g), Math.cos(g)), 1e-6);
      expect(d.labels[i]).to.equal(Math.sin(2 * g) + Math.cos(g) >= 0 ? 1 : 0);
    }
    expect(new Set(d.labels).size).to.equal(2);
  });
});
