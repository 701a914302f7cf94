#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../lib/errors.js';
import { commands } from './commands/index.js';
import { toolVersion } from '../lib/version.js';

/**
 * The `ntk` command line. Every user mistake (a flag, a file, a shape) ends as one line on stderr and exit
 * code 2, with no output file left behind; anything else is a bug and keeps its stack trace (exit 1).
 */
async function main(): Promise<void> {
  const fail = (msg: string): never => {
    throw new UserError(msg);
  };
  let y = yargs(hideBin(process.argv))
    .scriptName('ntk')
    .usage('$0 <command> [flags]')
    .strict()
    .demandCommand(1, 'a command is required: kernel, infinite, analytic, experiment, snapshot or check')
    .fail((msg: string | null, err: Error | undefined) => {
      if (err) throw err;
      fail(msg ?? 'invalid arguments');
    })
    .version(toolVersion().replace(/^ntk-ts@/, ''))
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
