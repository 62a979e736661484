/**
 * The CPU backend: the primitives and fused kernels of the backend contract on typed arrays.
 * The kernels live by op family in `cpu/` as functions that write every array through the
 * allocator they are given; this class hands them its own (`alloc`) and runs each public
 * primitive through `primitive()`, the one hook a backend built on this one overrides.
 */
import type { ArgReduceOp, Backend, BinaryOp, DataId, Im2ColParams, ReduceOp, RnnSequenceAttrs, SaveForBackward, SequenceAttrs, Shape4, UnaryOp, View } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';
import { checkOptions, optionKeys } from '../options.js';
import { HostAllocator, type ArrayAllocator } from './cpu/allocator.js';
import * as attention from './cpu/attention.js';
import * as conv from './cpu/conv.js';
import * as elementwise from './cpu/elementwise.js';
import * as layout from './cpu/layout.js';
import { linear, matmul } from './cpu/matmul.js';
import * as pool from './cpu/pool.js';
import * as reduction from './cpu/reduce.js';
import * as softmax from './cpu/softmax.js';
import * as transformer from './cpu/transformer.js';
import { dataValues, materialize, wrap, type CpuData } from './cpu/views.js';
import { lstmCellBackwardHost, lstmCellHost, type HostKernelIO } from './host-recurrent.js';
import * as seq from './host-recurrent-sequence.js';

export { HostAllocator, type ArrayAllocator, type HostAllocatorOptions } from './cpu/allocator.js';

export interface CpuBackendOptions {
  /**
   * Where every output and tensor-sized temporary array comes from (default: a new
   * `HostAllocator`, ordinary arrays with reuse of large ones). A backend with memory of
   * its own passes an allocator of that memory.
   */
  allocator?: ArrayAllocator;
}

const CPU_KEYS = optionKeys<CpuBackendOptions>()(['allocator']);

/** The default backend: plain TypeScript over typed arrays, the reference for all others. */
export class CpuBackend implements Backend {
  readonly name: string = 'cpu';
  /** the allocator every kernel of this backend writes into */
  protected readonly alloc: ArrayAllocator;

  constructor(options: CpuBackendOptions = {}) {
    checkOptions('CpuBackend', options, CPU_KEYS);
    this.alloc = options.allocator ?? new HostAllocator();
  }

  /**
   * Every public primitive and fused kernel runs its work as `run` through this hook (here:
   * it just runs it). A backend built on this one overrides it to wrap each primitive,
   * e.g. to give back the temporaries of its own memory when the primitive returns.
   */
  protected primitive<T extends DataId | null>(run: () => T): T {
    return run();
  }

  write(values: TypedArray, _dtype: DType): DataId {
    return wrap(values);
  }
  read(data: DataId): Promise<TypedArray> {
    return Promise.resolve((data as CpuData).values.slice());
  }
  readSync(data: DataId): TypedArray {
    return (data as CpuData).values.slice();
  }
  hostArray(data: DataId): TypedArray {
    return (data as CpuData).values;
  }
  dispose(data: DataId): void {
    // Give the array back for reuse; drop our reference so a stale handle fails loudly.
    const d = data as { values: TypedArray | null };
    if (d.values) this.alloc.recycle(d.values);
    d.values = null;
  }

  fill(size: number, dtype: DType, value: number): DataId {
    return this.primitive(() => wrap(this.alloc.filled(dtype, size, value)));
  }
  copy(x: View): DataId {
    return this.primitive(() => wrap(materialize(this.alloc, x)));
  }
  cast(x: View, dtype: DType): DataId {
    return this.primitive(() => elementwise.cast(this.alloc, x, dtype));
  }
  unary(op: UnaryOp, x: View): DataId {
    return this.primitive(() => elementwise.unary(this.alloc, op, x));
  }
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
    return this.primitive(() => elementwise.binary(this.alloc, op, a, b, outDtype));
  }
  where(cond: View, a: View, b: View): DataId {
    return this.primitive(() => elementwise.where(this.alloc, cond, a, b));
  }
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId {
    return this.primitive(() => reduction.reduce(this.alloc, op, x, axes));
  }
  argReduce(op: ArgReduceOp, x: View, axis: number): DataId {
    return this.primitive(() => reduction.argReduce(this.alloc, op, x, axis));
  }
  matmul(a: View, b: View): DataId {
    return this.primitive(() => matmul(this.alloc, a, b));
  }
  gather(x: View, axis: number, index: View): DataId {
    return this.primitive(() => layout.gather(this.alloc, x, axis, index));
  }
  scatterAdd(base: View, axis: number, index: View, src: View): DataId {
    return this.primitive(() => layout.scatterAdd(this.alloc, base, axis, index, src));
  }
  pad(x: View, low: readonly number[], high: readonly number[], interior: readonly number[], value: number): DataId {
    return this.primitive(() => layout.pad(this.alloc, x, low, high, interior, value));
  }
  concat(xs: readonly View[], axis: number, outShape: readonly number[]): DataId {
    return this.primitive(() => layout.concat(this.alloc, xs, axis, outShape));
  }
  im2col(x: View, p: Im2ColParams): DataId {
    return this.primitive(() => conv.im2col(this.alloc, x, p));
  }
  col2im(cols: View, outShape: Shape4, p: Im2ColParams): DataId {
    return this.primitive(() => conv.col2im(this.alloc, cols, outShape, p));
  }
  /** x [N,C,H,W] → the patch matrix [N·oh·ow, C·kh·kw] (one row per output position), the convolutions' first step. */
  im2row(x: View, p: Im2ColParams): DataId {
    return this.primitive(() => conv.im2row(this.alloc, x, p));
  }
  /** The adjoint of im2row: rows [N·oh·ow, C·kh·kw] summed back into an image of `outShape`. */
  row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId {
    return this.primitive(() => conv.row2im(this.alloc, rows, outShape, p));
  }

  // ---- fused kernels (see FusedKernels in backend.ts; null declines, the composite runs)

  /** x·Wᵀ + b on this backend's matmul, the bias added to the product's rows (float operands of one dtype; others decline). */
  linear(x: View, weight: View, bias: View | null): DataId | null {
    const float = x.dtype === 'float32' || x.dtype === 'float64';
    if (!float || weight.dtype !== x.dtype || (bias !== null && bias.dtype !== x.dtype)) return null;
    return this.primitive(() => linear(this.alloc, (a, b) => this.matmul(a, b), x, weight, bias));
  }

  logSoftmax(x: View, dim: number): DataId | null {
    return this.primitive(() => softmax.logSoftmax(this.alloc, x, dim));
  }
  softmaxCrossEntropy(logits: View, target: View, divisor: number | null = null): DataId | null {
    return this.primitive(() => softmax.softmaxCrossEntropy(this.alloc, logits, target, divisor));
  }
  softmaxCrossEntropyBackward(logits: View, target: View, dy: View, divisor: number): DataId | null {
    return this.primitive(() => softmax.softmaxCrossEntropyBackward(this.alloc, logits, target, dy, divisor));
  }
  // the transformer's ops (cpu/transformer.ts, cpu/attention.ts): one pass per row, the attention products on this backend's matmul
  layerNorm(x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward = null): DataId | null {
    return this.primitive(() => transformer.layerNorm(this.alloc, x, weight, bias, D, eps, save));
  }
  layerNormBackward(x: View, weight: View | null, dy: View, D: number, eps: number, saved: readonly View[] = []): DataId | null {
    return this.primitive(() => transformer.layerNormBackward(this.alloc, x, weight, dy, D, eps, saved));
  }
  gelu(x: View, approximate: 'none' | 'tanh', save: SaveForBackward = null): DataId | null {
    return this.primitive(() => transformer.gelu(this.alloc, x, approximate, save));
  }
  geluBackward(x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[] = []): DataId | null {
    return this.primitive(() => transformer.geluBackward(this.alloc, x, dy, approximate, saved));
  }
  scaledDotProductAttention(q: View, k: View, v: View, masks: readonly View[], scale: number, causal: boolean, save: SaveForBackward = null): DataId | null {
    return this.primitive(() => attention.scaledDotProductAttention(this.alloc, this, q, k, v, masks, scale, causal, save));
  }
  scaledDotProductAttentionBackward(q: View, k: View, v: View, dy: View, masks: readonly View[], scale: number, causal: boolean, saved: readonly View[] = []): DataId | null {
    return this.primitive(() => attention.scaledDotProductAttentionBackward(this.alloc, this, q, k, v, dy, masks, scale, causal, saved));
  }
  reluBackward(x: View, dy: View): DataId | null {
    return this.primitive(() => elementwise.reluBackward(this.alloc, x, dy));
  }
  /** conv2d on the patch matrix (groups = 1); the patch matrix and the product run on this backend's im2row and matmul. */
  conv2d(x: View, weight: View, bias: View | null, p: Im2ColParams, groups = 1, _save: SaveForBackward = null): DataId | null {
    return this.primitive(() => conv.conv2d(this.alloc, this, x, weight, bias, p, groups));
  }
  conv2dBackwardInput(dy: View, weight: View, xShape: Shape4, p: Im2ColParams, groups = 1): DataId | null {
    return this.primitive(() => conv.conv2dBackwardInput(this.alloc, this, dy, weight, xShape, p, groups));
  }
  conv2dBackwardWeight(dy: View, x: View, _wShape: Shape4, p: Im2ColParams, groups = 1, _saved: readonly View[] = []): DataId | null {
    return this.primitive(() => conv.conv2dBackwardWeight(this.alloc, this, dy, x, p, groups));
  }
  maxPool2d(x: View, p: Im2ColParams): DataId | null {
    return this.primitive(() => pool.maxPool2d(this.alloc, x, p));
  }
  maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId | null {
    return this.primitive(() => pool.maxPool2dBackward(this.alloc, x, y, dy, p));
  }

  // ---- the LSTM cell (host-recurrent.ts): one pass after the recurrent product, which runs on this backend's matmul

  /** what the host kernels need: this backend's arrays, allocator and matmul */
  protected readonly hostIO: HostKernelIO = {
    array: dataValues,
    alloc: (dtype, n) => this.alloc.array(dtype, n),
    wrap,
    matmul: (a, b) => this.matmul(a, b),
    dispose: (d) => this.dispose(d),
    keep: (a) => this.alloc.detach?.(a),
  };
  lstmCell(xw: View, h: View, c: View, whh: View, save: SaveForBackward = null): DataId | null {
    return this.primitive(() => lstmCellHost(this.hostIO, xw, h, c, whh, save));
  }
  lstmCellBackward(xw: View, h: View, c: View, whh: View, dy: View, saved: readonly View[] = []): DataId | null {
    return this.primitive(() => lstmCellBackwardHost(this.hostIO, xw, h, c, whh, dy, saved));
  }

  // ---- whole-sequence recurrent ops (host-recurrent-sequence.ts): one product per step on this backend's matmul

  lstmSequence(xw: View, h0: View, c0: View, whh: View, o: SequenceAttrs, save: SaveForBackward = null): DataId | null {
    return this.primitive(() => seq.lstmSequenceHost(this.hostIO, xw, h0, c0, whh, o, save));
  }
  lstmSequenceBackward(xw: View, h0: View, c0: View, whh: View, y: View, dy: View, o: SequenceAttrs, saved: readonly View[] = []): DataId | null {
    return this.primitive(() => seq.lstmSequenceBackwardHost(this.hostIO, xw, h0, c0, whh, y, dy, o, saved));
  }
  gruSequence(xp: View, h0: View, whh: View, bhh: View | null, o: SequenceAttrs, save: SaveForBackward = null): DataId | null {
    return this.primitive(() => seq.gruSequenceHost(this.hostIO, xp, h0, whh, bhh, o, save));
  }
  gruSequenceBackward(xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, o: SequenceAttrs, saved: readonly View[] = []): DataId | null {
    return this.primitive(() => seq.gruSequenceBackwardHost(this.hostIO, xp, h0, whh, bhh, y, dy, o, saved));
  }
  rnnSequence(xp: View, h0: View, whh: View, o: RnnSequenceAttrs): DataId | null {
    return this.primitive(() => seq.rnnSequenceHost(this.hostIO, xp, h0, whh, o));
  }
  rnnSequenceBackward(xp: View, h0: View, whh: View, y: View, dy: View, o: RnnSequenceAttrs): DataId | null {
    return this.primitive(() => seq.rnnSequenceBackwardHost(this.hostIO, xp, h0, whh, y, dy, o));
  }
}
