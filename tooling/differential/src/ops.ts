/**
 * The table of ops the differential test runs: every primitive of the Backend contract
 * (through the public op that reaches it), every fused kernel (convolutions and their
 * gradients, pooling, relu's gradient, log-softmax, cross-entropy, the Adam step, layer
 * normalization, attention) and the
 * composites built on them, each with a generator of cases whose sizes sit on both sides
 * of the backends' thresholds:
 *
 * - wasm: products of fewer than 4096 multiply-adds stay on the CPU code (MIN_WORK); A
 *   padded to rows of 4 (GEMM_ROWS), B to panels of 8 columns; a row-major B of at most
 *   512 KiB read where it lies (IN_PLACE_B_BYTES); products of 2^20 multiply-adds split
 *   across threads (THREADED_MIN_WORK), other kernels from 256 KiB moved
 *   (PARALLEL_MIN_BYTES); 3×3 stride-1 convolutions direct up to 4 input channels with 4
 *   or more output columns, by Winograd from 8 channels in and out and 7 columns; tiled
 *   max pooling (2×2 its own kernel); binary kernels on rows of 4 or more; sums over
 *   trailing axes of 16 or more, leading axes with 4 or more columns, whole tensors from
 *   16384 values; row gathers of 16 or more values; the Adam step in place for multiples of 4.
 * - webgpu: 64 × 64 product tiles with k-steps of 32, workgroups of 64, reductions by
 *   workgroup above 64 values when fewer than 4096 outputs, fills above 1024 on the GPU.
 */
import type { AnyOp } from './runner.js';
import { adamOp } from './ops-adam.js';
import { avgPoolOp, col2imOp, conv1dOp, conv2dOp, im2colOp, maxPoolOp, pool1dOp } from './ops-conv.js';
import {
  activationOp, binaryOps, castOp, comparisonOps, contiguousOp, logicalNotOp, logicalOps, unaryOps, whereOp,
} from './ops-elementwise.js';
import { concatOp, gatherOp, indexSelectOp, padOp, scatterAddOp } from './ops-layout.js';
import { matmulOp } from './ops-matmul.js';
import { argOps, batchNormOp, crossEntropyOp, intReduceOp, layerNormOp, reduceOps, softmaxOps } from './ops-reduce.js';
import { attentionOp, layerNormFusedOp } from './ops-transformer.js';
export { matmulShapes } from './ops-matmul.js';

/** Every op of the differential test, in the order the tests are registered. */
export const DIFFERENTIAL_OPS: readonly AnyOp[] = [
  matmulOp,
  conv2dOp,
  conv1dOp,
  maxPoolOp,
  avgPoolOp,
  pool1dOp,
  im2colOp,
  col2imOp,
  softmaxOps[0],
  softmaxOps[1],
  crossEntropyOp,
  layerNormOp,
  layerNormFusedOp,
  attentionOp,
  batchNormOp,
  adamOp,
  ...reduceOps,
  intReduceOp,
  ...argOps,
  gatherOp,
  indexSelectOp,
  scatterAddOp,
  concatOp,
  padOp,
  contiguousOp,
  castOp,
  whereOp,
  ...unaryOps,
  logicalNotOp,
  activationOp,
  ...binaryOps,
  ...comparisonOps,
  ...logicalOps,
];
