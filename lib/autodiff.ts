import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-core's engine (4.x) that a shared-forward reverse pass needs; not public API. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<R>(start: () => void, end: () => void, f: () => R): R;
  tidy<R extends tf.TensorContainer>(name: string, f: () => R): R;
}

/**
 * Reverse-mode products vᵀ·∂y/∂x for several cotangents v_k of one function, recording the forward pass once
 * and walking the recorded tape once per cotangent (tf.grads would re-run the forward pass for every v_k).
 * `f` runs the forward pass and returns y together with the tensors xs to differentiate with respect to, which
 * it may create itself (e.g. zero taps whose shapes are only known during the pass); tensors that `f`
 * needs after the call must be tf.keep'd by it. This mirrors tfjs-core's own backpropagation
 * (engine.gradients, tfjs-core 4.22, pinned in package.json) on its tape, restricted to the nodes between xs
 * and y; `use(k, grads)` receives the gradients with respect to xs for cotangent k (valid only during the call).
 */
export function sharedForwardVjps(f: () => { y: tf.Tensor; xs: tf.Tensor[] }, cotangents: (() => tf.Tensor)[], use: (k: number, grads: tf.Tensor[]) => void): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state?.gradientDepth !== 0 || typeof engine.startTape !== 'function' || typeof engine.scopedRun !== 'function') {
    throw new Error('sharedForwardVjps: the tfjs engine does not have the tape layout of tfjs-core 4.22 (or a gradient is being recorded already)');
  }
  let y: tf.Tensor | null = null;
  let xs: tf.Tensor[] = [];
  engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => {
    y = engine.tidy('forward', () => {
      const r = f();
      xs = r.xs.map((x) => tf.keep(x));
      return r.y;
    });
  });
  const tape = engine.state.activeTape ?? [];
  // ReLU's gradient dy·step(x) rebuilds its mask from the saved x on every walk (step, then a cast to float);
  // the mask is the same for every cotangent, so it is made once per ReLU node and kept for the K walks.
  const masks = new Map<TapeNode, tf.Tensor>();
  const reluMask = (node: TapeNode, dys: (tf.Tensor | null)[]): Record<string, () => tf.Tensor> | null => {
    if (node.kernelName !== 'Relu' || node.saved?.length !== 1 || !dys[0]) return null;
    let m = masks.get(node);
    if (!m) masks.set(node, (m = tf.keep(tf.cast(tf.step(node.saved[0]), 'float32'))));
    const dy = dys[0], mask = m;
    return { x: () => tf.mul(dy, mask) };
  };
  try {
    // Nodes reachable from xs (forward) and inputs on that path, as tfjs's getFilteredNodesXToY does.
    const fromX = new Set<number>(xs.map((x) => x.id));
    const onPath: { node: TapeNode; inputs: string[] }[] = [];
    for (const node of tape) {
      const ins = Object.keys(node.inputs).filter((name) => fromX.has(node.inputs[name].id));
      if (ins.length === 0) continue;
      node.outputs.forEach((o) => fromX.add(o.id));
      onPath.push({ node, inputs: ins });
    }
    cotangents.forEach((dy, k) => {
      engine.tidy('vjp', () => {
        const acc = new Map<number, tf.Tensor>();
        acc.set(y!.id, dy());
        for (let i = onPath.length - 1; i >= 0; i--) {
          const { node, inputs } = onPath[i];
          const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
          if (dys.every((d) => d === null)) continue;
          if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
          const grads = reluMask(node, dys) ?? node.gradient(dys);
          for (const name of inputs) {
            const x = node.inputs[name];
            const dx = engine.tidy('dx', () => grads[name]());
            const prev = acc.get(x.id);
            acc.set(x.id, prev ? tf.add(prev, dx) : dx);
          }
        }
        use(k, xs.map((x) => acc.get(x.id) ?? tf.zerosLike(x)));
        return [];
      });
    });
  } finally {
    masks.forEach((m) => m.dispose());
    for (const node of tape) node.saved?.forEach((t) => t.dispose());
    engine.state.activeTape = null;
    (y as tf.Tensor | null)?.dispose();
    xs.forEach((x) => x.dispose());
  }
}
