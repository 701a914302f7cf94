import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from './errors.js';

/** A named weight array read from a model.json's binary shards. */
export interface NamedWeight {
  shape: number[];
  values: Float32Array;
}

/** A tfjs-layers model.json read from disk: its topology (unparsed) and its weights by manifest name. */
export interface ModelJsonFile {
  topology: unknown;
  weights: Map<string, NamedWeight>;
  /** The shard files read (resolved), inputs of the run. */
  shards: string[];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4 };

/**
 * A shard path of the manifest, resolved inside the folder of model.json: absolute paths, paths that climb
 * out of the folder (`..`) and links that point out of it are refused — an input file names no file outside
 * its own folder.
 */
function shardPath(dir: string, p: unknown, file: string): string {
  if (typeof p !== 'string' || p.length === 0) throw new UserError(`${file}: weightsManifest has a path that is not a string`);
  if (path.isAbsolute(p) || p.includes('\0')) throw new UserError(`${file}: weight shard '${p}' must be a path relative to the folder of model.json`);
  const full = path.resolve(dir, p);
  const inside = (q: string, root: string) => {
    const rel = path.relative(root, q);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  if (!inside(full, dir)) throw new UserError(`${file}: weight shard '${p}' lies outside the folder of model.json; refused`);
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch (e) {
    throw new UserError(`${file}: weight shard '${p}' cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (!inside(real, fs.realpathSync(dir))) throw new UserError(`${file}: weight shard '${p}' links outside the folder of model.json; refused`);
  return real;
}

/**
 * Read a tfjs-layers `model.json` (what `model.save('file://…')` and the Keras-to-tfjs converter write): the
 * topology, and the weights of every `weightsManifest` group, whose binary shards are concatenated in order and
 * must hold exactly Σ size·4 bytes (float32, or int32 converted to float). Every problem is a UserError naming
 * the file: not JSON, no topology, a missing, short or long shard, an unsupported dtype or quantisation.
 */
export function readModelJson(file: string): ModelJsonFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`--model-json ${file}: cannot read file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UserError(`--model-json ${file}: not valid JSON (${(e as Error).message})`);
  }
  const what = `--model-json ${file}`;
  if (!obj || typeof obj !== 'object' || !obj.modelTopology) throw new UserError(`${what}: no "modelTopology" (expected a tfjs-layers model.json; graph models of the converter are not supported)`);
  const manifest = obj.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new UserError(`${what}: "weightsManifest" must be a list`);
  const dir = path.dirname(path.resolve(file));
  const weights = new Map<string, NamedWeight>();
  const shards: string[] = [];
  manifest.forEach((group: Record<string, unknown>, g: number) => {
    const paths = group?.paths, specs = group?.weights;
    if (!Array.isArray(paths) || !Array.isArray(specs)) throw new UserError(`${what}: weightsManifest[${g}] needs "paths" and "weights" lists`);
    let need = 0;
    const list = specs.map((w: Record<string, unknown>, i: number) => {
      const shape = w?.shape as number[];
      if (typeof w?.name !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new UserError(`${what}: weightsManifest[${g}].weights[${i}] needs a "name" and a "shape" of non-negative integers`);
      if (w.quantization) throw new UserError(`${what}: weight ${w.name} is quantised; save the model without quantisation`);
      const bytes = DTYPE_BYTES[String(w.dtype ?? 'float32')];
      if (!bytes) throw new UserError(`${what}: weight ${w.name} has dtype ${String(w.dtype)}; expected float32 or int32`);
      const size = shape.reduce((a, b) => a * b, 1);
      const offset = need;
      need += size * bytes;
      return { name: w.name, shape, dtype: String(w.dtype ?? 'float32'), offset, size };
    });
    const files = paths.map((p) => shardPath(dir, p, what));
    const bufs = files.map((f) => {
      try {
        return fs.readFileSync(f);
      } catch (e) {
        throw new UserError(`${what}: cannot read weight shard ${path.basename(f)} (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
    });
    shards.push(...files);
    const data = Buffer.concat(bufs);
    if (data.length !== need) {
      throw new UserError(`${what}: the weight shards of group ${g} (${paths.join(', ')}) hold ${data.length} bytes; the manifest's weights need ${need}`);
    }
    const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
    for (const w of list) {
      if (weights.has(w.name)) throw new UserError(`${what}: weight ${w.name} appears twice in the manifest`);
      const values = w.dtype === 'int32' ? Float32Array.from(new Int32Array(ab, w.offset, w.size)) : new Float32Array(ab, w.offset, w.size).slice();
      weights.set(w.name, { shape: w.shape, values });
    }
  });
  return { topology: obj.modelTopology, weights, shards };
}

/** The shard files a model.json names (resolved in its folder; unreadable or malformed entries are skipped: readModelJson reports them). */
export function modelJsonShardPaths(file: string): string[] {
  try {
    const obj = JSON.parse(fs.readFileSync(file, 'utf8')) as { weightsManifest?: { paths?: unknown[] }[] };
    const dir = path.dirname(path.resolve(file));
    return (obj.weightsManifest ?? []).flatMap((g) => (Array.isArray(g?.paths) ? g.paths : [])).filter((p): p is string => typeof p === 'string').map((p) => path.resolve(dir, p));
  } catch {
    return [];
  }
}

/**
 * Write a tfjs-layers model as `dir/model.json` + `dir/weights.bin`, the files tfjs' `model.save('file://dir')`
 * writes (topology, one weightsManifest group, one binary shard), through a save handler so that no tfjs-node is
 * needed; readModelJson reads them back. `by` fills the generatedBy field.
 */
export async function saveLayersModel(m: { save(handler: tf.io.IOHandler): Promise<unknown> }, dir: string, by = 'ntk-ts'): Promise<void> {
  await m.save(tf.io.withSaveHandler(async (art) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(art.weightData as ArrayBuffer));
    const json = { modelTopology: art.modelTopology, format: 'layers-model', generatedBy: by, convertedBy: null, weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }] };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}
