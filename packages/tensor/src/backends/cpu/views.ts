/** What every CPU kernel shares: the buffer handle, strided-view walks and contiguous copies. */
import { isContiguousView as isContiguous, type DataId, type View } from '../../backend.js';
import type { DType, TypedArray } from '../../dtype.js';
import { contiguousStrides, sizeOf } from '../../shape.js';
import type { ArrayAllocator } from './allocator.js';

/** A CPU buffer: just the typed array. */
export interface CpuData {
  values: TypedArray;
}

/** The typed array behind a buffer handle. */
export const dataValues = (d: DataId): TypedArray => (d as CpuData).values;
/** The typed array a view reads from. */
export const vals = (v: View): TypedArray => dataValues(v.data);
/** A buffer handle around `values`. */
export const wrap = (values: TypedArray): DataId => ({ values }) satisfies CpuData;

/**
 * Flat storage positions of every element of a strided view, in row-major order.
 */
export function indexMap(shape: readonly number[], strides: readonly number[], offset: number): Int32Array {
  const n = sizeOf(shape);
  const out = new Int32Array(n);
  const nd = shape.length;
  if (n === 0) return out;
  if (nd === 0) {
    out[0] = offset;
    return out;
  }
  const last = nd - 1;
  const lastDim = shape[last];
  const lastStride = strides[last];
  const coord = new Array<number>(nd).fill(0);
  let base = offset;
  let k = 0;
  while (k < n) {
    for (let j = 0, p = base; j < lastDim; j++, p += lastStride) out[k++] = p;
    // advance the outer coordinates like an odometer
    let d = last - 1;
    while (d >= 0) {
      coord[d]++;
      base += strides[d];
      if (coord[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      coord[d] = 0;
      d--;
    }
    if (d < 0) break;
  }
  return out;
}

/** The storage offset of each row (all axes but the last) of a view. */
export function rowOffsets(v: View): Int32Array {
  const nd = v.shape.length;
  return indexMap(v.shape.slice(0, nd - 1), v.strides.slice(0, nd - 1), v.offset);
}

/** 1 for a contiguous view, 0 for one value broadcast everywhere, null otherwise. */
export function flatStride(v: View): 1 | 0 | null {
  const { shape, strides } = v;
  let i = 0;
  while (i < shape.length && (strides[i] === 0 || shape[i] === 1)) i++;
  if (i === shape.length) return 0;
  return isContiguous(v) ? 1 : null;
}

/** The view's storage positions, or null when it is contiguous (position = offset + i). */
export function viewMap(v: View): Int32Array | null {
  return isContiguous(v) ? null : indexMap(v.shape, v.strides, v.offset);
}

/** Contiguous copy of a view's elements in an array from `alloc` (shares nothing with the source). */
export function materialize(alloc: ArrayAllocator, v: View, dtype: DType = v.dtype): TypedArray {
  const src = vals(v);
  const n = sizeOf(v.shape);
  if (n > 1 && flatStride(v) === 0) return alloc.filled(dtype, n, src[v.offset]); // one value broadcast (a gradient seed)
  const out = alloc.array(dtype, n);
  const nd = v.shape.length;
  const inner = nd === 0 ? 1 : v.shape[nd - 1];
  if (isContiguous(v)) {
    if (dtype === v.dtype) out.set(src.subarray(v.offset, v.offset + n));
    else for (let i = 0; i < n; i++) out[i] = src[v.offset + i];
  } else if (inner >= 8) {
    // row by row along the last axis (transposes, slices, broadcasts)
    const rows = rowOffsets(v);
    const st = v.strides[nd - 1];
    for (let r = 0, o = 0; r < rows.length; r++) {
      const base = rows[r];
      for (let i = 0; i < inner; i++) out[o++] = src[base + i * st];
    }
  } else {
    const map = indexMap(v.shape, v.strides, v.offset);
    for (let i = 0; i < n; i++) out[i] = src[map[i]];
  }
  return out;
}

/** A contiguous view of a fresh buffer. */
export function flatView(data: DataId, dtype: DType, shape: readonly number[]): View {
  return { data, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** The view itself when contiguous, else a contiguous copy (same shape) from `alloc`. */
export function contiguousView(alloc: ArrayAllocator, v: View): View {
  return isContiguous(v) ? v : flatView(wrap(materialize(alloc, v)), v.dtype, v.shape);
}

/** Whether the views (null ones skipped) share one dtype: the fused kernels compute in it. */
export function sameDtype(...views: readonly (View | null)[]): boolean {
  const given = views.filter((v): v is View => v !== null);
  return given.every((v) => v.dtype === given[0].dtype);
}

export const isFloatDtype = (d: DType): boolean => d === 'float32' || d === 'float64';
