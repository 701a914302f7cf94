import * as tf from '@tensorflow/tfjs-core';

export const OPTIMISERS = ['adam', 'sgd', 'gd'] as const;
export type OptimiserName = (typeof OPTIMISERS)[number];

export interface OptimiserConfig {
  name: OptimiserName;
  lr: number;
  /** SGD momentum μ (0: plain SGD). */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * A first-order optimiser over a list of parameter tensors. `step` takes the parameters and their gradients
 * and returns new parameter tensors (the old ones and the gradients are left to the caller); the optimiser
 * keeps its own state tensors (kept out of any tidy scope) and frees them in `dispose`.
 */
export interface Optimiser {
  readonly config: OptimiserConfig;
  step(params: tf.Tensor[], grads: tf.Tensor[]): tf.Tensor[];
  dispose(): void;
}

/**
 * Adam (Kingma & Ba 2015): m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g², θ ← θ − lr·m̂/(√v̂ + ε) with the
 * bias corrections m̂ = m/(1−β1^t), v̂ = v/(1−β2^t). Defaults β1 = 0.9, β2 = 0.999, ε = 1e-8 (PyTorch's).
 */
class Adam implements Optimiser {
  private m: tf.Tensor[] = [];
  private v: tf.Tensor[] = [];
  private t = 0;
  constructor(readonly config: OptimiserConfig) {}
  step(params: tf.Tensor[], grads: tf.Tensor[]): tf.Tensor[] {
    const { lr, beta1: b1 = 0.9, beta2: b2 = 0.999, epsilon: eps = 1e-8 } = this.config;
    this.t++;
    if (this.m.length === 0) {
      this.m = params.map((p) => tf.zerosLike(p));
      this.v = params.map((p) => tf.zerosLike(p));
    }
    const c1 = 1 - b1 ** this.t, c2 = 1 - b2 ** this.t;
    return params.map((p, i) => {
      const [m, v, next] = tf.tidy(() => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        const upd = tf.div(tf.mul(m, lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        return [m, v, tf.sub(p, upd)];
      });
      this.m[i].dispose();
      this.v[i].dispose();
      this.m[i] = m;
      this.v[i] = v;
      return next;
    });
  }
  dispose(): void {
    [...this.m, ...this.v].forEach((t) => t.dispose());
    this.m = [];
    this.v = [];
  }
}

/** SGD with heavy-ball momentum: u ← μ u + g, θ ← θ − lr·u (μ = 0: plain SGD; 'gd' is the same rule, full batch). */
class Momentum implements Optimiser {
  private u: tf.Tensor[] = [];
  constructor(readonly config: OptimiserConfig) {}
  step(params: tf.Tensor[], grads: tf.Tensor[]): tf.Tensor[] {
    const mu = this.config.momentum ?? 0;
    if (mu === 0) return params.map((p, i) => tf.tidy(() => tf.sub(p, tf.mul(grads[i], this.config.lr))));
    if (this.u.length === 0) this.u = params.map((p) => tf.zerosLike(p));
    return params.map((p, i) => {
      const [u, next] = tf.tidy(() => {
        const u = tf.add(tf.mul(this.u[i], mu), grads[i]);
        return [u, tf.sub(p, tf.mul(u, this.config.lr))];
      });
      this.u[i].dispose();
      this.u[i] = u;
      return next;
    });
  }
  dispose(): void {
    this.u.forEach((t) => t.dispose());
    this.u = [];
  }
}

export function makeOptimiser(config: OptimiserConfig): Optimiser {
  return config.name === 'adam' ? new Adam(config) : new Momentum(config);
}
