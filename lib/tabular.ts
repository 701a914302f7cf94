import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { UserError } from './errors.js';
import { readTextFile, sourcePath } from './files.js';

/** A labelled table: features [n, d] row-major (float64), integer labels 0..classes−1, optional fixed folds. */
export interface Table {
  name: string;
  source: string;
  x: Float64Array;
  n: number;
  d: number;
  labels: Int32Array;
  classes: number;
  /** Train/test index lists of the dataset's own folds (the 90-dataset layout ships 4); null: make our own. */
  folds: { train: number[]; test: number[] }[] | null;
  /** The dataset's own train/validation split for hyperparameters (`conxuntos.dat`), when it ships one. */
  validation?: { train: number[]; test: number[] } | null;
}

function parseRows(file: string, text: string, delimiter: string, flag: string): string[][] {
  try {
    return parseCsv(text, { skip_empty_lines: true, trim: true, delimiter, relax_column_count: true }) as string[][];
  } catch (e) {
    throw new UserError(`${flag} ${file}: malformed table (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Features and labels from rows (header already removed); labels are mapped to 0..C−1 in sorted order of names. */
function toTable(name: string, source: string, rows: string[][], firstFeature: number, flag: string): Omit<Table, 'folds'> {
  if (rows.length < 2) throw new UserError(`${flag} ${source}: fewer than 2 data rows`);
  const cols = rows[0].length;
  const d = cols - 1 - firstFeature;
  if (d < 1) throw new UserError(`${flag} ${source}: expected feature columns and a label column; got ${cols} columns`);
  const names = [...new Set(rows.map((r) => r[cols - 1]))].sort((a, b) => (Number.isFinite(Number(a)) && Number.isFinite(Number(b)) ? Number(a) - Number(b) : a.localeCompare(b)));
  const code = new Map(names.map((v, i) => [v, i]));
  const x = new Float64Array(rows.length * d);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new UserError(`${flag} ${source}: row ${i + 2} has ${r.length} columns, expected ${cols}`);
    for (let j = 0; j < d; j++) {
      const v = Number(r[firstFeature + j]);
      if (r[firstFeature + j] === '' || !Number.isFinite(v)) throw new UserError(`${flag} ${source}: row ${i + 2} column ${firstFeature + j + 1}: expected a finite number, got '${r[firstFeature + j]}'`);
      x[i * d + j] = v;
    }
    labels[i] = code.get(r[cols - 1])!;
  });
  if (names.length < 2) throw new UserError(`${flag} ${source}: only one class`);
  return { name, source, x, n: rows.length, d, labels, classes: names.length };
}

/** A CSV with a header row, numeric features and the class label (name or integer) in the last column. */
export function loadLabelledCsv(file: string, flag: string): Table {
  const rows = parseRows(file, readTextFile(file, `${flag} ${file}`), ',', flag);
  return { ...toTable(path.basename(file).replace(/\.csv$/i, ''), sourcePath(file), rows.slice(1), 0, flag), folds: null };
}

/**
 * One dataset of the 90-dataset UCI layout of seeds/000 (Fernández-Delgado et al. 2014 preprocessing): folder
 * NAME with `NAME_R.dat` (tab-separated, header, first column an index, last column the class) and
 * `conxuntos_kfold.dat` (4 folds as alternating lines of train and test indices, 0-based) and `conxuntos.dat` (one
 * line of training and one of validation indices: Arora et al. 2020 choose hyperparameters on it).
 */
export function loadUciFolder(dir: string, flag: string): Table {
  const name = path.basename(dir);
  const dat = path.join(dir, `${name}_R.dat`);
  const rows = parseRows(dat, readTextFile(dat, `${flag} ${dat}`), '\t', flag).slice(1);
  const table = toTable(name, sourcePath(dat), rows, 1, flag);
  let folds: Table['folds'] = null;
  const kf = path.join(dir, 'conxuntos_kfold.dat');
  if (fs.existsSync(kf)) {
    const lines = readTextFile(kf, `${flag} ${kf}`).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length % 2 !== 0) throw new UserError(`${flag} ${kf}: expected alternating lines of train and test indices; got ${lines.length} lines`);
    folds = [];
    for (let i = 0; i < lines.length; i += 2) {
      const idx = (l: string) => l.split(/\s+/).map((v) => {
        const k = Number(v);
        if (!Number.isInteger(k) || k < 0 || k >= table.n) throw new UserError(`${flag} ${kf}: index '${v}' is not a row of ${name} (0..${table.n - 1})`);
        return k;
      });
      folds.push({ train: idx(lines[i]), test: idx(lines[i + 1]) });
    }
  }
  let validation: Table['validation'] = null;
  const cv = path.join(dir, 'conxuntos.dat');
  if (fs.existsSync(cv)) {
    const lines = readTextFile(cv, `${flag} ${cv}`).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const idx = (l: string) => l.split(/\s+/).map((v) => {
      const k = Number(v);
      if (!Number.isInteger(k) || k < 0 || k >= table.n) throw new UserError(`${flag} ${cv}: index '${v}' is not a row of ${name} (0..${table.n - 1})`);
      return k;
    });
    if (lines.length !== 2) throw new UserError(`${flag} ${cv}: expected two lines (training and validation indices); got ${lines.length}`);
    validation = { train: idx(lines[0]), test: idx(lines[1]) };
  }
  return { ...table, folds, validation };
}

/**
 * Every dataset in a folder: each `*.csv` (loadLabelledCsv) and each subfolder holding `NAME/NAME_R.dat`
 * (loadUciFolder), in name order.
 */
export function loadTableFolder(dir: string, flag: string): Table[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new UserError(`${flag} ${dir}: cannot read folder (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const tables: Table[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isFile() && /\.csv$/i.test(e.name)) tables.push(loadLabelledCsv(p, flag));
    else if (e.isDirectory() && fs.existsSync(path.join(p, `${e.name}_R.dat`))) tables.push(loadUciFolder(p, flag));
  }
  if (tables.length === 0) throw new UserError(`${flag} ${dir}: no *.csv files and no NAME/NAME_R.dat folders`);
  return tables;
}

/** Standardise columns with the mean and sd of the training rows only (constant columns are left centred). */
export function standardise(t: Table, train: number[]): Float64Array {
  const { d, n } = t;
  const mu = new Float64Array(d), sd = new Float64Array(d);
  for (const i of train) for (let j = 0; j < d; j++) mu[j] += t.x[i * d + j] / train.length;
  for (const i of train) for (let j = 0; j < d; j++) sd[j] += (t.x[i * d + j] - mu[j]) ** 2 / train.length;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = (t.x[i * d + j] - mu[j]) / (Math.sqrt(sd[j]) || 1);
  return out;
}
