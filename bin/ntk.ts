#!/usr/bin/env node
import { spawn } from 'node:child_process';

/**
 * The `ntk` executable: runs the command line (bin/cli.ts) in a process whose glibc malloc backs its large blocks
 * with transparent huge pages (the glibc tunable glibc.malloc.hugetlb=1). A kernel computation touches hundreds of
 * MB of fresh memory once (the output, ONNX Runtime's buffers, the .npy being written), and on a virtual machine a
 * 4 KB page fault is expensive: measured on the 2-core AMD EPYC (other work sharing the cores) for the MNIST MLP's
 * full [5000, 5000] NTK, 87,000 → 27,000 minor page faults and 3.7 → 2.4 s of CPU (≈ 20 µs per fault saved).
 * A tunable only takes effect at process start, so on
 * Linux, when it is not set yet, this process starts the command line again with it (inheriting stdio
 * and arguments) and ends as its child does: the same exit code, or killed by the same signal, which it forwards
 * (SIGINT, SIGTERM, SIGHUP) so that an interrupted run cleans up as before. Elsewhere, or with NTK_NO_HUGEPAGES=1,
 * the command line runs in this process. Results do not depend on it.
 */
const TUNABLE = 'glibc.malloc.hugetlb=1';

function relaunchWanted(): boolean {
  if (process.platform !== 'linux' || process.env.NTK_NO_HUGEPAGES === '1') return false;
  // (A C library other than glibc ignores the variable; asking which one runs costs a diagnostic report, ~30 ms.)
  return !(process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb');
}

function relaunch(): void {
  const tunables = process.env.GLIBC_TUNABLES ? `${process.env.GLIBC_TUNABLES}:${TUNABLE}` : TUNABLE;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, GLIBC_TUNABLES: tunables } });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`ntk: error: could not start the command line (${e.message})\n`);
    process.exit(70);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.removeListener(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 70);
  });
}

if (relaunchWanted()) relaunch();
else await import('./cli.js');
