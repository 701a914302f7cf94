import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * How the command line's process is started (bin/ntk.ts), shared with the bench, which times the native engine's
 * GEMM under the same conditions as the kernels it compares with.
 *
 * - glibc.malloc.hugetlb=1 (GLIBC_TUNABLES): glibc malloc backs its large blocks with transparent huge pages. A
 *   kernel computation touches hundreds of MB of fresh memory once (the output, ONNX Runtime's buffers, the .npy
 *   being written), and on a virtual machine a 4 KB page fault is expensive: measured on the 2-core AMD EPYC (other
 *   work sharing the cores) for the MNIST MLP's full [5000, 5000] NTK, 87,000 → 27,000 minor page faults and 3.7 →
 *   2.4 s of CPU (≈ 20 µs per fault saved). A tunable only takes effect at process start.
 * - On Node 20, V8's --harmony-rab-gsab-transfer (ArrayBuffer.prototype.transfer, standard from Node 21), with which
 *   the native engine frees at once the copy of every product's output that onnxruntime-node makes (releaseCopy in
 *   lib/native-engine.ts); without it those copies wait for the garbage collector.
 */
const TUNABLE = 'glibc.malloc.hugetlb=1';
const TRANSFER_FLAG = '--harmony-rab-gsab-transfer';

/** Whether this process should start again as runtimeFlags/runtimeEnv say (Linux, tunable not set, not opted out). */
export function relaunchWanted(): boolean {
  if (process.platform !== 'linux' || process.env.NTK_NO_HUGEPAGES === '1') return false;
  // (A C library other than glibc ignores the variable; asking which one runs costs a diagnostic report, ~30 ms.)
  return !(process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb');
}

/** Node options for the child: this process's, plus the transfer flag where Node 20 lacks transfer. */
export function runtimeFlags(): string[] {
  const flags = [...process.execArgv];
  const missing = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function';
  if (missing && process.versions.node.split('.')[0] === '20' && !flags.includes(TRANSFER_FLAG)) flags.push(TRANSFER_FLAG);
  return flags;
}

/** The child's environment: this one with the huge-page tunable added to GLIBC_TUNABLES. */
export function runtimeEnv(): NodeJS.ProcessEnv {
  const tunables = process.env.GLIBC_TUNABLES ? `${process.env.GLIBC_TUNABLES}:${TUNABLE}` : TUNABLE;
  return { ...process.env, GLIBC_TUNABLES: tunables };
}

/**
 * Start this script again (same arguments, inherited stdio) with runtimeFlags and runtimeEnv, and end as the child
 * does: the same exit code, or killed by the same signal, which this process forwards (SIGINT, SIGTERM, SIGHUP) so
 * that an interrupted run cleans up as before. `failure` prefixes the one line written if the child cannot start.
 */
export function relaunch(failure: string): void {
  const child = spawn(process.execPath, [...runtimeFlags(), ...process.argv.slice(1)], { stdio: 'inherit', env: runtimeEnv() });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`${failure} (${e.message})\n`);
    process.exit(70);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.removeListener(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 70);
  });
}

/**
 * Which file runs the command line: the bundle `npm run build` makes of it (dist/bin/cli.bundle.js, esbuild: our
 * modules, yargs and tfjs-core in one ES module) when it is at least as new as the modules it was made from, else
 * the modules (dist/bin/cli.js). Node loads one file instead of ~150 modules and runs no CommonJS export scan on
 * tfjs-core: ≈ 0.2 s less CPU per process on the 2-core AMD EPYC. tsc rewrites every module on each build, so a
 * bundle older than cli.js is stale and is passed over (as with NTK_NO_BUNDLE=1). Results do not depend on it.
 */
export function cliEntry(bundle: URL, modules: URL): URL {
  if (process.env.NTK_NO_BUNDLE === '1') return modules;
  try {
    return fs.statSync(bundle).mtimeMs >= fs.statSync(modules).mtimeMs ? bundle : modules;
  } catch {
    return modules;
  }
}
