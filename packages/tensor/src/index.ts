/**
 * @ml/tensor — tensors, the op set, backends, memory and safetensors.
 * Ops are plain functions (`add(a, b)`) with method sugar (`a.add(b)`).
 */
export { Tensor, isTensor, type NestedArray } from './tensor.js';
export type { DType, TypedArray } from './dtype.js';
export { bytesPerElement, isFloat, promoteTypes } from './dtype.js';
export { ShapeError, broadcastShapes, contiguousStrides, sizeOf, fmt as formatShape, type Shape } from './shape.js';
export type { AdamStep, Backend, BinaryOp, DataId, FusedKernels, HeapInfo, Im2ColParams, ReduceOp, ArgReduceOp, SaveForBackward, Shape4, UnaryOp, View } from './backend.js';
export { isContiguousView, patchOutputSize, rowStride } from './backend.js';
export { CpuBackend, HostAllocator, type ArrayAllocator, type CpuBackendOptions, type HostAllocatorOptions } from './backends/cpu.js';
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
  installAutograd,
  record,
  type AutogradHooks,
  type MemoryInfo,
} from './engine.js';
export { defineOp, getOpDef, opDefs, type GradNode, type GradRule, type OpDef } from './op.js';
export { Generator, manualSeed } from './random.js';
export { quoteValue } from './format.js';
export { checkOptions, closest, editDistance, optionKeys } from './options.js';
export * from './ops/index.js';
export * from './safetensors.js';
