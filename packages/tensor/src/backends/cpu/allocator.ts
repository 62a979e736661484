import { allocArray, type DType, type TypedArray } from '../../dtype.js';
import { checkOptions, optionKeys } from '../../options.js';

/**
 * Where a CPU-family backend's kernels get the arrays they write: every output array and
 * every tensor-sized temporary comes from here (small index tables and float64
 * accumulators, which never become tensor data, are plain arrays). A backend passes its
 * own to `CpuBackend` (the wasm backend: blocks of its WebAssembly memory).
 */
export interface ArrayAllocator {
  /** An array of `n` elements whose contents are undefined: the caller writes every element. */
  array(dtype: DType, n: number): TypedArray;
  /** An array of `n` elements all equal to `value`. */
  filled(dtype: DType, n: number, value: number): TypedArray;
  /**
   * Take back an array this allocator handed out (a disposed tensor's data, or a
   * temporary a kernel is done with); the caller must not touch it again.
   */
  recycle(a: TypedArray): void;
  /**
   * Optional: take an array it handed out during the running primitive out of that
   * primitive's temporaries, as it outlives the primitive (a buffer a fused kernel saves
   * for the backward pass). Needed by allocators that give back a primitive's arrays when
   * it returns (the wasm backend's).
   */
  detach?(a: TypedArray): void;
}

/** An array of `n` zeros from `alloc`. */
export const zeroed = (alloc: ArrayAllocator, dtype: DType, n: number): TypedArray => alloc.filled(dtype, n, 0);

/** The host allocator's defaults: arrays this long or longer are kept, up to this many bytes. */
const POOL_MIN_LENGTH = 4096;
const POOL_BYTES = 256 * 2 ** 20;

export interface HostAllocatorOptions {
  /** most bytes of given-back arrays kept for reuse (default 256 MiB) */
  poolBytes?: number;
  /** shortest array kept for reuse (default 4096 elements; shorter ones are cheap to make) */
  minLength?: number;
}
const HOST_KEYS = optionKeys<HostAllocatorOptions>()(['poolBytes', 'minLength']);

/** A number per dtype, and the pool's key for arrays of `n` elements of a dtype (a number: no string built per array). */
const CODE: Record<DType, number> = { float32: 0, float64: 1, int32: 2, bool: 3 };
const codeOf = (a: TypedArray): number => (a instanceof Float32Array ? 0 : a instanceof Float64Array ? 1 : a instanceof Int32Array ? 2 : 3);
const poolKey = (code: number, n: number): number => 4 * n + code;

/**
 * The CPU backend's default allocator: ordinary typed arrays, with buffer reuse. Training
 * loops free and allocate the same sizes every step, so large arrays given back (up to
 * `poolBytes` in all) are kept and handed to the next request of the same dtype and length:
 * that saves the zero-fill and, above all, the garbage collector's work on them. (On this
 * kind of machine a fresh multi-megabyte array costs a page fault per 4 KiB on first touch,
 * several times the cost of clearing memory that is already mapped.)
 */
export class HostAllocator implements ArrayAllocator {
  readonly #pool = new Map<number, TypedArray[]>();
  #pooledBytes = 0;
  readonly #minLength: number;
  readonly #maxBytes: number;

  constructor(options: HostAllocatorOptions = {}) {
    checkOptions('HostAllocator', options, HOST_KEYS);
    this.#maxBytes = options.poolBytes ?? POOL_BYTES;
    this.#minLength = options.minLength ?? POOL_MIN_LENGTH;
  }

  array(dtype: DType, n: number): TypedArray {
    return this.#take(dtype, n) ?? allocArray(dtype, n);
  }

  filled(dtype: DType, n: number, value: number): TypedArray {
    const a = this.#take(dtype, n);
    if (a) return a.fill(value);
    const fresh = allocArray(dtype, n);
    return Object.is(value, 0) ? fresh : fresh.fill(value); // fresh arrays are +0 already
  }

  recycle(a: TypedArray): void {
    if (a.length < this.#minLength || this.#pooledBytes + a.byteLength > this.#maxBytes) return;
    const key = poolKey(codeOf(a), a.length);
    const list = this.#pool.get(key);
    if (list) list.push(a);
    else this.#pool.set(key, [a]);
    this.#pooledBytes += a.byteLength;
  }

  /** bytes held for reuse */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** A kept array of exactly `n` elements of `dtype`, taken out of the pool, if there is one. */
  #take(dtype: DType, n: number): TypedArray | undefined {
    if (n < this.#minLength) return undefined;
    const a = this.#pool.get(poolKey(CODE[dtype], n))?.pop();
    if (a) this.#pooledBytes -= a.byteLength;
    return a;
  }
}
