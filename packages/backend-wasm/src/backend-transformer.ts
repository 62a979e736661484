/**
 * The transformer's row passes on the SIMD kernels (kernels/transformer.ts): layerNorm and
 * gelu forward and backward for float32 as whole fused kernels, and attention's softmax
 * rows (forward and backward) as in-place passes that CpuBackend's host attention kernel
 * (which this backend inherits, its products on the wasm gemm) calls through its
 * `AttentionSteps`. Each declines (null or false: the CPU code runs) for other dtypes; an
 * operand outside the module memory, or strided, is read through a copy.
 * One thread: a layer's pass ([2048, 128] rows) costs less than waking the pool.
 */
import { sizeOf } from '@ml/tensor';
import { isContiguousView, type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import type { WasmGemm } from './gemm.js';
import type { HeapAllocator } from './heap-allocator.js';
import { dataValues, type Operands } from './operands.js';

/** How many passes ran on the kernels, by kind (for tests and the debug log). */
export interface TransformerCounts {
  layerNorm: number;
  layerNormBackward: number;
  gelu: number;
  geluBackward: number;
  softmax: number;
  softmaxBackward: number;
}

export class WasmTransformerKernels {
  readonly #gemm: WasmGemm;
  readonly #memory: HeapAllocator;
  readonly #io: Operands;
  readonly counts: TransformerCounts = { layerNorm: 0, layerNormBackward: 0, gelu: 0, geluBackward: 0, softmax: 0, softmaxBackward: 0 };
  /** Which passes may run on the kernels (all by default; false leaves that op to the CPU code: for A/B timings). */
  readonly enabled = { layerNorm: true, gelu: true, softmax: true };

  constructor(gemm: WasmGemm, memory: HeapAllocator, io: Operands) {
    this.#gemm = gemm;
    this.#memory = memory;
    this.#io = io;
  }

  /** A row of D floats: `v`'s address, or `fill` everywhere when there is none. */
  #row(v: View | null, D: number, fill: number): number {
    if (v !== null) return this.#io.in(v);
    const at = this.#io.work(4 * D);
    this.#gemm.kernels.fill32(at, D, fill === 0 ? 0 : 0x3f800000);
    return at;
  }

  /** An output of n floats that outlives the primitive (saved for a backward pass): its address and its data. */
  #kept(n: number, shape: readonly number[], save: NonNullable<SaveForBackward>): [number, () => void] {
    const [at, done] = this.#io.out(n);
    return [at, () => {
      const d = done();
      this.#memory.detach(dataValues(d));
      save(d, shape, 'float32');
    }];
  }

  /** layerNorm (FusedKernels.layerNorm) for float32: saves [μ, rstd] per row as float32 [R, 2]. */
  layerNorm(x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward): DataId | null {
    const n = sizeOf(x.shape);
    if (!this.enabled.layerNorm || !float32(x, weight, bias) || n === 0 || D === 0) return null;
    const R = n / D;
    const xAt = this.#io.in(x);
    const [w, b] = [this.#row(weight, D, 1), this.#row(bias, D, 0)];
    const [outAt, done] = this.#io.out(n);
    const stats = save === null ? null : this.#kept(2 * R, [R, 2], save);
    this.#gemm.kernels.layerNormRows(xAt, outAt, w, b, stats?.[0] ?? 0, R, D, eps, stats === null ? 0 : 1);
    stats?.[1]();
    this.counts.layerNorm++;
    return done();
  }

  /** layerNormBackward for float32, from the float32 [μ, rstd] rows layerNorm saved (declines without them). */
  layerNormBackward(x: View, weight: View | null, dy: View, D: number, saved: readonly View[]): DataId | null {
    const n = sizeOf(x.shape);
    if (!this.enabled.layerNorm || !float32(x, weight, dy) || n === 0 || D === 0 || saved.length !== 1) return null;
    const R = n / D;
    const st = saved[0];
    if (st.dtype !== 'float32' || sizeOf(st.shape) !== 2 * R) return null;
    const [xAt, dyAt, stAt] = [this.#io.in(x), this.#io.in(dy), this.#io.in(st)];
    const w = this.#row(weight, D, 1);
    const [outAt, done] = this.#io.out(n + 2 * D);
    this.#gemm.kernels.fill32(outAt + 4 * n, 2 * D, 0);
    this.#gemm.kernels.layerNormRowsBackward(xAt, dyAt, w, stAt, outAt, outAt + 4 * n, outAt + 4 * (n + D), R, D);
    this.counts.layerNormBackward++;
    return done();
  }

  /** gelu for float32: saves Φ(x) (or the tanh) like the host kernel. */
  gelu(x: View, approximate: 'none' | 'tanh', save: SaveForBackward): DataId | null {
    const n = sizeOf(x.shape);
    if (!this.enabled.gelu || x.dtype !== 'float32' || n === 0) return null;
    const xAt = this.#io.in(x);
    const [outAt, done] = this.#io.out(n);
    const kept = save === null ? null : this.#kept(n, x.shape, save);
    this.#gemm.kernels.gelu(xAt, outAt, kept?.[0] ?? 0, n, (approximate === 'tanh' ? 1 : 0) | (kept === null ? 0 : 2));
    kept?.[1]();
    this.counts.gelu++;
    return done();
  }

  /** geluBackward for float32, from what gelu saved when it is there. */
  geluBackward(x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[]): DataId | null {
    const n = sizeOf(x.shape);
    if (!this.enabled.gelu || !float32(x, dy) || n === 0 || saved.length > 1) return null;
    const kept = saved.length === 1 && saved[0].dtype === 'float32' && sizeOf(saved[0].shape) === n ? this.#io.in(saved[0]) : null;
    const [xAt, dyAt] = [this.#io.in(x), this.#io.in(dy)];
    const [outAt, done] = this.#io.out(n);
    this.#gemm.kernels.geluBackward(xAt, dyAt, kept ?? 0, outAt, n, (approximate === 'tanh' ? 1 : 0) | (kept === null ? 0 : 2));
    this.counts.geluBackward++;
    return done();
  }

  /** AttentionSteps.softmaxRowsInPlace: float32 scores in the module memory, scale > 0. */
  softmaxRows(scores: DataId, rows: number, L: number, S: number, scale: number, causal: boolean): boolean {
    const s = dataValues(scores);
    if (!this.enabled.softmax || !(s instanceof Float32Array) || !this.#memory.owns(s) || !(scale > 0) || s.length < rows * S) return false;
    this.#gemm.kernels.softmaxRows(s.byteOffset, rows, L, S, scale, causal ? 1 : 0);
    this.counts.softmax++;
    return true;
  }

  /** AttentionSteps.softmaxBackwardInPlace: float32 P (contiguous) and ∂P in the module memory. */
  softmaxBackward(P: View, dP: DataId, rows: number, S: number, scale: number): boolean {
    const [p, d] = [dataValues(P.data), dataValues(dP)];
    if (!this.enabled.softmax || !(p instanceof Float32Array) || !(d instanceof Float32Array) || !isContiguousView(P) || !this.#memory.owns(p) || !this.#memory.owns(d)) return false;
    this.#gemm.kernels.softmaxRowsBackward(p.byteOffset + 4 * P.offset, d.byteOffset, rows, S, scale);
    this.counts.softmaxBackward++;
    return true;
  }
}

/** Whether every given view is float32. */
function float32(...views: (View | null)[]): boolean {
  return views.every((v) => v === null || v.dtype === 'float32');
}
