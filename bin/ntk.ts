#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../lib/errors.js';
import { ENGINES } from '../lib/matrix-engine.js';
import { commands } from './commands.js';

/**
 * The `ntk` command line. Every user mistake (a flag, a file, a shape) ends as one line on stderr and exit
 * code 2, with no output file left behind; anything else is a bug and keeps its stack trace (exit 1).
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
  await y.parseAsync();
}

main().catch((e: unknown) => {
  if (e instanceof UserError) {
    process.stderr.write(`ntk: error: ${e.message.split('\n')[0]}\n`);
    process.exit(2);
  }
  console.error(e);
  process.exit(1);
});
