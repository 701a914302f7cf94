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
export { currentEngine, matrixEngine, nativeEngine, tfjsEngine, useEngine, ENGINES, type EngineName, type MatrixEngine } from './lib/matrix-engine.js';
export { initEngine } from './lib/native-engine.js';
export { loadData, loadMnist, loadNpyData, loadCsvData, type Dataset } from './lib/data.js';
export { UserError } from './lib/errors.js';
export { readNpy, encodeNpy, decodeNpy, type NdArray } from './lib/npy.js';
export { NormalRng, derivedSeed } from './lib/rng.js';
export { noProgress, type Progress, type ProgressFactory } from './lib/progress.js';
export { stderrProgress } from './lib/progress-bar.js';
export { Mlp, type MlpConfig, type Activation, type Parameterization, ACTIVATIONS } from './models/mlp.js';
export { LayeredModel } from './models/layered.js';
export { analyticMlpKernel, gaussianExpectations, type AnalyticMlpConfig } from './models/mlp-analytic.js';
export type { Model, TappedForward, LinearRecord, ChannelwiseRecord, Batch, GraphBatch, Taps } from './models/model.js';
export { fromLayersModel, layersNetworkFromNamedWeights, LayersNetwork, type LayersModelConfig, type LayersModelLike } from './models/layers-network.js';
export { SUPPORTED_LAYERS } from './models/layers-topology.js';
export { fromFunction, FunctionModel, type NetworkFunction, type FunctionModelOptions, type FunctionModelConfig } from './models/function-model.js';
export { initialValues, type InitializerSpec } from './models/keras-init.js';
export { readModelJson, type ModelJsonFile } from './lib/model-json.js';
export { Forward, withDataInputs, type CommonConfig, type ConvGeometry, type Padding } from './models/layers.js';
export { Cnn, seedCnnConfig, type CnnConfig, type ConvSpec } from './models/cnn.js';
export { ResNet, type ResNetConfig } from './models/resnet.js';
export { Gnn, type GnnConfig } from './models/gnn.js';
export { vectors, sliceSamples, gatherSamples, joinVectors, type Samples, type VectorSamples, type GraphSamples, type Graph } from './lib/samples.js';
export { type LoadedData } from './lib/data.js';
export { paramsToJson, parseParamsText, checkParams, paramTensors, type Param, type ParamSpec } from './models/params.js';
export { modelFromFlags, modelFromConfig, parseWidths } from './models/registry.js';
export { analyticGntk, gntkFromReadouts, type GntkConfig, type GntkReadouts } from './models/gnn-analytic.js';
export { parallelGntkReadouts } from './experiments/gntk-parallel.js';
export { analyticCnnKernel } from './models/cnn-analytic.js';
export { analyticResNetMlpKernel } from './models/resnet-analytic.js';
export { analyticKernel, type AnalyticKernel } from './models/analytic.js';
export { loadGraphFile, syntheticGraphs } from './lib/graphs.js';
export { empiricalKernel, expandPerOutput, settleImplementation, type KernelOptions, type KernelInfo } from './jacobian/empirical.js';
export { reduceFull, kernelShape, type Kernel, type OutputMode, type KernelKind, type Implementation } from './jacobian/kernel-types.js';
export { perSampleJacobians, contractJacobians } from './jacobian/per-sample.js';
export { tileFeatures, structuredTile, chooseRules, layerShapes, structuredCoverage, type LayerRule } from './jacobian/structured.js';
export { monteCarloKernel, Welford, type MonteCarloOptions, type MonteCarloReport } from './jacobian/monte-carlo.js';
export { registerWasmGradients } from './lib/wasm-gradients.js';
export { crossEntropy, meanSquaredError, lossFunction, LOSSES, type LossName } from './lib/losses.js';
export { makeOptimiser, OPTIMISERS, type Optimiser, type OptimiserConfig, type OptimiserName } from './lib/optimisers.js';
export { parseParamsFile, checkpointHook } from './models/params-file.js';
export { trainModel, paramsFromTensors, predict, type TrainConfig, type TrainHistory } from './models/training.js';
export { KernelTracker, type TrackPoint } from './jacobian/tracking.js';
export { kernelDistance, relativeChange, kernelTargetAlignment, effectiveRank, kernelMetrics, frobeniusNorm, type KernelMetrics } from './lib/kernel-metrics.js';
export { kernelSystem, ridgeRegression, crossEntropyKernelFit, kernelPredict, accuracy, oneHot, type KernelSystem } from './lib/kernel-regression.js';
export { linearisedGd, linearisedFlow, type LinearisedPrediction } from './lib/linearised.js';
export { blockedCholeskyInPlace, choleskyInPlace, choleskySolveInPlace, symmetricEigen, topEigenvalues } from './lib/linalg.js';
export { runMnistStudy, renderMnistStudy, mnistDefaults, type MnistStudyOptions } from './experiments/mnist.js';
export { loadSvm, fitPrecomputedSvm, svmAccuracies, svmClassifierCv, svmDecisionValues, SVM_C_GRID, type PrecomputedSvm } from './lib/svm.js';
