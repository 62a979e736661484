/** Elementwise kernels: unary and binary ops over strided views, casts, where, the relu gradient. */
import { isContiguousView as isContiguous, rowStride, type BinaryOp, type DataId, type UnaryOp, type View } from '../../backend.js';
import type { DType, TypedArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { ArrayAllocator } from './allocator.js';
import { contiguousView, flatStride, indexMap, materialize, rowOffsets, vals, viewMap, wrap } from './views.js';

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
 * out[i] = a[a0 + i] ⊙ b[b0 + i] for i < n (both operands contiguous: tensors of one
 * shape, the common case). The arithmetic ops are unrolled by four: V8 does not vectorize,
 * and the unrolled loop runs about a quarter faster on typed arrays.
 */
function binaryFlat(op: BinaryOp, f: (x: number, y: number) => number, out: TypedArray, av: TypedArray, a0: number, bv: TypedArray, b0: number, n: number): void {
  const n4 = n - 3;
  let i = 0;
  switch (op) {
    case 'add':
      for (; i < n4; i += 4) {
        out[i] = av[a0 + i] + bv[b0 + i];
        out[i + 1] = av[a0 + i + 1] + bv[b0 + i + 1];
        out[i + 2] = av[a0 + i + 2] + bv[b0 + i + 2];
        out[i + 3] = av[a0 + i + 3] + bv[b0 + i + 3];
      }
      for (; i < n; i++) out[i] = av[a0 + i] + bv[b0 + i];
      return;
    case 'sub':
      for (; i < n4; i += 4) {
        out[i] = av[a0 + i] - bv[b0 + i];
        out[i + 1] = av[a0 + i + 1] - bv[b0 + i + 1];
        out[i + 2] = av[a0 + i + 2] - bv[b0 + i + 2];
        out[i + 3] = av[a0 + i + 3] - bv[b0 + i + 3];
      }
      for (; i < n; i++) out[i] = av[a0 + i] - bv[b0 + i];
      return;
    case 'mul':
      for (; i < n4; i += 4) {
        out[i] = av[a0 + i] * bv[b0 + i];
        out[i + 1] = av[a0 + i + 1] * bv[b0 + i + 1];
        out[i + 2] = av[a0 + i + 2] * bv[b0 + i + 2];
        out[i + 3] = av[a0 + i + 3] * bv[b0 + i + 3];
      }
      for (; i < n; i++) out[i] = av[a0 + i] * bv[b0 + i];
      return;
    case 'div':
      for (; i < n4; i += 4) {
        out[i] = av[a0 + i] / bv[b0 + i];
        out[i + 1] = av[a0 + i + 1] / bv[b0 + i + 1];
        out[i + 2] = av[a0 + i + 2] / bv[b0 + i + 2];
        out[i + 3] = av[a0 + i + 3] / bv[b0 + i + 3];
      }
      for (; i < n; i++) out[i] = av[a0 + i] / bv[b0 + i];
      return;
    default:
      binaryRow(op, f, out, 0, av, a0, 1, bv, b0, 1, n);
  }
}

/**
 * out[i] = x[x0 + i] ⊙ s, or s ⊙ x[x0 + i] when `scalarFirst` (a tensor with a scalar, as
 * in x·0.5 or 1 − x), for the arithmetic ops; false for the others (the caller loops).
 */
function withScalar(op: BinaryOp, out: TypedArray, xv: TypedArray, x0: number, s: number, n: number, scalarFirst: boolean): boolean {
  switch (op) {
    case 'add':
      for (let i = 0; i < n; i++) out[i] = xv[x0 + i] + s;
      return true;
    case 'mul':
      for (let i = 0; i < n; i++) out[i] = xv[x0 + i] * s;
      return true;
    case 'sub':
      if (scalarFirst) for (let i = 0; i < n; i++) out[i] = s - xv[x0 + i];
      else for (let i = 0; i < n; i++) out[i] = xv[x0 + i] - s;
      return true;
    case 'div':
      if (scalarFirst) for (let i = 0; i < n; i++) out[i] = s / xv[x0 + i];
      else for (let i = 0; i < n; i++) out[i] = xv[x0 + i] / s;
      return true;
    default:
      return false;
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

/** Abramowitz–Stegun 7.1.26 is too coarse for gradcheck; use a series/continued-fraction erf. */
export function erf(x: number): number {
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

/** x converted to `dtype` (bool: 1 where x ≠ 0). */
export function cast(alloc: ArrayAllocator, x: View, dtype: DType): DataId {
  if (dtype !== 'bool') return wrap(materialize(alloc, x, dtype));
  const wide = materialize(alloc, x, 'float64');
  const b = alloc.array('bool', wide.length);
  for (let i = 0; i < wide.length; i++) b[i] = wide[i] !== 0 ? 1 : 0;
  alloc.recycle(wide);
  return wrap(b);
}

export function unary(alloc: ArrayAllocator, op: UnaryOp, x: View): DataId {
  if (op === 'relu' && x.dtype === 'float32' && isContiguous(x)) {
    // one pass from the input's bits to the output's (no copy first)
    const n = sizeOf(x.shape);
    const src = vals(x);
    const out = alloc.array('float32', n);
    reluBits(new Int32Array(src.buffer, src.byteOffset + 4 * x.offset, n), new Int32Array(out.buffer, out.byteOffset, n));
    return wrap(out);
  }
  const out = materialize(alloc, x);
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

/** a ⊙ b for views of one shape (broadcast by the caller through zero strides). */
export function binary(alloc: ArrayAllocator, op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
  const f = BINARY[op];
  const n = sizeOf(a.shape);
  const out = alloc.array(outDtype, n);
  const av = vals(a);
  const bv = vals(b);
  if (isContiguous(a) && isContiguous(b)) {
    binaryFlat(op, f, out, av, a.offset, bv, b.offset, n);
    return wrap(out);
  }
  // row by row: one tight loop along the last axis per row (any strides: contiguous,
  // transposed, broadcast scalars or rows), row starts from a map over the other axes
  const af = flatStride(a);
  const bf = flatStride(b);
  if (af !== null && bf !== null) {
    // a tensor with a scalar (one value broadcast): the value read once
    if (af === 1 && bf === 0 && n > 0 && withScalar(op, out, av, a.offset, bv[b.offset], n, false)) return wrap(out);
    if (af === 0 && bf === 1 && n > 0 && withScalar(op, out, bv, b.offset, av[a.offset], n, true)) return wrap(out);
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

/** cond ? a : b elementwise (views of one shape). */
export function where(alloc: ArrayAllocator, cond: View, a: View, b: View): DataId {
  const x = materialize(alloc, a);
  // read the condition and `b` in place when they are contiguous or one broadcast value
  const cf = flatStride(cond);
  const c = cf === null ? materialize(alloc, cond) : vals(cond);
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
    const y = bf === null ? materialize(alloc, b) : vals(b);
    const yo = bf === null ? 0 : b.offset;
    for (let i = 0; i < x.length; i++) if (!c[co + i * cs]) x[i] = y[yo + i];
    if (bf === null) alloc.recycle(y);
  }
  if (cf === null) alloc.recycle(c);
  return wrap(x);
}

/** dy where x > 0, else 0 (the relu gradient; x and dy of one shape and dtype). */
export function reluBackward(alloc: ArrayAllocator, x: View, dy: View): DataId | null {
  if (x.dtype !== dy.dtype) return null;
  const [xc, dc] = [contiguousView(alloc, x), contiguousView(alloc, dy)];
  const [xv, dv] = [vals(xc), vals(dc)];
  const n = sizeOf(x.shape);
  const out = alloc.array(x.dtype, n);
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
