import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * How the command line's process is started (bin/ntk.ts), shared with the bench, which times the native engine's
 * GEMM under the same conditions as the kernels it compares with.
 *
 * - glibc.malloc.hugetlb=1 (GLIBC_TUNABLES), where 4 KB page faults are expensive: glibc malloc then backs its large
 *   blocks with transparent huge pages. A kernel computation touches hundreds of MB of fresh memory once (the
 *   output, ONNX Runtime's buffers, the .npy being written). On the 2-core AMD EPYC virtual machine a 4 KB fault
 *   was expensive: for the MNIST MLP's full [5000, 5000] NTK, 87,000 → 27,000 minor page faults and 3.7 → 2.4 s of
 *   CPU (≈ 20 µs per fault saved, other work sharing the cores). On the 2-core Intel Xeon virtual machine a 4 KB
 *   fault costs ≈ 1.5 µs and a 2 MB one ≈ 5 ms (first touch of 52 MB: 19 ms in 4 KB pages, 124–129 ms in huge
 *   pages), so there the tunable made the seeds/003 CNN's full kernel slower (whole process 5.2–5.6 → 4.6–4.8 s
 *   without it, 3 runs each, alternating) and the MLP's too (0.84–1.35 → 0.87–0.93 s). What a huge page saves is
 *   bounded by the 4 KB faults it replaces, so the launcher measures those (pageFaultMicros, ~1–20 ms) and asks for
 *   huge pages only above HUGE_PAGE_MICROS per fault. NTK_HUGEPAGES=1 / 0 decides instead of the probe (a relaunched
 *   process and its children inherit the decision); a tunable already in GLIBC_TUNABLES is kept as it is.
 * - On Node 20, V8's --harmony-rab-gsab-transfer (ArrayBuffer.prototype.transfer, standard from Node 21), with which
 *   the native engine frees at once the copy of every product's output that onnxruntime-node makes (releaseCopy in
 *   lib/native-engine.ts); without it those copies wait for the garbage collector.
 */
const TUNABLE = 'glibc.malloc.hugetlb=1';
const TRANSFER_FLAG = '--harmony-rab-gsab-transfer';
const DECISION = 'NTK_HUGEPAGES';
/** Microseconds per 4 KB fault above which huge pages are asked for (between the two machines measured above). */
export const HUGE_PAGE_MICROS = 5;

/**
 * Microseconds per first touch of a fresh 4 KB page: one byte written per page of a new `bytes` block (glibc serves
 * a block this large with mmap, whose pages are untouched until written).
 */
export function pageFaultMicros(bytes = 4 << 20): number {
  const a = new Uint8Array(bytes);
  const t = performance.now();
  for (let i = 0; i < bytes; i += 4096) a[i] = 1;
  return ((performance.now() - t) * 1000) / Math.ceil(bytes / 4096);
}

let probed: boolean | undefined;
/** Whether the command line's process should use huge pages: NTK_HUGEPAGES (1 or 0) if set, else the probe (once). */
export function hugePagesWanted(): boolean {
  const v = process.env[DECISION];
  if (v === '1' || v === '0') return v === '1';
  return (probed ??= pageFaultMicros() > HUGE_PAGE_MICROS);
}

const tunableSet = () => (process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb');
const transferMissing = () => typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function';
/** Node 20 lacks ArrayBuffer transfer unless started with the flag (later Nodes have it; earlier ones lack the flag). */
const transferFlagHelps = () => transferMissing() && process.versions.node.split('.')[0] === '20';

/**
 * Whether this process should start again as runtimeFlags/runtimeEnv say: on Linux, unless NTK_NO_HUGEPAGES=1, when
 * huge pages are wanted and the tunable is not set, or when Node 20 runs without ArrayBuffer transfer.
 */
export function relaunchWanted(): boolean {
  if (process.platform !== 'linux' || process.env.NTK_NO_HUGEPAGES === '1') return false;
  return (!tunableSet() && hugePagesWanted()) || transferFlagHelps();
}

/** Node options for the child: this process's, plus the transfer flag where Node 20 lacks transfer. */
export function runtimeFlags(): string[] {
  const flags = [...process.execArgv];
  if (transferFlagHelps() && !flags.includes(TRANSFER_FLAG)) flags.push(TRANSFER_FLAG);
  return flags;
}

/** The child's environment: this one with the huge-page decision, and the tunable added where it is wanted. */
export function runtimeEnv(): NodeJS.ProcessEnv {
  const wanted = hugePagesWanted();
  const env: NodeJS.ProcessEnv = { ...process.env, [DECISION]: wanted ? '1' : '0' };
  if (wanted && !tunableSet()) env.GLIBC_TUNABLES = process.env.GLIBC_TUNABLES ? `${process.env.GLIBC_TUNABLES}:${TUNABLE}` : TUNABLE;
  return env;
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
