import { isContiguousView as isContiguous, patchOutputSize, rowStride, type ArgReduceOp, type Backend, type BinaryOp, type DataId, type Im2ColParams, type ReduceOp, type SaveForBackward, type Shape4, type UnaryOp, type View } from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../dtype.js';
import { contiguousStrides, sizeOf } from '../shape.js';

/** A CPU buffer: just the typed array. */
interface CpuData {
  values: TypedArray;
}

const vals = (v: View): TypedArray => (v.data as CpuData).values;
const wrap = (values: TypedArray): DataId => ({ values }) satisfies CpuData;


/**
 * Flat storage positions of every element of a strided view, in row-major order.
 * Returns null when the view is contiguous (position = offset + i).
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
function rowOffsets(v: View): Int32Array {
  const nd = v.shape.length;
  return indexMap(v.shape.slice(0, nd - 1), v.strides.slice(0, nd - 1), v.offset);
}

/**
 * out[o + i] = a[a0 + i·as] ⊙ b[b0 + i·bs] for i < len, with the common ops written out so
 * the loop has no call in it.
 */
function binaryRow(op: BinaryOp, f: (x: number, y: number) => number, out: TypedArray, o: number, av: TypedArray, a0: number, as: number, bv: TypedArray, b0: number, bs: number, len: number): void {
  switch (op) {
    case 'add':
      for (let i = 0; i < len; i++) out[o + i] = av[a0 + i * as] + bv[b0 + i * bs];
      return;
    case 'sub':
      for (let i = 0; i < len; i++) out[o + i] = av[a0 + i * as] - bv[b0 + i * bs];
      return;
    case 'mul':
      for (let i = 0; i < len; i++) out[o + i] = av[a0 + i * as] * bv[b0 + i * bs];
      return;
    case 'div':
      for (let i = 0; i < len; i++) out[o + i] = av[a0 + i * as] / bv[b0 + i * bs];
      return;
    case 'gt':
      for (let i = 0; i < len; i++) out[o + i] = +(av[a0 + i * as] > bv[b0 + i * bs]);
      return;
    case 'ge':
      for (let i = 0; i < len; i++) out[o + i] = +(av[a0 + i * as] >= bv[b0 + i * bs]);
      return;
    case 'lt':
      for (let i = 0; i < len; i++) out[o + i] = +(av[a0 + i * as] < bv[b0 + i * bs]);
      return;
    case 'eq':
      for (let i = 0; i < len; i++) out[o + i] = +(av[a0 + i * as] === bv[b0 + i * bs]);
      return;
    default:
      for (let i = 0; i < len; i++) out[o + i] = f(av[a0 + i * as], bv[b0 + i * bs]);
  }
}

/**
 * relu on float32 bit patterns, branch-free (signs are random, so a compare-and-branch
 * mispredicts half the time): negative numbers, −0 and −∞ included, become +0; NaN stays.
 */
function reluBits(src: Int32Array, dst: Int32Array): void {
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    const nan = +((v & 0x7fffffff) > 0x7f800000);
    dst[i] = v & ~((v >> 31) & (nan - 1));
  }
}

/**
 * gather as indexSelect does it (one index per position along `axis`, broadcast over the
 * other axes, which match x's) on a contiguous x: whole blocks copied, no per-element
 * coordinates. Null when the gather is not of that form.
 */
function selectRows(x: View, axis: number, index: View): TypedArray | null {
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
  const out = scratch(x.dtype, outer * k * inner);
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

/** 1 for a contiguous view, 0 for one value broadcast everywhere, null otherwise. */
function flatStride(v: View): 1 | 0 | null {
  if (v.strides.every((st, i) => st === 0 || v.shape[i] === 1)) return 0;
  return isContiguous(v) ? 1 : null;
}

function viewMap(v: View): Int32Array | null {
  return isContiguous(v) ? null : indexMap(v.shape, v.strides, v.offset);
}

// ------------------------------------------------------------ buffer reuse
//
// Training loops free and allocate the same sizes every step; large arrays of disposed
// tensors are kept (up to POOL_BYTES) and handed to outputs that overwrite every element,
// which saves the zero-fill and, above all, the garbage collector's work on them.

const POOL_MIN_LENGTH = 4096;
const POOL_BYTES = 256 * 2 ** 20;
const pool = new Map<string, TypedArray[]>();
let pooledBytes = 0;

const CTOR: Record<DType, string> = { float32: 'Float32Array', float64: 'Float64Array', int32: 'Int32Array', bool: 'Uint8Array' };
const poolKey = (a: TypedArray | DType, n: number): string => `${typeof a === 'string' ? CTOR[a] : a.constructor.name}:${n}`;

function recycle(a: TypedArray): void {
  if (a.length < POOL_MIN_LENGTH || pooledBytes + a.byteLength > POOL_BYTES) return;
  const key = poolKey(a, a.length);
  const list = pool.get(key);
  if (list) list.push(a);
  else pool.set(key, [a]);
  pooledBytes += a.byteLength;
}

/**
 * An array of `n` zeros (see `filled`: a pooled buffer when there is one; on this kind of
 * machine a fresh multi-megabyte array costs a page fault per 4 KiB on first touch, which
 * is several times the cost of clearing memory that is already mapped).
 */
function zeroed(dtype: DType, n: number): TypedArray {
  return filled(dtype, n, 0);
}

/** An array of `n` elements all equal to `value` (from the array source, when one is set). */
function filled(dtype: DType, n: number, value: number): TypedArray {
  if (source !== null) {
    const a = source.filled ? source.filled(dtype, n, value) : (source.array(dtype, n)?.fill(value) ?? null);
    if (a !== null) return a;
  }
  const a = takePooled(dtype, n);
  if (a) return a.fill(value);
  const fresh = allocArray(dtype, n);
  return value === 0 && !Object.is(value, -0) ? fresh : fresh.fill(value); // fresh arrays are zero already
}

/** An array of `n` elements whose contents are undefined: the caller writes every element. */
function scratch(dtype: DType, n: number): TypedArray {
  return source?.array(dtype, n) ?? takePooled(dtype, n) ?? allocArray(dtype, n);
}

/**
 * Where a backend built on this one keeps its arrays (e.g. a WebAssembly memory): while
 * one is set, every output and temporary array of the CPU code comes from it (null: it
 * is full, use an ordinary array).
 */
export interface ArraySource {
  array(dtype: DType, n: number): TypedArray | null;
  /** an array of `n` copies of `value`, where the source fills faster than `TypedArray.fill` */
  filled?(dtype: DType, n: number, value: number): TypedArray | null;
}

let source: ArraySource | null = null;

/** Run `fn` with the CPU code's arrays taken from `from` (the previous source is restored after). */
export function withArraySource<T>(from: ArraySource | null, fn: () => T): T {
  const previous = source;
  source = from;
  try {
    return fn();
  } finally {
    source = previous;
  }
}

/** A kept buffer of exactly `n` elements of `dtype`, taken out of the pool, if there is one. */
function takePooled(dtype: DType, n: number): TypedArray | undefined {
  if (n < POOL_MIN_LENGTH) return undefined;
  const a = pool.get(poolKey(dtype, n))?.pop();
  if (a) pooledBytes -= a.byteLength;
  return a;
}

/** Contiguous copy of a view's elements (shares nothing with the source). */
function materialize(v: View, dtype: DType = v.dtype): TypedArray {
  const src = vals(v);
  const n = sizeOf(v.shape);
  if (n > 1 && flatStride(v) === 0) return filled(dtype, n, src[v.offset]); // one value broadcast (a gradient seed)
  const out = scratch(dtype, n);
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

/** Abramowitz–Stegun 7.1.26 is too coarse for gradcheck; use a series/continued-fraction erf. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // continued fraction for erfc(x), x ≥ 2.5 (Lentz)
  const t = ax;
  let f = t;
  let c = t;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = t + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = t + an / c;
    if (c === 0) c = 1e-300;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-t * t) / (f * Math.sqrt(Math.PI));
  return x > 0 ? 1 - erfc : erfc - 1;
}

const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  exp: Math.exp,
  expm1: Math.expm1,
  log: Math.log,
  log1p: Math.log1p,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  relu: (x) => (x > 0 || Number.isNaN(x) ? x : 0), // NaN propagates, as in PyTorch
  erf,
  floor: Math.floor,
  ceil: Math.ceil,
  round: (x) => {
    // round half to even, like PyTorch and NumPy
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
  reciprocal: (x) => 1 / x,
  not: (x) => (x ? 0 : 1),
};

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  and: (a, b) => (a && b ? 1 : 0),
  or: (a, b) => (a || b ? 1 : 0),
};

/** Move `axes` to the end and return the contiguous data plus the reduced block size. */
function axesLast(x: View, axes: readonly number[]): { data: TypedArray; start: number; outer: number; inner: number } {
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
  return { data: materialize(perm), start: 0, outer, inner };
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
function reduceEnds(op: ReduceOp, x: TypedArray, offset: number, outer: number, mid: number, inner: number, dtype: DType): TypedArray {
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
  const out = scratch(dtype, mid);
  out.set(acc);
  return out;
}

/** out[o, i] = ⊕_r x[o, r, i], accumulating whole rows of `inner` elements at a time. */
function reduceMiddle(op: ReduceOp, x: TypedArray, offset: number, outer: number, red: number, inner: number, dtype: DType): TypedArray {
  const out = scratch(dtype, outer * inner);
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

/** The default backend: plain TypeScript over typed arrays, the reference for all others. */
export class CpuBackend implements Backend {
  readonly name: string = 'cpu';

  write(values: TypedArray, _dtype: DType): DataId {
    return wrap(values);
  }
  /**
   * For backends built on this one: an array of `n` elements for an output that
   * overwrites every element (contents undefined; reuses buffers of disposed tensors).
   */
  scratch(dtype: DType, n: number): TypedArray {
    return scratch(dtype, n);
  }
  read(data: DataId): Promise<TypedArray> {
    return Promise.resolve((data as CpuData).values.slice());
  }
  readSync(data: DataId): TypedArray {
    return (data as CpuData).values.slice();
  }
  hostArray(data: DataId): TypedArray {
    return (data as CpuData).values;
  }
  dispose(data: DataId): void {
    // Keep a large array for reuse (or let GC reclaim it); drop our reference so a stale
    // handle fails loudly.
    const d = data as { values: TypedArray | null };
    if (d.values) recycle(d.values);
    d.values = null as unknown as TypedArray;
  }

  fill(size: number, dtype: DType, value: number): DataId {
    return wrap(filled(dtype, size, value));
  }
  copy(x: View): DataId {
    return wrap(materialize(x));
  }
  cast(x: View, dtype: DType): DataId {
    const out = materialize(x, dtype === 'bool' ? 'float64' : dtype);
    if (dtype !== 'bool') return wrap(out);
    const b = scratch('bool', out.length);
    for (let i = 0; i < out.length; i++) b[i] = out[i] !== 0 ? 1 : 0;
    return wrap(b);
  }
  unary(op: UnaryOp, x: View): DataId {
    if (op === 'relu' && x.dtype === 'float32' && isContiguous(x)) {
      // one pass from the input's bits to the output's (no copy first)
      const n = sizeOf(x.shape);
      const src = vals(x);
      const out = scratch('float32', n);
      reluBits(new Int32Array(src.buffer, src.byteOffset + 4 * x.offset, n), new Int32Array(out.buffer, out.byteOffset, n));
      return wrap(out);
    }
    const out = materialize(x);
    const n = out.length;
    // the hot ops written out (a call per element through a shared site is several times slower)
    switch (op) {
      case 'neg':
        for (let i = 0; i < n; i++) out[i] = -out[i];
        break;
      case 'abs':
        for (let i = 0; i < n; i++) out[i] = Math.abs(out[i]);
        break;
      case 'sqrt':
        for (let i = 0; i < n; i++) out[i] = Math.sqrt(out[i]);
        break;
      case 'exp':
        for (let i = 0; i < n; i++) out[i] = Math.exp(out[i]);
        break;
      case 'log':
        for (let i = 0; i < n; i++) out[i] = Math.log(out[i]);
        break;
      case 'relu':
        if (out instanceof Float32Array) {
          const bits = new Int32Array(out.buffer, out.byteOffset, n);
          reluBits(bits, bits);
        } else {
          for (let i = 0; i < n; i++) {
            const v = out[i];
            if (v <= 0) out[i] = 0; // −0 becomes +0; NaN fails the test and propagates, as in PyTorch
          }
        }
        break;
      default: {
        const f = UNARY[op];
        for (let i = 0; i < n; i++) out[i] = f(out[i]);
      }
    }
    return wrap(out);
  }
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
    const f = BINARY[op];
    const n = sizeOf(a.shape);
    const out = scratch(outDtype, n);
    const av = vals(a);
    const bv = vals(b);
    // row by row: one tight loop along the last axis per row (any strides: contiguous,
    // transposed, broadcast scalars or rows), row starts from a map over the other axes
    const af = flatStride(a);
    const bf = flatStride(b);
    if (af !== null && bf !== null) {
      // both contiguous or a single broadcast value: one loop over everything
      binaryRow(op, f, out, 0, av, a.offset, af, bv, b.offset, bf, n);
      return wrap(out);
    }
    const nd = a.shape.length;
    const inner = nd === 0 ? 1 : a.shape[nd - 1];
    const as = nd === 0 || inner === 1 ? 0 : a.strides[nd - 1];
    const bs = nd === 0 || inner === 1 ? 0 : b.strides[nd - 1];
    if (n > 0 && (inner >= 8 || n === inner)) {
      const rows = n / inner;
      const [ra, rb] = [rowStride(a), rowStride(b)];
      if (ra !== null && rb !== null) {
        // rows evenly spaced in both (a bias row broadcast over a batch, say): no row map
        for (let r = 0; r < rows; r++) binaryRow(op, f, out, r * inner, av, a.offset + r * ra, as, bv, b.offset + r * rb, bs, inner);
        return wrap(out);
      }
      const ar = rows === 1 ? null : rowOffsets(a);
      const br = rows === 1 ? null : rowOffsets(b);
      for (let r = 0; r < rows; r++) {
        binaryRow(op, f, out, r * inner, av, ar === null ? a.offset : ar[r], as, bv, br === null ? b.offset : br[r], bs, inner);
      }
      return wrap(out);
    }
    const am = viewMap(a);
    const bm = viewMap(b);
    if (am === null && bm === null) {
      const ao = a.offset;
      const bo = b.offset;
      for (let i = 0; i < n; i++) out[i] = f(av[ao + i], bv[bo + i]);
    } else {
      const ai = am ?? indexMap(a.shape, a.strides, a.offset);
      const bi = bm ?? indexMap(b.shape, b.strides, b.offset);
      for (let i = 0; i < n; i++) out[i] = f(av[ai[i]], bv[bi[i]]);
    }
    return wrap(out);
  }
  where(cond: View, a: View, b: View): DataId {
    const x = materialize(a);
    // read the condition and `b` in place when they are contiguous or one broadcast value
    const cf = flatStride(cond);
    const c = cf === null ? materialize(cond) : vals(cond);
    const co = cf === null ? 0 : cond.offset;
    const cs = cf ?? 1;
    const bf = flatStride(b);
    if (bf === 0 && x instanceof Float32Array && cond.dtype === 'bool') {
      // branch-free select on the bits (a random condition mispredicts a branch half the time)
      const xb = new Int32Array(x.buffer, x.byteOffset, x.length);
      const vb = new Int32Array(Float32Array.of(vals(b)[b.offset]).buffer)[0];
      for (let i = 0; i < x.length; i++) {
        const keep = -c[co + i * cs];
        xb[i] = (xb[i] & keep) | (vb & ~keep);
      }
    } else if (bf === 0) {
      const v = vals(b)[b.offset];
      for (let i = 0; i < x.length; i++) if (!c[co + i * cs]) x[i] = v;
    } else {
      const y = bf === null ? materialize(b) : vals(b);
      const yo = bf === null ? 0 : b.offset;
      for (let i = 0; i < x.length; i++) if (!c[co + i * cs]) x[i] = y[yo + i];
    }
    return wrap(x);
  }
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId {
    const block = contiguousBlock(x, axes);
    if (block !== null) return wrap(reduceMiddle(op, vals(x), x.offset, block.outer, block.red, block.inner, x.dtype));
    const ends = outerAndInner(x, axes);
    if (ends !== null) return wrap(reduceEnds(op, vals(x), x.offset, ends.outer, ends.mid, ends.inner, x.dtype));
    const { data, start, outer, inner } = axesLast(x, axes);
    const out = scratch(x.dtype, outer);
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
  argReduce(op: ArgReduceOp, x: View, axis: number): DataId {
    const { data, start, outer, inner } = axesLast(x, [axis]);
    const out = scratch('int32', outer);
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
  matmul(a: View, b: View): DataId {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    const A = materialize(a);
    const Bm = materialize(b);
    const out = scratch(a.dtype, B * M * N);
    const a64 = new Float64Array(M * K);
    const bt = new Float64Array(K * N);
    for (let bi = 0; bi < B; bi++) {
      const aOff = bi * M * K;
      const bOff = bi * K * N;
      for (let q = 0; q < M * K; q++) a64[q] = A[aOff + q];
      // Bᵀ, so both operands are read along k contiguously
      for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bt[j * K + k] = Bm[bOff + k * N + j];
      matmulBlock(a64, bt, out, bi * M * N, M, K, N);
    }
    return wrap(out);
  }
  gather(x: View, axis: number, index: View): DataId {
    const rows = selectRows(x, axis, index);
    if (rows !== null) return wrap(rows);
    const idx = materialize(index);
    const src = vals(x);
    const shape = index.shape;
    const n = sizeOf(shape);
    const out = scratch(x.dtype, n);
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
    return wrap(out);
  }
  scatterAdd(base: View, axis: number, index: View, src: View): DataId {
    const out = materialize(base);
    const idx = materialize(index);
    const s = materialize(src.shape.length === index.shape.length ? { ...src, shape: index.shape } : src);
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
    return wrap(out);
  }
  pad(x: View, low: readonly number[], high: readonly number[], interior: readonly number[], value: number): DataId {
    const outShape = x.shape.map((d, i) => low[i] + high[i] + (d > 0 ? d + (d - 1) * interior[i] : 0));
    const out = scratch(x.dtype, sizeOf(outShape));
    out.fill(value);
    const src = materialize(x);
    const os = contiguousStrides(outShape);
    // place input element with coords c at low + c·(interior+1)
    const strides = x.shape.map((_, i) => os[i] * (interior[i] + 1));
    const start = low.reduce((acc, l, i) => acc + l * os[i], 0);
    const map = indexMap(x.shape, strides, start);
    for (let i = 0; i < map.length; i++) out[map[i]] = src[i];
    return wrap(out);
  }
  concat(xs: readonly View[], axis: number, outShape: readonly number[]): DataId {
    const dtype = xs[0].dtype;
    const out = scratch(dtype, sizeOf(outShape));
    const os = contiguousStrides(outShape);
    let at = 0;
    for (const x of xs) {
      const src = materialize(x);
      const map = indexMap(x.shape, os, at * os[axis]);
      for (let i = 0; i < map.length; i++) out[map[i]] = src[i];
      at += x.shape[axis];
    }
    return wrap(out);
  }
  im2col(x: View, p: Im2ColParams): DataId {
    const [N, C] = x.shape;
    const { H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow } = poolGeometry(x.shape, p);
    const src = materialize(x);
    const L = oh * ow;
    const rows = C * kh * kw;
    const out = scratch(x.dtype, N * rows * L);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const plane = (n * C + c) * H * W;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const r = (c * kh + i) * kw + j;
            const o = (n * rows + r) * L;
            for (let y = 0; y < oh; y++) {
              const iy = y * sh - pt + i * dh;
              const inY = iy >= 0 && iy < H;
              for (let xx = 0; xx < ow; xx++) {
                const ix = xx * sw - pl + j * dw;
                out[o + y * ow + xx] = inY && ix >= 0 && ix < W ? src[plane + iy * W + ix] : p.padValue;
              }
            }
          }
        }
      }
    }
    return wrap(out);
  }
  /**
   * log-softmax over the last axis of a contiguous float x in one pass per row, with the
   * composite's roundings (x − m, exp, the sum, log, + m, x − lse each rounded to x's
   * dtype; m = the row's max, or 0 when that is not finite), so results agree bit for bit.
   */
  logSoftmax(x: View, dim: number): DataId | null {
    if (dim !== x.shape.length - 1 || !isContiguous(x) || sizeOf(x.shape) === 0 || !isFloatDtype(x.dtype)) return null;
    return this.logSoftmaxLast(x);
  }
  logSoftmaxLast(x: View): DataId {
    const src = vals(x);
    const n = sizeOf(x.shape);
    const C = x.shape[x.shape.length - 1];
    const out = scratch(x.dtype, n);
    const r = x.dtype === 'float32' ? Math.fround : exact;
    for (let base = 0; base < n; base += C) {
      const at = x.offset + base;
      const lse = logSumExpRow(src, at, C, r);
      for (let i = 0; i < C; i++) out[base + i] = src[at + i] - lse;
    }
    return wrap(out);
  }
  /**
   * Cross-entropy of each row of a contiguous float [N, C] x against its class index in
   * int32 t [N]: loss_i = logsumexp(x_i) − x_i[t_i], computed in double (one pass for the
   * max, one for the sum of exponentials) and rounded to x's dtype; with a `divisor`, one
   * value instead: Σ_i loss_i / divisor (the rounded losses summed in double). Throws a
   * RangeError for a class index outside [0, C).
   */
  softmaxCrossEntropy(x: View, t: View, divisor: number | null = null): DataId | null {
    if (!crossEntropyCase(x)) return null;
    const tc = contiguousView(t);
    const [src, tv] = [vals(x), vals(tc)];
    const [N, C] = [x.shape[0], x.shape[1]];
    const out = scratch(x.dtype, divisor === null ? N : 1);
    const r = x.dtype === 'float32' ? Math.fround : exact;
    let total = 0;
    for (let i = 0; i < N; i++) {
      const at = x.offset + i * C;
      const k = checkedClass(tv[tc.offset + i], C, i);
      const loss = r(logSumExpRow(src, at, C) - src[at + k]);
      if (divisor === null) out[i] = loss;
      else total += loss;
    }
    if (divisor !== null) out[0] = total / divisor;
    return wrap(out);
  }

  /**
   * ∂/∂x of softmaxCrossEntropy's losses scaled by g: dx_ic = (softmax(x_i)_c − [c = t_i])·g_i/divisor,
   * with g [N] per row, or one value (size 1) for every row.
   */
  softmaxCrossEntropyBackward(x: View, t: View, g: View, divisor: number): DataId | null {
    if (!crossEntropyCase(x) || g.dtype !== x.dtype) return null;
    const [src, tc, gc] = [vals(x), contiguousView(t), contiguousView(g)];
    const [tv, gv] = [vals(tc), vals(gc)];
    const [N, C] = [x.shape[0], x.shape[1]];
    const perRow = sizeOf(g.shape) !== 1;
    const out = scratch(x.dtype, N * C);
    for (let i = 0; i < N; i++) {
      const at = x.offset + i * C;
      const k = checkedClass(tv[tc.offset + i], C, i);
      const lse = logSumExpRow(src, at, C);
      const s = gv[gc.offset + (perRow ? i : 0)] / divisor;
      for (let c = 0; c < C; c++) out[i * C + c] = (Math.exp(src[at + c] - lse) - (c === k ? 1 : 0)) * s;
    }
    return wrap(out);
  }

  /** dy where x > 0, else 0 (the relu gradient; x and dy of one shape and dtype). */
  reluBackward(x: View, dy: View): DataId | null {
    if (x.dtype !== dy.dtype) return null;
    const [xc, dc] = [contiguousView(x), contiguousView(dy)];
    const [xv, dv] = [vals(xc), vals(dc)];
    const n = sizeOf(x.shape);
    const out = scratch(x.dtype, n);
    if (out instanceof Float32Array && dv instanceof Float32Array) {
      // branch-free: keep dy's bits where x > 0 (a NaN x fails the test, as in the composite)
      const ob = new Int32Array(out.buffer, out.byteOffset, n);
      const db = new Int32Array(dv.buffer, dv.byteOffset + 4 * dc.offset, n);
      const xo = xc.offset;
      for (let i = 0; i < n; i++) ob[i] = db[i] & -(xv[xo + i] > 0);
    } else {
      for (let i = 0; i < n; i++) out[i] = xv[xc.offset + i] > 0 ? dv[dc.offset + i] : 0;
    }
    return wrap(out);
  }

  // ---- fused kernels for conv2d and maxPool2d (see their op definitions in ops/conv.ts; groups = 1)
  //
  // The convolution runs on the patch matrix P = im2row(x), [N·L, C·kh·kw] (one row per
  // output position of every image), so each pass is one large product:
  //   forward  Y[N·L, O] = P · wᵀ          (then laid out as [N, O, oh, ow], bias added)
  //   ∂x       ∂P = dy[N·L, O] · w         (then summed back into the image: row2im)
  //   ∂w       ∂w[O, R] = dy[O, N·L] · P

  /** x [N,C,H,W] ⋆ w [O,C,kh,kw] (+ bias [O]) → [N,O,oh,ow]. */
  conv2d(x: View, w: View, bias: View | null, p: Im2ColParams, groups = 1, _save: SaveForBackward = null): DataId | null {
    if (groups !== 1 || !sameDtype(x, w, bias)) return null;
    const [N] = x.shape;
    const O = w.shape[0];
    const R = sizeOf(w.shape.slice(1)); // C·kh·kw (not size / O: NaN without output channels)
    const L = patchArea(x.shape, p);
    const P = this.im2row(x, p);
    const wc = contiguousView(w);
    const yt = this.matmul(flatView(P, x.dtype, [1, N * L, R]), { ...wc, shape: [1, R, O], strides: [0, 1, R] });
    this.dispose(P);
    const b = bias === null ? null : materialize(bias);
    const out = positionsToChannels((yt as CpuData).values, N, L, O, b);
    this.dispose(yt);
    return wrap(out);
  }
  /** ∂L/∂x of conv2d: row2im(dy · w). */
  conv2dBackwardInput(dy: View, w: View, xShape: Shape4, p: Im2ColParams, groups = 1): DataId | null {
    if (groups !== 1 || !sameDtype(dy, w)) return null;
    const [N, O] = dy.shape;
    const R = sizeOf(w.shape.slice(1)); // C·kh·kw (not size / O: NaN without output channels)
    const L = patchArea(xShape, p);
    const d = contiguousView(dy);
    const dyt = channelsToPositions(vals(d), d.offset, N, O, L, scratch(dy.dtype, N * L * O));
    const dP = this.matmul(flatView(wrap(dyt), dy.dtype, [1, N * L, O]), { ...contiguousView(w), shape: [1, O, R], strides: [0, R, 1] });
    recycle(dyt);
    const dx = this.row2im(flatView(dP, dy.dtype, [N * L, R]), xShape, p);
    this.dispose(dP);
    return dx;
  }
  /** ∂L/∂w of conv2d: dy[O, N·L] · P, shape [O, C·kh·kw]. */
  conv2dBackwardWeight(dy: View, x: View, _wShape: Shape4, p: Im2ColParams, groups = 1, _saved: readonly View[] = []): DataId | null {
    if (groups !== 1 || !sameDtype(dy, x)) return null;
    const [N, O] = dy.shape;
    const L = patchArea(x.shape, p);
    const R = x.shape[1] * p.kernel[0] * p.kernel[1];
    const P = this.im2row(x, p);
    // dy [N, O, L] → [O, N·L]: each (n, o) row of L values moves as a block
    const d = contiguousView(dy);
    const src = vals(d);
    const dyo = swapBlocks(src, d.offset, N, O, L, scratch(dy.dtype, O * N * L));
    const dw = this.matmul(flatView(wrap(dyo), dy.dtype, [1, O, N * L]), flatView(P, x.dtype, [1, N * L, R]));
    recycle(dyo);
    this.dispose(P);
    return dw;
  }
  /** x [N,C,H,W] → P [N·oh·ow, C·kh·kw]: row (n, y, x) holds the patch under output (y, x) of image n. */
  im2row(x: View, p: Im2ColParams): DataId {
    const [N, C, H, W] = x.shape;
    const g = poolGeometry(x.shape, p);
    const xc = contiguousView(x);
    const src = vals(xc);
    const R = C * g.kh * g.kw;
    const out = scratch(x.dtype, N * g.oh * g.ow * R);
    const pv = p.padValue;
    let o = 0;
    for (let n = 0; n < N; n++) {
      const img = xc.offset + n * C * H * W;
      for (let y = 0; y < g.oh; y++) {
        const y0 = y * g.sh - g.pt;
        const rowsIn = y0 >= 0 && y0 + (g.kh - 1) * g.dh < H;
        for (let xx = 0; xx < g.ow; xx++) {
          const x0 = xx * g.sw - g.pl;
          if (rowsIn && x0 >= 0 && x0 + (g.kw - 1) * g.dw < W) {
            // the whole window lies inside the image
            for (let c = 0; c < C; c++) {
              for (let i = 0; i < g.kh; i++) {
                const at = img + (c * H + y0 + i * g.dh) * W + x0;
                for (let j = 0; j < g.kw; j++) out[o++] = src[at + j * g.dw];
              }
            }
          } else {
            for (let c = 0; c < C; c++) {
              for (let i = 0; i < g.kh; i++) {
                const iy = y0 + i * g.dh;
                const inY = iy >= 0 && iy < H;
                const at = img + (c * H + iy) * W;
                for (let j = 0; j < g.kw; j++) {
                  const ix = x0 + j * g.dw;
                  out[o++] = inY && ix >= 0 && ix < W ? src[at + ix] : pv;
                }
              }
            }
          }
        }
      }
    }
    return wrap(out);
  }
  /** The adjoint of im2row: rows [N·oh·ow, C·kh·kw] summed back into an image of `outShape`. */
  row2im(rows: View, outShape: readonly [number, number, number, number], p: Im2ColParams): DataId {
    const [N, C, H, W] = outShape;
    const g = poolGeometry(outShape, p);
    const rc = contiguousView(rows);
    const src = vals(rc);
    const out = zeroed(rows.dtype, N * C * H * W);
    let o = rc.offset;
    for (let n = 0; n < N; n++) {
      const img = n * C * H * W;
      for (let y = 0; y < g.oh; y++) {
        const y0 = y * g.sh - g.pt;
        for (let xx = 0; xx < g.ow; xx++) {
          const x0 = xx * g.sw - g.pl;
          if (y0 >= 0 && y0 + (g.kh - 1) * g.dh < H && x0 >= 0 && x0 + (g.kw - 1) * g.dw < W) {
            // the whole window lies inside the image
            for (let c = 0; c < C; c++) {
              for (let i = 0; i < g.kh; i++) {
                const at = img + (c * H + y0 + i * g.dh) * W + x0;
                for (let j = 0; j < g.kw; j++) out[at + j * g.dw] += src[o++];
              }
            }
            continue;
          }
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < g.kh; i++) {
              const iy = y0 + i * g.dh;
              if (iy < 0 || iy >= H) {
                o += g.kw;
                continue;
              }
              const at = img + (c * H + iy) * W;
              for (let j = 0; j < g.kw; j++, o++) {
                const ix = x0 + j * g.dw;
                if (ix >= 0 && ix < W) out[at + ix] += src[o];
              }
            }
          }
        }
      }
    }
    return wrap(out);
  }
  /** Max over each window, straight from the image (padding counts as `padValue`). */
  maxPool2d(x: View, p: Im2ColParams): DataId | null {
    const g = poolGeometry(x.shape, p);
    const w = poolWindows(g);
    const xc = contiguousView(x);
    const out = scratch(x.dtype, g.planes * w.L);
    maxPoolPlanes(vals(xc), xc.offset, out, g.planes, g.H * g.W, w.L, w.K, w.at, w.inside, p.padValue);
    return wrap(out);
  }
  /**
   * ∂L/∂x of maxPool2d given its output y: each window's gradient goes to the elements
   * equal to its max, shared among ties (padding that ties takes a share, which is
   * dropped); the arithmetic is the composite's, (mask · dy) / count, without branches.
   */
  maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId | null {
    if (!sameDtype(x, y, dy)) return null;
    const g = poolGeometry(x.shape, p);
    const w = poolWindows(g);
    const [xc, yc, dc] = [contiguousView(x), contiguousView(y), contiguousView(dy)];
    const out = zeroed(x.dtype, g.planes * g.H * g.W);
    maxPoolBackPlanes(vals(xc), xc.offset, vals(yc), yc.offset, vals(dc), dc.offset, out, g.planes, g.H * g.W, w.L, w.K, w.at, w.inside, p.padValue);
    return wrap(out);
  }
  col2im(cols: View, outShape: readonly [number, number, number, number], p: Im2ColParams): DataId {
    const [N, C] = outShape;
    const { H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow } = poolGeometry(outShape, p);
    const src = materialize(cols);
    const L = oh * ow;
    const rows = C * kh * kw;
    const out = zeroed(cols.dtype, N * C * H * W);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const plane = (n * C + c) * H * W;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const r = (c * kh + i) * kw + j;
            const o = (n * rows + r) * L;
            for (let y = 0; y < oh; y++) {
              const iy = y * sh - pt + i * dh;
              if (iy < 0 || iy >= H) continue;
              for (let xx = 0; xx < ow; xx++) {
                const ix = xx * sw - pl + j * dw;
                if (ix >= 0 && ix < W) out[plane + iy * W + ix] += src[o + y * ow + xx];
              }
            }
          }
        }
      }
    }
    return wrap(out);
  }
}

/** Y [N·L, O] (rows: positions) → [N, O, L] (+ bias[o]). */
function positionsToChannels(y: TypedArray, N: number, L: number, O: number, bias: TypedArray | null): TypedArray {
  const out = scratch(y instanceof Float64Array ? 'float64' : 'float32', N * O * L);
  for (let n = 0; n < N; n++) transposeTiled(y, n * L * O, L, O, out, n * O * L);
  if (bias !== null) {
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        const b = bias[o];
        const dst = (n * O + o) * L;
        for (let l = 0; l < L; l++) out[dst + l] += b;
      }
    }
  }
  return out;
}

const TILE = 16;

/** out[to + c·R + r] = x[from + r·C + c] for an R×C matrix, in 16×16 tiles (both sides stay in cache). */
function transposeTiled(x: TypedArray, from: number, R: number, C: number, out: TypedArray, to: number): void {
  for (let r0 = 0; r0 < R; r0 += TILE) {
    const r1 = Math.min(R, r0 + TILE);
    for (let c0 = 0; c0 < C; c0 += TILE) {
      const c1 = Math.min(C, c0 + TILE);
      for (let c = c0; c < c1; c++) {
        for (let r = r0, s = from + r0 * C + c; r < r1; r++, s += C) out[to + c * R + r] = x[s];
      }
    }
  }
}

/** x [A, B, L] → [B, A, L]: blocks of L elements change places. */
function swapBlocks(x: TypedArray, offset: number, A: number, B: number, L: number, out: TypedArray): TypedArray {
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      const from = offset + (a * B + b) * L;
      const to = (b * A + a) * L;
      for (let l = 0; l < L; l++) out[to + l] = x[from + l];
    }
  }
  return out;
}

/** dy [N, O, L] → [N·L, O] (rows: positions). */
function channelsToPositions(dy: TypedArray, offset: number, N: number, O: number, L: number, out: TypedArray): TypedArray {
  for (let n = 0; n < N; n++) transposeTiled(dy, offset + n * O * L, O, L, out, n * L * O);
  return out;
}


/** Patch geometry of an [N,C,H,W] input (im2col, im2row, pooling), each channel a plane. */
function poolGeometry(shape: readonly number[], p: Im2ColParams) {
  const [N, C, H, W] = shape;
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [dh, dw] = p.dilation;
  const [pt, , pl] = p.pad;
  const [oh, ow] = patchOutputSize(shape, p);
  return { planes: N * C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow };
}

/** Output positions (oh·ow) of a patch extraction over an [N,C,H,W] input. */
function patchArea(shape: readonly number[], p: Im2ColParams): number {
  const [oh, ow] = patchOutputSize(shape, p);
  return oh * ow;
}

/**
 * The pooling windows of one plane: for output position l, its in-image elements'
 * offsets are at[l·K … l·K + inside[l]) (K = kh·kw; the rest of the window is padding).
 */
function poolWindows(g: ReturnType<typeof poolGeometry>): { at: Int32Array; inside: Int32Array; K: number; L: number } {
  const K = g.kh * g.kw;
  const L = g.oh * g.ow;
  const at = new Int32Array(L * K);
  const inside = new Int32Array(L);
  for (let y = 0, l = 0; y < g.oh; y++) {
    for (let x = 0; x < g.ow; x++, l++) {
      let n = 0;
      for (let i = 0; i < g.kh; i++) {
        const iy = y * g.sh - g.pt + i * g.dh;
        for (let j = 0; j < g.kw; j++) {
          const ix = x * g.sw - g.pl + j * g.dw;
          if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) at[l * K + n++] = iy * g.W + ix;
        }
      }
      inside[l] = n;
    }
  }
  return { at, inside, K, L };
}

// The pooling loops live in plain functions of arrays and numbers: V8 compiles such a
// function once for good, where a loop inside a method that runs a few times per step
// is recompiled on entry (on-stack) and thrown away again at its exit.

function maxPoolPlanes(src: TypedArray, xo: number, out: TypedArray, planes: number, area: number, L: number, K: number, at: Int32Array, inside: Int32Array, pv: number): void {
  for (let plane = 0, o = 0; plane < planes; plane++) {
    const base = xo + plane * area;
    for (let l = 0; l < L; l++, o++) {
      let m = -Infinity;
      let best = -1;
      const n = inside[l];
      for (let k = l * K; k < l * K + n; k++) {
        // branch-free: take this element if it is larger or NaN (NaN wins and stays)
        const i = base + at[k];
        const v = src[i];
        const take = +(v > m) | +(v !== v) | +(best < 0);
        best ^= (best ^ i) & -take;
        m = src[best];
      }
      out[o] = n < K && pv > m ? pv : m;
    }
  }
}

function maxPoolBackPlanes(
  src: TypedArray, xo: number, yv: TypedArray, yo: number, d: TypedArray, dO: number, out: TypedArray,
  planes: number, area: number, L: number, K: number, at: Int32Array, inside: Int32Array, pv: number,
): void {
  for (let plane = 0, o = 0; plane < planes; plane++) {
    const base = plane * area;
    const xb = xo + base;
    for (let l = 0; l < L; l++, o++) {
      const m = yv[yo + o];
      const n = inside[l];
      let count = n < K && pv === m ? K - n : 0;
      for (let k = l * K; k < l * K + n; k++) count += +(src[xb + at[k]] === m);
      const dv = d[dO + o];
      for (let k = l * K; k < l * K + n; k++) out[base + at[k]] += (+(src[xb + at[k]] === m) * dv) / count;
    }
  }
}

/** A contiguous view of a fresh buffer. */
function flatView(data: DataId, dtype: DType, shape: readonly number[]): View {
  return { data, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** The view itself when contiguous, else a contiguous copy (same shape). */
function contiguousView(v: View): View {
  return isContiguous(v) ? v : flatView(wrap(materialize(v)), v.dtype, v.shape);
}

/**
 * out[i, j] = Σ_k a[i, k] · bt[j, k] in float64, in 4×4 blocks of dot products held in
 * locals (16 accumulators, 8 loads per 16 multiply-adds). Summation order is k = 0…K−1.
 */
function matmulBlock(a: Float64Array, bt: Float64Array, out: TypedArray, off: number, M: number, K: number, N: number): void {
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = i * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = j * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k], x1 = a[a1 + k], x2 = a[a2 + k], x3 = a[a3 + k];
        const y0 = bt[b0 + k], y1 = bt[b1 + k], y2 = bt[b2 + k], y3 = bt[b3 + k];
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let o = off + i * N + j;
      out[o] = c00; out[o + 1] = c01; out[o + 2] = c02; out[o + 3] = c03;
      o += N;
      out[o] = c10; out[o + 1] = c11; out[o + 2] = c12; out[o + 3] = c13;
      o += N;
      out[o] = c20; out[o + 1] = c21; out[o + 2] = c22; out[o + 3] = c23;
      o += N;
      out[o] = c30; out[o + 1] = c31; out[o + 2] = c32; out[o + 3] = c33;
    }
    for (; j < N; j++) {
      for (let r = 0; r < 4; r++) out[off + (i + r) * N + j] = dotRow(a, (i + r) * K, bt, j * K, K);
    }
  }
  for (; i < M; i++) for (let j = 0; j < N; j++) out[off + i * N + j] = dotRow(a, i * K, bt, j * K, K);
}

function dotRow(a: Float64Array, ao: number, b: Float64Array, bo: number, K: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += a[ao + k] * b[bo + k];
  return s;
}

const exact = (v: number): number => v;

/**
 * log Σ exp over C values from `at`, shifted by their max (0 when that is not finite, as
 * logsumexp does; NaN wins). `round` is applied where the composite rounds to its dtype
 * (x − m, exp, the sum, log, + m: Math.fround for float32), or nowhere (`exact`).
 */
function logSumExpRow(src: TypedArray, at: number, C: number, round: (v: number) => number = exact): number {
  let m = -Infinity;
  for (let c = 0; c < C; c++) {
    const v = src[at + c];
    if (v > m || v !== v) m = v;
    if (m !== m) break;
  }
  if (!Number.isFinite(m)) m = 0;
  let sum = 0;
  for (let c = 0; c < C; c++) sum += round(Math.exp(round(src[at + c] - m)));
  return round(round(Math.log(round(sum))) + m);
}

function checkedClass(k: number, C: number, i: number): number {
  if (!(k >= 0 && k < C)) throw new RangeError(`softmaxCrossEntropy: target class ${k} is out of range [0, ${C}) (at index ${i})`);
  return k;
}

/** Whether the views (null ones skipped) share one dtype: the fused kernels compute in it. */
function sameDtype(...views: readonly (View | null)[]): boolean {
  const given = views.filter((v): v is View => v !== null);
  return given.every((v) => v.dtype === given[0].dtype);
}

/** The cross-entropy kernels' case: contiguous, non-empty float32/float64 logits. */
function crossEntropyCase(x: View): boolean {
  return isContiguous(x) && sizeOf(x.shape) > 0 && isFloatDtype(x.dtype);
}

const isFloatDtype = (d: DType): boolean => d === 'float32' || d === 'float64';
