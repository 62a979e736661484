/**
 * `@ml/tensor/backend`: what a backend author, an op author or a layer author needs beyond
 * the user API of `@ml/tensor`. Nothing here is needed to build and train models.
 *
 * - The backend contract: `Backend` (the primitives every backend implements) and
 *   `FusedKernels` (the optional fused kernels it may offer), the strided `View`s they read,
 *   `CpuBackend` to extend, and geometry helpers.
 * - Op definitions: `defineOp` (an op's name, gradient rule and fused kernel in one typed
 *   record), `prim`/`viewOp`/`runOp` to run them, `fromData` to wrap a backend buffer,
 *   `record` and the graph node types autograd reads.
 *
 * See ARCHITECTURE.md at the repository root: how an op flows from a call to a kernel and
 * back through autograd, and how to add an op, a backend or a layer.
 */
export type {
  AdamStep,
  ArgReduceOp,
  Backend,
  BinaryOp,
  DataId,
  FusedKernels,
  HeapInfo,
  Im2ColParams,
  ReduceOp,
  RnnSequenceAttrs,
  SaveForBackward,
  SequenceAttrs,
  Shape4,
  UnaryOp,
  View,
} from './backend.js';
export { isContiguousView, patchOutputSize, rowStride } from './backend.js';
export { CpuBackend, HostAllocator, type ArrayAllocator, type CpuBackendOptions, type HostAllocatorOptions } from './backends/cpu.js';
export {
  flushTiny,
  GRADIENT_FLUSH_BELOW,
  lstmCellBackwardHost,
  lstmCellHost,
  type GatePasses,
  type GruGateArgs,
  type GruGateBackwardArgs,
  type HostKernelIO,
  type LstmGateArgs,
  type LstmGateBackwardArgs,
  type PreparedProduct,
  type RnnGateArgs,
  type RnnGateBackwardArgs,
  type Rows,
  type SequenceBackwardGateArgs,
  type SequenceGateArgs,
  type StepRows,
} from './backends/host-recurrent.js';
export {
  gruSequenceBackwardHost,
  gruSequenceHost,
  lstmSequenceBackwardHost,
  lstmSequenceHost,
  rnnSequenceBackwardHost,
  rnnSequenceHost,
} from './backends/host-recurrent-sequence.js';
export { installAutograd, record, type AutogradHooks } from './engine.js';
export { defineOp, getOpDef, opDefs, type GradNode, type GradRule, type OpDef } from './op.js';
export {
  assertFloat,
  assertTensor,
  castTo,
  commonBackend,
  fromData,
  hostData,
  operands,
  prim,
  resultType,
  runOp,
  scalarTensor,
  viewOp,
} from './ops/prim.js';
