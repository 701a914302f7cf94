import { UserError } from '../lib/errors.js';
import { type Activation, DEFAULT_MLP, Mlp, type MlpConfig, type Parameterization } from './mlp.js';
import type { Model } from './model.js';

export const MODELS = ['mlp'] as const;

/** Model flags as they come from the CLI or a config file. */
export interface ModelFlags {
  model: string;
  widths?: string | number[];
  activation?: string;
  parameterization?: string;
  wStd?: number;
  bStd?: number;
  bias?: boolean;
}

/** Parse "784,100,10" (or a list) into positive integers; anything else is a UserError naming --widths. */
export function parseWidths(w: string | number[] | undefined): number[] {
  if (w === undefined) throw new UserError('--widths: required for --model mlp, e.g. --widths 784,100,100,100,10');
  const parts = Array.isArray(w) ? w.map(String) : String(w).split(',').map((s) => s.trim());
  const out = parts.map((s) => Number(s));
  if (parts.some((s) => !/^\d+$/.test(s)) || out.length < 2 || out.some((v) => v < 1)) {
    throw new UserError(`--widths: expected at least two positive integers separated by commas (input,...,outputs); got '${Array.isArray(w) ? w.join(',') : w}'`);
  }
  return out;
}

/** Build a model from flags or from the "config" object of a params file. */
export function buildModel(f: ModelFlags): Model {
  if (f.model !== 'mlp') throw new UserError(`--model: unknown model '${f.model}'; expected one of ${MODELS.join(', ')}`);
  const cfg: MlpConfig = {
    ...DEFAULT_MLP,
    widths: parseWidths(f.widths),
    activation: (f.activation ?? DEFAULT_MLP.activation) as Activation,
    parameterization: (f.parameterization ?? DEFAULT_MLP.parameterization) as Parameterization,
    wStd: f.wStd ?? DEFAULT_MLP.wStd,
    bStd: f.bStd ?? DEFAULT_MLP.bStd,
    bias: f.bias ?? DEFAULT_MLP.bias,
  };
  return new Mlp(cfg);
}
