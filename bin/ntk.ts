#!/usr/bin/env node
import { spawn } from 'node:child_process';

import { relaunchWanted, runtimeEnv, runtimeFlags } from './runtime.js';

/**
 * The `ntk` executable: runs the command line (bin/cli.ts) in a process started as bin/runtime.ts says (glibc
 * malloc on transparent huge pages; on Node 20, ArrayBuffer transfer). The tunable only takes effect at process
 * start, so on Linux, when it is not set yet, this process starts the command line again with it (inheriting
 * stdio and arguments) and ends as its child does: the same exit code, or killed by the same signal, which it
 * forwards (SIGINT, SIGTERM, SIGHUP) so that an interrupted run cleans up as before. Elsewhere, or with
 * NTK_NO_HUGEPAGES=1, the command line runs in this process. Results do not depend on it.
 */
function relaunch(): void {
  const child = spawn(process.execPath, [...runtimeFlags(), ...process.argv.slice(1)], { stdio: 'inherit', env: runtimeEnv() });
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
