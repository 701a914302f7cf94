import { expect } from 'chai';
import { vectors } from '../lib/samples.js';
import { monteCarloKernel } from '../jacobian/monte-carlo.js';
import { analyticKernel } from '../models/analytic.js';
import { analyticCnnKernel } from '../models/cnn-analytic.js';
import { Cnn, type CnnConfig, type ConvSpec } from '../models/cnn.js';
import type { CommonConfig, Padding } from '../models/layers.js';
import { analyticMlpKernel } from '../models/mlp-analytic.js';
import { analyticResNetMlpKernel } from '../models/resnet-analytic.js';
import { ResNet, type ResNetConfig } from '../models/resnet.js';
import { compareToOracle, randomInputs, testBackend } from './helpers.js';

const common: CommonConfig = { activation: 'relu', parameterization: 'ntk', wStd: Math.SQRT2, bStd: 0.2, bias: true };

/** A CNN config with every hidden convolution of `channels` channels. */
function cnn(imageShape: [number, number, number], convs: [number, number, Padding][], channels: number, head: CnnConfig['head'], c: Partial<CommonConfig> = {}, outputs = 2): CnnConfig {
  const specs: ConvSpec[] = convs.map(([kernel, stride, padding]) => ({ kernel, stride, padding, channels }));
  if (head === 'conv') specs[specs.length - 1].channels = outputs;
  return { model: 'cnn', ...common, ...c, imageShape, convs: specs, head, outputs };
}

describe('analytic CNTK and residual-MLP NTK∞', function () {
  before(async () => {
    await testBackend();
  });

  // The Monte-Carlo mean of finite CNNs (empirical kernels by the structured autodiff engine, an independent
  // computation) approaches the closed form as channels grow, and the wide estimate agrees within its errors.
  const cases: { name: string; shape: [number, number, number]; convs: [number, number, Padding][]; head: CnnConfig['head']; c?: Partial<CommonConfig>; kind?: 'ntk' | 'nngp' }[] = [
    { name: 'valid stride 1, flatten readout', shape: [6, 6, 2], convs: [[3, 1, 'valid'], [3, 1, 'valid']], head: 'flatten' },
    { name: 'same padding, stride 2, gap readout, erf', shape: [5, 5, 1], convs: [[3, 1, 'same'], [3, 2, 'same']], head: 'gap', c: { activation: 'erf' } },
    { name: 'valid then a whole-map conv readout (the seed-cnn shape)', shape: [6, 6, 1], convs: [[3, 1, 'valid'], [2, 2, 'valid'], [2, 1, 'valid']], head: 'conv' },
    { name: 'standard parameterisation, same padding, stride 2, flatten', shape: [5, 5, 1], convs: [[3, 2, 'same'], [2, 1, 'valid']], head: 'flatten', c: { parameterization: 'standard' } },
    { name: 'NNGP kind, same padding, gap readout', shape: [4, 4, 1], convs: [[3, 1, 'same'], [3, 1, 'same']], head: 'gap', kind: 'nngp' },
  ];
  for (const t of cases) {
    it(`equals the Monte-Carlo mean of wide CNNs within its standard errors: ${t.name}`, () => {
      const n = 4;
      const x = vectors(randomInputs(n, t.shape[0] * t.shape[1] * t.shape[2], t.name), n, t.shape);
      const kind = t.kind ?? 'ntk';
      const run = (channels: number) => {
        const model = new Cnn(cnn(t.shape, t.convs, channels, t.head, t.c));
        const r = monteCarloKernel(model, x, null, { seeds: 16, seed: 3, mode: 'trace', kind });
        // Standard parameterisation: the expected NTK grows with the channels, so the oracle is per width.
        return compareToOracle(r, analyticKernel(model, x, null, kind)!.kernel);
      };
      const narrow = run(4), wide = run(256);
      if (process.env.NTK_TEST_VERBOSE) console.log(t.name, { narrow, wide });
      expect(wide.rel).to.be.below(narrow.rel / 2);
      expect(wide.zMax).to.be.below(4.5);
      expect(wide.rel).to.be.below(3 * wide.relSe);
    });
  }

  it('with 1×1 images and 1×1 kernels is the analytic MLP kernel (NTK and standard parameterisation, flatten and conv readouts)', () => {
    const d = 3, n1 = 4, n2 = 3;
    const x1 = randomInputs(n1, d, 'mlp1'), x2 = randomInputs(n2, d, 'mlp2');
    for (const c of [{}, { parameterization: 'standard' as const }, { activation: 'erf' as const, bias: false }]) {
      for (const head of ['flatten', 'conv', 'gap'] as const) {
        const cfg = cnn([1, 1, d], [[1, 1, 'valid'], [1, 1, 'same'], [1, 1, 'valid']], 7, head, c, 5);
        const widths = [d, ...cfg.convs.map((s) => s.channels)];
        if (head !== 'conv') widths.push(5);
        const m = { ...common, ...c };
        const mlp = analyticMlpKernel({ depth: widths.length - 2, activation: m.activation, wStd: m.wStd, bStd: m.bias ? m.bStd : 0, parameterization: m.parameterization, widths, bias: m.bias }, x1, n1, x2, n2, d);
        const r = analyticCnnKernel(cfg, x1, n1, x2, n2);
        for (let t = 0; t < n1 * n2; t++) {
          expect(r.ntk[t]).to.be.closeTo(mlp.ntk[t], 1e-12 * Math.abs(mlp.ntk[t]) + 1e-14);
          expect(r.nngp[t]).to.be.closeTo(mlp.nngp[t], 1e-12 * Math.abs(mlp.nngp[t]) + 1e-14);
        }
      }
    }
  });

  const resnet = (width: number, alpha: number, c: Partial<CommonConfig> = {}): ResNetConfig => ({
    model: 'resnet', ...common, ...c, variant: 'mlp', inputSize: 4, width, branches: 3, branchDepth: 2, alpha, outputs: 2,
  });

  it('residual-MLP NTK∞ tends to the one-hidden-layer MLP kernel as α → 0', () => {
    const n = 5, d = 4;
    const x = randomInputs(n, d, 'res-alpha');
    for (const c of [{}, { parameterization: 'standard' as const }]) {
      const cfg = resnet(50, 1, c);
      const mlp = analyticMlpKernel({ depth: 1, activation: 'relu', wStd: cfg.wStd, bStd: cfg.bStd, parameterization: cfg.parameterization, widths: [d, 50, 2], bias: true }, x, n, x, n, d);
      let prev = Infinity;
      for (const alpha of [0.5, 0.05, 0.005, 0.0005]) {
        const r = analyticResNetMlpKernel({ ...cfg, alpha }, x, n, x, n);
        let e = 0;
        r.ntk.forEach((v, t) => (e = Math.max(e, Math.abs(v - mlp.ntk[t]) / Math.abs(mlp.ntk[t]))));
        // The branches enter as α²: the gap shrinks 100-fold per 10-fold smaller α.
        expect(e).to.be.below(prev / 50);
        expect(e).to.be.above(0);
        prev = e;
      }
      expect(prev).to.be.below(1e-4);
    }
  });

  it('residual-MLP NTK∞ equals the Monte-Carlo mean of wide residual MLPs within its standard errors', () => {
    const n = 5, d = 4;
    const x = vectors(randomInputs(n, d, 'res-mc'), n, [d]);
    for (const kind of ['ntk', 'nngp'] as const) {
      const run = (width: number) => {
        const model = new ResNet(resnet(width, 0.8));
        const r = monteCarloKernel(model, x, null, { seeds: 16, seed: 5, mode: 'trace', kind });
        return compareToOracle(r, analyticKernel(model, x, null, kind)!.kernel);
      };
      const narrow = run(8), wide = run(512);
      if (process.env.NTK_TEST_VERBOSE) console.log('resnet', kind, { narrow, wide });
      expect(wide.rel).to.be.below(narrow.rel / 2);
      expect(wide.zMax).to.be.below(4.5);
      expect(wide.rel).to.be.below(3 * wide.relSe);
    }
  });
});
