#!/usr/bin/env node
// Du et al. 2019's GNTK protocol on the graph benchmarks (experiments/gntk-paper.ts); results/gntk/paper/ by default.
// Usage: node dist/bin/gntk-paper.js [--datasets MUTAG,PTC] [--data-dir DIR] [--folds 10] [--inner-folds 3]
//        [--layers 1,2,3] [--blocks 1,...,6] [--out DIR] [--render-only] [--c-decades: C on whole decades only]
// A rerun adds or replaces datasets in DIR/summary.json, so datasets can be run one process at a time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../lib/errors.js';
import { type GraphDataset, loadGraphFile, withDegreeFeatures } from '../lib/graphs.js';
import { PAPER_GRID, SVM_C_GRID, runGntkPaper, writeGntkPaperFiles } from '../experiments/gntk-paper.js';

const FILES: Record<string, { file: string; social: boolean }> = {
  MUTAG: { file: 'MUTAG.txt', social: false }, PTC: { file: 'PTC.txt', social: false }, PROTEINS: { file: 'PROTEINS.txt', social: false },
  NCI1: { file: 'NCI1.txt', social: false }, 'IMDB-B': { file: 'IMDBBINARY.txt', social: true }, 'IMDB-M': { file: 'IMDBMULTI.txt', social: true },
  COLLAB: { file: 'COLLAB.txt', social: true },
};

function main(): Promise<unknown> {
  const args = process.argv.slice(2);
  const flag = (k: string, dflt: string) => {
    const i = args.indexOf(`--${k}`);
    return i < 0 ? dflt : args[i + 1] ?? '';
  };
  const ints = (k: string, dflt: number[]) => {
    const v = flag(k, dflt.join(',')).split(',').map(Number);
    if (v.some((x) => !(Number.isInteger(x) && x >= 1))) throw new UserError(`--${k}: expected positive integers separated by commas`);
    return v;
  };
  const out = flag('out', 'results/gntk/paper');
  if (args.includes('--render-only')) {
    const file = path.join(out, 'summary.json');
    if (!fs.existsSync(file)) throw new UserError(`--render-only: no ${file} to render`);
    writeGntkPaperFiles(out, JSON.parse(fs.readFileSync(file, 'utf8')));
    return Promise.resolve();
  }
  const dir = flag('data-dir', '../shared/datasets/graphs');
  const datasets = flag('datasets', 'MUTAG,PTC').split(',').map((name) => {
    const f = FILES[name];
    if (!f) throw new UserError(`--datasets: unknown dataset '${name}'; expected some of ${Object.keys(FILES).join(', ')}`);
    const d: GraphDataset = loadGraphFile(path.join(dir, f.file), '--data-dir');
    return { name, data: f.social ? withDegreeFeatures(d) : d };
  });
  const [folds] = ints('folds', [10]), [innerFolds] = ints('inner-folds', [3]);
  return runGntkPaper({
    datasets, folds, innerFolds, cs: args.includes('--c-decades') ? SVM_C_GRID.filter((_, i) => i % 2 === 0) : SVM_C_GRID, seed: 0, wlIterations: [1, 2, 3, 4, 5],
    grid: { ...PAPER_GRID, mlpLayers: ints('layers', PAPER_GRID.mlpLayers), blocks: ints('blocks', PAPER_GRID.blocks) },
    outDir: out, log: (l) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${l}`),
  });
}

main().catch((e) => {
  if (e instanceof UserError) {
    console.error(`ntk: error: ${e.message}`);
    process.exit(2);
  }
  throw e;
});
