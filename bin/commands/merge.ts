import * as fs from 'node:fs';
import { type Args, type Command, runOptions, str } from './flags.js';
import { type ShardInfo, mergeShards } from '../../jacobian/out-of-core.js';
import { UserError } from '../../lib/errors.js';
import { checkNpyPath, npyOutput, withOutputs, writeJson } from './output.js';
import { metadataPath } from '../../lib/files.js';
import { NpyFileWriter } from '../../lib/npy-file.js';

export const mergeCommand: Command = (y) =>
  y.command(
    'merge <shards..>',
    'assemble the shards written by kernel --shard I/N into one .npy (positional copies; memory stays at one row)',
    (c) =>
      runOptions(c, 'accepted for uniformity; merging computes nothing')
        .positional('shards', { type: 'string', array: true, describe: 'shard .npy files (their .json metadata beside them)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output .npy (metadata .json beside it)' }),
    async (a: Args) => {
      const out = str(a, 'out');
      checkNpyPath(out, '--out');
      const shards = (a.shards as string[]).map((p) => {
        let meta: { shard?: ShardInfo };
        try {
          meta = JSON.parse(fs.readFileSync(metadataPath(p), 'utf8'));
        } catch (e) {
          throw new UserError(`merge: cannot read the metadata of ${p} (${metadataPath(p)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]})`);
        }
        if (!meta.shard) throw new UserError(`merge: ${p} is not a shard (its metadata has no shard field)`);
        return { path: p, info: meta.shard, meta };
      });
      const shape = shards[0].info.shape;
      if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new UserError(`merge: ${shards[0].path}: its metadata has no valid shard shape`);
      const inputs = shards.flatMap((s, i) => [{ path: s.path, flag: `shard ${i + 1}` }, { path: metadataPath(s.path), flag: `shard ${i + 1} (its metadata)` }]);
      const r = await withOutputs(npyOutput(out, '--out', shape, 4), inputs, (set) => {
        const writer = new NpyFileWriter(set.temp(out), shape, `--out ${out}`);
        let res;
        try {
          res = mergeShards(shards, writer);
        } finally {
          writer.close();
        }
        const { shard: _s, ...rest } = shards[0].meta as Record<string, unknown>;
        writeJson(set, metadataPath(out), { ...rest, command: 'merge', mergedFrom: shards.map((s) => s.path), tiles: res.tiles });
        return res;
      });
      if (!a.quiet) process.stderr.write(`wrote ${out} from ${shards.length} shards (${r.tiles} tile pairs)\n`);
    },
  );
