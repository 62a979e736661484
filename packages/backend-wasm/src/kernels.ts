/**
 * The WebAssembly kernels: defined one per entry in `kernels/` (a file per family), their
 * table and module in `kernels/index.ts`. This file keeps `./kernels.js` imports working.
 */
export * from './kernels/index.js';
