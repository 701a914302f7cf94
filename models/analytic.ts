import type { ProgressFactory } from '../lib/progress.js';
import { type Samples, sampleSize } from '../lib/samples.js';
import type { CnnConfig } from './cnn.js';
import { analyticCnnKernel } from './cnn-analytic.js';
import { analyticGntk } from './gnn-analytic.js';
import type { GnnConfig } from './gnn.js';
import { analyticMlpKernel } from './mlp-analytic.js';
import type { MlpConfig } from './mlp.js';
import type { Model } from './model.js';
import { analyticResNetMlpKernel } from './resnet-analytic.js';
import type { ResNetConfig } from './resnet.js';

/** An analytic infinite-width kernel and a sentence saying which closed form made it. */
export interface AnalyticKernel {
  /** [N1, N2] row-major, per output: the K-output kernel is this ⊗ I_K. */
  kernel: Float64Array;
  what: string;
}

const CLOSED_FORM_ACTIVATIONS = ['relu', 'erf', 'identity'];

/**
 * The one place that knows which models have a closed-form infinite-width kernel: for `model` and inputs x1
 * [N1] and x2 [N2] (null: x1 again), the analytic NTK or NNGP (`kind`) per output, [N1, N2] float64, or null
 * when there is none for this configuration. Closed forms (relu, erf, identity activations):
 *   mlp              notes §3 (NTK or standard parameterisation);
 *   cnn              the CNTK of Arora et al. 2019, any strides/padding/readout (analyticCnnKernel);
 *   resnet mlp       the residual MLP (analyticResNetMlpKernel);
 *   gnn              the GNTK of Du et al. 2019 (NTK parameterisation only).
 * The NNGP is the limit of the model's conjugate kernel (its readout's input features), as `kind: 'nngp'` of
 * the empirical kernels. Used by `ntk analytic`, and by `ntk infinite` as the oracle of its Monte-Carlo mean.
 */
export function analyticKernel(model: Model, x1: Samples, x2: Samples | null, kind: 'ntk' | 'nngp', progress?: ProgressFactory): AnalyticKernel | null {
  const c = model.config as MlpConfig | CnnConfig | ResNetConfig | GnnConfig;
  if (!CLOSED_FORM_ACTIVATIONS.includes(c.activation)) return null;
  const b = x2 ?? x1;
  const pick = (r: { ntk: Float64Array; nngp: Float64Array }, what: string): AnalyticKernel => ({ kernel: kind === 'ntk' ? r.ntk : r.nngp, what: `analytic ${kind} of the infinite-width ${what}` });
  const param = c.parameterization === 'standard' ? ', standard parameterisation' : '';
  if (x1.kind === 'vectors' && b.kind === 'vectors') {
    const d = sampleSize(x1);
    if (c.model === 'mlp') {
      const depth = c.widths.length - 2;
      const r = analyticMlpKernel({ depth, activation: c.activation, wStd: c.wStd, bStd: c.bias ? c.bStd : 0, parameterization: c.parameterization, widths: c.widths, bias: c.bias }, x1.x, x1.n, b.x, b.n, d);
      return pick(r, `mlp (depth ${depth}, ${c.activation}${param})`);
    }
    if (c.model === 'cnn') {
      const r = analyticCnnKernel(c, x1.x, x1.n, b.x, b.n, progress);
      return pick(r, `cnn (CNTK, ${c.convs.length} convolutions, ${c.head} readout, ${c.activation}${param})`);
    }
    if (c.model === 'resnet' && c.variant === 'mlp') {
      const r = analyticResNetMlpKernel(c, x1.x, x1.n, b.x, b.n);
      return pick(r, `residual mlp (${c.branches} branches × ${c.branchDepth} layers, α = ${c.alpha}, ${c.activation}${param})`);
    }
  }
  // The GNTK recursion is derived for sum and mean aggregation; a gcn net has no closed form here (null).
  if (c.model === 'gnn' && c.aggregation !== 'gcn' && c.parameterization === 'ntk' && x1.kind === 'graphs' && b.kind === 'graphs') {
    const r = analyticGntk({ blocks: c.blocks, mlpLayers: c.mlpLayers, aggregation: c.aggregation, jk: c.jk, activation: c.activation, wStd: c.wStd, bStd: c.bias ? c.bStd : 0 }, x1.graphs, b.graphs, c.featureDim);
    return pick(r, `gnn (GNTK, ${c.blocks} blocks × ${c.mlpLayers} layers, ${c.aggregation}${c.jk ? ', jk' : ''})`);
  }
  return null;
}
