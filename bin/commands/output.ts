import type { LoadedData } from '../../lib/data.js';
import { UserError } from '../../lib/errors.js';

/** What the commands' outputs share: the .npy path check and the metadata fields (data, layout, seconds). */
export const dataMeta = (d: LoadedData | null) => (d ? {
  source: d.source, n: d.n, ...(d.kind === 'vectors' ? { sampleShape: d.sampleShape } : { featureDim: d.featureDim }),
  // Which samples were used: their indices in the source (absent: the first n, in order) and their labels.
  indices: d.indices ? Array.from(d.indices) : `0..${d.n - 1}`, labels: d.labels ? Array.from(d.labels) : null,
} : null);

export function checkNpyPath(p: string, flag: string): void {
  if (!/\.npy$/i.test(p)) throw new UserError(`${flag}: expected a path ending in .npy; got '${p}'`);
}

export const layoutOf = (mode: string) =>
  mode === 'full' ? 'row i*K+k, column j*K+k2: Theta(x_i, x_j)[k, k2]' : mode === 'trace' ? 'mean over k of Theta(x_i, x_j)[k, k]' : '[i, j, k] = Theta(x_i, x_j)[k, k]';

export const round = (s: number) => Math.round(s * 1000) / 1000;
