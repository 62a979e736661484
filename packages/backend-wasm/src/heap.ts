import { bytesPerElement, type DType, type HeapInfo, type TypedArray } from '@ml/tensor';

const PAGE = 65536;
/** every block starts on 16 bytes and ends with 16 bytes of slack (vector kernels read and write whole vectors) */
const ALIGN = 16;
const SLACK = 16;
/** address 0 is never handed out */
const START = 64;

type ArrayCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;
const CTORS: Record<DType, ArrayCtor> = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array };

/** Given-back arrays kept for reuse at most (a typed array object each, registered). */
const IDLE_ARRAYS = 4096;

/**
 * An address the heap has handed a block out at. It stays while the block is taken or an
 * idle array waits there, so a block taken and given back again and again at one address
 * (a training step's, a `tidy` loop's) costs no map insertion or deletion.
 */
interface Slot {
  /** the block's bytes while it is taken; 0 while it is free */
  size: number;
  /** a given-back array of this address, waiting to be handed out again (see `array()`) */
  idle: TypedArray | null;
}

/** A work block did not fit in the module memory (the backend then runs the op as CPU code). */
export class MemoryFullError extends RangeError {
  override name = 'MemoryFullError';
}

/** The address `alloc` returns, or 0 when it finds the memory full (for a path that can run without the block). */
export function unlessFull(alloc: () => number): number {
  try {
    return alloc();
  } catch (e) {
    if (e instanceof MemoryFullError) return 0;
    throw e;
  }
}

/**
 * The allocator of a WebAssembly memory: blocks of 16-byte-aligned bytes, each with 16
 * bytes of slack, taken from per-size free lists of freed blocks (training loops free and
 * take the same sizes every step) or from the top, which grows the memory. A freed block
 * at the top lowers it, with any free blocks below.
 *
 * Arrays handed out by `array()` are views of the memory: with a shared memory they stay
 * valid when it grows; an array that is dropped without `freeArray` is reclaimed once the
 * garbage collector finds it unreachable. Only this object grows the memory.
 */
export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  /** whether arrays of the memory stay valid across growth (shared memory), so tensors may live in it */
  readonly resident: boolean;
  #top = START;
  /** taken blocks and idle arrays by address (see Slot) */
  readonly #slots = new Map<number, Slot>();
  /** the slot of the block `#use` took last (`array()` reads its idle array) */
  #taken: Slot | null = null;
  #liveBlocks = 0;
  /** slots holding an idle array */
  #idleCount = 0;
  /** free blocks by size, and by end address (to lower the top past them) */
  readonly #free = new Map<number, number[]>();
  readonly #freeEnds = new Map<number, number>();
  #liveBytes = 0;
  #freeBytes = 0;
  #buffer: ArrayBufferLike;
  /** the buffer's size (read once per growth: a shared buffer's byteLength is slow to ask) */
  #bytes: number;
  #f32: Float32Array;
  /** the memory's buffers so far (a shared memory gets a new one per growth; all view the same bytes) */
  readonly #buffers = new WeakSet<ArrayBufferLike>();
  /**
   * Arrays from `array()`, registered with the block each holds: the registry frees a
   * block whose array is dropped without `freeArray`. A given-back array stays registered
   * while it waits, idle in its slot, for the next array of its dtype and length at its
   * address (making a view and registering it cost more than a small op's kernel; the loop
   * of a training step or a `tidy` takes the same blocks again and again). At most
   * IDLE_ARRAYS wait.
   */
  readonly #arrays = new FinalizationRegistry<number>((at) => this.#release(at));
  /** handed out (weakly: the registry must see a dropped one go) */
  readonly #handed = new WeakSet<TypedArray>();

  /** bytes below which arrays' blocks must lie (7/8 of the memory's maximum: the rest is for work blocks) */
  readonly #arrayLimit: number;

  /** `maxBytes`: the memory's maximum size. */
  constructor(memory: WebAssembly.Memory, maxBytes: number) {
    this.memory = memory;
    this.#arrayLimit = Math.floor(maxBytes * 0.875);
    this.#buffer = memory.buffer;
    this.#bytes = this.#buffer.byteLength;
    this.resident = typeof SharedArrayBuffer !== 'undefined' && this.#buffer instanceof SharedArrayBuffer;
    this.#buffers.add(this.#buffer);
    this.#f32 = new Float32Array(this.#buffer);
  }

  /** The whole memory as floats (take it again after anything that may allocate). */
  get f32(): Float32Array {
    return this.#f32;
  }

  /**
   * A block of at least `bytes` bytes: its address, or 0 when the memory cannot grow that
   * far (or, with `below`, not without its top passing that many bytes).
   */
  alloc(bytes: number, below = Infinity): number {
    const size = ((bytes + ALIGN - 1) & ~(ALIGN - 1)) + SLACK;
    let at = this.#takeFree(size);
    if (at === 0 && this.#top + size <= below) at = this.#bump(size);
    if (at === 0) at = this.#takeLarger(size);
    return at;
  }

  #use(at: number, size: number): number {
    let slot = this.#slots.get(at);
    if (slot === undefined) this.#slots.set(at, (slot = { size, idle: null }));
    else slot.size = size;
    this.#taken = slot;
    this.#liveBlocks++;
    this.#liveBytes += size;
    return at;
  }

  #takeFree(key: number): number {
    const at = this.#free.get(key)?.pop();
    if (at === undefined) return 0;
    this.#freeEnds.delete(at + key);
    this.#freeBytes -= key;
    return this.#use(at, key);
  }

  #bump(size: number): number {
    const end = this.#top + size;
    if (end > this.#bytes) {
      try {
        this.memory.grow(Math.ceil((end - this.#bytes) / PAGE));
      } catch {
        return 0; // at the memory's maximum
      }
      this.#buffer = this.memory.buffer;
      this.#bytes = this.#buffer.byteLength;
      this.#buffers.add(this.#buffer);
      this.#f32 = new Float32Array(this.#buffer);
    }
    const at = this.#top;
    this.#top = end;
    return this.#use(at, size);
  }

  /** When the memory is full: the smallest free block that is larger (used whole). */
  #takeLarger(size: number): number {
    let best = 0;
    for (const [key, list] of this.#free) if (key > size && list.length > 0 && (best === 0 || key < best)) best = key;
    return best === 0 ? 0 : this.#takeFree(best);
  }

  /** Give back the block at `at`; false if there is no live block there. */
  free(at: number): boolean {
    return this.#release(at);
  }

  #release(at: number): boolean {
    const slot = this.#slots.get(at);
    if (slot === undefined || slot.size === 0) return false;
    const size = slot.size;
    slot.size = 0;
    if (slot.idle === null) this.#slots.delete(at);
    this.#liveBlocks--;
    this.#liveBytes -= size;
    if (at + size === this.#top) {
      this.#top = at;
      for (let below = this.#freeEnds.get(this.#top); below !== undefined; below = this.#freeEnds.get(this.#top)) {
        const key = this.#top - below;
        const list = this.#free.get(key) as number[];
        list.splice(list.lastIndexOf(below), 1);
        this.#freeEnds.delete(this.#top);
        this.#freeBytes -= key;
        this.#top = below;
      }
    } else {
      const list = this.#free.get(size);
      if (list) list.push(at);
      else this.#free.set(size, [at]);
      this.#freeEnds.set(at + size, at);
      this.#freeBytes += size;
    }
    return true;
  }

  /** Forget the idle array of a slot (and the slot, when its block is free). */
  #dropIdle(at: number, slot: Slot): void {
    if (slot.idle === null) return;
    this.#arrays.unregister(slot.idle);
    slot.idle = null;
    this.#idleCount--;
    if (slot.size === 0) this.#slots.delete(at);
  }

  /** Past IDLE_ARRAYS idle arrays: forget those of the slots first used longest ago, down to half. */
  #trimIdle(): void {
    for (const [at, slot] of this.#slots) {
      if (this.#idleCount <= IDLE_ARRAYS >> 1) return;
      this.#dropIdle(at, slot);
    }
  }

  /**
   * An array of `n` elements of `dtype` in a new block (contents undefined), or null when
   * the memory is 7/8 full or not shared (a view of an unshared memory would be detached
   * by its next growth).
   */
  array(dtype: DType, n: number): TypedArray | null {
    if (!this.resident) return null;
    const at = this.alloc(Math.max(1, n * bytesPerElement(dtype)), this.#arrayLimit);
    if (at === 0) return null;
    const ctor = CTORS[dtype];
    // an idle array at this address is a view of exactly this block when dtype and length
    // agree; either way the slot holds it no more (a handed-out array must be free to go)
    const slot = this.#taken as Slot;
    let a = slot.idle;
    if (a !== null) {
      slot.idle = null;
      this.#idleCount--;
      if (a.constructor !== ctor || a.length !== n) {
        this.#arrays.unregister(a);
        a = null;
      }
    }
    if (a === null) {
      a = new ctor(this.#buffer, at, n);
      this.#arrays.register(a, at, a);
    }
    this.#handed.add(a);
    return a;
  }

  /** Whether `a` is a view of this memory. */
  owns(a: TypedArray): boolean {
    return a.buffer === this.#buffer || this.#buffers.has(a.buffer);
  }

  /**
   * Give back the block of an array from `array()`; false if it is not one, or was given
   * back already. The array object may be handed out again, as itself, for the next array
   * of its dtype and length at its address: drop every reference to it.
   */
  freeArray(a: TypedArray): boolean {
    if (!this.#handed.delete(a)) return false;
    const at = a.byteOffset;
    const slot = this.#slots.get(at);
    if (slot === undefined || slot.size === 0) return false; // not reached: a handed-out array's block is taken
    // idle before the release, so the slot stays: a block given back keeps its address's slot
    if (slot.idle === null) this.#idleCount++;
    else this.#arrays.unregister(slot.idle);
    slot.idle = a;
    this.#release(at);
    if (this.#idleCount > IDLE_ARRAYS) this.#trimIdle();
    return true;
  }

  /** Bytes reserved (the memory's size), in live blocks and in free blocks, and the live block count. */
  info(): HeapInfo {
    return { reservedBytes: this.#bytes, liveBytes: this.#liveBytes, freeBytes: this.#freeBytes, liveBlocks: this.#liveBlocks };
  }
}
