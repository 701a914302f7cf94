/**
 * `npm run bench`: whole-process timings of the full multi-output NTK [5000, 5000] of the MNIST MLP
 * 784-100-100-100-10 (N = 500 real digits, K = 10) by this tool and by the PyTorch peer
 * (../shared/bench/torch_ntk.py, all its methods), in the same run on the same machine, with the ratio, and
 * the achieved GFLOP/s of the structured contraction against the backend's best measured matMul rate.
 * Options: --n N, --repeats R, --peer PATH, --backends wasm,cpu, --skip-peer, --out results/bench.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/backend.js';
import { loadMnist } from '../lib/data.js';
import { writeFilesAtomically } from '../lib/files.js';
import { encodeNpy } from '../lib/npy.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'bin', 'ntk.js');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function timed(cmd: string, args: string[]): { seconds: number; code: number; stdout: string; stderr: string } {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { seconds: (performance.now() - t) / 1000, code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** FLOPs of the structured full-kernel contraction: per computed tile pair and dense layer 2·nr·nc·fanIn + 2·(nr·K)(nc·K)·fanOut. */
function structuredFlops(widths: number[], n: number, tile: number): number {
  const K = widths[widths.length - 1];
  let flops = 0;
  const tiles = Math.ceil(n / tile);
  for (let r = 0; r < tiles; r++) {
    for (let c = r; c < tiles; c++) {
      const nr = Math.min(tile, n - r * tile), nc = Math.min(tile, n - c * tile);
      for (let l = 0; l + 1 < widths.length; l++) flops += 2 * nr * nc * widths[l] + 2 * nr * K * nc * K * widths[l + 1];
    }
  }
  return flops;
}

/** Best matMul rate of the backend over square and kernel-shaped products (GFLOP/s). */
async function peakMatMul(backend: string): Promise<{ shape: string; gflops: number }[]> {
  await initBackend(backend);
  const shapes: [number, number, number][] = [[1000, 1000, 1000], [2000, 2000, 2000], [1250, 100, 1250], [5000, 100, 5000]];
  return shapes.map(([m, k, n]) => {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    tf.matMul(a, b).dispose();
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      const c = tf.matMul(a, b);
      c.dataSync();
      best = Math.min(best, (performance.now() - t) / 1000);
      c.dispose();
    }
    a.dispose();
    b.dispose();
    return { shape: `[${m},${k}]x[${k},${n}]`, gflops: (2 * m * k * n) / best / 1e9 };
  });
}

async function main(): Promise<void> {
  const n = Number(arg('n', '500'));
  const repeats = Number(arg('repeats', '3'));
  const backends = arg('backends', 'wasm').split(',');
  const peer = path.resolve(arg('peer', path.join(root, '..', 'shared', 'bench', 'torch_ntk.py')));
  const outDir = path.resolve(arg('out', path.join(root, 'results', 'bench')));
  const widths = [784, 100, 100, 100, 10];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-bench-'));
  const xfile = path.join(tmp, 'x.npy');
  const ds = loadMnist('train', n, 0);
  fs.writeFileSync(xfile, encodeNpy({ data: ds.x, shape: [n, 784] }));
  console.log(`# ntk-ts benchmark: full NTK [${n * 10}, ${n * 10}] of MLP ${widths.join('-')} on ${n} MNIST digits (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'})`);

  const ours: Record<string, unknown>[] = [];
  for (const backend of backends) {
    const runs: number[] = [];
    let meta: Record<string, unknown> = {};
    for (let r = 0; r < repeats; r++) {
      const out = path.join(tmp, `k-${backend}.npy`);
      const res = timed(process.execPath, [cli, 'kernel', '--widths', widths.join(','), '--data', `npy:${xfile}`, '--outputs', 'full', '--backend', backend, '--quiet', '--out', out]);
      if (res.code !== 0) {
        console.log(`ntk on ${backend}: failed (${res.stderr.trim().split('\n').pop()})`);
        break;
      }
      // Keep the metadata (compute and stage seconds) of the fastest whole-process run.
      if (runs.length === 0 || res.seconds < Math.min(...runs)) meta = JSON.parse(fs.readFileSync(out.replace(/\.npy$/, '.json'), 'utf8'));
      runs.push(res.seconds);
    }
    if (runs.length === 0) continue;
    const flops = structuredFlops(widths, n, meta.tile as number);
    const peak = await peakMatMul(backend);
    const best = Math.max(...peak.map((p) => p.gflops));
    ours.push({
      tool: `ntk-ts (${backend}, ${meta.implementation}, tile ${meta.tile})`, backend, seconds: Math.min(...runs), runs,
      computeSeconds: meta.computeSeconds, stageSeconds: meta.stageSeconds, contractionGflop: flops / 1e9,
      achievedGflops: flops / 1e9 / (meta.computeSeconds as number),
      productGflops: flops / 1e9 / (meta.stageSeconds as Record<string, number>).products,
      peakMatMul: peak, bestMatMulGflops: best,
    });
  }

  const peers: Record<string, unknown>[] = [];
  const torchOk = !arg('skip-peer', '') && fs.existsSync(peer) && timed('/usr/bin/python3', ['-c', 'import torch, functorch']).code === 0;
  if (!torchOk) {
    console.log(`PyTorch peer skipped: ${arg('skip-peer', '') ? '--skip-peer given' : fs.existsSync(peer) ? 'python3-torch (with functorch) is not importable by /usr/bin/python3; apt-get install python3-torch libopenblas0-pthread' : `${peer} not found`}`);
  } else {
    for (const method of ['loop', 'vmap', 'ntkvp']) {
      const res = timed('/usr/bin/python3', [peer, '--model', 'mlp', '--n', String(n), '--widths', widths.join(','), '--x', xfile, '--method', method, '--threads', String(os.cpus().length)]);
      const line = res.stdout.trim().split('\n').pop() ?? '';
      if (res.code !== 0 || !line.startsWith('{')) {
        peers.push({ tool: `PyTorch ${method}`, failed: (res.stderr.trim().split('\n').pop() ?? 'no output').slice(0, 200), seconds: res.seconds });
        continue;
      }
      const j = JSON.parse(line);
      peers.push({ tool: `PyTorch ${method}`, seconds: res.seconds, innerSeconds: j.seconds });
    }
  }

  const okPeers = peers.filter((p) => !p.failed);
  const bestPeer = okPeers.length ? okPeers.reduce((a, b) => ((a.seconds as number) <= (b.seconds as number) ? a : b)) : null;
  console.log('\n| tool | whole process (s) | compute (s) | ratio vs best PyTorch |');
  console.log('|---|---|---|---|');
  for (const o of ours) {
    const ratio = bestPeer ? ((bestPeer.seconds as number) / (o.seconds as number)).toFixed(1) + '× faster' : 'n/a';
    console.log(`| ${o.tool} | ${(o.seconds as number).toFixed(2)} (runs ${(o.runs as number[]).map((r) => r.toFixed(2)).join(', ')}) | ${o.computeSeconds} | ${ratio} |`);
  }
  for (const p of peers) {
    console.log(`| ${p.tool} | ${p.failed ? `failed: ${p.failed}` : (p.seconds as number).toFixed(2)} | ${p.innerSeconds ?? ''} | ${p === bestPeer ? 'best peer' : ''} |`);
  }
  for (const o of ours) {
    const st = o.stageSeconds as Record<string, number>;
    console.log(`\n${o.tool}: contraction ${(o.contractionGflop as number).toFixed(1)} GFLOP; products (matMul) ${st.products} s = ${(o.productGflops as number).toFixed(1)} GFLOP/s; ` +
      `whole kernel computation ${o.computeSeconds} s = ${(o.achievedGflops as number).toFixed(1)} GFLOP/s (features ${st.features} s, combine ${st.combine} s, mirror ${st.mirror} s); ` +
      `backend matMul best ${(o.bestMatMulGflops as number).toFixed(1)} GFLOP/s ` +
      `(${(o.peakMatMul as { shape: string; gflops: number }[]).map((p) => `${p.shape} ${p.gflops.toFixed(1)}`).join('; ')})`);
  }
  const report = { date: new Date().toISOString(), machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, n, widths, ours, peers };
  writeFilesAtomically([{ path: path.join(outDir, 'mlp-full-kernel.json'), data: JSON.stringify(report, null, 2) + '\n' }]);
  console.log(`\nwrote ${path.join(outDir, 'mlp-full-kernel.json')}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
