import { expect } from 'chai';
import { range, stratifiedFolds } from '../lib/cv.js';
import { ridgeClassifierCv } from '../lib/kernel-regression.js';
import { NormalRng } from '../lib/rng.js';
import { fitPrecomputedSvm, loadSvm, svmAccuracies, svmClassifierCv, svmDecisionValues } from '../lib/svm.js';

const linear = (a: number[], b: number[]) => Float64Array.from(a.flatMap((u) => b.map((v) => u * v)));

describe('C-SVM on a precomputed kernel (libsvm)', function () {
  before(async () => {
    await loadSvm();
  });

  it('1-D separable points with a linear kernel: the hard-margin solution computed by hand', () => {
    // Classes {-3, -1} (label 0, libsvm's +1 side) and {2, 4}: the margin's edges are -1 and 2, so the boundary is
    // x = 0.5, the half-width 1.5 = 1/|w|, f(x) = -(2/3)(x - 0.5), and with α_{-1} = α_2 = α, w = -3α gives α = 2/9.
    const x = [-3, -1, 2, 4], y = [0, 0, 1, 1], t = [0, 0.5, 3, -10];
    const svm = fitPrecomputedSvm(linear(x, x), 4, y, 100);
    const d = svmDecisionValues(svm.model, linear(t, x), t.length, 4);
    expect(d.labels).to.deep.equal([0, 1]);
    expect(d.supportVectors).to.deep.equal([1, 2]);
    expect(d.coefficients[0]).to.be.closeTo(2 / 9, 2e-3);
    expect(d.coefficients[1]).to.be.closeTo(-2 / 9, 2e-3);
    expect(d.rho).to.be.closeTo(-1 / 3, 2e-3);
    [1 / 3, 0, -5 / 3, 7].forEach((v, i) => expect(d.values[i]).to.be.closeTo(v, 5e-3));
    expect(Array.from(svm.predict(linear([0, 3, -10, 1], x), 4))).to.deep.equal([0, 1, 0, 1]);
    svm.free();
    // C below the hard-margin α = 2/9 caps every coefficient at C (the box constraint 0 ≤ α ≤ C is active).
    const soft = fitPrecomputedSvm(linear(x, x), 4, y, 0.05);
    const ds = svmDecisionValues(soft.model, linear(t, x), t.length, 4);
    soft.free();
    expect(Math.max(...ds.coefficients.map(Math.abs))).to.be.closeTo(0.05, 1e-9);
    expect(ds.coefficients.reduce((a, b) => a + b, 0)).to.be.closeTo(0, 1e-9);
  });

  it('three well-separated clusters (one-vs-one): SVM and kernel ridge both classify every test point', () => {
    const rng = new NormalRng('svm/clusters');
    const centres = [[0, 0], [6, 0], [0, 6]];
    const n = 60;
    const labels = Int32Array.from(range(0, n), (i) => i % 3);
    const pts = Array.from(labels, (c) => centres[c].map((m) => m + rng.normal()));
    const K = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K[i * n + j] = Math.exp(-((pts[i][0] - pts[j][0]) ** 2 + (pts[i][1] - pts[j][1]) ** 2) / 8);
    const train = range(0, 45), test = range(45, 15);
    const svm = svmClassifierCv(K, n, labels, train, test, [0.1, 1, 10], 0);
    const ridge = ridgeClassifierCv(K, n, labels, 3, train, test, [1e-3, 1e-2, 1e-1], 0);
    expect(svm.accuracy).to.equal(1);
    expect(ridge.accuracy).to.equal(1);
    // Swapping two test labels must cost exactly those two points: the score reads the labels it is given.
    const wrong = Int32Array.from(labels);
    [wrong[45], wrong[46]] = [labels[46], labels[45]];
    expect(svmAccuracies(K, n, wrong, train, test, [1])[0]).to.be.closeTo(13 / 15, 1e-12);
  });

  it('svmClassifierCv picks the C with the best mean inner-fold accuracy', () => {
    const rng = new NormalRng('svm/overlap');
    const n = 40;
    const labels = Int32Array.from(range(0, n), (i) => i % 2);
    const x = Array.from(labels, (c) => (c ? 0.7 : -0.7) + rng.normal());
    const K = linear(x, x);
    const grid = [1e-3, 1e-1, 10];
    const r = svmClassifierCv(K, n, labels, range(0, 30), range(30, 10), grid, 3, 3);
    // Recompute the inner scores fold by fold and the final refit, each through the plain accuracy function.
    const train = range(0, 30), inner = stratifiedFolds(train.map((i) => labels[i]), 3, 'svm/3');
    const scores = grid.map((C) => [0, 1, 2].reduce((a, f) => a + svmAccuracies(K, n, labels, train.filter((_, j) => inner[j] !== f), train.filter((_, j) => inner[j] === f), [C])[0] / 3, 0));
    const best = scores.indexOf(Math.max(...scores));
    expect(r.C).to.equal(grid[best]);
    expect(r.innerAccuracy).to.be.closeTo(scores[best], 1e-12);
    expect(r.accuracy).to.equal(svmAccuracies(K, n, labels, train, range(30, 10), [grid[best]])[0]);
  });
});
