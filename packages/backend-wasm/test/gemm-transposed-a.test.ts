import { describe, expect, it } from 'vitest';
import type { Strided } from '../src/gemm.js';
import { enableRelaxedSimd } from '../src/kernels/index.js';
import { gemmOn, memoryFloats, seededFloats } from './gemm-fixtures.js';

// Products whose A is stored transposed (a weight gradient's Xᵀ·∂Y: both operands token-
// major): A is transposed into a work block by the SIMD transpose, in blocks of source
// rows that the threads share when it is large, the K mod chunk rows after them. Compared
// with a float64 loop over the strides, on shapes that cross the blocks' edges (K below
// one block, not a multiple of the block, thousands of rows), M a multiple of 4 or not, B
// read in place or packed, one thread or two, lda = M or wider (a narrow's rows).
enableRelaxedSimd();

const rand = seededFloats;


/** out[i, j] = Σ_k A[i, k]·B[k, j] in float64, from the strided views. */
function reference(A: Strided, B: Strided, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A.data[A.offset + i * A.si + k * A.sj] * B.data[B.offset + k * B.si + j * B.sj];
      out[i * N + j] = s;
    }
  return out;
}

type BLayout = 'rows' | 'transposed';

describe.each([1, 2])('products with A stored transposed, %i thread(s)', (threads) => {
  const on = gemmOn(threads);

  it.each([
    // [M, K, N, extra columns of Aᵀ's rows (lda = M + extra), B's layout]
    [4, 2, 8, 0, 'rows'],
    [8, 3, 7, 0, 'rows'],
    [12, 17, 9, 5, 'rows'],
    [128, 64, 512, 0, 'rows'], // B 128 KiB, read in place (gemmRows)
    [128, 1000, 128, 0, 'rows'], // B 500 KiB: packed; 16 M multiply-adds: split across threads
    [512, 300, 128, 128, 'rows'], // wider rows: a narrow of [K, 640]
    [16, 33, 40, 0, 'transposed'], // B stored transposed: packBT
    [64, 2048, 24, 0, 'transposed'],
    [5, 7, 9, 0, 'rows'],
    [130, 40, 16, 2, 'rows'],
    [128, 2048, 512, 0, 'rows'], // a weight gradient over 2048 tokens: a transpose the threads share
    [132, 1030, 64, 3, 'transposed'], // K not a multiple of the block: the last rows after the blocks
  ] as const)('M %i, K %i, N %i, lda = M + %i, B %s: the float64 product', (M, K, N, extra, bLayout: BLayout) => {
    const { g } = on;
    const lda = M + extra;
    const a = memoryFloats(g, K * lda + 3);
    a.set(rand(K * lda + 3, M * 7 + K));
    const b = memoryFloats(g, K * N);
    b.set(rand(K * N, N * 13 + K));
    const A: Strided = { data: a, offset: 3, sb: 0, si: 1, sj: lda };
    const B: Strided = bLayout === 'rows' ? { data: b, offset: 0, sb: 0, si: N, sj: 1 } : { data: b, offset: 0, sb: 0, si: 1, sj: K };
    const out = memoryFloats(g, M * N);
    const before = g.splitCalls;
    g.matmul(A, B, 1, M, K, N, out);
    // the large transposes (8·K·M bytes moved ≥ 256 KiB) are shared by two threads
    if (threads === 2 && 8 * K * M >= 1 << 18 && M * K * N >= 1 << 20) expect(g.splitCalls - before).toBeGreaterThan(0);
    const want = reference(A, B, M, K, N);
    for (let q = 0; q < M * N; q++) expect(Math.abs(out[q] - want[q])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[q])) * Math.sqrt(K));
    for (const x of [a, b, out]) g.heap.freeArray(x);
  });

  it('a batch of transposed As (one per item)', () => {
    const { g } = on;
    const [batch, M, K, N] = [3, 8, 300, 520]; // 1.2 M multiply-adds an item: the product loop, not gemmBatch
    const a = memoryFloats(g, batch * K * M);
    a.set(rand(batch * K * M, 99));
    const b = memoryFloats(g, batch * K * N);
    b.set(rand(batch * K * N, 98));
    const out = memoryFloats(g, batch * M * N);
    g.matmul({ data: a, offset: 0, sb: K * M, si: 1, sj: M }, { data: b, offset: 0, sb: K * N, si: N, sj: 1 }, batch, M, K, N, out);
    for (let u = 0; u < batch; u++) {
      const want = reference({ data: a, offset: u * K * M, sb: 0, si: 1, sj: M }, { data: b, offset: u * K * N, sb: 0, si: N, sj: 1 }, M, K, N);
      for (let q = 0; q < M * N; q++) expect(Math.abs(out[u * M * N + q] - want[q])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want[q])));
    }
    for (const x of [a, b, out]) g.heap.freeArray(x);
  });
});

// A weight gradient ∂Yᵀ·X of a layer with more outputs than inputs (A stored transposed,
// N < M, a large product) runs swapped, as (Xᵀ·∂Y)ᵀ: the same products in the same order,
// so the same bits as staging A's rows, on both sides of each condition (N against M, the
// size, B's layout) and at the edges (M and N off multiples of 4 and 8, K odd, wider rows).
describe.each([1, 2])('products with a wide transposed A, swapped, %i thread(s)', (threads) => {
  const on = gemmOn(threads);

  it.each([
    // [M, K, N, extra columns of Aᵀ's rows, whether it swaps]
    [512, 1792, 28, 0, true], // an LSTM's input weights over 64 × 28 tokens
    [512, 2048, 128, 0, true], // a feed-forward layer's first weights
    [130, 1031, 127, 3, true], // M and N one short of / past multiples, K odd, wider rows
    [129, 1030, 128, 0, true],
    [128, 1030, 128, 0, false], // N = M: staged as before
    [100, 100, 99, 0, false], // 990,000 multiply-adds: under the threaded size, staged
    [104, 100, 101, 0, true], // 1,050,400: over it
  ] as const)('M %i, K %i, N %i, lda = M + %i: the bits of the staged product, swapped: %s', (M, K, N, extra, swaps) => {
    const { g } = on;
    const lda = M + extra;
    const a = memoryFloats(g, K * lda + 1);
    a.set(rand(K * lda + 1, M * 5 + K));
    const b = memoryFloats(g, K * N);
    b.set(rand(K * N, N * 11 + K));
    const A: Strided = { data: a, offset: 1, sb: 0, si: 1, sj: lda };
    const B: Strided = { data: b, offset: 0, sb: 0, si: N, sj: 1 };
    const [swapped, staged] = [memoryFloats(g, M * N), memoryFloats(g, M * N)];
    const before = g.swappedProducts;
    g.matmul(A, B, 1, M, K, N, swapped);
    expect(g.swappedProducts - before).toBe(swaps ? 1 : 0);
    g.swapsTransposedA = false;
    try {
      g.matmul(A, B, 1, M, K, N, staged);
    } finally {
      g.swapsTransposedA = true;
    }
    expect(g.swappedProducts - before).toBe(swaps ? 1 : 0);
    expect(Array.from(swapped)).toEqual(Array.from(staged));
    const want = reference(A, B, M, K, N);
    for (let q = 0; q < M * N; q++) expect(Math.abs(swapped[q] - want[q])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[q])) * Math.sqrt(K));
    for (const x of [a, b, swapped, staged]) g.heap.freeArray(x);
  });

  it('B stored transposed, or out of the memory, keeps the staged product', () => {
    const { g } = on;
    const [M, K, N] = [256, 1024, 64];
    const a = memoryFloats(g, K * M);
    a.set(rand(K * M, 7));
    const b = memoryFloats(g, K * N);
    b.set(rand(K * N, 8));
    const A: Strided = { data: a, offset: 0, sb: 0, si: 1, sj: M };
    const before = g.swappedProducts;
    const out = memoryFloats(g, M * N);
    g.matmul(A, { data: b, offset: 0, sb: 0, si: 1, sj: K }, 1, M, K, N, out);
    const outside = new Float32Array(M * N);
    g.matmul(A, { data: b, offset: 0, sb: 0, si: N, sj: 1 }, 1, M, K, N, outside);
    expect(g.swappedProducts).toBe(before);
    const want = reference(A, { data: b, offset: 0, sb: 0, si: N, sj: 1 }, M, K, N);
    for (let q = 0; q < M * N; q++) expect(Math.abs(outside[q] - want[q])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[q])) * Math.sqrt(K));
    for (const x of [a, b, out]) g.heap.freeArray(x);
  });
});
