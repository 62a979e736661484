/** Batched matrix product on the CPU, accumulated in float64. */
import type { DataId, View } from '../../backend.js';
import type { TypedArray } from '../../dtype.js';
import type { ArrayAllocator } from './allocator.js';
import { materialize, vals, wrap } from './views.js';

/** a: [B,M,K] · b: [B,K,N] → [B,M,N]. */
export function matmul(alloc: ArrayAllocator, a: View, b: View): DataId {
  const [B, M, K] = a.shape;
  const N = b.shape[2];
  const A = materialize(alloc, a);
  const Bm = materialize(alloc, b);
  const out = alloc.array(a.dtype, B * M * N);
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
  alloc.recycle(A);
  alloc.recycle(Bm);
  return wrap(out);
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

/**
 * x·Wᵀ + b for x [..., in], W [out, in], b [out] or null: x's rows times W read as its
 * transpose (strides swapped, no copy) on the backend's `product` (its matmul), then b
 * added to each row of the rounded products — the values matmul and a broadcast add give,
 * in one primitive.
 */
export function linear(alloc: ArrayAllocator, product: (a: View, b: View) => DataId, x: View, w: View, bias: View | null): DataId {
  const [out, inF] = w.shape;
  const rows = x.shape.slice(0, -1).reduce((p, d) => p * d, 1);
  const X = materialize(alloc, x);
  const a: View = { data: wrap(X), dtype: x.dtype, shape: [1, rows, inF], strides: [rows * inF, inF, 1], offset: 0 };
  const b: View = { data: w.data, dtype: w.dtype, shape: [1, inF, out], strides: [0, w.strides[1], w.strides[0]], offset: w.offset };
  const y = product(a, b);
  alloc.recycle(X);
  if (bias !== null) {
    const Y = vals({ data: y, dtype: x.dtype, shape: [rows * out], strides: [1], offset: 0 });
    const B = materialize(alloc, bias);
    for (let r = 0; r < rows; r++) for (let j = 0; j < out; j++) Y[r * out + j] = Y[r * out + j] + B[j];
    alloc.recycle(B);
  }
  return y;
}
