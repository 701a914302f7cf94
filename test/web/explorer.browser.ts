import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { empiricalKernel, expandPerOutput } from '../../jacobian/empirical.js';
import { layoutOf } from '../../jacobian/kernel-types.js';
import { KernelTracker } from '../../jacobian/tracking.js';
import { initBackend } from '../../lib/backend.js';
import { loadMnist } from '../../lib/data.js';
import { compareKernels, relativeChange } from '../../lib/kernel-metrics.js';
import { oneHot } from '../../lib/kernel-regression.js';
import { currentEngine } from '../../lib/matrix-engine.js';
import { decodeNpy } from '../../lib/npy.js';
import { analyticKernel } from '../../models/analytic.js';
import { parseParamsText } from '../../models/params.js';
import { trainModel } from '../../models/training.js';
import { CHROMIUM_CANDIDATES, ROOT, SHIPPED_DIGITS, findChromium, temporaryExplorer } from '../../web/build.js';
import { DEFAULT_SETTINGS, type ExplorerSettings, explorerData, explorerModel } from '../../web/explorer.js';

/*
 * The explorer in a real browser: headless Chromium (Debian's `chromium`, or CHROMIUM_PATH) driven by
 * playwright-core loads the built page from a local server, computes kernels and a short training in its Web
 * Worker, and the numbers are checked against the Node engine's for the same seed and settings (float32
 * tolerance). Screenshots go to NTK_WEB_SCREENSHOTS (results/web for the README's), else dist/web-screenshots.
 * Run by `npm run test:web` (and .ci/run).
 */

function chromiumPath(): string {
  const found = findChromium();
  if (!found) throw new Error(`no Chromium found (tried ${CHROMIUM_CANDIDATES.join(', ')}); install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  return found;
}

type Settings = Partial<ExplorerSettings> & Record<string, string | number>;
interface PageKernel { type: string; message?: string; result?: { kernel: number[]; rows: number; analytic: number[] | null; relativeDifference: number | null; seconds: number; implementation: string } }

describe('the explorer in headless Chromium against the Node engine', function () {
  this.timeout(300000);
  let browser: Browser;
  let page: Page;
  let server: { url: string; close: () => Promise<void> } | undefined;
  let backend = '';
  const shots = path.resolve(ROOT, process.env.NTK_WEB_SCREENSHOTS ?? path.join('dist', 'web-screenshots'));
  const pool = (() => {
    let d: ReturnType<typeof loadMnist> | null = null;
    return () => (d ??= loadMnist('train', SHIPPED_DIGITS, 0));
  })();
  const digits = () => ({ x: pool().x, labels: pool().labels, n: SHIPPED_DIGITS });

  before(async () => {
    await initBackend();
    server = await temporaryExplorer('ntk-explorer-');
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 960 } });
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await page.goto(server!.url);
    const ready = await page.evaluate(() => (window as unknown as { explorer: { ready: Promise<{ type: string; backend: string }> } }).explorer.ready);
    expect(ready.type).to.equal('ready');
    backend = ready.backend;
    expect(await page.textContent('#backend')).to.equal(backend);
    fs.mkdirSync(shots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const set = (s: Settings) => page.evaluate((v) => (window as unknown as { explorer: { set(v: object): void } }).explorer.set(v), s);
  const pageKernel = async (s: Settings): Promise<PageKernel> => {
    await set(s);
    return page.evaluate(async () => {
      const r = (await (window as unknown as { explorer: { computeKernel(): Promise<PageKernel & { result?: { kernel: Float32Array; analytic: Float32Array | null } }> } }).explorer.computeKernel());
      return r.type === 'kernel' ? { type: r.type, result: { ...r.result!, kernel: Array.from(r.result!.kernel), analytic: r.result!.analytic && Array.from(r.result!.analytic) } } : { type: r.type, message: (r as { message?: string }).message };
    });
  };
  const pageMessage = () => page.evaluate(() => (window as unknown as { explorer: { message(): { text: string; error: boolean } } }).explorer.message());

  /** The Node engine's kernel and analytic kernel for the same settings. */
  function nodeKernel(s: ExplorerSettings) {
    const d = explorerData(s, digits());
    const model = explorerModel(s, d);
    const k = empiricalKernel(model, model.init(s.seed), d.x, null, { mode: s.mode }).kernel.data;
    const a = analyticKernel(model, d.x, null, 'ntk');
    return { k, a: a && expandPerOutput(a.kernel, d.x.n, d.x.n, model.outputSize, s.mode) };
  }

  for (const s of [
    { architecture: 'mlp', data: 'mnist', n: 12, width: 64, depth: 3, mode: 'full', seed: 3 },
    { architecture: 'resnet', data: 'mnist', n: 10, width: 32, depth: 2, mode: 'trace', seed: 1 },
    { architecture: 'cnn', data: 'mnist', n: 4, width: 3, depth: 1, mode: 'trace', seed: 0 },
    { architecture: 'mlp', data: 'circle', n: 16, width: 128, depth: 3, mode: 'full', seed: 0, activation: 'erf' },
  ] as Settings[]) {
    it(`the page's ${s.architecture} kernel on ${s.data} (${s.mode}) equals the Node engine's to float32 precision`, async () => {
      const full: ExplorerSettings = { ...DEFAULT_SETTINGS, activation: 'relu', ...s } as ExplorerSettings;
      const r = await pageKernel({ ...full });
      expect(r.type, r.message).to.equal('kernel');
      const node = nodeKernel(full);
      expect(r.result!.kernel.length).to.equal(node.k.length);
      const c = compareKernels(node.k, r.result!.kernel);
      // float32 arithmetic in different orders (browser backend, Node's engine): relative errors near 1e-7.
      expect(c.relativeFrobenius, `backend ${backend}`).to.be.below(2e-5);
      expect(c.maxAbs).to.be.below(1e-4);
      if (node.a) {
        expect(compareKernels(node.a, r.result!.analytic!).relativeFrobenius).to.be.below(1e-6);
        expect(r.result!.relativeDifference!).to.be.closeTo(relativeChange(node.a, node.k), 1e-4);
      }
    });
  }

  it('draws the heatmaps (non-blank canvases), and a screenshot of the kernel view', async () => {
    const r = await pageKernel({ architecture: 'mlp', data: 'mnist', n: 20, width: 256, depth: 3, mode: 'full', seed: 0, activation: 'relu', parameterization: 'ntk' });
    expect(r.type).to.equal('kernel');
    for (const id of ['heatEmpirical', 'heatAnalytic', 'heatDiff']) {
      const stats = await page.evaluate((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        let opaque = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] === 255) opaque++;
          colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
        return { opaque: opaque / (d.length / 4), colours: colours.size };
      }, id);
      expect(stats.opaque, id).to.be.above(0.99);
      expect(stats.colours, id).to.be.above(10);
    }
    await page.screenshot({ path: path.join(shots, 'explorer-kernel.png') });
  });

  it('bad settings show a message on the page instead of failing, and the page keeps working', async () => {
    for (const [s, pattern] of [
      [{ width: -3 }, /width/],
      [{ width: 16, architecture: 'cnn', data: 'circle' }, /28×28/],
      [{ architecture: 'mlp', data: 'mnist', n: 100000 }, /ships 200 digits/],
      [{ n: 8, activation: 'sigmoid' }, /activation/],
    ] as [Settings, RegExp][]) {
      const r = await pageKernel(s);
      expect(r.type).to.equal('error');
      const m = await pageMessage();
      expect(m.error).to.equal(true);
      expect(m.text).to.match(pattern);
      expect(m.text).to.not.match(/internal error/);
    }
    const ok = await pageKernel({ architecture: 'mlp', data: 'mnist', n: 6, width: 32, activation: 'relu' });
    expect(ok.type).to.equal('kernel');
  });

  it('the width sweep: errors with standard errors at each width, a fitted slope near −1/2', async () => {
    await set({ architecture: 'mlp', data: 'circle', n: 12, depth: 3, mode: 'trace', seed: 0, activation: 'relu', widths: '64,128,256,512,1024', seeds: 4 });
    expect((await pageKernel({ width: 256 })).type).to.equal('kernel');
    const sweep = page.evaluate(async () => (window as unknown as { explorer: { runSweep(): Promise<{ type: string; slope: number; points: { width: number; error: number; stderr: number; meanKernelError: number }[] }> } }).explorer.runSweep());
    // The UI thread stays free while the worker computes: it answers, and its progress bar moves, mid-sweep.
    let finished = false;
    void sweep.then(() => (finished = true));
    const seen: number[] = [];
    while (!finished) {
      seen.push(await page.evaluate(() => (document.getElementById('progress') as HTMLProgressElement).value));
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(seen.some((v) => v > 0 && v < 1), `progress values seen: ${seen.join(', ')}`).to.equal(true);
    const r = await sweep;
    expect(r.type).to.equal('sweep');
    expect(r.points.map((p) => p.width)).to.deep.equal([64, 128, 256, 512, 1024]);
    for (const p of r.points) expect(p.stderr).to.be.above(0).and.below(p.error);
    // seeds/001: the error falls as width^−1/2; with 4 networks per width the fitted slope lies near it.
    expect(r.slope).to.be.within(-0.8, -0.25);
    await page.screenshot({ path: path.join(shots, 'explorer-sweep.png') });
  });

  it('a short training: the page\'s loss and kernel movement equal the Node engine\'s', async () => {
    const s: ExplorerSettings = { ...DEFAULT_SETTINGS, architecture: 'mlp', data: 'mnist', n: 16, width: 32, depth: 2, mode: 'full', seed: 2, activation: 'relu' };
    const t = { optimiser: 'gd', lr: 1, epochs: 5, loss: 'mse' };
    await set({ ...s, ...t } as unknown as Settings);
    const r = await page.evaluate(async () => {
      const reply = await (window as unknown as { explorer: { runTraining(): Promise<{ type: string }> } }).explorer.runTraining();
      return { type: reply.type, text: document.getElementById('message')!.textContent };
    });
    expect(r.type, r.text ?? '').to.equal('train');
    const pagePoints = await page.evaluate(() => (window as unknown as { explorer: { trainPoints(): unknown } }).explorer.trainPoints()) as { epoch: number; loss: number; relativeChange: number; alignment: number; topEigenvalues: number[] }[];
    // The Node engine: the same model, data, optimiser and tracker.
    const d = explorerData(s, digits());
    const model = explorerModel(s, d);
    const tracker = new KernelTracker(model, d.x, d.labels, 3);
    const losses: number[] = [];
    trainModel(model, model.init(s.seed), d.x, Float32Array.from(oneHot(d.labels, 10)), { loss: 'mse', optimiser: { name: 'gd', lr: 1 }, epochs: 5, batchSize: d.x.n, seed: s.seed }, {
      callAt: [1, 2, 3, 4, 5],
      onEpoch: (e, p, loss) => {
        tracker.record(e, p);
        losses.push(loss);
      },
    });
    expect(pagePoints.map((p) => p.epoch)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    for (let e = 1; e <= 5; e++) {
      expect(pagePoints[e].loss).to.be.closeTo(losses[e], 1e-5 * Math.abs(losses[e]));
      expect(pagePoints[e].relativeChange).to.be.closeTo(tracker.points[e].ntk.relativeChange, 1e-3 * tracker.points[e].ntk.relativeChange + 1e-6);
      expect(pagePoints[e].alignment).to.be.closeTo(tracker.points[e].ntk.alignment, 1e-4);
    }
    expect(pagePoints[5].loss).to.be.below(pagePoints[1].loss);
    await page.screenshot({ path: path.join(shots, 'explorer-training.png') });
  });

  it('exports the current kernel as .npy and the params file in the CLI formats', async () => {
    const r = await pageKernel({ architecture: 'mlp', data: 'mnist', n: 5, width: 16, depth: 1, mode: 'trace', seed: 4, activation: 'relu' });
    const e = await page.evaluate(async () => {
      const x = await (window as unknown as { explorer: { exportKernel(): Promise<{ type: string; npy: Uint8Array; params: string; metadata: string }> } }).explorer.exportKernel();
      return { type: x.type, npy: Array.from(x.npy), params: x.params, metadata: x.metadata };
    });
    expect(e.type).to.equal('export');
    const a = decodeNpy(Buffer.from(e.npy), 'ntk.npy');
    expect(a.shape).to.deep.equal([5, 5]);
    expect(Array.from(a.data)).to.deep.equal(r.result!.kernel);
    const p = parseParamsText(e.params, 'params.json');
    const s: ExplorerSettings = { ...DEFAULT_SETTINGS, n: 5, width: 16, depth: 1, mode: 'trace', seed: 4 };
    const model = explorerModel(s, explorerData(s, digits()));
    expect(p.config).to.deep.equal(JSON.parse(JSON.stringify(model.config)));
    const init = model.init(4);
    expect(p.params.map((q) => q.name)).to.deep.equal(init.map((q) => q.name));
    expect(Array.from(p.params[0].values)).to.deep.equal(Array.from(init[0].values));
    expect(JSON.parse(e.metadata)).to.include({ engine: 'tfjs', backend, outputs: 'trace', layout: layoutOf('trace'), K: 10, dtype: 'float32' });
    process.stderr.write(`      (page backend ${backend}; Node engine ${currentEngine()})\n`);
  });
});
