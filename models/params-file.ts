import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFilesAtomically } from '../lib/files.js';
import { UserError } from '../lib/errors.js';
import { type Param, paramsToJson, parseParamsText } from './params.js';

/**
 * Read and parse a params file (`{"config": {...}, "params": [{"name", "shape", "values"}, ...]}`, as
 * paramsToJson writes it). Returns the config object found in the file and the parameters; a file that cannot be
 * read or parsed is a UserError naming it.
 */
export function parseParamsFile(file: string): { config: Record<string, unknown>; params: Param[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`--load-params ${file}: cannot read file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseParamsText(text, file);
}

/**
 * A training hook that writes a checkpoint (a params file, readable by --load-params and parseParamsFile) at each
 * epoch it is called for: `DIR/epoch-E.json`, written atomically. Use with trainModel's callAt/onEpoch.
 */
export function checkpointHook(dir: string, config: object): (epoch: number, params: Param[]) => void {
  return (epoch, params) => writeFilesAtomically([{ path: path.join(dir, `epoch-${epoch}.json`), data: paramsToJson(config, params) }]);
}
