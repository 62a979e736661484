/**
 * @ml/tensor — tensors, the op set, backends, memory and safetensors.
 * Ops are plain functions (`add(a, b)`) with method sugar (`a.add(b)`).
 * This entry is what users call; what backend, op and layer authors need beyond it (the
 * backend contract, `CpuBackend`, op definitions, `prim`/`runOp`/`record`, `fromData`) is
 * in the `@ml/tensor/backend` subpath.
 */
export { Tensor, isTensor, type NestedArray } from './tensor.js';
export type { DType, TypedArray } from './dtype.js';
export { bytesPerElement, isFloat, promoteTypes } from './dtype.js';
export { ShapeError, broadcastShapes, contiguousStrides, sizeOf, fmt as formatShape, type Shape } from './shape.js';
// the types the user API's signatures name (getBackend's result, im2col's geometry, memory()'s heap)
export type { Backend, HeapInfo, Im2ColParams, Shape4 } from './backend.js';
export {
  registerBackend,
  setBackend,
  getBackend,
  listBackends,
  memory,
  tidy,
  keep,
  isGradEnabled,
  setGradEnabled,
  type MemoryInfo,
} from './engine.js';
export { Generator, manualSeed } from './random.js';
export { quoteValue } from './format.js';
export { checkOptions, closest, editDistance, optionKeys } from './options.js';
export * from './ops/index.js';
export * from './safetensors.js';
