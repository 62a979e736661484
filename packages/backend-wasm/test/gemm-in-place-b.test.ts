import { describe, expect, it } from 'vitest';
import type { Strided } from '../src/gemm.js';
import { enableRelaxedSimd } from '../src/kernels/index.js';
import { gemmOn, memoryFloats, seededFloats } from './gemm-fixtures.js';

// A row-major B small enough to stay in a core's cache is read where it lies (gemmRows)
// only while A has at most 64 rows (padded); with more, packing it pays back and it is
// packed. Products on both sides of that line (and of the cache-size one), one B for a
// whole batch included, against a float64 loop, on one thread and two.
enableRelaxedSimd();

const rand = seededFloats;

describe.each([1, 2])('a row-major B read in place or packed by A’s rows, %i thread(s)', (threads) => {
  const on = gemmOn(threads);

  it.each([
    // [batch, M, K, N, B shared by the batch]
    [1, 64, 512, 128, false], // 64 rows: read in place
    [1, 65, 512, 128, false], // 68 rows padded: packed
    [1, 2048, 128, 512, false], // a Transformer's token rows: packed
    [1, 300, 1024, 1024, false], // B 4 MiB: packed whatever the rows
    [3, 60, 256, 128, true], // one B for the batch, read in place by each product
    [3, 100, 256, 128, true], // one B for the batch, packed once and reused
    [2, 128, 200, 64, false], // a B per item, packed per item
  ] as const)('batch %i of [%i, %i]·[%i, %i]: the float64 product', (batch, M, K, N, shared) => {
    const { g } = on;
    const alloc = (n: number, seed: number) => {
      const a = memoryFloats(g, n);
      a.set(rand(n, seed));
      return a;
    };
    const a = alloc(batch * M * K, M + K);
    const b = alloc((shared ? 1 : batch) * K * N, K + N);
    const out = alloc(batch * M * N, 1);
    const A: Strided = { data: a, offset: 0, sb: M * K, si: K, sj: 1 };
    const B: Strided = { data: b, offset: 0, sb: shared ? 0 : K * N, si: N, sj: 1 };
    for (let run = 0; run < 2; run++) {
      out.fill(Number.NaN);
      g.matmul(A, B, batch, M, K, N, out);
      for (let u = 0; u < batch; u++)
        for (let i = 0; i < M; i += 7)
          for (let j = 0; j < N; j++) {
            let want = 0;
            for (let k = 0; k < K; k++) want += a[u * M * K + i * K + k] * b[(shared ? 0 : u * K * N) + k * N + j];
            expect(Math.abs(out[(u * M + i) * N + j] - want)).toBeLessThanOrEqual(1e-5 * Math.sqrt(K) * (1 + Math.abs(want)));
          }
    }
    for (const x of [a, b, out]) g.heap.freeArray(x);
  });
});
