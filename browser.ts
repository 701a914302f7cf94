/**
 * ntk-ts's browser entry: the engine (models, empirical kernels, Monte-Carlo, analytic kernels, training,
 * tracking, metrics, the .npy and params formats) without any Node edge. It imports no Node module, directly or
 * through its imports (test/browser-entry.test.ts bundles it for platform=browser); the matrix engine is tfjs's
 * (the native one, lib/native-engine.ts, is Node's). The page must start a tfjs backend first (web/backend.ts:
 * initBrowserBackend). Built into dist/explorer/ntk-browser.js by `npm run web:build`.
 */
export { currentEngine, matrixEngine, tfjsEngine, type EngineName, type MatrixEngine } from './lib/matrix-engine.js';
export { scoped } from './lib/tensors.js';
export { UserError } from './lib/errors.js';
export { npyParts, npyHeaderBytes, type WritableArray } from './lib/npy-bytes.js';
export { NormalRng, derivedSeed } from './lib/rng.js';
export { noProgress, type Progress, type ProgressFactory } from './lib/progress.js';
export { Mlp, type MlpConfig, type Activation, type Parameterization, ACTIVATIONS } from './models/mlp.js';
export { Cnn, seedCnnConfig, type CnnConfig } from './models/cnn.js';
export { ResNet, type ResNetConfig } from './models/resnet.js';
export type { Model } from './models/model.js';
export { vectors, sliceSamples, gatherSamples, type Samples, type VectorSamples } from './lib/samples.js';
export { paramsToJson, parseParamsText, checkParams, paramTensors, type Param } from './models/params.js';
export { modelFromFlags, modelFromConfig, parseWidths, type ModelFlags } from './models/registry.js';
export { analyticKernel, type AnalyticKernel } from './models/analytic.js';
export { analyticMlpKernel } from './models/mlp-analytic.js';
export { empiricalKernel, expandPerOutput, type KernelOptions, type KernelInfo } from './jacobian/empirical.js';
export { reduceFull, kernelShape, type Kernel, type OutputMode } from './jacobian/kernel-types.js';
export { monteCarloKernel, Welford, type MonteCarloOptions, type MonteCarloReport } from './jacobian/monte-carlo.js';
export { registerWasmGradients } from './lib/wasm-gradients.js';
export { lossFunction, LOSSES, type LossName } from './lib/losses.js';
export { makeOptimiser, OPTIMISERS, type OptimiserConfig } from './lib/optimisers.js';
export { trainModel, paramsFromTensors, predict, type TrainConfig, type TrainHistory } from './models/training.js';
export { KernelTracker, type TrackPoint } from './jacobian/tracking.js';
export { kernelDistance, relativeChange, kernelTargetAlignment, effectiveRank, kernelMetrics, frobeniusNorm, type KernelMetrics } from './lib/kernel-metrics.js';
export { kernelSystem, ridgeRegression, kernelPredict, accuracy, oneHot } from './lib/kernel-regression.js';
export { symmetricEigen, topEigenvalues } from './lib/linalg.js';
export { fitLine } from './lib/stats.js';
