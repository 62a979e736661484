import { describe, expect, it } from 'vitest';
import { registerWasmBackend } from '../src/index.js';

// transposeTiled takes transpose's 4×4 tiles sixteen source rows at a time (a whole cache
// line of each destination row per sweep). It moves values without arithmetic, and adds
// the bias as transpose does, so both give the same bits — checked here on every edge of
// its loops: rows below, at and past sixteen and four (the rows past the last sixteen by
// tiles, past the last four element by element), columns off four, two blocks with
// strides wider than the rows, with a bias and without; and against the definition.
const backend = registerWasmBackend({ threads: 1, name: 'wasm-transpose-tiled' });
const g = backend.gemm;

describe('transposeTiled', () => {
  const rowsCases = [1, 3, 4, 15, 16, 17, 33, 64, 250];
  const colsCases = [1, 3, 4, 5, 16, 31];
  it.each(rowsCases.flatMap((R) => colsCases.map((C) => [R, C] as const)))('R %i, C %i: transpose’s bits, with and without a bias, two strided blocks', (R, C) => {
    const [N, ss, ds] = [2, C + 3, R + 2];
    const [sb, db] = [R * ss + 5, C * ds + 7];
    const floats = N * sb + 2 * (N * db) + C + 8;
    const at = g.alloc(4 * floats);
    try {
      const f = g.heap.f32;
      const base = at >> 2;
      const [src, dst1, dst2, bias] = [at, at + 4 * N * sb, at + 4 * (N * sb + N * db), at + 4 * (N * sb + 2 * N * db)];
      for (let i = 0; i < N * sb; i++) f[base + i] = Math.sin(1.7 * i) * 100;
      for (let i = 0; i < C; i++) f[(bias >> 2) + i] = Math.cos(i) / 3;
      for (const withBias of [0, bias]) {
        f.fill(-1, (dst1 >> 2), (dst1 >> 2) + 2 * N * db);
        g.kernels.transpose(src, dst1, N, R, C, ss, ds, sb, db, withBias);
        g.kernels.transposeTiled(src, dst2, N, R, C, ss, ds, sb, db, withBias);
        for (let n = 0; n < N; n++)
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++) {
              const [want, got] = [f[(dst1 >> 2) + n * db + c * ds + r], f[(dst2 >> 2) + n * db + c * ds + r]];
              const defined = Math.fround(f[base + n * sb + r * ss + c] + (withBias ? f[(bias >> 2) + c] : 0));
              expect(Object.is(got, want) && got === defined, `block ${n}, [${c}][${r}]: ${got} against ${want}`).toBe(true);
            }
        // nothing written past a block's rows: the gaps of the destination keep their fill
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let r = R; r < ds && n * db + c * ds + r < N * db; r++) expect(f[(dst2 >> 2) + n * db + c * ds + r]).toBe(-1);
      }
    } finally {
      g.heap.free(at);
    }
  });
});
