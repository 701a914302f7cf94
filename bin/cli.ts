import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../lib/errors.js';
import { commands } from './commands/index.js';
import { toolVersion } from '../lib/version.js';
import { clearProgress } from '../lib/progress-bar.js';
import { ENGINES } from '../lib/matrix-engine.js';

/**
 * The `ntk` command line. Exit codes: 0 done; 1 a regression found by `ntk check`; 2 bad input or environment (a
 * flag, a file, a shape, a size that cannot fit, a full disk): one line `ntk: error: …` on stderr, no output file
 * left behind and no existing file touched; a process ended by SIGINT/SIGTERM dies of the signal (status 130/143
 * in the shell) and a watchdog removes its temp files (lib/files.ts). Anything else is a bug: stack trace, exit 70.
 */
async function main(): Promise<void> {
  const fail = (msg: string): never => {
    throw new UserError(msg);
  };
  let y: Argv = yargs(hideBin(process.argv))
    .scriptName('ntk')
    .usage('$0 <command> [flags]')
    .strict()
    .demandCommand(1, 'a command is required: kernel, infinite, analytic, experiment, snapshot or check')
    .fail((msg: string | null, err: Error | undefined) => {
      if (err) throw err;
      fail(msg ?? 'invalid arguments');
    })
    .version(toolVersion().replace(/^ntk-ts@/, ''))
    // The matrix engine reaches every initBackend (worker threads included) through the environment.
    .option('engine', { type: 'string', global: true, describe: 'matrix engine: auto (native ONNX Runtime when it loads, else tfjs), native, tfjs; recorded in the metadata' })
    .middleware((a: { engine?: unknown }) => {
      if (a.engine === undefined) return;
      if (!ENGINES.includes(String(a.engine))) fail(`--engine: expected one of ${ENGINES.join(', ')}; got '${a.engine}'`);
      process.env.NTK_ENGINE = String(a.engine);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 110));
  for (const c of commands) y = c(y);
  // After a command's handler starts, yargs renders and caches that command's whole help text (for a failure
  // message it could print later): ~0.3 s of string-width measuring before the job runs. Failures here are
  // reported by `fail` above, which never prints help, so the cache is switched off.
  (y as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } }).getInternalMethods().getUsageInstance().cacheHelpMessage = () => {};
  checkDashValues(hideBin(process.argv));
  await y.parseAsync();
}

/**
 * A flag's value that starts with '-' but is not a number (`--shard -1/2`) would be read by yargs as more flags
 * ("Unknown argument: 1"); name the flag and the value instead.
 */
function checkDashValues(argv: string[]): void {
  for (let i = 1; i < argv.length; i++) {
    const prev = argv[i - 1], v = argv[i];
    if (prev.startsWith('--') && !prev.includes('=') && /^-[\d.]/.test(v) && !Number.isFinite(Number(v))) {
      throw new UserError(`${prev}: invalid value '${v}'`);
    }
  }
}

main().catch((e: unknown) => {
  clearProgress();
  if (e instanceof UserError) {
    process.stderr.write(`ntk: error: ${e.message.split('\n')[0]}\n`);
    process.exit(2);
  }
  // Memory exhausted despite the size checks (the JS heap, a typed array, the wasm heap): an environment limit.
  const msg = e instanceof Error ? e.message : String(e);
  if ((e instanceof RangeError && /allocation|array length|buffer|heap/i.test(msg)) || (e instanceof WebAssembly.RuntimeError && /memory|out of bounds/i.test(msg))) {
    process.stderr.write(`ntk: error: out of memory (${e.constructor.name}: ${msg.split('\n')[0]}); use fewer samples, a smaller model, a smaller --tile or kernel --memory MB\n`);
    process.exit(2);
  }
  console.error(e);
  process.exit(70);
});
