import { contiguousStrides, sizeOf, type TypedArray } from '@ml/tensor';
import { isContiguousView, type DataId, type View } from '@ml/tensor/backend';
import type { WasmGemm } from './gemm.js';
import type { HeapAllocator } from './heap-allocator.js';
import { unlessFull } from './heap.js';

/** A CPU-family buffer handle (the CPU backend's own: the typed array itself). */
interface HostData {
  values: TypedArray;
}

export const wrap = (values: TypedArray): DataId => ({ values }) satisfies HostData;
export const dataValues = (d: DataId): TypedArray => (d as HostData).values;
export const values = (v: View): TypedArray => dataValues(v.data);

/**
 * Where the kernels of a running primitive read and write: byte addresses of the module
 * memory for its operands, its results and its work blocks (all given back by the
 * primitive's scope, see HeapAllocator, except the result).
 */
export class Operands {
  readonly #gemm: WasmGemm;
  readonly #memory: HeapAllocator;
  readonly #copy: (v: View) => DataId;

  /** `copy`: the backend's contiguous copy of a strided view (a primitive of its own). */
  constructor(gemm: WasmGemm, memory: HeapAllocator, copy: (v: View) => DataId) {
    this.#gemm = gemm;
    this.#memory = memory;
    this.#copy = copy;
  }

  /**
   * The byte address of a float32 operand: where it lies when it is in the memory and
   * contiguous, else a contiguous copy in a work block.
   */
  in(v: View): number {
    if (!isContiguousView(v)) v = { ...v, data: this.#copy(v), strides: contiguousStrides(v.shape), offset: 0 };
    const a = values(v);
    if (this.#memory.owns(a)) return a.byteOffset + 4 * v.offset;
    const n = sizeOf(v.shape);
    const at = this.work(4 * n);
    this.#gemm.heap.f32.set(a.subarray(v.offset, v.offset + n), at >> 2);
    return at;
  }

  /**
   * A float32 output of `n` elements for a kernel to write: its byte address, and the
   * result once written (copied out of a work block when the array is not in the memory).
   * `zero`: the kernel adds into it.
   */
  out(n: number, zero = false): [number, () => DataId] {
    const a = this.#memory.array('float32', n) as Float32Array;
    const result = () => wrap(a);
    if (this.#memory.owns(a)) {
      if (zero) this.#gemm.kernels.fill32(a.byteOffset, n, 0);
      return [a.byteOffset, result];
    }
    const at = this.work(4 * n);
    if (zero) this.#gemm.kernels.fill32(at, n, 0);
    return [at, () => {
      a.set(this.#gemm.heap.f32.subarray(at >> 2, (at >> 2) + n));
      return result();
    }];
  }

  /** A work block of `bytes` for the running primitive: its address. */
  work(bytes: number): number {
    return this.#memory.work(bytes);
  }

  /** `work`, or 0 when the memory is full (for a path that can run without the block). */
  workOrNone(bytes: number): number {
    return unlessFull(() => this.work(bytes));
  }

  /** Work blocks of the given sizes (floats) laid out in one block: their byte addresses. */
  layout(sizes: number[]): number[] {
    const at: number[] = [];
    let end = 0;
    for (const n of sizes) {
      at.push(end);
      end += 4 * roundUp(n, 4);
    }
    const base = this.work(end);
    return at.map((a) => base + a);
  }

  /**
   * N units (images, batch·heads) in chunks of `per` for a driver kernel split by chunks
   * (default: one chunk per part, up to 4 per thread), the last one smaller: `used` chunks,
   * their unit counts as int32s at countsAt.
   */
  chunks(N: number, per = Math.ceil(N / Math.min(N, 4 * this.#gemm.threads))): { per: number; used: number; countsAt: number } {
    const used = Math.ceil(N / per);
    const countsAt = this.int32s(Array.from({ length: used }, (_, k) => Math.min(per, N - k * per)));
    return { per, used, countsAt };
  }

  /** A work block holding `values` as int32s (a kernel's table): its address. */
  int32s(table: ArrayLike<number>): number {
    const at = this.work(4 * table.length);
    new Int32Array(this.#gemm.heap.f32.buffer, at, table.length).set(table);
    return at;
  }
}

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

export function allFloat32(...views: View[]): boolean {
  return views.every((v) => v.dtype === 'float32');
}
