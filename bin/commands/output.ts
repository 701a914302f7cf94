import type { LoadedData } from '../../lib/data.js';
import { UserError } from '../../lib/errors.js';
import { modelJsonShardPaths } from '../../lib/model-json.js';
import { type InputRef, type OutputRequest, OutputSet, metadataPath, npyBytes } from '../../lib/files.js';
import type { Args } from './flags.js';

/** What the commands' outputs share: the .npy path check, the one output writer, and the metadata fields (data, layout, seconds). */
export const dataMeta = (d: LoadedData | null) => (d ? {
  source: d.source, n: d.n, ...(d.kind === 'vectors' ? { sampleShape: d.sampleShape } : { featureDim: d.featureDim }),
  // Which samples were used: their indices in the source (absent: the first n, in order) and their labels.
  indices: d.indices ? Array.from(d.indices) : `0..${d.n - 1}`, labels: d.labels ? Array.from(d.labels) : null,
} : null);

export function checkNpyPath(p: string, flag: string): void {
  if (!/\.npy$/i.test(p)) throw new UserError(`${flag}: expected a path ending in .npy; got '${p}'`);
}

export { layoutOf } from '../../jacobian/kernel-types.js';

export const round = (s: number) => Math.round(s * 1000) / 1000;

/** Room we reserve for a JSON metadata file (its exact size is known only at the end). */
const META_BYTES = 1 << 16;

/** The files a run reads, from its flags (`--data`/`--data2` file specs, `--load-params`, `--config`), plus `extra`. */
export function inputFiles(a: Args, extra: InputRef[] = []): InputRef[] {
  const refs: InputRef[] = [];
  for (const flag of ['data', 'data2']) {
    const m = typeof a[flag] === 'string' ? /^(npy|csv|graphs):(.+)$/.exec(a[flag] as string) : null;
    if (m) refs.push({ path: m[2], flag: `--${flag}` });
  }
  for (const flag of ['load-params', 'config']) if (typeof a[flag] === 'string') refs.push({ path: a[flag] as string, flag: `--${flag}` });
  if (typeof a['model-json'] === 'string') {
    const file = a['model-json'] as string;
    refs.push({ path: file, flag: '--model-json' }, ...modelJsonShardPaths(file).map((p) => ({ path: p, flag: `weight shard of --model-json ${file}` })));
  }
  return [...refs, ...extra];
}

/** A .npy output of `shape` (items of `itemBytes`) and, when `withMeta`, its JSON metadata beside it. */
export function npyOutput(path: string, flag: string, shape: number[], itemBytes: number, withMeta = true): OutputRequest[] {
  const out: OutputRequest[] = [{ path, flag, bytes: npyBytes(shape, itemBytes) }];
  if (withMeta) out.push({ path: metadataPath(path), flag: `metadata of ${flag}`, bytes: META_BYTES });
  return out;
}

/** A JSON output (params, metadata, a snapshot record) of about `bytes`. */
export const jsonOutput = (path: string, flag: string, bytes = META_BYTES): OutputRequest => ({ path, flag, bytes });

/**
 * Run `work` with the outputs of a run reserved up front (checked against each other, the inputs and the disk; see
 * OutputSet), then commit them together; on any error the temp files go and the previous files stay.
 */
export async function withOutputs<T>(outputs: OutputRequest[], inputs: InputRef[], work: (set: OutputSet) => Promise<T> | T): Promise<T> {
  const set = OutputSet.prepare(outputs, inputs);
  try {
    const r = await work(set);
    set.commit();
    return r;
  } catch (e) {
    set.abort();
    throw e;
  }
}

/** Write a JSON value (pretty, one trailing newline) to a reserved output. */
export const writeJson = (set: OutputSet, path: string, value: unknown) => set.write(path, JSON.stringify(value, null, 2) + '\n');
