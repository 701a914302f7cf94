import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runResnetVsFfnet, spread } from '../experiments/resnet-vs-ffnet.js';
import { testBackend } from './helpers.js';

describe('experiment resnet-vs-ffnet', function () {
  before(async () => {
    await testBackend();
  });

  it('spread() gives the sample statistics', () => {
    const s = spread([1, 2, 4]);
    expect(s.mean).to.be.closeTo(7 / 3, 1e-12);
    expect(s.sd).to.be.closeTo(Math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2), 1e-12);
    expect(s.sdLog).to.be.closeTo(Math.LN2, 1e-12);
    expect(s.secondMomentRatio).to.be.closeTo(7 / (49 / 9), 1e-12);
  });

  it('a small run writes its report and shows the deep feedforward NTK noisier than the ResNet', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ntk-rvf-'));
    try {
      const { summary, files } = runResnetVsFfnet({ seeds: 8, width: 32, depth: 100, branches: 20, branchDepth: 5, seed: 3, outDir: dir, backend: 'test' });
      expect(files.map((f) => path.basename(f)).sort()).to.deep.equal(['log-ntk-hist.svg', 'report.md', 'samples.csv', 'summary.json']);
      const nets = summary.nets as { ntk: { sdLog: number } }[];
      expect(nets[0].ntk.sdLog).to.be.above(2 * nets[1].ntk.sdLog);
      expect(fs.readFileSync(path.join(dir, 'samples.csv'), 'utf8').trim().split('\n')).to.have.length(1 + 16);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
