import type { TypedArray } from '@ml/tensor';
import { GEMM_ROWS, kernelModule, MAX_PAGES, relaxedSimd } from './kernels.js';
import { ThreadPool, defaultThreads } from './threads.js';

/** A strided float32 matrix: element (i, j) of batch b is at offset + b·sb + i·si + j·sj. */
export interface Strided {
  data: TypedArray;
  offset: number;
  sb: number;
  si: number;
  sj: number;
}

const PAGE = 65536;
/** 1 GiB: shared memories need a maximum, reserved up front by some engines */
const SHARED_MAX_PAGES = 16384;
/** products smaller than this many multiply-adds stay on one thread */
const THREADED_MIN_WORK = 1 << 20;
const align16 = (n: number) => (n + 15) & ~15;

/** The kernels module's functions (addresses in bytes; see kernels.ts). */
export interface KernelExports {
  gemm(a: number, b: number, c: number, m: number, k: number, n: number, p0: number, p1: number): void;
  adam(p: number, g: number, m: number, v: number, out: number, n4: number, b1: number, c1: number, b2: number, c2: number, sbc2: number, eps: number, stepSize: number, decay: number, l2: number, sign: number): void;
  maxpool(x: number, out: number, planes: number, H: number, W: number, kh: number, kw: number, oh: number, ow: number): void;
  im2row(x: number, out: number, N: number, C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, vec: number, skip: number, pad: number): void;
  row2im(x: number, rows: number, N: number, C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, vec: number, skip: number, pad: number): void;
  packB(src: number, dst: number, K: number, N: number): void;
  packBT(src: number, dst: number, K: number, N: number): void;
  toChannels(src: number, dst: number, N: number, L: number, O: number, ld: number, bias: number): void;
  toPositions(src: number, dst: number, N: number, O: number, L: number): void;
  swapBlocks(src: number, dst: number, A: number, B: number, L: number): void;
  relu(x: number, out: number, n4: number): void;
  reluGrad(x: number, dy: number, out: number, n4: number): void;
  maxpoolBack2x2(x: number, y: number, dy: number, out: number, planes: number, H: number, W: number, oh: number, ow: number): void;
  maxpool2x2(x: number, out: number, planes: number, H: number, W: number, oh: number, ow: number): void;
  maxpoolBack(x: number, y: number, dy: number, out: number, planes: number, H: number, W: number, kh: number, kw: number, oh: number, ow: number): void;
}

/**
 * Batched float32 matrix products on the SIMD kernel: operands are copied into WebAssembly
 * memory (A padded to a multiple of 4 rows, B packed into 8-column panels), multiplied, and
 * the result copied out. Scratch memory grows to the largest product seen and is reused.
 * Large products split their column panels across worker threads sharing the memory.
 */
export class WasmGemm {
  readonly memory: WebAssembly.Memory;
  /** threads a large product runs on (this one included) */
  readonly threads: number;
  /** every kernel of the module, for the calling thread */
  readonly kernels: KernelExports;
  readonly #gemm: KernelExports['gemm'];
  readonly #pool: ThreadPool | null;
  #f32: Float32Array;

  /** whether the product uses fused multiply-add (relaxed SIMD) */
  readonly fma: boolean;

  /**
   * `threads` defaults to the machine's cores where worker threads and SharedArrayBuffer
   * exist (Node, isolated pages), else 1; with 1 the memory is not shared and no worker
   * starts. `fma` (default: where the engine has relaxed SIMD, turning on Node 20's flag
   * for it) builds the product with fused multiply-adds.
   */
  constructor(options: { threads?: number; fma?: boolean } = {}) {
    const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads()));
    const shared = threads > 1;
    this.fma = relaxedSimd(options.fma ?? true) && (options.fma ?? true);
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: shared ? SHARED_MAX_PAGES : MAX_PAGES, shared });
    const bytes = kernelModule(shared, this.fma);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    this.#gemm = this.kernels.gemm;
    this.#pool = shared ? new ThreadPool(this.memory, threads - 1, bytes) : null;
    this.threads = this.#pool?.size ?? 1;
    this.#f32 = new Float32Array(this.memory.buffer);
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

  /** Scratch bytes in use (the WebAssembly memory's size). */
  get bytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * The module's memory as floats, grown to at least `bytes` (a view that stays valid
   * until the next call that needs more memory), for callers of `kernels`.
   */
  scratch(bytes: number): Float32Array {
    this.#reserve(bytes);
    return this.#f32;
  }

  #reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      this.memory.grow(Math.ceil((bytes - have) / PAGE));
      this.#f32 = new Float32Array(this.memory.buffer);
    }
  }

  /**
   * C = A·B on operands already laid out in the memory (addresses in bytes): A row-major
   * [Mp, K] with Mp a multiple of GEMM_ROWS, B packed (packB/packBT) with Np = 8·panels,
   * C row-major [Mp, Np]. Large products split their panels across the threads.
   */
  run(aAt: number, bAt: number, cAt: number, Mp: number, K: number, Np: number): void {
    const P = Np / 8;
    if (this.#pool !== null && Mp * K * Np >= THREADED_MIN_WORK) {
      this.#pool.gemm([aAt, bAt, cAt, Mp, K, Np], P, (p0, p1) => this.#gemm(aAt, bAt, cAt, Mp, K, Np, p0, p1));
    } else {
      this.#gemm(aAt, bAt, cAt, Mp, K, Np, 0, P);
    }
  }

  /** out[b] = A[b] · B[b] for b < batch; A is [M, K], B is [K, N], out row-major [batch, M, N]. */
  matmul(A: Strided, B: Strided, batch: number, M: number, K: number, N: number, out: Float32Array): void {
    const Mp = Math.ceil(M / GEMM_ROWS) * GEMM_ROWS;
    const P = Math.ceil(N / 8);
    const Np = 8 * P;
    const aBytes = align16(Mp * K * 4);
    const bBytes = align16(P * K * 32);
    const cBytes = align16(Mp * Np * 4);
    // B with contiguous rows, or stored transposed with contiguous columns, is staged as
    // it is (one copy) and packed by the kernel
    const stageB = B.sj === 1 && (B.si !== 1 || N === 1);
    const stageBT = !stageB && B.si === 1;
    this.#reserve(aBytes + bBytes + cBytes + (stageB || stageBT ? align16(K * N * 4) : 0));
    const f = this.#f32;
    const aAt = 0;
    const bAt = aBytes;
    const cAt = aBytes + bBytes;
    const sAt = cAt + cBytes;
    for (let bi = 0; bi < batch; bi++) {
      // A, row-major; the padding rows stay zero
      const ad = A.data;
      const a0 = aAt >> 2;
      const aBase = A.offset + bi * A.sb;
      const aSame = bi > 0 && A.sb === 0; // one A for every batch: already in place
      const bSame = bi > 0 && B.sb === 0;
      if (aSame) {
        // nothing to copy
      } else if (A.sj === 1 && A.si === K) {
        f.set(ad.subarray(aBase, aBase + M * K), a0);
      } else if (A.sj === 1) {
        for (let i = 0; i < M; i++) f.set(ad.subarray(aBase + i * A.si, aBase + i * A.si + K), a0 + i * K);
      } else if (A.si === 1) {
        // A stored transposed (column-major): read each column contiguously
        for (let k = 0; k < K; k++) {
          const col = aBase + k * A.sj;
          for (let i = 0; i < M; i++) f[a0 + i * K + k] = ad[col + i];
        }
      } else {
        for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) f[a0 + i * K + k] = ad[aBase + i * A.si + k * A.sj];
      }
      if (!aSame) f.fill(0, a0 + M * K, a0 + Mp * K);
      // B, panel by panel: K rows of 8 columns, zeros past N
      const bd = B.data;
      const bBase = B.offset + bi * B.sb;
      if (stageB && !bSame) {
        if (B.si === N) f.set(bd.subarray(bBase, bBase + K * N), sAt >> 2);
        else for (let k = 0; k < K; k++) f.set(bd.subarray(bBase + k * B.si, bBase + k * B.si + N), (sAt >> 2) + k * N);
        this.kernels.packB(sAt, bAt, K, N);
      } else if (stageBT && !bSame) {
        if (B.sj === K) f.set(bd.subarray(bBase, bBase + K * N), sAt >> 2);
        else for (let j = 0; j < N; j++) f.set(bd.subarray(bBase + j * B.sj, bBase + j * B.sj + K), (sAt >> 2) + j * K);
        this.kernels.packBT(sAt, bAt, K, N);
      }
      for (let p = 0; p < (bSame || stageB || stageBT ? 0 : P); p++) {
        const j0 = 8 * p;
        const width = Math.min(8, N - j0);
        const w0 = (bAt >> 2) + p * K * 8;
        if (B.si === 1 && B.sj !== 1) {
          // B stored transposed (column-major): each of the panel's columns is contiguous
          for (let j = 0; j < width; j++) {
            const col = bBase + (j0 + j) * B.sj;
            for (let k = 0; k < K; k++) f[w0 + k * 8 + j] = bd[col + k];
          }
          if (width < 8) for (let k = 0; k < K; k++) f.fill(0, w0 + k * 8 + width, w0 + k * 8 + 8);
        } else {
          for (let k = 0; k < K; k++) {
            const row = bBase + k * B.si + j0 * B.sj;
            const w = w0 + k * 8;
            for (let j = 0; j < width; j++) f[w + j] = bd[row + j * B.sj];
            for (let j = width; j < 8; j++) f[w + j] = 0;
          }
        }
      }
      this.run(aAt, bAt, cAt, Mp, K, Np);
      const c = cAt >> 2;
      const o = bi * M * N;
      if (Np === N) out.set(f.subarray(c, c + M * N), o);
      else for (let i = 0; i < M; i++) out.set(f.subarray(c + i * Np, c + i * Np + N), o + i * N);
    }
  }
}
