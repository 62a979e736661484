/**
 * Host kernels of the transformer's elementwise and row-wise ops: layer normalization
 * (forward and backward, one pass per row, statistics in double) and GELU (forward and
 * backward, both forms). Inputs of any layout are read through a contiguous copy when
 * they are not contiguous; each result is rounded once, when stored.
 */
import type { DataId, SaveForBackward, View } from '../../backend.js';
import type { TypedArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { ArrayAllocator } from './allocator.js';
import { erf } from './elementwise.js';
import { contiguousView, isFloatDtype, sameDtype, vals, wrap } from './views.js';

/** A view's elements as a contiguous array and the offset of the first (a copy only when needed). */
function flat(alloc: ArrayAllocator, v: View): { a: TypedArray; at: number } {
  const c = contiguousView(alloc, v);
  return { a: vals(c), at: c.offset };
}

/**
 * y = (x − μ)·rstd·weight + bias per row of D elements (the trailing normalized dims), with
 * μ and rstd = 1/√(σ² + ε) of the row in double (two passes: the mean, then the squared
 * deviations). With `save`, keeps [μ, rstd] per row ([R, 2] float64) for the backward pass.
 */
export function layerNorm(alloc: ArrayAllocator, x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward): DataId | null {
  const n = sizeOf(x.shape);
  if (!isFloatDtype(x.dtype) || !sameDtype(x, weight, bias) || n === 0 || D === 0) return null;
  const R = n / D;
  const { a: src, at: x0 } = flat(alloc, x);
  // weight and bias as double rows (ones and zeros when absent): one branch-free loop
  const w = affineRow(alloc, weight, D, 1);
  const b = affineRow(alloc, bias, D, 0);
  const out = alloc.array(x.dtype, n);
  const stats = save === null ? null : alloc.array('float64', 2 * R);
  for (let r = 0; r < R; r++) {
    const at = x0 + r * D;
    const mu = rowMean(src, at, D);
    const rstd = rowRstd(src, at, D, mu, eps);
    const o = r * D;
    for (let j = 0; j < D; j++) out[o + j] = (src[at + j] - mu) * rstd * w[j] + b[j];
    if (stats !== null) {
      stats[2 * r] = mu;
      stats[2 * r + 1] = rstd;
    }
  }
  if (save !== null && stats !== null) {
    alloc.detach?.(stats);
    save(wrap(stats), [R, 2], 'float64');
  }
  return wrap(out);
}

/** The mean of D values from `at`, in double (four partial sums: independent additions pipeline). */
function rowMean(src: TypedArray, at: number, D: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 4 <= D; j += 4) {
    s0 += src[at + j];
    s1 += src[at + j + 1];
    s2 += src[at + j + 2];
    s3 += src[at + j + 3];
  }
  for (; j < D; j++) s0 += src[at + j];
  return (s0 + s1 + s2 + s3) / D;
}

/** 1/√(σ² + ε) of D values from `at` with mean mu (the biased variance, from the deviations: no cancellation). */
function rowRstd(src: TypedArray, at: number, D: number, mu: number, eps: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 4 <= D; j += 4) {
    const c0 = src[at + j] - mu;
    const c1 = src[at + j + 1] - mu;
    const c2 = src[at + j + 2] - mu;
    const c3 = src[at + j + 3] - mu;
    s0 += c0 * c0;
    s1 += c1 * c1;
    s2 += c2 * c2;
    s3 += c3 * c3;
  }
  for (; j < D; j++) s0 += (src[at + j] - mu) ** 2;
  return 1 / Math.sqrt((s0 + s1 + s2 + s3) / D + eps);
}

/** A weight or bias [D] as a Float64Array, or `fill` everywhere when there is none. */
function affineRow(alloc: ArrayAllocator, v: View | null, D: number, fill: number): Float64Array {
  const row = new Float64Array(D).fill(fill);
  if (v === null) return row;
  const { a, at } = flat(alloc, v);
  for (let j = 0; j < D; j++) row[j] = a[at + j];
  return row;
}

/**
 * layerNorm's backward pass for dy (x's shape): [∂x (R·D) | ∂weight (D) | ∂bias (D)], with
 * x̂ = (x − μ)·rstd and g = dy·weight (dy without a weight):
 *   ∂x = rstd·(g − mean(g) − x̂·mean(g·x̂)),  ∂weight = Σ_rows dy·x̂,  ∂bias = Σ_rows dy,
 * from the [μ, rstd] rows layerNorm saved (recomputed when there are none).
 */
export function layerNormBackward(alloc: ArrayAllocator, x: View, weight: View | null, dy: View, D: number, eps: number, saved: readonly View[]): DataId | null {
  const n = sizeOf(x.shape);
  if (!isFloatDtype(x.dtype) || !sameDtype(x, weight, dy) || n === 0 || D === 0 || saved.length > 1) return null;
  const R = n / D;
  const st = saved.length === 1 && saved[0].dtype === 'float64' && sizeOf(saved[0].shape) === 2 * R ? flat(alloc, saved[0]) : null;
  const { a: src, at: x0 } = flat(alloc, x);
  const { a: dya, at: d0 } = flat(alloc, dy);
  const w = affineRow(alloc, weight, D, 1);
  const out = alloc.array(x.dtype, n + 2 * D);
  const dw = new Float64Array(D);
  const db = new Float64Array(D);
  const xhat = new Float64Array(D);
  const g = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    const at = x0 + r * D;
    let mu: number;
    let rstd: number;
    if (st !== null) {
      mu = st.a[st.at + 2 * r];
      rstd = st.a[st.at + 2 * r + 1];
    } else {
      mu = rowMean(src, at, D);
      rstd = rowRstd(src, at, D, mu, eps);
    }
    const dAt = d0 + r * D;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < D; j++) {
      const xh = (src[at + j] - mu) * rstd;
      const dyj = dya[dAt + j];
      const gj = dyj * w[j];
      xhat[j] = xh;
      g[j] = gj;
      sg += gj;
      sgx += gj * xh;
      dw[j] += dyj * xh;
      db[j] += dyj;
    }
    const mg = sg / D;
    const mgx = sgx / D;
    const o = r * D;
    for (let j = 0; j < D; j++) out[o + j] = rstd * (g[j] - mg - xhat[j] * mgx);
  }
  for (let j = 0; j < D; j++) {
    out[n + j] = dw[j];
    out[n + D + j] = db[j];
  }
  return wrap(out);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TANH_C = 0.044715;

/** gelu of each element: x·Φ(x) ('none'), or ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ('tanh'); with `save`, keeps Φ(x) (or the tanh) for geluBackward. */
export function gelu(alloc: ArrayAllocator, x: View, approximate: 'none' | 'tanh', save: SaveForBackward): DataId | null {
  const n = sizeOf(x.shape);
  if (!isFloatDtype(x.dtype) || n === 0) return null;
  const { a, at } = flat(alloc, x);
  const out = alloc.array(x.dtype, n);
  const kept = save === null ? null : alloc.array(x.dtype, n);
  for (let i = 0; i < n; i++) {
    const v = a[at + i];
    // c: Φ(x), or the tanh of the approximation; gelu = x·c or ½x(1 + c)
    const c = approximate === 'tanh' ? Math.tanh(SQRT_2_OVER_PI * (v + TANH_C * v * v * v)) : 0.5 * (1 + erf(v * Math.SQRT1_2));
    out[i] = approximate === 'tanh' ? 0.5 * v * (1 + c) : v * c;
    if (kept !== null) kept[i] = c;
  }
  if (save !== null && kept !== null) {
    alloc.detach?.(kept);
    save(wrap(kept), x.shape, x.dtype);
  }
  return wrap(out);
}

/**
 * dy·gelu′(x): Φ(x) + x·φ(x) ('none'); ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²) with
 * t = tanh(√(2/π)(x + 0.044715x³)) ('tanh'). Φ(x) or t come from what gelu saved when it
 * saved them, else they are recomputed.
 */
export function geluBackward(alloc: ArrayAllocator, x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[]): DataId | null {
  const n = sizeOf(x.shape);
  if (!isFloatDtype(x.dtype) || dy.dtype !== x.dtype || n === 0 || saved.length > 1) return null;
  const { a, at } = flat(alloc, x);
  const { a: g, at: g0 } = flat(alloc, dy);
  const kept = saved.length === 1 && saved[0].dtype === x.dtype && sizeOf(saved[0].shape) === n ? flat(alloc, saved[0]) : null;
  const out = alloc.array(x.dtype, n);
  for (let i = 0; i < n; i++) {
    const v = a[at + i];
    if (approximate === 'tanh') {
      const t = kept !== null ? kept.a[kept.at + i] : Math.tanh(SQRT_2_OVER_PI * (v + TANH_C * v * v * v));
      out[i] = g[g0 + i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * TANH_C * v * v));
    } else {
      const cdf = kept !== null ? kept.a[kept.at + i] : 0.5 * (1 + erf(v * Math.SQRT1_2));
      out[i] = g[g0 + i] * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
  }
  return wrap(out);
}
