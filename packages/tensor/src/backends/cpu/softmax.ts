/** Softmax-family kernels: log-softmax and softmax cross-entropy with its gradient. */
import { isContiguousView as isContiguous, type DataId, type View } from '../../backend.js';
import type { TypedArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { ArrayAllocator } from './allocator.js';
import { contiguousView, isFloatDtype, vals, wrap } from './views.js';

/**
 * log-softmax over the last axis of a contiguous float x in one pass per row, with the
 * composite's roundings (x − m, exp, the sum, log, + m, x − lse each rounded to x's
 * dtype; m = the row's max, or 0 when that is not finite), so results agree bit for bit.
 */
export function logSoftmax(alloc: ArrayAllocator, x: View, dim: number): DataId | null {
  if (dim !== x.shape.length - 1 || !isContiguous(x) || sizeOf(x.shape) === 0 || !isFloatDtype(x.dtype)) return null;
  const src = vals(x);
  const n = sizeOf(x.shape);
  const C = x.shape[x.shape.length - 1];
  const out = alloc.array(x.dtype, n);
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
export function softmaxCrossEntropy(alloc: ArrayAllocator, x: View, t: View, divisor: number | null): DataId | null {
  if (!crossEntropyCase(x)) return null;
  const tc = contiguousView(alloc, t);
  const [src, tv] = [vals(x), vals(tc)];
  const [N, C] = [x.shape[0], x.shape[1]];
  const out = alloc.array(x.dtype, divisor === null ? N : 1);
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
export function softmaxCrossEntropyBackward(alloc: ArrayAllocator, x: View, t: View, g: View, divisor: number): DataId | null {
  if (!crossEntropyCase(x) || g.dtype !== x.dtype) return null;
  const [src, tc, gc] = [vals(x), contiguousView(alloc, t), contiguousView(alloc, g)];
  const [tv, gv] = [vals(tc), vals(gc)];
  const [N, C] = [x.shape[0], x.shape[1]];
  const perRow = sizeOf(g.shape) !== 1;
  const out = alloc.array(x.dtype, N * C);
  for (let i = 0; i < N; i++) {
    const at = x.offset + i * C;
    const k = checkedClass(tv[tc.offset + i], C, i);
    const lse = logSumExpRow(src, at, C);
    const s = gv[gc.offset + (perRow ? i : 0)] / divisor;
    for (let c = 0; c < C; c++) out[i * C + c] = (Math.exp(src[at + c] - lse) - (c === k ? 1 : 0)) * s;
  }
  return wrap(out);
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

/** The cross-entropy kernels' case: contiguous, non-empty float32/float64 logits. */
function crossEntropyCase(x: View): boolean {
  return isContiguous(x) && sizeOf(x.shape) > 0 && isFloatDtype(x.dtype);
}
