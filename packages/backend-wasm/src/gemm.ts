import { checkOptions, optionKeys, type TypedArray } from '@ml/tensor';
import { BATCH_A, BATCH_B, GEMM_ROWS, kernelModule, kernelOf, MAX_PAGES, PEAK_ACCUMULATORS, positional, relaxedSimdSupported, type ArgsOf, type KernelExports, type KernelName, type PointerOf, type SplitKernel } from './kernels/index.js';
import { MemoryFullError, WasmHeap } from './heap.js';
import { ThreadPool, defaultThreads, type SplitPlan } from './threads.js';

/** B for `run` to pack: a row-major K×N matrix at byte address `from`, or stored transposed (N×K). */
export interface PackB {
  from: number;
  transposed: boolean;
  N: number;
}

/** A strided float32 matrix: element (i, j) of batch b is at offset + b·sb + i·si + j·sj. */
export interface Strided {
  data: TypedArray;
  offset: number;
  sb: number;
  si: number;
  sj: number;
}

const PAGE = 65536;
/**
 * Whether the product reads a row-major B of whole panels where it lies (gemmRows) instead
 * of packing it: B stays in a core's cache, and A has too few rows for packing to pay back.
 */
function readsInPlace(pack: PackB, K: number, Np: number, Mp: number): boolean {
  return !pack.transposed && pack.N === Np && 4 * K * Np <= IN_PLACE_B_BYTES && Mp <= IN_PLACE_MAX_ROWS;
}

/** 1 GiB: shared memories need a maximum, reserved up front by some engines */
const SHARED_MAX_PAGES = 16384;
/** bytes of a row-major B read in place by the product instead of packed (it stays in a core's cache) */
const IN_PLACE_B_BYTES = 1 << 19;
/**
 * rows of A (padded) up to which B is read in place: each k step of gemmRows reads 32 bytes
 * of a B row ldb bytes from the last, half a cache line; packed panels are contiguous. On
 * this 2-core Zen 4 (one thread, B [128, 512] or [512, 128]) reading in place ran at 48–52
 * GFLOP/s up to 64 rows and packing too, but at 256–2048 rows packing (its cost included)
 * ran at 48–53 against 30–45 in place.
 */
const IN_PLACE_MAX_ROWS = 64;
/** products smaller than this many multiply-adds stay on one thread */
const THREADED_MIN_WORK = 1 << 20;
/** bytes of A a product keeps in a core's cache across its panels (more: it goes in blocks of rows) */
const A_BLOCK_BYTES = 1 << 18;
/** fewest rows in such a block (for a K so long that fewer would fit: smaller parts do not pay for their claims) */
const A_BLOCK_MIN_ROWS = 16;
/** most bytes of packed B for a product whose A goes in blocks of rows (each block reads B again) */
const B_CACHED_BYTES = 1 << 19;
/** kernels that move fewer bytes than this stay on one thread */
export const PARALLEL_MIN_BYTES = 1 << 18;
/** `n` bytes rounded up to a whole number of 16-byte vectors */
export const align16 = (n: number) => (n + 15) & ~15;

/** A shared memory where SharedArrayBuffer is enabled (Node, cross-origin-isolated pages), else null. */
function sharedMemory(maximum: number): WebAssembly.Memory | null {
  if (typeof SharedArrayBuffer === 'undefined') return null;
  try {
    return new WebAssembly.Memory({ initial: 16, maximum, shared: true });
  } catch {
    return null;
  }
}

/** The kernels module's functions (addresses in bytes), their signatures from the kernels' table (kernels/index.ts). */
export type { KernelExports } from './kernels/index.js';

/**
 * A split kernel's call by position from its arguments by name: the arguments, the plan
 * (the units' argument, the moving pointers with their bytes per unit, and the value a
 * range's last unit runs with, where the table gives one and it changes anything), and
 * the number of units.
 */
function planOf<K extends SplitKernel>(kernel: K, args: ArgsOf<K>, strides: Record<PointerOf<K>, number>): [number[], SplitPlan, number] {
  const entry = kernelOf(kernel);
  const split = entry.split;
  if (split === undefined) throw new Error(`@ml/backend-wasm: the ${kernel} kernel does not split`);
  const names = Object.keys(entry.params);
  const at = (name: string) => names.indexOf(name);
  const values = positional(kernel, args);
  const last = split.last !== undefined && values[at(split.last.arg)] !== split.last.value ? ([at(split.last.arg), split.last.value] as const) : undefined;
  const ptrs = split.pointers.map((p) => [at(p), (strides as Record<string, number>)[p]] as const);
  return [values, { count: at(split.units), ptrs, last }, values[at(split.units)]];
}

const GEMM_KEYS = optionKeys<{ threads?: number; fma?: boolean; maxMemory?: number }>()(['threads', 'fma', 'maxMemory']);

/**
 * Batched float32 matrix products on the SIMD kernel, and the module memory with its
 * allocator (`heap`) that the backend's tensors live in. Operands already in the memory
 * are used in place where their layout allows (A with contiguous rows, B's rows staged
 * for packing, C written straight into the output); others are copied into work blocks.
 * Large products split their column panels across worker threads sharing the memory; a
 * batch of small ones runs as one call (gemmBatch) split by items.
 */
export class WasmGemm {
  readonly memory: WebAssembly.Memory;
  /** the allocator of `memory` */
  readonly heap: WasmHeap;
  /** threads a large product runs on (this one included) */
  readonly threads: number;
  /** every kernel of the module, for the calling thread */
  readonly kernels: KernelExports;
  readonly #gemm: KernelExports['gemm'];
  readonly #pool: ThreadPool | null;

  /** whether the product uses fused multiply-add (relaxed SIMD) */
  readonly fma: boolean;

  /**
   * Whether a large product whose A is stored transposed and wider than B runs swapped
   * (see `#swapped`): the same values either way (for tests and benches comparing them).
   */
  swapsTransposedA = true;

  /** products run swapped so far (see `swapsTransposedA`) */
  swappedProducts = 0;

  /**
   * `threads` defaults to the machine's cores where worker threads and SharedArrayBuffer
   * exist (Node, isolated pages), else 1. The memory is shared wherever SharedArrayBuffer
   * exists (so tensors can live in it: its views survive growth), even on one thread.
   * `fma` (default: where the engine has relaxed SIMD — current browsers, Node ≥ 22; on
   * Node 20 only after `enableRelaxedSimd()`) builds the products with fused multiply-adds. `maxMemory`: bytes the memory may grow
   * to (default and most: 1 GiB shared, 4 GiB unshared).
   */
  constructor(options: { threads?: number; fma?: boolean; maxMemory?: number } = {}) {
    checkOptions('WasmGemm', options, GEMM_KEYS);
    const wanted = Math.max(1, Math.floor(options.threads ?? defaultThreads()));
    this.fma = (options.fma ?? true) && relaxedSimdSupported();
    const max = options.maxMemory;
    if (max !== undefined && !(max > 0)) throw new RangeError(`@ml/backend-wasm: maxMemory must be a positive number of bytes, got ${max}`);
    const pages = (most: number) => Math.min(most, Math.max(16, Math.ceil((options.maxMemory ?? Infinity) / PAGE)));
    const shared = sharedMemory(pages(SHARED_MAX_PAGES));
    const maxPages = shared ? pages(SHARED_MAX_PAGES) : pages(MAX_PAGES);
    this.memory = shared ?? new WebAssembly.Memory({ initial: 16, maximum: maxPages });
    this.heap = new WasmHeap(this.memory, maxPages * PAGE);
    const bytes = kernelModule(shared !== null, this.fma);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    this.#gemm = this.kernels.gemm;
    this.#pool = shared !== null && wanted > 1 ? new ThreadPool(this.memory, wanted - 1, bytes, this.kernels) : null;
    this.threads = this.#pool?.size ?? 1;
  }

  /** Resolves once the worker threads have started (at once on one thread); until then the calling thread does their share. */
  async whenReady(): Promise<void> {
    await this.#pool?.whenReady();
  }

  /** Where the extra threads run: 'node' (worker_threads), 'web' (Web Workers), or null (one thread). */
  get threadKind(): 'node' | 'web' | null {
    return this.#pool?.kind ?? null;
  }

  /** Stop the worker threads (the object stays usable on one thread). */
  async close(): Promise<void> {
    await this.#pool?.close();
  }

  /** Bytes of the module memory (live and free blocks, and never used space). */
  get bytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** A work block of `bytes` (its address), or a clear error when the memory is full. */
  alloc(bytes: number): number {
    const at = this.heap.alloc(bytes);
    if (at === 0) throw new MemoryFullError(`@ml/backend-wasm: the WebAssembly memory is full (${this.bytes} bytes; ${bytes} more needed)`);
    return at;
  }

  /** kernel calls split across the threads so far (see `split`) */
  splitCalls = 0;

  /**
   * `kernel(args)`, arguments by name, on the calling thread:
   * `gemm.call('fill32', { dst, n, value: 0 })`.
   */
  call<K extends KernelName>(kernel: K, args: ArgsOf<K>): void {
    (this.kernels[kernel] as (...a: number[]) => void)(...positional(kernel, args));
  }

  /**
   * `kernel(args)`, arguments by name, split across the threads into ranges of its units
   * when it moves `bytes` ≥ 256 KiB (smaller calls, and any on one thread: one plain call).
   * Which argument counts the units and which pointers move on come from the kernel's table
   * entry; `strides` gives each pointer's bytes per unit:
   * `gemm.split('relu', { x, out, n4 }, { x: 16, out: 16 }, 8 * n)`.
   */
  split<K extends SplitKernel>(kernel: K, args: ArgsOf<K>, strides: Record<PointerOf<K>, number>, bytes: number): void {
    const [positionalArgs, plan, units] = planOf(kernel, args, strides);
    this.parallel(kernel, positionalArgs, plan, units, bytes);
  }

  /**
   * `kernel(...args)`, split by `plan` into ranges of its `units` across the threads when
   * it moves `bytes` ≥ 256 KiB (smaller ones, and any on one thread: one plain call).
   * Arguments by position; `split` takes them by name and writes the plan itself.
   */
  parallel(kernel: SplitKernel, args: readonly number[], plan: SplitPlan, units: number, bytes: number): void {
    if (this.#pool === null || bytes < PARALLEL_MIN_BYTES || units < 2) {
      (this.kernels[kernel] as (...a: number[]) => void)(...args);
      return;
    }
    this.splitCalls++;
    this.#pool.split(kernel, args, plan, units, Math.min(units, 4 * this.threads));
  }

  /**
   * This machine's WebAssembly SIMD ceiling in GFLOP/s: a loop of f32x4 multiply-adds
   * (fused where the product's are) on registers only — no loads, no stores — run on every
   * thread of the pool at once, as a large product runs; the median of repeated runs over
   * about `ms` milliseconds, once the worker threads have started. No product on this
   * backend can be faster; the bench prints it next to the matmul rows.
   */
  async fmaPeak(ms = 500): Promise<{ gflops: number; threads: number; runs: number }> {
    await this.whenReady();
    const iters = 1 << 16; // a unit: 8 flops × PEAK_ACCUMULATORS × 65,536 ≈ 6.3 MFLOP
    const units = 4 * this.threads;
    const out = this.alloc(4 * units);
    const once = () => {
      const t0 = performance.now();
      if (this.#pool === null) this.kernels.fmaPeak(units, out, iters);
      else this.#pool.split('fmaPeak', ...planOf('fmaPeak', { units, out, iters }, { out: 4 }), units);
      return performance.now() - t0;
    };
    try {
      once();
      const times: number[] = [];
      for (const t0 = performance.now(); times.length < 5 || performance.now() - t0 < ms; ) times.push(once());
      times.sort((x, y) => x - y);
      return { gflops: (8 * PEAK_ACCUMULATORS * iters * units) / times[times.length >> 1] / 1e6, threads: this.threads, runs: times.length };
    } finally {
      this.heap.free(out);
    }
  }

  /**
   * C = A·B on operands already laid out in the memory (addresses in bytes): A row-major
   * [Mp, K] with Mp a multiple of GEMM_ROWS, B packed (packB/packBT) with Np = 8·panels,
   * C row-major [Mp, Np]. Large products split their panels across the threads. With
   * `pack`, B is packed into bAt as part of the product (by whichever thread takes each
   * panel) from a row-major K×N matrix at `pack.from`, or from its transpose.
   */
  run(aAt: number, bAt: number, cAt: number, Mp: number, K: number, Np: number, pack?: PackB, biasAt = 0): void {
    const P = Np / 8;
    // a row-major B of whole panels small enough to stay in the cache is read where it lies
    // (gemmRows), not packed (not with a bias row: gemmBias reads packed panels)
    const inPlace = pack !== undefined && biasAt === 0 && readsInPlace(pack, K, Np, Mp);
    const [src, how, N] = pack === undefined ? [0, 0, 0] : [pack.from, inPlace ? 3 : pack.transposed ? 2 : 1, pack.N];
    const panels = (p0: number, p1: number) => {
      if (how === 3) return this.kernels.gemmRows(aAt, src, cAt, Mp, K, Np, p0, p1, 4 * N);
      if (how === 1) this.kernels.packB(src, bAt, K, N, p0, p1);
      else if (how === 2) this.kernels.packBT(src, bAt, K, N, p0, p1);
      if (biasAt !== 0) this.kernels.gemmBias(aAt, bAt, cAt, Mp, K, Np, p0, p1, biasAt);
      else this.#gemm(aAt, bAt, cAt, Mp, K, Np, p0, p1);
    };
    if (this.#pool === null || Mp * K * Np < THREADED_MIN_WORK || P > 0xffff) return panels(0, P);
    // on threads, an A larger than a core's share of the cache, with a B that stays in the
    // cache, goes in blocks of rows: the threads work on one block at a time, its rows
    // shared in the cache across the panels (every block reads all of B again), and the
    // parts are smaller, so the threads finish together. B is packed first, by a job of its
    // own. (On one thread blocks of rows measured no faster.)
    const blocked = how !== 3 && 4 * Mp * K > A_BLOCK_BYTES && 4 * K * Np <= B_CACHED_BYTES;
    const rows = blocked ? Math.max(A_BLOCK_MIN_ROWS, Math.floor(A_BLOCK_BYTES / (4 * K * GEMM_ROWS)) * GEMM_ROWS) : Mp;
    if (rows < Mp && (how === 1 || how === 2)) {
      this.#pool.gemm([aAt, bAt, cAt, 0, K, Np, src, how, N, 0], P);
      this.#pool.gemm([aAt, bAt, cAt, Mp, K, Np, 0, 0, 0, biasAt], P, rows);
    } else this.#pool.gemm([aAt, bAt, cAt, Mp, K, Np, src, how, N, biasAt], P, rows);
  }

  /**
   * out[b] = A[b] · B[b] for b < batch; A is [M, K], B is [K, N], out row-major [batch, M,
   * N]. `biasAt`: the address of a row of 8·⌈N/8⌉ floats (zeros past N) each product starts
   * from (gemmBias: + bias as the results are written), or 0.
   */
  matmul(A: Strided, B: Strided, batch: number, M: number, K: number, N: number, out: Float32Array, biasAt = 0): void {
    if (batch === 1 && biasAt === 0 && this.#swapped(A, B, M, K, N, out)) return;
    const Mp = Math.ceil(M / GEMM_ROWS) * GEMM_ROWS;
    const P = Math.ceil(N / 8);
    const Np = 8 * P;
    if (biasAt === 0 && Mp * K * Np < THREADED_MIN_WORK && this.#batched(A, B, batch, M, K, N, out)) return;
    const heap = this.heap;
    // in place: A's rows when they are contiguous and need no padding rows; C when the
    // output needs neither padding rows nor columns
    const aInPlace = heap.owns(A.data) && A.sj === 1 && A.si === K && M === Mp;
    const cInPlace = heap.owns(out) && M === Mp && N === Np;
    // B with contiguous rows, or stored transposed with contiguous columns, is packed by
    // the kernel from a staged copy, or from where it lies when that is the memory
    const { rows: stageB, columns: stageBT, inPlace: bInPlace } = this.#layoutOfB(B, K, N);
    const aBytes = aInPlace ? 0 : align16(Mp * K * 4);
    const bBytes = align16(P * K * 32);
    const cBytes = cInPlace ? 0 : align16(Mp * Np * 4);
    const sBytes = (stageB || stageBT) && !bInPlace ? align16(K * N * 4) : 0;
    const work = this.alloc(aBytes + bBytes + cBytes + sBytes);
    try {
      const f = heap.f32;
      const bAt = work;
      const aWork = work + bBytes;
      const cWork = aWork + aBytes;
      const sAt = cWork + cBytes;
      let pack: PackB | undefined; // B packed by the product itself
      for (let bi = 0; bi < batch; bi++) {
        const ad = A.data;
        const aBase = A.offset + bi * A.sb;
        const aAt = aInPlace ? ad.byteOffset + 4 * aBase : aWork;
        const aSame = bi > 0 && A.sb === 0; // one A for every batch: already in place
        const bSame = bi > 0 && B.sb === 0;
        if (!aInPlace && !aSame) this.#stageA(f, aWork >> 2, A, aBase, M, K, Mp);
        // B, panel by panel: K rows of 8 columns, zeros past N
        const bd = B.data;
        const bBase = B.offset + bi * B.sb;
        if ((stageB || stageBT) && !bSame) {
          let from = bd.byteOffset + 4 * bBase;
          if (!bInPlace) {
            from = sAt;
            const s0 = sAt >> 2;
            if (stageB && B.si === N) f.set(bd.subarray(bBase, bBase + K * N), s0);
            else if (stageB) for (let k = 0; k < K; k++) f.set(bd.subarray(bBase + k * B.si, bBase + k * B.si + N), s0 + k * N);
            else if (B.sj === K) f.set(bd.subarray(bBase, bBase + K * N), s0);
            else for (let j = 0; j < N; j++) f.set(bd.subarray(bBase + j * B.sj, bBase + j * B.sj + K), s0 + j * K);
          }
          pack = { from, transposed: !stageB, N };
        } else if (!bSame) {
          pack = undefined;
          this.#packStrided(f, bAt >> 2, B, bBase, K, N, P);
        } else if (pack !== undefined && !(biasAt === 0 && readsInPlace(pack, K, Np, Mp))) {
          // one B for every batch, packed into bAt by the first product: reuse the panels.
          // A B read where it lies (not packed) is read there again.
          pack = undefined;
        }
        const cAt = cInPlace ? out.byteOffset + 4 * bi * M * N : cWork;
        this.run(aAt, bAt, cAt, Mp, K, Np, pack, biasAt);
        if (!cInPlace) this.#unpad(cWork, out, bi * M * N, M, N, Np);
      }
    } finally {
      heap.free(work);
    }
  }

  /**
   * C = A·B for an A stored transposed and wider than B (a weight gradient ∂Yᵀ·X whose
   * layer has more outputs than inputs: A = ∂Yᵀ [M, K] over K tokens, B = X [K, N], N < M)
   * as C = (Bᵀ·Aᵀ)ᵀ: staging A's rows would transpose all of ∂Y, and the product, its M×K
   * rows too large for the cache, would stream them once per pair of B's panels. Swapped,
   * the narrow Xᵀ is transposed, ∂Y is packed as the wide B from where it lies, and the
   * N×M result is transposed into C. The same products in the same order: the same bits.
   * False (nothing done) unless the product is large, both operands and C are in the
   * memory, and B has contiguous rows.
   */
  #swapped(A: Strided, B: Strided, M: number, K: number, N: number, out: Float32Array): boolean {
    const heap = this.heap;
    if (!this.swapsTransposedA || !heap.resident || N >= M || M * K * N < THREADED_MIN_WORK) return false;
    if (A.si !== 1 || A.sj < M || B.sj !== 1 || !heap.owns(A.data) || !heap.owns(B.data) || !heap.owns(out)) return false;
    const at = this.alloc(4 * N * M);
    try {
      const t = heap.f32.subarray(at >> 2, (at >> 2) + N * M);
      // Bᵀ [N, K] is stored transposed, Aᵀ [K, M] has contiguous rows
      this.matmul({ data: B.data, offset: B.offset, sb: 0, si: 1, sj: B.si }, { data: A.data, offset: A.offset, sb: 0, si: A.sj, sj: 1 }, 1, N, K, M, t);
      this.#transpose(at, out.byteOffset, N, M, M, N);
    } finally {
      heap.free(at);
    }
    this.swappedProducts++;
    return true;
  }

  /**
   * B [K, N] (strided) packed once into its ⌈N/8⌉ panels at bAt (⌈N/8⌉·K·32 bytes), for
   * many products by `packedProduct` (a recurrent layer's W_hh over its steps).
   */
  packInto(B: Strided, K: number, N: number, bAt: number): void {
    const P = Math.ceil(N / 8);
    const { rows, inPlace } = this.#layoutOfB(B, K, N);
    const from = B.data.byteOffset + 4 * B.offset;
    if (inPlace) (rows ? this.kernels.packB : this.kernels.packBT)(from, bAt, K, N, 0, P);
    else this.#packStrided(this.heap.f32, bAt >> 2, B, B.offset, K, N, P);
  }

  /**
   * How B [K, N] is packed: its rows contiguous (packB) or stored transposed, its columns
   * contiguous (packBT), or neither (element by element); `inPlace` where the kernel can
   * pack it from where it lies (one block of the memory).
   */
  #layoutOfB(B: Strided, K: number, N: number): { rows: boolean; columns: boolean; inPlace: boolean } {
    const rows = B.sj === 1 && (B.si !== 1 || N === 1);
    const columns = !rows && B.si === 1;
    return { rows, columns, inPlace: this.heap.owns(B.data) && ((rows && B.si === N) || (columns && B.sj === K)) };
  }

  /** C's M rows of N floats out of its padded rows of Np at byte cAt, into out from element o. */
  #unpad(cAt: number, out: Float32Array, o: number, M: number, N: number, Np: number): void {
    const [f, c] = [this.heap.f32, cAt >> 2];
    if (Np === N) out.set(f.subarray(c, c + M * N), o);
    else for (let i = 0; i < M; i++) out.set(f.subarray(c + i * Np, c + i * Np + N), o + i * N);
  }

  /** out [M, N] row-major = A [M, K] (strided) · the B packed at bAt by packInto. */
  packedProduct(A: Strided, M: number, K: number, N: number, bAt: number, out: Float32Array): void {
    const Mp = Math.ceil(M / GEMM_ROWS) * GEMM_ROWS;
    const Np = 8 * Math.ceil(N / 8);
    const heap = this.heap;
    const aInPlace = heap.owns(A.data) && A.sj === 1 && A.si === K && M === Mp;
    const cInPlace = heap.owns(out) && M === Mp && N === Np;
    const aBytes = aInPlace ? 0 : align16(Mp * K * 4);
    const work = this.alloc(Math.max(16, aBytes + (cInPlace ? 0 : align16(Mp * Np * 4))));
    try {
      if (!aInPlace) this.#stageA(heap.f32, work >> 2, A, A.offset, M, K, Mp);
      const aAt = aInPlace ? A.data.byteOffset + 4 * A.offset : work;
      const cAt = cInPlace ? out.byteOffset : work + aBytes;
      this.run(aAt, bAt, cAt, Mp, K, Np);
      if (!cInPlace) this.#unpad(cAt, out, 0, M, N, Np);
    } finally {
      heap.free(work);
    }
  }

  /**
   * out[b] = A[b] · B[b] as one call of gemmBatch, split across the threads by items: for
   * small products (too small to split by panels), whose JavaScript loop would cost as much
   * as the products. Needs `out` in the memory, and B there with contiguous rows or columns
   * (or one B for every item, packed here once). A is read where it lies, or copied or
   * transposed item by item by the kernel where the memory holds it; otherwise it is
   * staged here for the whole batch. Returns false, having done nothing, for a B it cannot
   * take: the caller's loop then runs the batch.
   */
  #batched(A: Strided, B: Strided, batch: number, M: number, K: number, N: number, out: Float32Array): boolean {
    const heap = this.heap;
    if (!heap.owns(out)) return false;
    const Mp = Math.ceil(M / GEMM_ROWS) * GEMM_ROWS;
    const P = Math.ceil(N / 8);
    const Np = 8 * P;
    const bOwned = heap.owns(B.data);
    const rowsB = B.sj === 1 && (B.si !== 1 || N === 1);
    const bRows = bOwned && rowsB && B.si === N;
    const bCols = bOwned && !rowsB && B.si === 1 && B.sj === K;
    const bFrom = B.data.byteOffset + 4 * B.offset;
    // B: one for every item is packed here once (unless read where it lies)
    const inPlaceB = bRows && N === Np && 4 * K * Np <= IN_PLACE_B_BYTES;
    const packOnce = B.sb === 0 && !inPlaceB;
    if (!packOnce && !inPlaceB && !bRows && !bCols) return false;
    const bMode = inPlaceB ? BATCH_B.inPlace : packOnce ? BATCH_B.packed : bRows ? BATCH_B.rows : BATCH_B.transposed;
    // A: where it lies, or copied or transposed by the kernel, or staged here
    const aOwned = heap.owns(A.data);
    const aInPlace = aOwned && A.sj === 1 && A.si === K && M === Mp;
    const aStaged = !aInPlace && (A.sb === 0 || !aOwned || (A.sj !== 1 && A.si !== 1));
    const aMode = aInPlace || aStaged ? BATCH_A.inPlace : A.sj === 1 ? BATCH_A.rows : BATCH_A.transposed;
    const lda = aMode === BATCH_A.rows ? A.si : aMode === BATCH_A.transposed ? A.sj : K;
    const aItems = aStaged ? (A.sb === 0 ? 1 : batch) : 0;
    const direct = M === Mp && N === Np;
    // each item's slot: its A's rows, its packed B, its C with padding; a range of items
    // split off to a thread uses its first item's slot for all of them
    const slot = align16((aMode === BATCH_A.inPlace ? 0 : Mp * K * 4) + (bMode === BATCH_B.rows || bMode === BATCH_B.transposed ? P * K * 32 : 0) + (direct ? 0 : Mp * Np * 4));
    const packBytes = packOnce ? align16(P * K * 32) : 0;
    const stageBytes = align16(aItems * Mp * K * 4);
    const work = this.alloc(Math.max(16, packBytes + stageBytes + batch * slot));
    try {
      const f = heap.f32;
      const packAt = work;
      const stageAt = work + packBytes;
      const sA = stageAt + stageBytes;
      const sB = sA + (aMode === BATCH_A.inPlace ? 0 : Mp * K * 4);
      const sC = sB + (bMode === BATCH_B.rows || bMode === BATCH_B.transposed ? P * K * 32 : 0);
      if (packOnce) {
        if (bRows) this.kernels.packB(bFrom, packAt, K, N, 0, P);
        else if (bCols) this.kernels.packBT(bFrom, packAt, K, N, 0, P);
        else this.#packStrided(f, packAt >> 2, B, B.offset, K, N, P);
      }
      for (let i = 0; i < aItems; i++) this.#stageA(f, (stageAt >> 2) + i * Mp * K, A, A.offset + i * A.sb, M, K, Mp);
      const a = aStaged ? stageAt : A.data.byteOffset + 4 * A.offset;
      const aStep = aStaged ? (A.sb === 0 ? 0 : 4 * Mp * K) : 4 * A.sb;
      const b = packOnce ? packAt : bFrom;
      const bStep = packOnce ? 0 : 4 * B.sb;
      const c = out.byteOffset;
      const args = { a, b, c, sA, sB, sC, batch, M, Mp, K, N, Np, lda, aMode, bMode, aStep, bStep };
      this.split('gemmBatch', args, { a: aStep, b: bStep, c: 4 * M * N, sA: slot, sB: slot, sC: slot }, 4 * batch * (M * K + K * N + M * N));
    } finally {
      heap.free(work);
    }
    return true;
  }

  /** A [M, K] into row-major rows at float `a0`, zero rows up to Mp. */
  #stageA(f: Float32Array, a0: number, A: Strided, aBase: number, M: number, K: number, Mp: number): void {
    const ad = A.data;
    if (A.sj === 1 && A.si === K) {
      f.set(ad.subarray(aBase, aBase + M * K), a0);
    } else if (A.sj === 1) {
      for (let i = 0; i < M; i++) f.set(ad.subarray(aBase + i * A.si, aBase + i * A.si + K), a0 + i * K);
    } else if (A.si === 1 && this.heap.owns(ad) && K > 1) {
      // A stored transposed where the kernels reach it: a SIMD transpose of its K×M block
      this.#transpose(ad.byteOffset + 4 * aBase, 4 * a0, K, M, A.sj, K);
    } else if (A.si === 1) {
      // A stored transposed (column-major): read each column contiguously
      for (let k = 0; k < K; k++) {
        const col = aBase + k * A.sj;
        for (let i = 0; i < M; i++) f[a0 + i * K + k] = ad[col + i];
      }
    } else {
      for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) f[a0 + i * K + k] = ad[aBase + i * A.si + k * A.sj];
    }
    if (Mp > M) this.kernels.fill32(4 * (a0 + M * K), (Mp - M) * K, 0);
  }

  /**
   * dst[c·ds + r] = src[r·ss + c] for r < R, c < C (byte addresses, strides in floats): the
   * SIMD transpose in blocks of `chunk` source rows (a multiple of 4) that the threads
   * share when it is large (a weight gradient's Xᵀ over thousands of tokens), the last
   * R mod chunk rows after them.
   */
  #transpose(src: number, dst: number, R: number, C: number, ss: number, ds: number): void {
    const chunk = Math.max(4, Math.ceil(R / (4 * this.threads) / 4) * 4);
    const blocks = Math.floor(R / chunk);
    if (blocks > 0) this.split('transposeTiled', { src, dst, N: blocks, R: chunk, C, ss, ds, sb: chunk * ss, db: chunk, bias: 0 }, { src: 4 * chunk * ss, dst: 4 * chunk }, 8 * blocks * chunk * C);
    const rest = R - blocks * chunk;
    if (rest > 0) this.kernels.transposeTiled(src + 4 * blocks * chunk * ss, dst + 4 * blocks * chunk, 1, rest, C, ss, ds, 0, 0, 0);
  }

  /** B with neither rows nor columns contiguous, packed element by element into P panels at float `b0`. */
  #packStrided(f: Float32Array, b0: number, B: Strided, bBase: number, K: number, N: number, P: number): void {
    const bd = B.data;
    for (let p = 0; p < P; p++) {
      const j0 = 8 * p;
      const width = Math.min(8, N - j0);
      const w0 = b0 + p * K * 8;
      for (let k = 0; k < K; k++) {
        const row = bBase + k * B.si + j0 * B.sj;
        const w = w0 + k * 8;
        for (let j = 0; j < width; j++) f[w + j] = bd[row + j * B.sj];
        for (let j = width; j < 8; j++) f[w + j] = 0;
      }
    }
  }
}
