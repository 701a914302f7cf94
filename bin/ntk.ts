#!/usr/bin/env node
import { cliEntry, relaunch, relaunchWanted } from './runtime.js';

/**
 * The `ntk` executable: runs the command line (bin/cli.ts) in a process started as bin/runtime.ts says (glibc
 * malloc on transparent huge pages where 4 KB page faults are found expensive; on Node 20, ArrayBuffer transfer). On
 * Linux, when this process lacks either, it starts the command line again with them and ends as its child does
 * (relaunch); elsewhere, or with NTK_NO_HUGEPAGES=1, the command line runs in this process. Results do not depend
 * on it. The command line is its bundle when that is fresh (cliEntry).
 */
if (relaunchWanted()) relaunch('ntk: error: could not start the command line');
else await import(cliEntry(new URL('./cli.bundle.js', import.meta.url), new URL('./cli.js', import.meta.url)).href);
