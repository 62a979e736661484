/** Reductions (sum, prod, max, min over axes) and arg-reductions. */
import { isContiguousView as isContiguous, type ArgReduceOp, type DataId, type ReduceOp, type View } from '../../backend.js';
import type { DType, TypedArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { ArrayAllocator } from './allocator.js';
import { materialize, vals, wrap } from './views.js';

/** Move `axes` to the end and return the contiguous data plus the reduced block size. */
function axesLast(alloc: ArrayAllocator, x: View, axes: readonly number[]): { data: TypedArray; start: number; outer: number; inner: number } {
  const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const order = [...keep, ...axes];
  const perm: View = {
    data: x.data,
    dtype: x.dtype,
    offset: x.offset,
    shape: order.map((i) => x.shape[i]),
    strides: order.map((i) => x.strides[i]),
  };
  const inner = sizeOf(axes.map((i) => x.shape[i]));
  const outer = sizeOf(keep.map((i) => x.shape[i]));
  // already in that order (e.g. the last axes of a contiguous tensor): read in place
  if (isContiguous(perm)) return { data: vals(x), start: x.offset, outer, inner };
  return { data: materialize(alloc, perm), start: 0, outer, inner };
}

/**
 * For a contiguous view reduced over consecutive axes that are not the last ones, the
 * sizes [outer, red, inner] around them (null otherwise): such a reduction runs in place,
 * without moving the reduced axes last first.
 */
function contiguousBlock(x: View, axes: readonly number[]): { outer: number; red: number; inner: number } | null {
  const nd = x.shape.length;
  if (axes.length === 0 || !isContiguous(x)) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const last = axes[axes.length - 1];
  if (last === nd - 1) return null; // already last: the plain loop reads it contiguously
  const inner = sizeOf(x.shape.slice(last + 1));
  if (inner < 8) return null;
  return { outer: sizeOf(x.shape.slice(0, axes[0])), red: sizeOf(axes.map((a) => x.shape[a])), inner };
}

/** Where each reduction starts (its identity). */
const REDUCE_START: Record<ReduceOp, number> = { sum: 0, prod: 1, max: -Infinity, min: Infinity };

/**
 * For a contiguous x reduced over leading and trailing axes around kept middle ones (a
 * conv bias's gradient: [N, C, H, W] summed over N, H, W): the sizes of the three blocks.
 */
function outerAndInner(x: View, axes: readonly number[]): { outer: number; mid: number; inner: number } | null {
  const nd = x.shape.length;
  if (!isContiguous(x) || axes[0] !== 0 || axes[axes.length - 1] !== nd - 1) return null;
  let a = 0;
  while (axes[a] === a) a++; // axes [0, a) lead
  if (a === axes.length) return null; // every axis: one contiguous run
  const b = axes[a]; // axes [b, nd) trail
  for (let i = a; i < axes.length; i++) if (axes[i] !== b + i - a) return null;
  return { outer: sizeOf(x.shape.slice(0, a)), mid: sizeOf(x.shape.slice(a, b)), inner: sizeOf(x.shape.slice(b)) };
}

/** out[m] = ⊕_{o, i} x[o, m, i], each output's elements taken in the same order as the general loop. */
function reduceEnds(alloc: ArrayAllocator, op: ReduceOp, x: TypedArray, offset: number, outer: number, mid: number, inner: number, dtype: DType): TypedArray {
  const acc = new Float64Array(mid).fill(REDUCE_START[op]);
  for (let o = 0; o < outer; o++) {
    for (let m = 0; m < mid; m++) {
      const base = offset + (o * mid + m) * inner;
      let a = acc[m];
      switch (op) {
        case 'sum':
          for (let i = 0; i < inner; i++) a += x[base + i];
          break;
        case 'prod':
          if (dtype === 'int32') for (let i = 0; i < inner; i++) a = Math.imul(a, x[base + i]);
          else for (let i = 0; i < inner; i++) a *= x[base + i];
          break;
        case 'max':
          for (let i = 0; i < inner; i++) {
            const v = x[base + i];
            if (v > a || Number.isNaN(v)) a = v; // NaN sticks: nothing compares greater
          }
          break;
        case 'min':
          for (let i = 0; i < inner; i++) {
            const v = x[base + i];
            if (v < a || Number.isNaN(v)) a = v;
          }
          break;
      }
      acc[m] = a;
    }
  }
  const out = alloc.array(dtype, mid);
  out.set(acc);
  return out;
}

/** out[o, i] = ⊕_r x[o, r, i], accumulating whole rows of `inner` elements at a time. */
function reduceMiddle(alloc: ArrayAllocator, op: ReduceOp, x: TypedArray, offset: number, outer: number, red: number, inner: number, dtype: DType): TypedArray {
  const out = alloc.array(dtype, outer * inner);
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(REDUCE_START[op]);
    for (let r = 0; r < red; r++) {
      const base = offset + (o * red + r) * inner;
      switch (op) {
        case 'sum':
          for (let i = 0; i < inner; i++) acc[i] += x[base + i];
          break;
        case 'prod':
          if (dtype === 'int32') for (let i = 0; i < inner; i++) acc[i] = Math.imul(acc[i], x[base + i]);
          else for (let i = 0; i < inner; i++) acc[i] *= x[base + i];
          break;
        case 'max':
          // NaN wins and stays: a NaN accumulator fails v > a and keeps itself
          for (let i = 0; i < inner; i++) {
            const v = x[base + i];
            if (v > acc[i] || v !== v) acc[i] = v;
          }
          break;
        case 'min':
          for (let i = 0; i < inner; i++) {
            const v = x[base + i];
            if (v < acc[i] || v !== v) acc[i] = v;
          }
          break;
      }
    }
    out.set(acc, o * inner);
  }
  return out;
}

/** x reduced over sorted `axes` (the output drops them). */
export function reduce(alloc: ArrayAllocator, op: ReduceOp, x: View, axes: readonly number[]): DataId {
  const block = contiguousBlock(x, axes);
  if (block !== null) return wrap(reduceMiddle(alloc, op, vals(x), x.offset, block.outer, block.red, block.inner, x.dtype));
  const ends = outerAndInner(x, axes);
  if (ends !== null) return wrap(reduceEnds(alloc, op, vals(x), x.offset, ends.outer, ends.mid, ends.inner, x.dtype));
  const { data, start, outer, inner } = axesLast(alloc, x, axes);
  const out = alloc.array(x.dtype, outer);
  for (let o = 0; o < outer; o++) {
    const base = start + o * inner;
    let acc: number;
    switch (op) {
      case 'sum': {
        acc = 0;
        for (let i = 0; i < inner; i++) acc += data[base + i];
        break;
      }
      case 'prod': {
        acc = 1;
        // int32 wraps like the integer product it is (a float64 product loses the low bits past 2^53)
        if (x.dtype === 'int32') for (let i = 0; i < inner; i++) acc = Math.imul(acc, data[base + i]);
        else for (let i = 0; i < inner; i++) acc *= data[base + i];
        break;
      }
      case 'max': {
        acc = -Infinity;
        for (let i = 0; i < inner; i++) {
          const v = data[base + i];
          if (v > acc || Number.isNaN(v)) acc = v;
          if (Number.isNaN(acc)) break;
        }
        break;
      }
      case 'min': {
        acc = Infinity;
        for (let i = 0; i < inner; i++) {
          const v = data[base + i];
          if (v < acc || Number.isNaN(v)) acc = v;
          if (Number.isNaN(acc)) break;
        }
        break;
      }
    }
    out[o] = acc;
  }
  return wrap(out);
}

/** The index of the first max (min) along `axis` (NaN wins). */
export function argReduce(alloc: ArrayAllocator, op: ArgReduceOp, x: View, axis: number): DataId {
  const { data, start, outer, inner } = axesLast(alloc, x, [axis]);
  const out = alloc.array('int32', outer);
  const better = op === 'argmax' ? (v: number, b: number) => v > b : (v: number, b: number) => v < b;
  for (let o = 0; o < outer; o++) {
    const base = start + o * inner;
    let best = 0;
    let bv = data[base];
    for (let i = 1; i < inner; i++) {
      const v = data[base + i];
      if (Number.isNaN(bv)) break;
      if (better(v, bv) || Number.isNaN(v)) {
        bv = v;
        best = i;
      }
    }
    out[o] = best;
  }
  return wrap(out);
}
