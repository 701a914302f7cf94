import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { empiricalKernel } from '../jacobian/empirical.js';
import { initBackend } from '../lib/backend.js';
import { loadMnist } from '../lib/data.js';
import { compareKernels } from '../lib/kernel-metrics.js';
import { writeFilesAtomically } from '../lib/files.js';
import { currentEngine, tfjsEngine, useEngine } from '../lib/matrix-engine.js';
import { initEngine } from '../lib/native-engine.js';
import { CHROMIUM_CANDIDATES, ROOT, findChromium, temporaryExplorer } from '../web/build.js';
import { DEFAULT_SETTINGS, type ExplorerSettings, explorerData, explorerModel } from '../web/explorer.js';

/**
 * `npm run bench:web`: the seeds/003 MLP kernel (784-100-100-100-10, full [1000, 1000], 100 MNIST digits) in the
 * explorer in headless Chromium (each browser backend named in --backends, default wasm,webgl), against the Node
 * engine in the same process and run (wasm backend, native and tfjs matrix engines): the best of --repeats (3)
 * kernel computations each, without start-up, with the largest relative difference of the browser's kernel from
 * Node's. Prints a Markdown table and writes results/web/timings.json (or --out FILE). Needs Chromium
 * (CHROMIUM_PATH, else the usual installs: web/build.ts findChromium).
 */

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};

async function main(): Promise<void> {
  const repeats = Number(arg('repeats', '3'));
  const backends = arg('backends', 'wasm,webgl').split(',');
  const out = path.resolve(arg('out', path.join(ROOT, 'results', 'web', 'timings.json')));
  const s: ExplorerSettings = { ...DEFAULT_SETTINGS, architecture: 'mlp', data: 'mnist', n: 100, depth: 3, width: 100, mode: 'full', seed: 0 };
  const rows: { where: string; backend: string; engine: string; seconds: number[]; relativeToNode?: number }[] = [];

  await initBackend('wasm');
  const pool = loadMnist('train', 200, 0);
  const d = explorerData(s, { x: pool.x, labels: pool.labels, n: 200 });
  const model = explorerModel(s, d);
  const params = model.init(s.seed);
  let reference: Float32Array | null = null;
  for (const engine of ['native', 'tfjs'] as const) {
    if (engine === 'native') await initEngine('auto');
    else useEngine(tfjsEngine);
    const seconds: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const k = empiricalKernel(model, params, d.x, null, { mode: 'full' }).kernel.data;
      seconds.push((performance.now() - t0) / 1000);
      reference ??= k;
    }
    rows.push({ where: 'Node', backend: 'wasm', engine: currentEngine(), seconds });
  }

  const server = await temporaryExplorer('ntk-explorer-bench-');
  try {
    const browser = await chromium.launch({ executablePath: findChromium() ?? CHROMIUM_CANDIDATES[0], args: ['--no-sandbox'] });
    try {
      for (const b of backends) {
        const page = await browser.newPage();
        await page.goto(`${server.url}?backend=${b}`);
        const ready = await page.evaluate(() => (window as unknown as { explorer: { ready: Promise<{ type: string; backend?: string; webgl?: string; message?: string }> } }).explorer.ready);
        if (ready.type !== 'ready') {
          console.log(`browser backend ${b}: not available (${ready.message})`);
          continue;
        }
        await page.evaluate((v) => (window as unknown as { explorer: { set(v: object): void } }).explorer.set(v), { ...s } as unknown as Record<string, string | number>);
        const seconds: number[] = [];
        let rel = NaN;
        for (let r = 0; r < repeats; r++) {
          const res = await page.evaluate(async () => {
            const x = await (window as unknown as { explorer: { computeKernel(): Promise<{ type: string; message?: string; result?: { seconds: number; kernel: Float32Array } }> } }).explorer.computeKernel();
            return x.type === 'kernel' ? { seconds: x.result!.seconds, kernel: Array.from(x.result!.kernel) } : { error: x.message };
          });
          if ('error' in res) throw new Error(`browser ${b}: ${res.error}`);
          seconds.push(res.seconds);
          rel = compareKernels(reference!, res.kernel).relativeFrobenius;
        }
        rows.push({ where: 'headless Chromium', backend: b + (b === 'webgl' ? ` (${/SwiftShader/i.test(ready.webgl ?? '') ? 'SwiftShader, software' : ready.webgl})` : ''), engine: 'tfjs', seconds, relativeToNode: rel });
        await page.close();
      }
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
  const cpu = `${os.cpus()[0]?.model.trim()} (${os.cpus().length} cores), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg()[0].toFixed(1)}`;
  const best = (r: { seconds: number[] }) => Math.min(...r.seconds);
  const node = best(rows[0]);
  console.log(`seeds/003 MLP 784-100-100-100-10, full NTK [1000, 1000] of 100 MNIST digits; best of ${repeats}; ${cpu}`);
  console.log('| where | backend | matrix engine | seconds (best) | × Node native | ‖K − K_Node‖/‖K_Node‖ |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.where} | ${r.backend} | ${r.engine} | ${best(r).toFixed(3)} | ${(best(r) / node).toFixed(2)} | ${r.relativeToNode === undefined ? '–' : r.relativeToNode.toExponential(1)} |`);
  writeFilesAtomically([{ path: out, data: JSON.stringify({ config: 'mlp 784-100-100-100-10, full, 100 MNIST digits, seed 0', machine: cpu, repeats, rows }, null, 2) + '\n' }]);
}

main().catch((e) => {
  process.stderr.write(`ntk: error: ${(e as Error).message.split('\n')[0]}\n`);
  process.exit(1);
});
