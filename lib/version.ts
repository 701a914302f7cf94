import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The tool's name and version from package.json, recorded in every output's metadata. */
export function toolVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(fs.readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8'));
      if (p.name === 'ntk-ts') return `${p.name}@${p.version}`;
    } catch {
      // try the next candidate: the layout differs between ts sources and dist/
    }
  }
  return 'ntk-ts@unknown';
}
