import type { Backend, View } from './backend.js';
import { type DType, type TypedArray } from './dtype.js';
import {
  autogradHooks,
  keep as keepTensor,
  setTensorPredicate,
  Storage,
  trackInScope,
} from './engine.js';
import { formatTensor } from './format.js';
import type { GradNode } from './op.js';
import { contiguousStrides, fmt, type Shape, sizeOf } from './shape.js';
import * as ops from './ops/index.js';
import type { Scalar, TensorLike } from './ops/index.js';

export type NestedArray = number | boolean | NestedArray[];

let nextId = 0;

/**
 * An n-dimensional array on a backend: shape, dtype and a strided view (strides, offset)
 * into a shared buffer. Reshape/transpose/slice/expand make views, not copies.
 */
export class Tensor {
  readonly id = ++nextId;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** @internal */ storage: Storage;
  /** set on leaves that gradients should flow to, and on every result computed from them */
  requiresGrad = false;
  /** accumulated gradient after `backward()` (leaves that require grad only) */
  grad: Tensor | null = null;
  /** @internal tape node: the op that produced this tensor */
  gradNode: GradNode | null = null;
  /** @internal kept by `keep()`: no tidy scope disposes it */
  kept = false;
  /** optional name, used by summaries and debug output */
  name?: string;
  #disposed = false;
  /** the strided view primitives read, made once (a tensor is often an operand many times) */
  #view: View | null = null;

  /**
   * @internal use the creation functions (`tensor`, `zeros`, …) instead. A frozen `shape`
   * or `strides` (another tensor's) is shared, not copied: ops pass their inputs' shapes on.
   */
  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.shape = frozen(shape);
    this.strides = strides === undefined ? stridesOf(this.shape) : frozen(strides);
    this.offset = offset;
    this.dtype = storage.dtype;
    storage.retain();
    storage.stats.numTensors++;
    trackInScope(this);
  }

  get backend(): Backend {
    return this.storage.backend;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get isDisposed(): boolean {
    return this.#disposed;
  }
  /** True for tensors not produced by a recorded op (user-created, or detached). */
  get isLeaf(): boolean {
    return this.gradNode === null;
  }
  /** True when elements are laid out row-major with no gaps. */
  get isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i];
    }
    return true;
  }

  /** @internal the strided view primitives read */
  view_(): View {
    this.assertAlive('use');
    return (this.#view ??= { data: this.storage.data, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset });
  }

  assertAlive(op: string): void {
    if (this.#disposed) throw new Error(`${op}: tensor ${fmt(this.shape)} (${this.dtype}) was already disposed`);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.storage.stats.numTensors--;
    this.storage.release();
    // what a fused kernel saved for this tensor's backward pass goes with it
    const node = this.gradNode;
    if (node !== null) for (let i = 0; i < node.saved.length; i++) node.saved[i].dispose();
    this.gradNode = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Keep this tensor alive past the enclosing `tidy`. */
  keep(): this {
    return keepTensor(this);
  }

  // ------------------------------------------------------------ data access

  /** The elements in row-major order (a copy). Works on every backend. */
  async data(): Promise<TypedArray> {
    this.assertAlive('data');
    if (this.isContiguous && this.offset === 0 && this.size === this.storage.size) {
      // hold the buffer while the read is in flight, so dispose() meanwhile cannot free it
      const storage = this.storage;
      storage.retain();
      try {
        return await storage.backend.read(storage.data);
      } finally {
        storage.release();
      }
    }
    const id = this.backend.copy(this.view_());
    try {
      return await this.backend.read(id);
    } finally {
      this.backend.dispose(id);
    }
  }

  /** Synchronous `data()`; throws on backends whose memory can only be read asynchronously. */
  dataSync(): TypedArray {
    this.assertAlive('dataSync');
    const b = this.backend;
    if (!b.readSync) {
      throw new Error(`dataSync: backend '${b.name}' cannot read synchronously — use \`await t.data()\` instead`);
    }
    if (this.isContiguous && this.offset === 0 && this.size === this.storage.size) return b.readSync(this.storage.data);
    const id = b.copy(this.view_());
    try {
      return b.readSync(id);
    } finally {
      b.dispose(id);
    }
  }

  /** Nested JS arrays (numbers; booleans for bool tensors). */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype);
  }
  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor ${fmt(this.shape)} has ${this.size} elements, expected exactly 1`);
    return this.dataSync()[0];
  }

  toString(): string {
    return formatTensor(this);
  }

  // ------------------------------------------------------------ autograd

  /** Mark a leaf as needing gradients (PyTorch's `requires_grad_`). */
  requiresGrad_(flag = true): this {
    if (!this.isLeaf) throw new Error('requiresGrad_: only leaf tensors can change requiresGrad; use detach() first');
    this.requiresGrad = flag;
    return this;
  }

  /** Same data, cut from the tape. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  /** Accumulate d(this)/d(leaf) into `leaf.grad` for every leaf that requires grad. */
  backward(gradient?: Tensor): void {
    autogradHooks().backward(this, gradient);
  }

  /**
   * Replace this tensor's values in place (same shape and dtype), e.g. for a parameter
   * update. The tape is not involved; use under `noGrad` or on leaves.
   */
  assign(value: Tensor): this {
    this.assertAlive('assign');
    value.assertAlive('assign');
    if (value.dtype !== this.dtype || value.shape.length !== this.shape.length || value.shape.some((d, i) => d !== this.shape[i])) {
      throw new Error(`assign: value ${fmt(value.shape)} (${value.dtype}) does not match tensor ${fmt(this.shape)} (${this.dtype})`);
    }
    if (value.backend !== this.backend) throw new Error(`assign: value is on backend '${value.backend.name}', tensor on '${this.backend.name}'`);
    const src = value.isContiguous && value.offset === 0 && value.size === value.storage.size
      ? value.storage
      : new Storage(this.backend, this.backend.copy(value.view_()), this.dtype, this.size);
    src.retain();
    this.storage.release();
    this.storage = src;
    this.#view = null;
    (this as { strides: readonly number[] }).strides = stridesOf(this.shape);
    (this as { offset: number }).offset = 0;
    return this;
  }

  // ------------------------------------------------------------ method sugar (see ops/)

  add(b: TensorLike): Tensor { return ops.add(this, b); }
  sub(b: TensorLike): Tensor { return ops.sub(this, b); }
  mul(b: TensorLike): Tensor { return ops.mul(this, b); }
  div(b: TensorLike): Tensor { return ops.div(this, b); }
  pow(b: TensorLike): Tensor { return ops.pow(this, b); }
  maximum(b: TensorLike): Tensor { return ops.maximum(this, b); }
  minimum(b: TensorLike): Tensor { return ops.minimum(this, b); }
  eq(b: TensorLike): Tensor { return ops.eq(this, b); }
  ne(b: TensorLike): Tensor { return ops.ne(this, b); }
  lt(b: TensorLike): Tensor { return ops.lt(this, b); }
  le(b: TensorLike): Tensor { return ops.le(this, b); }
  gt(b: TensorLike): Tensor { return ops.gt(this, b); }
  ge(b: TensorLike): Tensor { return ops.ge(this, b); }
  neg(): Tensor { return ops.neg(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  log1p(): Tensor { return ops.log1p(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  square(): Tensor { return ops.square(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  clamp(min?: number | null, max?: number | null): Tensor { return ops.clamp(this, min, max); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  float(): Tensor { return ops.cast(this, 'float32'); }
  double(): Tensor { return ops.cast(this, 'float64'); }
  int(): Tensor { return ops.cast(this, 'int32'); }

  sum(dim?: number | number[], keepdim = false): Tensor { return ops.sum(this, dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return ops.mean(this, dim, keepdim); }
  max(dim?: number | number[], keepdim = false): Tensor { return ops.max(this, dim, keepdim); }
  min(dim?: number | number[], keepdim = false): Tensor { return ops.min(this, dim, keepdim); }
  prod(dim?: number | number[], keepdim = false): Tensor { return ops.prod(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return ops.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return ops.argmin(this, dim, keepdim); }
  var(dim?: number | number[], options: ops.VarOptions = {}): Tensor { return ops.variance(this, dim, options); }
  std(dim?: number | number[], options: ops.VarOptions = {}): Tensor { return ops.std(this, dim, options); }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return ops.logsumexp(this, dim, keepdim); }
  softmax(dim = -1): Tensor { return ops.softmax(this, dim); }
  logSoftmax(dim = -1): Tensor { return ops.logSoftmax(this, dim); }

  matmul(b: Tensor): Tensor { return ops.matmul(this, b); }
  dot(b: Tensor): Tensor { return ops.dot(this, b); }

  reshape(...shape: number[] | [readonly number[]]): Tensor { return ops.reshape(this, flatArgs(shape)); }
  view(...shape: number[] | [readonly number[]]): Tensor { return ops.view(this, flatArgs(shape)); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  transpose(dim0 = 0, dim1 = 1): Tensor { return ops.transpose(this, dim0, dim1); }
  /** Matrix transpose of a 2-D tensor (reverses dims otherwise). */
  get T(): Tensor { return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i)); }
  permute(...dims: number[] | [readonly number[]]): Tensor { return ops.permute(this, flatArgs(dims)); }
  expand(...shape: number[] | [readonly number[]]): Tensor { return ops.expand(this, flatArgs(shape)); }
  squeeze(dim?: number | number[]): Tensor { return ops.squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  narrow(dim: number, start: number, length: number): Tensor { return ops.narrow(this, dim, start, length); }
  select(dim: number, index: number): Tensor { return ops.select(this, dim, index); }
  /** NumPy-style indexing: a number selects, `[start, end?, step?]` slices, `null` keeps a dim. */
  index(...specs: ops.IndexSpec[]): Tensor { return ops.index(this, specs); }
  contiguous(): Tensor { return ops.contiguous(this); }
  clone(): Tensor { return ops.clone(this); }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] { return ops.split(this, sizeOrSizes, dim); }
  chunk(chunks: number, dim = 0): Tensor[] { return ops.chunk(this, chunks, dim); }

  gather(dim: number, index: Tensor): Tensor { return ops.gather(this, dim, index); }
  indexSelect(dim: number, index: Tensor): Tensor { return ops.indexSelect(this, dim, index); }
  maskedFill(mask: Tensor, value: Scalar): Tensor { return ops.maskedFill(this, mask, value); }
}

/** `xs` itself when frozen (immutable, so safe to share), else a frozen copy. */
function frozen(xs: readonly number[]): readonly number[] {
  return Object.isFrozen(xs) ? xs : Object.freeze([...xs]);
}

/** Frozen row-major strides by frozen shape (tensors share shapes, so few are ever made). */
const STRIDES = new WeakMap<readonly number[], readonly number[]>();
/** The last shape asked for and its strides (an op chain repeats one shape). */
let lastShape: readonly number[] | null = null;
let lastStrides: readonly number[] = [];
/** Frozen row-major strides of a frozen shape. */
function stridesOf(shape: readonly number[]): readonly number[] {
  if (shape !== lastShape) {
    let strides = STRIDES.get(shape);
    if (strides === undefined) {
      strides = Object.freeze(contiguousStrides(shape));
      STRIDES.set(shape, strides);
    }
    lastShape = shape;
    lastStrides = strides;
  }
  return lastStrides;
}

function flatArgs(args: number[] | [readonly number[]]): number[] {
  return Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
}

function nest(data: TypedArray, shape: readonly number[], dtype: DType): NestedArray {
  const conv = dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return conv(data[0]);
  const build = (dim: number, off: number): NestedArray[] => {
    const n = shape[dim];
    const step = sizeOf(shape.slice(dim + 1));
    const out: NestedArray[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = dim === shape.length - 1 ? conv(data[off + i]) : build(dim + 1, off + i * step);
    return out;
  };
  return build(0, 0);
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
setTensorPredicate(isTensor);
