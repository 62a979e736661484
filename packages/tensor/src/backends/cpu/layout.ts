/** Layout and indexing kernels: gather, scatterAdd, pad and concat. */
import { isContiguousView as isContiguous, type DataId, type View } from '../../backend.js';
import type { TypedArray } from '../../dtype.js';
import { contiguousStrides, sizeOf } from '../../shape.js';
import type { ArrayAllocator } from './allocator.js';
import { indexMap, materialize, vals, wrap } from './views.js';

/**
 * gather as indexSelect does it (one index per position along `axis`, broadcast over the
 * other axes, which match x's) on a contiguous x: whole blocks copied, no per-element
 * coordinates. Null when the gather is not of that form.
 */
function selectRows(alloc: ArrayAllocator, x: View, axis: number, index: View): TypedArray | null {
  const nd = x.shape.length;
  for (let d = 0; d < nd; d++) {
    if (d !== axis && (index.strides[d] !== 0 && index.shape[d] !== 1)) return null;
    if (d !== axis && index.shape[d] !== x.shape[d]) return null;
  }
  if (!isContiguous(x)) return null;
  const iv = vals(index);
  const k = index.shape[axis];
  const step = index.strides[axis];
  const dimSize = x.shape[axis];
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const src = vals(x);
  const out = alloc.array(x.dtype, outer * k * inner);
  for (let i = 0; i < k; i++) {
    const raw = iv[index.offset + i * step];
    const j = raw < 0 ? raw + dimSize : raw;
    if (j < 0 || j >= dimSize) throw new RangeError(`gather: index ${raw} is out of range for dim ${axis} of size ${dimSize}`);
  }
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < k; i++) {
      const raw = iv[index.offset + i * step];
      const j = raw < 0 ? raw + dimSize : raw;
      const from = x.offset + (o * dimSize + j) * inner;
      const to = (o * k + i) * inner;
      if (inner >= 64) out.set(src.subarray(from, from + inner), to);
      else for (let e = 0; e < inner; e++) out[to + e] = src[from + e];
    }
  }
  return out;
}

/** torch.gather: out has index's shape (negative indices count from the end). */
export function gather(alloc: ArrayAllocator, x: View, axis: number, index: View): DataId {
  const rows = selectRows(alloc, x, axis, index);
  if (rows !== null) return wrap(rows);
  const idx = materialize(alloc, index);
  const src = vals(x);
  const shape = index.shape;
  const n = sizeOf(shape);
  const out = alloc.array(x.dtype, n);
  const outStrides = contiguousStrides(shape);
  const dimSize = x.shape[axis];
  for (let i = 0; i < n; i++) {
    let p = x.offset;
    let rem = i;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(rem / outStrides[d]);
      rem -= c * outStrides[d];
      if (d === axis) {
        let j = idx[i];
        if (j < 0) j += dimSize;
        if (j < 0 || j >= dimSize) throw new RangeError(`gather: index ${idx[i]} is out of range for dim ${axis} of size ${dimSize}`);
        p += j * x.strides[d];
      } else {
        p += c * x.strides[d];
      }
    }
    out[i] = src[p];
  }
  alloc.recycle(idx);
  return wrap(out);
}

/** A copy of `base` with `src` added at `index` along `axis`. */
export function scatterAdd(alloc: ArrayAllocator, base: View, axis: number, index: View, src: View): DataId {
  const out = materialize(alloc, base);
  const idx = materialize(alloc, index);
  const s = materialize(alloc, src.shape.length === index.shape.length ? { ...src, shape: index.shape } : src);
  const shape = index.shape;
  const n = sizeOf(shape);
  const inStrides = contiguousStrides(shape);
  const outStrides = contiguousStrides(base.shape);
  const dimSize = base.shape[axis];
  for (let i = 0; i < n; i++) {
    let p = 0;
    let rem = i;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(rem / inStrides[d]);
      rem -= c * inStrides[d];
      if (d === axis) {
        let j = idx[i];
        if (j < 0) j += dimSize;
        if (j < 0 || j >= dimSize) throw new RangeError(`scatterAdd: index ${idx[i]} is out of range for dim ${axis} of size ${dimSize}`);
        p += j * outStrides[d];
      } else {
        p += c * outStrides[d];
      }
    }
    out[p] += s[i];
  }
  alloc.recycle(idx);
  alloc.recycle(s);
  return wrap(out);
}

/** XLA-style pad: `low`/`high` edge padding and `interior` padding between elements. */
export function pad(alloc: ArrayAllocator, x: View, low: readonly number[], high: readonly number[], interior: readonly number[], value: number): DataId {
  const outShape = x.shape.map((d, i) => low[i] + high[i] + (d > 0 ? d + (d - 1) * interior[i] : 0));
  const out = alloc.filled(x.dtype, sizeOf(outShape), value);
  const src = materialize(alloc, x);
  const os = contiguousStrides(outShape);
  // place input element with coords c at low + c·(interior+1)
  const strides = x.shape.map((_, i) => os[i] * (interior[i] + 1));
  const start = low.reduce((acc, l, i) => acc + l * os[i], 0);
  const map = indexMap(x.shape, strides, start);
  for (let i = 0; i < map.length; i++) out[map[i]] = src[i];
  alloc.recycle(src);
  return wrap(out);
}

/** `xs` joined along `axis` into `outShape`. */
export function concat(alloc: ArrayAllocator, xs: readonly View[], axis: number, outShape: readonly number[]): DataId {
  const dtype = xs[0].dtype;
  const out = alloc.array(dtype, sizeOf(outShape));
  const os = contiguousStrides(outShape);
  let at = 0;
  for (const x of xs) {
    const src = materialize(alloc, x);
    const map = indexMap(x.shape, os, at * os[axis]);
    for (let i = 0; i < map.length; i++) out[map[i]] = src[i];
    alloc.recycle(src);
    at += x.shape[axis];
  }
  return wrap(out);
}
