import { constants as bufferConstants } from 'node:buffer';
import * as os from 'node:os';
import { UserError } from '../../lib/errors.js';
import { formatBytes } from '../../lib/files.js';
import type { Model } from '../../models/model.js';
import { paramCount } from '../../models/params.js';

// Sizes checked before any work: a model, data set or in-memory kernel that cannot fit is refused with exit 2,
// naming the flag and the size it would need, instead of ending in a RangeError or a wasm trap after minutes.

/** Memory this process may use: the machine's, or its cgroup limit when that is smaller. */
export function machineMemory(): number {
  const total = os.totalmem();
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < total ? limit : total;
}

/**
 * The parameters of `model` need P floats on the JavaScript side, again in the backend, and once more for a gradient
 * (3·4·P bytes at least); the wasm backend holds its tensors, and XNNPACK its packed copy of each weight matrix, in
 * one heap that ran out at 350M parameters (a 5-50,000,000-2 MLP: 'memory access out of bounds'), so there we ask
 * 16·P bytes of 2 GiB. `flag` names what defined the model; `budget` is a `--memory` budget in bytes.
 */
export function checkModelFits(model: Model, flag: string, backend: string, budget?: { bytes: number; flag: string }): void {
  const P = paramCount(model.paramSpecs);
  const need = 12 * P;
  const say = `the model has ${P.toExponential(2)} parameters and needs at least ${formatBytes(need)} of memory`;
  if (!Number.isSafeInteger(P) || need > machineMemory()) throw new UserError(`${flag}: ${say}; this machine has ${formatBytes(machineMemory())}`);
  if (backend === 'wasm' && 16 * P > 2 ** 31) throw new UserError(`${flag}: the model has ${P.toExponential(2)} parameters; the wasm backend's heap holds about ${(2 ** 27).toExponential(2)}`);
  if (budget && need > budget.bytes) throw new UserError(`${budget.flag}: ${say}, more than the budget of ${formatBytes(budget.bytes)}`);
}

/**
 * An array of `count` items of `itemBytes` held in memory (an in-memory kernel, its standard error): refused when it
 * (times `copies` of it) exceeds the memory, or the largest buffer Node can write in one piece; `hint` says what to
 * do instead.
 */
export function checkArrayFits(count: number, itemBytes: number, what: string, hint: string, copies = 1): void {
  const bytes = count * itemBytes * copies;
  if (!Number.isSafeInteger(count) || bytes > 0.8 * machineMemory() || count * itemBytes > bufferConstants.MAX_LENGTH) {
    throw new UserError(`${what}: needs ${formatBytes(bytes)} in memory, more than this machine's ${formatBytes(machineMemory())} allows${hint ? `; ${hint}` : ''}`);
  }
}
