/**
 * Node's require of a CommonJS package (or file, relative to lib/): onnxruntime-node, the tfjs backends, libsvm-js
 * and the gradient bundle are CommonJS, and Node's `import()` of one first scans its source for named exports
 * (cjs-module-lexer): the wasm backend and onnxruntime-node took 266–453 ms that way against 139–185 ms required
 * (4 fresh processes each, both cores busy). Node-only: callers are the Node edges (lib/backend.ts, the native
 * engine, the SVM); 'node:module' is named through a variable so that no browser bundle tries to resolve it.
 */
export async function requireCjs<T = unknown>(name: string): Promise<T> {
  const mod = 'node:module';
  const { createRequire } = (await import(mod)) as typeof import('node:module');
  return createRequire(import.meta.url)(name) as T;
}
