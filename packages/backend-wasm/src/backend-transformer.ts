/**
 * The transformer's row passes on the SIMD kernels (kernels/transformer.ts): layerNorm and
 * gelu forward and backward for float32 as whole fused kernels, and attention's softmax
 * rows (forward and backward) as in-place passes that CpuBackend's host attention kernel
 * (which this backend inherits, its products on the wasm gemm) calls through its
 * `AttentionSteps`; strided copies and concatenations (attention's heads, autograd's joins
 * of chunk gradients) by rows. Each declines (null or false: the CPU code runs) for other
 * dtypes; a layerNorm or gelu operand outside the module memory, or strided, is read
 * through a copy.
 * Passes that move enough (layerNorm, gelu, the softmax and its backward, row copies)
 * split by rows or elements across the threads; a causal softmax stays on the calling
 * thread (its mask counts rows from the call's first).
 */
import { contiguousStrides, sizeOf } from '@ml/tensor';
import { isContiguousView, type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import { EXP_BYTES } from './backend-recurrent.js';
import { TABLE } from './kernels/attention.js';
import type { WasmGemm } from './gemm.js';
import type { HeapAllocator } from './heap-allocator.js';
import { MemoryFullError } from './heap.js';
import { dataValues, wrap, type Operands } from './operands.js';

/**
 * What a gelu pass weighs per element for the decision to split it across the threads:
 * the 8 bytes it moves plus EXP_BYTES for its exp or erf (compute, not memory, bounds it),
 * the cost the gate passes count theirs by (backend-recurrent.ts).
 */
const GELU_BYTES = 8 + EXP_BYTES;
/** the same for the softmax, per score: read three times and written twice (20 bytes), and an exp */
const SOFTMAX_BYTES = 20 + EXP_BYTES;

/** How many passes ran on the kernels, by kind (for tests and the debug log). */
export interface TransformerCounts {
  layerNorm: number;
  layerNormBackward: number;
  gelu: number;
  geluBackward: number;
  softmax: number;
  softmaxBackward: number;
  copy: number;
  concat: number;
  attention: number;
  attentionBackward: number;
}

export class WasmTransformerKernels {
  readonly #gemm: WasmGemm;
  readonly #memory: HeapAllocator;
  readonly #io: Operands;
  readonly counts: TransformerCounts = { layerNorm: 0, layerNormBackward: 0, gelu: 0, geluBackward: 0, softmax: 0, softmaxBackward: 0, copy: 0, concat: 0, attention: 0, attentionBackward: 0 };
  /** Which passes may run on the kernels (all by default; false leaves that op to the CPU code: for A/B timings). */
  readonly enabled = { layerNorm: true, gelu: true, softmax: true, layout: true, attention: true };
  /**
   * Scores per batch·head (L·S) from which attention runs in one kernel per pass; below it
   * the host kernel's products and softmax passes (0: every call it covers; Infinity: none,
   * for A/B timings). The same on every thread count, so two threads give one thread's bits. Forward
   * and backward of 128 batch·heads of 32 features (bench/attention-paths.mjs): at L = S =
   * 64 the kernel ran at 1.07–1.09× the host kernel's speed on two threads but 0.83–0.96× on
   * one; from 128, 1.03–2.0× on two and 0.97–1.09× on one.
   */
  attentionFrom = 128 * 128;
  /**
   * The most bytes of attention weights the one-kernel forward keeps for its backward (as
   * the host kernel keeps P); above it the backward computes them again from two floats a
   * query row (one more product and the exps), so memory stays by S.
   */
  attentionKeep = 64 * 2 ** 20;

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
    const args = { x: xAt, out: outAt, w, b, stats: stats?.[0] ?? 0, R, D, eps, save: stats === null ? 0 : 1 };
    this.#gemm.split('layerNormRows', args, { x: 4 * D, out: 4 * D, stats: 8 }, 8 * n);
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
    const mode = (approximate === 'tanh' ? 1 : 0) | (kept === null ? 0 : 2);
    this.#gemm.split('gelu', { x: xAt, out: outAt, kept: kept?.[0] ?? 0, n, mode }, { x: 4, out: 4, kept: 4 }, GELU_BYTES * n);
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
    const mode = (approximate === 'tanh' ? 1 : 0) | (kept === null ? 0 : 2);
    this.#gemm.split('geluBackward', { x: xAt, dy: dyAt, kept: kept ?? 0, out: outAt, n, mode }, { x: 4, dy: 4, kept: 4, out: 4 }, GELU_BYTES * n);
    this.counts.geluBackward++;
    return done();
  }

  /**
   * scaledDotProductAttention (FusedKernels) in one kernel (kernels/attention.ts) for
   * float32, causal or not, with at most one mask (bool or float32, keys contiguous: a key
   * padding mask, or an attention mask [..., L, S]), E and Ev multiples of 4: q, k, v and
   * the mask read where they lie when their rows' values are contiguous. Saves [m, 1/Σ]
   * per query row as float32 [B·L, 2], and the weights as [B·⌈L/4⌉·4, Sp] up to
   * attentionKeep bytes (two dims: a host backward, which looks for P [B, L, S], never
   * takes them for its own).
   */
  attention(q: View, k: View, v: View, masks: readonly View[], scale: number, causal: boolean, save: SaveForBackward): DataId | null {
    const d = this.#attentionDims(q, k, v, masks, null);
    if (d === null) return null;
    const { B, L, Ev } = d;
    const [outAt, done] = this.#io.out(B * L * Ev);
    const stats = save === null ? null : this.#kept(2 * B * L, [B * L, 2], save);
    // the weights too, where they take at most attentionKeep bytes: the backward then reads them
    const keptBytes = keptWeights(d);
    const weights = save === null || keptBytes > this.attentionKeep ? null : this.#kept(keptBytes / 4, [keptBytes / (4 * d.Sp), d.Sp], save);
    this.#attentionForward(d, [q, k, v], masks, scale, causal, outAt, stats?.[0] ?? this.#io.work(8 * B * L), weights?.[0] ?? 0);
    stats?.[1]();
    weights?.[1]();
    this.counts.attention++;
    return done();
  }

  /** The forward kernel's call: the output [B, L, Ev] to outAt, [m, 1/Σ] per query row to statsAt. */
  #attentionForward(d: AttentionDims, qkv: readonly View[], masks: readonly View[], scale: number, causal: boolean, outAt: number, statsAt: number, kept: number): void {
    const { B, L, E, Ev, Sp } = d;
    const ops = qkv.map((x) => this.#rowsOf(x, B));
    const { per, used, countsAt } = this.#io.chunks(B);
    const scratch = (E + 4) * Sp;
    const args = { ...this.#attentionArgs(ops, masks, d, countsAt, used, scale, causal, kept), work: this.#io.work(4 * used * scratch), o: outAt, stats: statsAt };
    const strides = { table: TABLE * per, o: 4 * per * L * Ev, stats: 8 * per * L, work: 4 * scratch, counts: 4, kept: kept === 0 ? 0 : (per * keptWeights(d)) / d.B };
    this.#gemm.split('attention', args, strides, attentionBytes(d));
  }

  /**
   * scaledDotProductAttentionBackward for what `attention` covers: the flat [∂Q | ∂K | ∂V]
   * in one kernel, from the [B·L, 2] rows its forward saved (without them, from those rows
   * computed again by the forward kernel; with what the host kernel saved, declines).
   */
  attentionBackward(q: View, k: View, v: View, dy: View, masks: readonly View[], scale: number, causal: boolean, saved: readonly View[]): DataId | null {
    const d = this.#attentionDims(q, k, v, masks, dy);
    if (d === null || saved.length > 2) return null;
    const { B, L, S, E, Ev, Sp } = d;
    const [st, weights] = saved as (View | undefined)[];
    if (st !== undefined && (st.dtype !== 'float32' || st.shape.length !== 2 || st.shape[0] !== B * L || st.shape[1] !== 2)) return null;
    if (weights !== undefined && (weights.dtype !== 'float32' || weights.shape.length !== 2 || weights.shape[1] !== Sp || 4 * sizeOf(weights.shape) !== keptWeights(d))) return null;
    // without the forward's rows, the forward kernel computes them again (its output unused)
    const statsAt = st !== undefined ? this.#io.in(st) : this.#io.work(8 * B * L);
    if (st === undefined) this.#attentionForward(d, [q, k, v], masks, scale, causal, this.#io.work(4 * B * L * d.Ev), statsAt, 0);
    const kept = weights === undefined ? 0 : this.#io.in(weights);
    const ops = [this.#rowsOf(q, B), this.#rowsOf(k, B), this.#rowsOf(v, B), this.#rowsOf(dy, B)];
    const { per, used, countsAt } = this.#io.chunks(B);
    const scratch = (E + Ev + 8) * Sp;
    const [outAt, done] = this.#io.out(B * (L * E + S * E + S * Ev));
    const dk = outAt + 4 * B * L * E;
    const args = {
      ...this.#attentionArgs(ops, masks, d, countsAt, used, scale, causal, kept),
      work: this.#io.work(4 * used * scratch),
      dRow: ops[3].row,
      stats: statsAt,
      dq: outAt,
      dk,
      dv: dk + 4 * B * S * E,
    };
    const strides = { table: TABLE * per, stats: 8 * per * L, dq: 4 * per * L * E, dk: 4 * per * S * E, dv: 4 * per * S * Ev, work: 4 * scratch, counts: 4, kept: kept === 0 ? 0 : (per * keptWeights(d)) / B };
    this.#gemm.split('attentionBackward', args, strides, 2 * attentionBytes(d));
    this.counts.attentionBackward++;
    return done();
  }

  /** The sizes of an attention call the kernels cover (see `attention`), else null. */
  #attentionDims(q: View, k: View, v: View, masks: readonly View[], dy: View | null): AttentionDims | null {
    if (!this.enabled.attention || masks.length > 1 || !float32(q, k, v, dy)) return null;
    const m = masks[0] as View | undefined;
    if (m !== undefined && !((m.dtype === 'bool' || m.dtype === 'float32') && m.strides[m.shape.length - 1] === 1 && this.#memory.owns(dataValues(m.data)))) return null;
    const nd = q.shape.length;
    const [L, E] = [q.shape[nd - 2], q.shape[nd - 1]];
    const [S, Ev] = [k.shape[nd - 2], v.shape[nd - 1]];
    const B = sizeOf(q.shape.slice(0, nd - 2));
    if (B * L * S === 0 || L * S < this.attentionFrom || E === 0 || Ev === 0 || E % 4 !== 0 || Ev % 4 !== 0) return null;
    return { B, L, S, E, Ev, Sp: Math.ceil(S / 8) * 8 };
  }

  /**
   * A [..., rows, W] operand as the kernels read it: each of its B blocks' first row (a byte
   * address) and the bytes from one row to the next; read where it lies when its rows'
   * values are contiguous and in the module memory, else from a contiguous copy.
   */
  #rowsOf(v: View, B: number): { starts: number[]; row: number } {
    const nd = v.shape.length;
    const a = dataValues(v.data);
    const inPlace = (v.strides[nd - 1] === 1 || v.shape[nd - 1] === 1) && this.#memory.owns(a);
    if (!inPlace) {
      const at = this.#io.in(v);
      const block = 4 * v.shape[nd - 2] * v.shape[nd - 1];
      return { starts: Array.from({ length: B }, (_, b) => at + b * block), row: 4 * v.shape[nd - 1] };
    }
    return { starts: blockStarts(v, B).map((at) => a.byteOffset + 4 * at), row: 4 * v.strides[nd - 2] };
  }

  /** The arguments both attention kernels take: the table of each batch·head's first rows [q, k, v, dy, mask], the chunks, the sizes. */
  #attentionArgs(ops: { starts: number[]; row: number }[], masks: readonly View[], d: AttentionDims, counts: number, chunks: number, scale: number, causal: boolean, kept: number) {
    // the mask's first row for each batch·head, in bytes (a byte a bool, four a float)
    const m = masks[0] as View | undefined;
    const bytes = m?.dtype === 'bool' ? 1 : 4;
    const maskRows = m === undefined ? null : blockStarts(m, d.B).map((at) => dataValues(m.data).byteOffset + bytes * at);
    const entry = TABLE / 4;
    const table = this.#io.int32s(Array.from({ length: entry * d.B }, (_, i) => {
      const [b, slot] = [Math.floor(i / entry), i % entry];
      return slot < 4 ? (ops[slot]?.starts[b] ?? 0) : slot === 4 ? (maskRows?.[b] ?? 0) : 0;
    }));
    const mRow = m === undefined ? 0 : bytes * m.strides[m.shape.length - 2];
    const mKind = m === undefined ? 0 : m.dtype === 'bool' ? 1 : 2;
    return { table, counts, chunks, L: d.L, S: d.S, E: d.E, Ev: d.Ev, qRow: ops[0].row, kRow: ops[1].row, vRow: ops[2].row, scale, causal: causal ? 1 : 0, mRow, mKind, kept };
  }

  /**
   * AttentionSteps.softmaxRowsInPlace: float32 scores in the module memory; masks (bool or
   * float32, in the memory, contiguous along the keys) applied first by maskRows, one call
   * each, with the scale folded into the first; without masks, scale > 0.
   */
  softmaxRows(scores: DataId, rows: number, L: number, S: number, scale: number, causal: boolean, masks: readonly View[]): boolean {
    const s = dataValues(scores);
    if (!this.enabled.softmax || !(s instanceof Float32Array) || !this.#memory.owns(s) || s.length < rows * S) return false;
    if (masks.length === 0 && !(scale > 0)) return false;
    if (!masks.every((m) => (m.dtype === 'bool' || m.dtype === 'float32') && (S === 1 || m.strides[m.shape.length - 1] === 1) && this.#memory.owns(dataValues(m.data)))) return false;
    const k = this.#gemm.kernels;
    let tables: number[];
    try {
      tables = masks.map((m) => this.#io.int32s(maskRowStarts(m, rows / L, L).map((e) => (m.dtype === 'bool' ? e : 4 * e))));
    } catch (e) {
      if (e instanceof MemoryFullError) return false;
      throw e;
    }
    masks.forEach((m, i) => k.maskRows(s.byteOffset, rows, S, i === 0 ? scale : 1, dataValues(m.data).byteOffset, tables[i], m.dtype === 'bool' ? 1 : 0));
    const args = { s: s.byteOffset, rows, L, S, scale: masks.length > 0 ? 1 : scale, causal: causal ? 1 : 0, masked: masks.length > 0 ? 1 : 0 };
    // causal rows see (r mod L) + 1 keys, r counted from the call's first row: one call
    if (causal) k.softmaxRows(args.s, rows, L, S, args.scale, 1, args.masked);
    else this.#gemm.split('softmaxRows', args, { s: 4 * S }, SOFTMAX_BYTES * rows * S);
    this.counts.softmax++;
    return true;
  }

  /** AttentionSteps.softmaxBackwardInPlace: float32 P (contiguous) and ∂P in the module memory. */
  softmaxBackward(P: View, dP: DataId, rows: number, S: number, scale: number): boolean {
    const [p, d] = [dataValues(P.data), dataValues(dP)];
    if (!this.enabled.softmax || !(p instanceof Float32Array) || !(d instanceof Float32Array) || !isContiguousView(P) || !this.#memory.owns(p) || !this.#memory.owns(d)) return false;
    this.#gemm.split('softmaxRowsBackward', { p: p.byteOffset + 4 * P.offset, dp: d.byteOffset, rows, S, scale }, { p: 4 * S, dp: 4 * S }, 12 * rows * S);
    this.counts.softmaxBackward++;
    return true;
  }

  /** copyBlock's rows, split across the threads when the block is large (moves ≥ 256 KiB). */
  #copyRows(src: number, dst: number, rows: number, W: number, srcRow: number, dstRow: number): void {
    this.#gemm.split('copyBlock', { src, dst, rows, W, srcRow, dstRow }, { src: srcRow, dst: dstRow }, 8 * rows * W);
  }

  /**
   * A contiguous copy of a strided view of 4-byte values in the module memory, block by
   * block of its last two axes: where the last axis is contiguous (heads split out of
   * [N, L, H·D] as [N, H, L, D], or merged back) rows move four values at a time — under
   * one or two leading axes all blocks in one copyBlocks call (split by the first axis),
   * under more one copyBlock call a block; where the last two axes are swapped (a
   * transposed matrix: a weight gradient formed as its transpose) each block is one SIMD
   * transpose.
   */
  copy(v: View): DataId | null {
    const nd = v.shape.length;
    const n = sizeOf(v.shape);
    if (!this.enabled.layout || nd < 2 || !word(v) || n === 0 || isContiguousView(v)) return null;
    const [R, W] = [v.shape[nd - 2], v.shape[nd - 1]];
    const [rs, cs] = [v.strides[nd - 2], v.strides[nd - 1]];
    const rows = cs === 1 && W >= 4;
    const swapped = rs === 1 && cs !== 1 && R > 1 && W > 1;
    const a = dataValues(v.data);
    const out = (rows || swapped) && this.#memory.owns(a) ? this.#memory.inMemory(v.dtype, n) : null;
    if (out === null) return null;
    const k = this.#gemm.kernels;
    const [src, dst] = [a.byteOffset + 4 * v.offset, out.byteOffset];
    this.counts.copy++;
    if (rows && (nd === 3 || nd === 4)) {
      // blocks under one or two leading axes: one copyBlocks call, split by the first axis
      // (a single block, nd = 2, is one copyBlock call below, split by rows)
      const [outer, inner] = nd === 4 ? [v.shape[0], v.shape[1]] : [v.shape[0], 1];
      const [so, si] = nd === 4 ? [v.strides[0], v.strides[1]] : [v.strides[0], 0];
      this.#gemm.split('copyBlocks', { src, dst, outer, inner, rows: R, W, srcOuter: 4 * so, srcInner: 4 * si, srcRow: 4 * rs }, { src: 4 * so, dst: 4 * inner * R * W }, 8 * n);
      return wrap(out);
    }
    // block b: rows of W values `rs` apart, or the transpose of W rows of R values `cs` apart
    const block = rows ? (from: number, to: number) => this.#copyRows(from, to, R, W, 4 * rs, 4 * W) : (from: number, to: number) => k.transposeTiled(from, to, 1, W, R, cs, W, 0, 0, 0);
    // the blocks in row-major order of the leading axes
    blockStarts(v, n / (R * W)).forEach((at, b) => block(src + 4 * (at - v.offset), dst + 4 * b * R * W));
    return wrap(out);
  }

  /**
   * Views of 4-byte values in the module memory joined along `axis` (autograd's join of the
   * q, k and v chunks' gradients): each input's rows (its elements from `axis` on, made
   * contiguous first when they are not) placed among the others' by one copyBlock call.
   */
  concat(xs: readonly View[], axis: number, outShape: readonly number[], copy: (v: View) => DataId): DataId | null {
    const n = sizeOf(outShape);
    if (!this.enabled.layout || n === 0 || !xs.every((x) => word(x) && x.dtype === xs[0].dtype)) return null;
    const parts = xs.map((x) => (isContiguousView(x) || sizeOf(x.shape) === 0 ? x : { ...x, data: copy(x), strides: contiguousStrides(x.shape), offset: 0 }));
    if (!parts.every((x) => this.#memory.owns(dataValues(x.data)))) return null;
    const out = this.#memory.inMemory(xs[0].dtype, n);
    if (out === null) return null;
    const outer = sizeOf(outShape.slice(0, axis));
    const total = n / outer;
    let at = 0;
    for (const x of parts) {
      const chunk = sizeOf(x.shape) / outer;
      if (chunk === 0) continue;
      this.#copyRows(dataValues(x.data).byteOffset + 4 * x.offset, out.byteOffset + 4 * at, outer, chunk, 4 * chunk, 4 * total);
      at += chunk;
    }
    this.counts.concat++;
    return wrap(out);
  }
}

/**
 * Where row r = b·L + i of a mask [..., L, S] (broadcast over B batch blocks) starts, in
 * elements of its array: its offset, plus batch block b's offset by the leading axes'
 * strides (row-major over them), plus i times the row stride.
 */
function maskRowStarts(m: View, B: number, L: number): number[] {
  const rs = m.strides[m.shape.length - 2];
  return blockStarts(m, B).flatMap((at) => Array.from({ length: L }, (_, i) => at + i * rs));
}

/**
 * Where each of the B blocks of a view's last two axes starts (row-major over its leading
 * axes, broadcast ones by their zero strides), in elements of its array, its offset included.
 */
function blockStarts(v: View, B: number): number[] {
  const nd = v.shape.length;
  const lead = v.shape.slice(0, nd - 2);
  const index = new Array<number>(lead.length).fill(0);
  const starts: number[] = [];
  let at = v.offset;
  for (let b = 0; b < B; b++) {
    starts.push(at);
    for (let d = lead.length - 1; d >= 0; d--) {
      at += v.strides[d];
      if (++index[d] < lead[d]) break;
      at -= index[d] * v.strides[d];
      index[d] = 0;
    }
  }
  return starts;
}

/** The sizes of an attention call: batch·heads B, queries L, keys S (Sp: rounded up to 8), features E and Ev. */
interface AttentionDims {
  B: number;
  L: number;
  S: number;
  E: number;
  Ev: number;
  Sp: number;
}

/** Bytes of the weights the forward keeps: each batch·head's rows rounded up to 4, of Sp floats. */
const keptWeights = (d: AttentionDims): number => 4 * d.B * Math.ceil(d.L / 4) * 4 * d.Sp;

/** What an attention pass weighs for the split decision: its products' multiply-adds, as bytes would count. */
const attentionBytes = (d: AttentionDims): number => 2 * d.B * d.L * d.S * (d.E + d.Ev);

/** Whether a view holds 4-byte values (float32 or int32: copied as bits). */
function word(v: View): boolean {
  return v.dtype === 'float32' || v.dtype === 'int32';
}

/** Whether every given view is float32. */
function float32(...views: (View | null)[]): boolean {
  return views.every((v) => v === null || v.dtype === 'float32');
}
