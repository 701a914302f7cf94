import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../lib/errors.js';

/** One named parameter tensor, values row-major. Dense kernels are [fan_in, fan_out]. */
export interface Param {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Name and shape of a parameter, in forward order (kernel before bias). */
export interface ParamSpec {
  name: string;
  shape: number[];
}

export const paramCount = (specs: ParamSpec[]): number =>
  specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);

/** Make tfjs tensors of the parameters (the caller disposes them). */
export const paramTensors = (params: Param[]): tf.Tensor[] => params.map((p) => tf.tensor(p.values, p.shape, 'float32'));

/**
 * The params file: `{"config": {...model config...}, "params": [{"name", "shape", "values"}, ...]}` with
 * layers in forward order, kernel before bias, values row-major (JSON numbers; float32 values survive the
 * round trip exactly because they are printed with enough digits to be re-read to the same float32).
 */
export function paramsToJson(config: object, params: Param[]): string {
  return JSON.stringify({
    config,
    params: params.map((p) => ({ name: p.name, shape: p.shape, values: Array.from(p.values) })),
  });
}

/**
 * Parse the text of a params file (`file` names it in errors): the config object found in it and the parameters,
 * each checked for a well-formed shape and as many finite values. File reading is parseParamsFile's
 * (models/params-file.ts, a Node edge); this part also runs in a browser.
 */
export function parseParamsText(text: string, file: string): { config: Record<string, unknown>; params: Param[] } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UserError(`--load-params ${file}: not valid JSON (${(e as Error).message})`);
  }
  const o = obj as { config?: unknown; params?: unknown };
  if (!o || typeof o !== 'object' || typeof o.config !== 'object' || o.config === null || !Array.isArray(o.params)) {
    throw new UserError(`--load-params ${file}: expected an object with keys "config" and "params" (a list)`);
  }
  const params: Param[] = (o.params as unknown[]).map((p, i) => {
    const q = p as { name?: unknown; shape?: unknown; values?: unknown };
    if (typeof q?.name !== 'string' || !Array.isArray(q.shape) || !Array.isArray(q.values)) {
      throw new UserError(`--load-params ${file}: params[${i}] needs "name" (string), "shape" and "values" (lists)`);
    }
    const shape = q.shape as number[];
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new UserError(`--load-params ${file}: params[${i}] (${q.name}) has a malformed shape`);
    const count = shape.reduce((a, b) => a * b, 1);
    const vals = q.values as unknown[];
    if (vals.length !== count) {
      throw new UserError(`--load-params ${file}: ${q.name} has shape [${shape}] (${count} values) but ${vals.length} values`);
    }
    const values = new Float32Array(count);
    for (let j = 0; j < count; j++) {
      const v = vals[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`--load-params ${file}: ${q.name} value ${j} is not a finite number`);
      values[j] = v;
    }
    return { name: q.name, shape, values };
  });
  return { config: o.config as Record<string, unknown>, params };
}

/** Check that `params` match `specs` exactly (names, shapes, order); `what` names the source in errors. */
export function checkParams(params: Param[], specs: ParamSpec[], what: string): void {
  if (params.length !== specs.length) {
    throw new UserError(`${what}: the model has ${specs.length} parameter tensors, the file has ${params.length}`);
  }
  specs.forEach((s, i) => {
    const p = params[i];
    if (p.name !== s.name || p.shape.join(',') !== s.shape.join(',')) {
      throw new UserError(`${what}: parameter ${i} should be ${s.name} [${s.shape}], got ${p.name} [${p.shape}]`);
    }
  });
}
