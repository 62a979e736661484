/** Instruction patterns that several kernel families use, written with local names. */
import { GRADIENT_FLUSH_BELOW } from '@ml/tensor/backend';
import { op, uleb, type Fn, type Ref } from '../assembler.js';

/**
 * `pos = min(xv, limit − 4)` for loops over groups of four (xv = 0, 4, 8, …): the last group
 * moves back to end at `limit` (it overlaps the one before; needs limit ≥ 4).
 */
export function lastColumnClamp<S extends string>(f: Fn<S>, pos: S, xv: S, limit: S): number[] {
  return [
    ...f.get(xv), ...f.get(limit), ...op.i32(4), ...op.i32Sub,
    ...f.get(xv), ...f.get(limit), ...op.i32(4), ...op.i32Sub, ...op.i32LeS,
    ...op.select, ...f.set(pos),
  ];
}

/**
 * `acc` += x·y (two vectors the instruction lists leave): one fused multiply-add (relaxed
 * SIMD) where the module is built with it, else a multiply and an add.
 */
export function multiplyAdd(fma: boolean, acc: Ref, x: number[], y: number[]): number[] {
  return fma ? [...x, ...y, ...acc.get, ...op.f32x4RelaxedMadd, ...acc.set] : [...acc.get, ...x, ...y, ...op.f32x4Mul, ...op.f32x4Add, ...acc.set];
}

/** `mask` = lanes l ≥ a − b set (the lanes a last group moved back from a to b has not done yet). */
export function lanesFrom<S extends string>(f: Fn<S>, mask: S, a: S, b: S): number[] {
  return [...f.get(a), ...f.get(b), ...op.i32Sub, ...op.i32(1), ...op.i32Sub, ...op.i32x4Splat, ...op.v128ConstI32x4([0, 1, 2, 3]), ...op.i32x4LtS, ...f.set(mask)];
}

/** An i8x16 shuffle picking float lanes (0–3 of the first vector, 4–7 of the second). */
export const lanes = (fl: readonly number[]): number[] => op.i8x16Shuffle(fl.flatMap((f) => [0, 1, 2, 3].map((b) => 4 * f + b)));

/** The four lanes of the vector in `v` folded by `fold` (f32x4.add: the sum; f32x4.max: the max) into every lane, in place. */
export function across(v: Ref, fold: number[]): number[] {
  return [
    ...v.get, ...v.get, ...v.get, ...lanes([2, 3, 0, 1]), ...fold, ...v.set,
    ...v.get, ...v.get, ...v.get, ...lanes([1, 0, 3, 2]), ...fold, ...v.set,
  ];
}

/** Lanes 2 and 3 of a vector moved to 0 and 1 (for f64x2.promote_low_f32x4 of the high half). */
export const HIGH_HALF = op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);

/**
 * The rows in the four v128 locals `v` transposed through eight shuffles, with four v128
 * temporaries `t`: `store(j, column)` places column j (the instructions leaving it on the
 * stack), e.g. its address, then `column`, then a vector store.
 */
export function transpose4x4(v: readonly Ref[], t: readonly Ref[], store: (j: number, column: number[]) => number[]): number[] {
  return [
    ...v[0].get, ...v[1].get, ...lanes([0, 4, 1, 5]), ...t[0].set,
    ...v[2].get, ...v[3].get, ...lanes([0, 4, 1, 5]), ...t[1].set,
    ...v[0].get, ...v[1].get, ...lanes([2, 6, 3, 7]), ...t[2].set,
    ...v[2].get, ...v[3].get, ...lanes([2, 6, 3, 7]), ...t[3].set,
    ...([[0, 1, [0, 1, 4, 5]], [0, 1, [2, 3, 6, 7]], [2, 3, [0, 1, 4, 5]], [2, 3, [2, 3, 6, 7]]] as const).flatMap(([a, b, sel], j) =>
      store(j, [...t[a].get, ...t[b].get, ...lanes(sel)]),
    ),
  ];
}

/** `a · b` on the stack (two i32 instruction lists). */
export const mulI32 = (a: number[], b: number[]): number[] => [...a, ...b, ...op.i32Mul];
/** 4 · f0 · f1 · … bytes (i32 instruction lists). */
export const bytesOf = (...fs: number[][]): number[] => fs.reduce((acc, f) => mulI32(acc, f), op.i32(4));
/** `x` rounded up to a multiple of 8. */
export const roundUp8 = (x: number[]): number[] => [...x, ...op.i32(7), ...op.i32Add, ...op.i32(-8), ...op.i32And];
/** `x` rounded up to a multiple of 4. */
export const roundUp4 = (x: number[]): number[] => [...x, ...op.i32(3), ...op.i32Add, ...op.i32(-4), ...op.i32And];
/** min(a, b) of two i32 instruction lists (signed; each list runs twice). */
export const minI32 = (a: number[], b: number[]): number[] => [...a, ...b, ...a, ...b, ...op.i32LtS, ...op.select];

/**
 * `base + ((n·count + ch)·rows + row)·rowBytes`: the start of row `row` (an instruction
 * list) of plane (n, ch) in [N, count, rows, …] planes whose rows are rowBytes apart.
 */
export function planeRow<S extends string>(f: Fn<S>, base: S, n: S, count: S, ch: S, rows: S, row: number[], rowBytes: number[]): number[] {
  return [...f.get(base), ...f.get(n), ...f.get(count), ...op.i32Mul, ...f.get(ch), ...op.i32Add, ...f.get(rows), ...op.i32Mul, ...row, ...op.i32Add, ...rowBytes, ...op.i32Mul, ...op.i32Add];
}

/**
 * `H` rows of `W` floats from the address in `from` to the one in `to`, each moving on by
 * its own row length (instructions leaving bytes): four floats at a time, the last W mod 4
 * one by one (`w4` = W rounded down to 4), so nothing outside the rows is written (another
 * thread may be writing next to them).
 */
export function copyRows2d<S extends string>(f: Fn<S>, to: S, from: S, r: S, j: S, H: S, W: S, w4: S, toRow: number[], fromRow: number[]): number[] {
  const at = (base: S) => [...f.get(base), ...f.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  return f.forUp(r, f.get(H), [
    ...f.forStep(j, op.i32(0), f.get(w4), 4, [...at(to), ...at(from), ...op.v128Load(0), ...op.v128Store(0)]),
    ...f.forStep(j, f.get(w4), f.get(W), 1, [...at(to), ...at(from), ...op.f32Load(0), ...op.f32Store(0)]),
    ...f.get(to), ...toRow, ...op.i32Add, ...f.set(to),
    ...f.get(from), ...fromRow, ...op.i32Add, ...f.set(from),
  ]);
}

/** A SIMD instruction by its code in the SIMD proposal (for those the assembler's table does not name). */
export const simd = (code: number): number[] => [0xfd, ...uleb(code)];

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
/** The bits of `v` rounded to float32. */
export function bitsOf(v: number): number {
  F32[0] = v;
  return I32[0];
}

/** GRADIENT_FLUSH_BELOW (2⁻¹⁰⁰) in every lane: a v128.const, for a local set once at a kernel's start. */
export function flushBelowLanes(): number[] {
  const b = bitsOf(GRADIENT_FLUSH_BELOW);
  return op.v128ConstI32x4([b, b, b, b]);
}

/**
 * The lanes of `x` under `tiny` (a vector of flushBelowLanes) in magnitude as +0, NaN and
 * ±∞ kept, `t` a scratch vector: @ml/tensor's flushTiny four lanes at a time. What decays
 * towards zero (a gradient vanishing through time, Adam's moments of a gradient that
 * stopped) then never runs through the subnormal floats, which x86 cores compute 12–90×
 * slower and whose flush-to-zero mode WebAssembly cannot set.
 */
export function flushLanes(x: number[], t: Ref, tiny: number[]): number[] {
  // f32x4.abs (0xe0), f32x4.lt (0x43), v128.andnot (0x4f): x & ~(|x| < tiny)
  return [...x, ...t.tee, ...t.get, ...simd(0xe0), ...tiny, ...simd(0x43), ...simd(0x4f)];
}
