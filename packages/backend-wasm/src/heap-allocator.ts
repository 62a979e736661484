import { type DType, type TypedArray } from '@ml/tensor';
import { HostAllocator, type ArrayAllocator } from '@ml/tensor/backend';
import type { WasmGemm } from './gemm.js';

/**
 * The wasm backend's `ArrayAllocator` (the one it passes to `CpuBackend`): arrays are
 * blocks of the module memory, or host arrays when the memory takes no more tensors (7/8
 * full, or not shared). Every primitive runs in a scope (`scoped`): the arrays and work
 * blocks it takes go back when it returns, except its result, which joins the enclosing
 * scope (if any) until that one returns it or gives it back, and arrays it `detach`es
 * (saved for a backward pass).
 */
export class HeapAllocator implements ArrayAllocator {
  readonly #gemm: WasmGemm;
  readonly #host: ArrayAllocator;
  /** arrays and work blocks (addresses) taken by the running primitives, as stacks (each scope owns the part above its mark) */
  readonly #arrays: TypedArray[] = [];
  readonly #blocks: number[] = [];
  /** how many primitives are running (nested); arrays are tracked only inside one */
  #depth = 0;

  /** `host`: where arrays come from when the memory takes no more (default: a HostAllocator of its own). */
  constructor(gemm: WasmGemm, host: ArrayAllocator = new HostAllocator()) {
    this.#gemm = gemm;
    this.#host = host;
  }

  array(dtype: DType, n: number): TypedArray {
    return this.#take(dtype, n) ?? this.#host.array(dtype, n);
  }

  /** `array`, but null instead of a host array when the memory takes no more (for kernels that write it in place). */
  inMemory(dtype: DType, n: number): TypedArray | null {
    return this.#take(dtype, n);
  }

  filled(dtype: DType, n: number, value: number): TypedArray {
    const a = this.#take(dtype, n);
    if (a === null) return this.#host.filled(dtype, n, value);
    // on the kernel: TypedArray.fill is slow on a shared memory's views
    const kernels = this.#gemm.kernels;
    if (dtype === 'float32' || dtype === 'int32') kernels.fill32(a.byteOffset, a.length, bits32(dtype, value));
    else if (dtype === 'float64' && Object.is(value, 0)) kernels.fill32(a.byteOffset, 2 * a.length, 0);
    else a.fill(value);
    return a;
  }

  /** A block of the memory goes back at once (and leaves the running scope); a host array goes to the host allocator. */
  recycle(a: TypedArray): void {
    const heap = this.#gemm.heap;
    if (!heap.owns(a)) return this.#host.recycle(a);
    this.detach(a);
    heap.freeArray(a);
  }

  /** Whether `a` is an array of the module memory (kernels read and write it in place). */
  owns(a: TypedArray): boolean {
    return this.#gemm.heap.owns(a);
  }

  /**
   * Take `a` out of the running scopes: it outlives the primitive that took it (an array
   * saved for the backward pass, freed when its tensor is disposed).
   */
  detach(a: TypedArray): void {
    const i = this.#arrays.lastIndexOf(a);
    if (i >= 0) this.#arrays.splice(i, 1);
  }

  /** A work block of `bytes` for the running primitive (its address), given back when it returns; MemoryFullError when it does not fit. */
  work(bytes: number): number {
    const at = this.#gemm.alloc(bytes);
    this.#blocks.push(at);
    return at;
  }

  /**
   * Run `fn` as one primitive: when it returns (or throws), give back every array and work
   * block it took except the array holding its result (`result(out)`, null for none).
   */
  scoped<T>(fn: () => T, result: (out: T) => TypedArray | null): T {
    const a0 = this.#arrays.length;
    const b0 = this.#blocks.length;
    this.#depth++;
    let keep: TypedArray | null = null;
    try {
      const out = fn();
      keep = result(out);
      return out;
    } finally {
      this.#depth--;
      this.#giveBack(a0, b0, keep);
    }
  }

  /** Give back what the primitive whose scope began at marks `a0`, `b0` took, but its result `keep`. */
  #giveBack(a0: number, b0: number, keep: TypedArray | null): void {
    const arrays = this.#arrays;
    if (keep !== null && arrays.length === a0 + 1 && arrays[a0] === keep && this.#blocks.length === b0) {
      // a small primitive's usual case: it took one array, its result, and no work block;
      // the result stays with the enclosing scope, if there is one
      if (this.#depth === 0) arrays.pop();
      return;
    }
    const heap = this.#gemm.heap;
    const mine = keep !== null && heap.owns(keep) ? keep : null;
    let kept: TypedArray | undefined;
    for (let i = a0; i < arrays.length; i++) {
      const a = arrays[i];
      if (mine !== null && within(mine, a)) kept = a;
      else heap.freeArray(a);
    }
    for (let i = b0; i < this.#blocks.length; i++) heap.free(this.#blocks[i]);
    arrays.length = a0;
    this.#blocks.length = b0;
    if (kept !== undefined && this.#depth > 0) arrays.push(kept);
  }

  /** An array of the memory (tracked by the running scope), or null when it takes no more. */
  #take(dtype: DType, n: number): TypedArray | null {
    const a = this.#gemm.heap.array(dtype, n);
    if (a !== null && this.#depth > 0) this.#arrays.push(a);
    return a;
  }
}

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** The 32 bits `value` takes in an array of `dtype` (float32 or int32, as TypedArray.fill converts it). */
function bits32(dtype: 'float32' | 'int32', value: number): number {
  if (dtype === 'int32') return value | 0;
  F32[0] = value;
  return I32[0];
}

/** Whether array `part` starts inside array `whole` (a result may be a view of a temporary); both in the memory. */
function within(part: TypedArray, whole: TypedArray): boolean {
  const [p, w] = [part.byteOffset, whole.byteOffset];
  return p === w || (p > w && p < w + whole.byteLength);
}
