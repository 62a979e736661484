/**
 * The kernels' table and the module built from it. Each kernel is defined once, in its
 * family's file: its parameters (names, types, order), its locals and instructions, and
 * how the thread pool splits it. From this table come the module's exports, their
 * TypeScript signatures (`KernelExports`), and the kernels a pool can split.
 */
import { moduleBytes, op } from '../assembler.js';
import { adam } from './adam.js';
import { attention, attentionAddT, attentionBackward, attentionScores, attentionStageT, attentionTimes } from './attention.js';
import { conv3x3, conv3x3Grad, conv3x3Tiles, crop2d, im2row, pad2d, row2im } from './conv.js';
import { add, div, dropoutMask, mul, relu, reluGrad, sub } from './elementwise.js';
import { fmaPeak, gemm, gemmAcc, gemmBatch, gemmBias, gemmRows, packB, packBT } from './gemm.js';
import type { Kernel, NamedArgs, Signature, SplitSpec } from './kernel.js';
import { copyRows, fill32, swapBlocks, transpose, transposeTiled } from './layout.js';
import { maxpool, maxpool2x2, maxpoolBack, maxpoolBack2x2 } from './pooling.js';
import { colSum, colSums, rowSum, rowSum64, sumBlocks } from './reduce.js';
import { gruGates, gruGatesBackward, lstmGates, lstmGatesBackward, rnnGates, rnnGatesBackward } from './recurrent.js';
import { recurrentSteps, recurrentStepsBack } from './recurrent-steps.js';
import { copyBlock, copyBlocks, gelu, geluBackward, layerNormRows, layerNormRowsBackward, maskRows, softmaxRows, softmaxRowsBackward } from './transformer.js';
import { winogradIn, winogradInT, winogradGrad, winogradOut, winogradWeights, winogradWeightsGrad } from './winograd.js';
import { winograd4Conv, winograd4GradConv, winograd4InputGradConv, winogradConv, winogradGradConv, winogradInputGradConv } from './winograd-conv.js';
import { winograd4Grad, winograd4In, winograd4InT, winograd4Out, winograd4Weights, winograd4WeightsGrad } from './winograd4.js';

export { BATCH_A, BATCH_B, GEMM_ROWS, PEAK_ACCUMULATORS } from './gemm.js';
export { CELL } from './recurrent-steps.js';
export { BINARY_KERNELS } from './elementwise.js';
export { enableRelaxedSimd, relaxedSimdSupported } from './features.js';

/**
 * Every kernel, by its export name, in the module's order (a kernel's index is its place
 * here; the drivers that call others come last, as they always have, so the module's
 * bytes stay the same).
 */
export const KERNELS = {
  gemm, adam, maxpool, maxpoolBack, maxpool2x2, im2row, row2im, packB, packBT, transpose, swapBlocks, relu, reluGrad, maxpoolBack2x2,
  rowSum, rowSum64, fill32, add, sub, mul, div, colSum, pad2d, winogradIn, winogradOut, winogradWeights, winogradGrad, winogradWeightsGrad,
  sumBlocks, copyRows, gemmAcc, gemmRows, crop2d, winogradInT, conv3x3, conv3x3Grad, dropoutMask, fmaPeak,
  winogradConv, winogradGradConv, winogradInputGradConv,
  lstmGates, lstmGatesBackward, gruGates, gruGatesBackward, rnnGates, rnnGatesBackward,
  softmaxRows, softmaxRowsBackward, layerNormRows, layerNormRowsBackward, gelu, geluBackward, copyBlock, maskRows,
  gemmBatch, colSums, copyBlocks, gemmBias, conv3x3Tiles, transposeTiled,
  winograd4In, winograd4Out, winograd4Grad, winograd4InT, winograd4Weights, winograd4WeightsGrad,
  winograd4Conv, winograd4InputGradConv, winograd4GradConv,
  attentionStageT, attentionScores, attentionTimes, attentionAddT, attention, attentionBackward,
  recurrentSteps, recurrentStepsBack,
} as const;

type Table = typeof KERNELS;
export type KernelName = keyof Table;
/** A kernel's parameter record. */
export type ParamsOf<K extends KernelName> = Table[K]['params'];
/** The module's exports: every kernel's JavaScript signature, from its parameters. */
export type KernelExports = { [K in KernelName]: Signature<ParamsOf<K>> };
/** The kernels a thread pool can split over their units (those with a `split`). */
export type SplitKernel = { [K in KernelName]: Table[K]['split'] extends SplitSpec<string> ? K : never }[KernelName];
/** A kernel's arguments by name. */
export type ArgsOf<K extends KernelName> = NamedArgs<ParamsOf<K>>;
/** A split kernel's pointer arguments (they move on by a unit's bytes). */
export type PointerOf<K extends SplitKernel> = NonNullable<Table[K]['split']>['pointers'][number];

const NAMES = Object.keys(KERNELS) as KernelName[];

/** A kernel's table entry, seen without its particular types. */
export const kernelOf = (name: KernelName): Kernel => KERNELS[name] as Kernel;

/** The kernels a thread pool can split, in the table's order (a job's kind k > 0 runs the (k − 1)th). */
export const SPLIT_KERNELS: readonly SplitKernel[] = NAMES.filter((k) => kernelOf(k).split !== undefined) as SplitKernel[];

/** A kernel's arguments in its parameters' order. */
export function positional<K extends KernelName>(kernel: K, args: ArgsOf<K>): number[] {
  return Object.keys(kernelOf(kernel).params).map((p) => (args as Record<string, number>)[p]);
}

export const MAX_PAGES = 65536; // 4 GiB of 64 KiB pages

/**
 * The kernels' module; `shared` memory lets worker threads instantiate it on the same
 * data; `fma` builds the products with relaxed SIMD's fused multiply-add.
 */
export function kernelModule(shared: boolean, fma = false): Uint8Array<ArrayBuffer> {
  const call = (name: string): number[] => {
    const index = NAMES.indexOf(name as KernelName);
    if (index < 0) throw new Error(`kernelModule: no kernel '${name}' to call`);
    return op.call(index);
  };
  const functions = NAMES.map((name) => kernelOf(name).build(name, { fma, call }));
  return moduleBytes(functions, { initialPages: 16, maximumPages: shared ? 16384 : MAX_PAGES, shared });
}
