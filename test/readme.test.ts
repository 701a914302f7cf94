import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The ```ts blocks of the README, in order. */
export function readmeExamples(text: string): string[] {
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('README examples', function () {
  it('every ts block of the README compiles under strict TypeScript against the built package and runs', () => {
    const blocks = readmeExamples(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
    expect(blocks.length).to.be.at.least(4);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-readme-'));
    try {
      // The package as a user gets it: `import … from 'ntk-ts'` resolves to this checkout's dist/ and types.
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(root, path.join(dir, 'node_modules', 'ntk-ts'), 'dir');
      fs.symlinkSync(path.join(root, 'node_modules', '@tensorflow'), path.join(dir, 'node_modules', '@tensorflow'), 'dir');
      fs.symlinkSync(path.join(root, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir');
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: ['node'] },
        include: ['*.ts'],
      }));
      blocks.forEach((b, i) => fs.writeFileSync(path.join(dir, `example${i}.ts`), b));
      const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
      expect(tsc.status, tsc.stdout + tsc.stderr).to.equal(0);
      blocks.forEach((_, i) => {
        const r = spawnSync(process.execPath, [path.join(dir, 'out', `example${i}.js`)], { encoding: 'utf8', cwd: dir });
        expect(r.status, `example ${i}:\n${r.stderr}`).to.equal(0);
        expect(r.stdout.trim().length, `example ${i} printed nothing`).to.be.greaterThan(0);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
