/**
 * ntk-ts library API. Typical use:
 *
 *   import { initBackend, Mlp, empiricalKernel, monteCarloKernel, analyticMlpKernel, loadData } from 'ntk-ts';
 *   await initBackend();                          // tfjs-node → wasm → cpu
 *   const model = new Mlp({ model: 'mlp', widths: [784, 100, 10], activation: 'relu', parameterization: 'ntk',
 *                           wStd: Math.SQRT2, bStd: 0.1, bias: true });
 *   const x = loadData('mnist', { n: 100, flag: 'data' });
 *   const { kernel } = empiricalKernel(model, model.init(0), x, null, { mode: 'full' });
 */
export { initBackend, currentBackend, scoped, BACKENDS, type BackendName } from './lib/backend.js';
export { loadData, loadMnist, loadNpyData, loadCsvData, type Dataset } from './lib/data.js';
export { UserError } from './lib/errors.js';
export { readNpy, encodeNpy, decodeNpy, type NdArray } from './lib/npy.js';
export { NormalRng, derivedSeed } from './lib/rng.js';
export { stderrProgress, noProgress, type Progress, type ProgressFactory } from './lib/progress.js';
export { Mlp, type MlpConfig, type Activation, type Parameterization, ACTIVATIONS } from './models/mlp.js';
export { analyticMlpKernel, gaussianExpectations, type AnalyticMlpConfig } from './models/mlp-analytic.js';
export type { Model, TappedForward, DenseRecord } from './models/model.js';
export { paramsToJson, parseParamsFile, checkParams, paramTensors, type Param, type ParamSpec } from './models/params.js';
export { buildModel, parseWidths } from './models/registry.js';
export { empiricalKernel, expandPerOutput, type Inputs, type KernelOptions, type KernelInfo } from './jacobian/empirical.js';
export { reduceFull, kernelShape, type Kernel, type OutputMode, type KernelKind, type Implementation } from './jacobian/kernel-types.js';
export { perSampleJacobians, contractJacobians, type NetFn } from './jacobian/per-sample.js';
export { denseFeatures, structuredTile } from './jacobian/structured.js';
export { monteCarloKernel, Welford, type MonteCarloOptions, type MonteCarloReport } from './jacobian/monte-carlo.js';
