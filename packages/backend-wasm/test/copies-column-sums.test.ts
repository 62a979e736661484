import * as T from '@ml/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

// Strided views made contiguous by one copyBlocks call (blocks of rows under one or two
// leading axes, split by the first) and sums over leading axes by colSums (split by
// columns): both move values without arithmetic of their own or sum each column in row
// order in float64, so on one thread and on two they give the cpu backend's values bit
// for bit. Shapes below and above the 256 KiB split threshold, rows whose length is not a
// multiple of 4 or 16 (colSums takes sixteen columns a pass, then four, then one), views
// with an offset, int32 values.
const one: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-copies-1t' });
const two: WasmBackend = registerWasmBackend({ threads: 2, name: 'wasm-copies-2t' });
afterEach(() => T.setBackend('cpu'));
beforeAll(async () => {
  await two.gemm.whenReady();
});

/** f of a seeded input of `shape` on `backend`, as a plain array (and its shape). */
function on(backend: string, shape: number[], dtype: 'float32' | 'int32', f: (x: T.Tensor) => T.Tensor): { values: number[]; shape: number[] } {
  T.setBackend(backend);
  T.manualSeed(5);
  const x = dtype === 'int32' ? T.randint(-1000, 1000, shape) : T.randn(shape);
  const y = f(x);
  const out = { values: Array.from(y.dataSync()), shape: [...y.shape] };
  x.dispose();
  y.dispose();
  return out;
}

function expectSame(shape: number[], dtype: 'float32' | 'int32', f: (x: T.Tensor) => T.Tensor, splits: boolean): void {
  const want = on('cpu', shape, dtype, f);
  for (const backend of [one, two]) {
    const before = backend.gemm.splitCalls;
    const got = on(backend.name, shape, dtype, f);
    expect(got.shape).toEqual(want.shape);
    const bad = got.values.findIndex((v, j) => !Object.is(v, want.values[j]));
    expect(bad, `${backend.name}: element ${bad}`).toBe(-1);
    if (backend === two) expect(backend.gemm.splitCalls - before > 0, `${backend.name} split`).toBe(splits);
  }
}

describe('strided copies in one call (copyBlocks)', () => {
  it.each([
    ['heads out of [N, L, H·D]: [32, 64, 4, 32] → [32, 4, 64, 32]', [32, 64, 4 * 32], (x: T.Tensor) => x.reshape([32, 64, 4, 32]).permute([0, 2, 1, 3]).contiguous(), true],
    ['heads merged back: [16, 4, 67, 65] → [16, 67, 4, 65]', [16, 4, 67, 65], (x: T.Tensor) => x.permute([0, 2, 1, 3]).contiguous(), true],
    ['leading axes swapped: [5, 7, 33, 129] → [7, 5, 33, 129]', [5, 7, 33, 129], (x: T.Tensor) => x.permute([1, 0, 2, 3]).contiguous(), true],
    ['one leading axis: [67, 5, 33] → [5, 67, 33]', [67, 5, 33], (x: T.Tensor) => x.permute([1, 0, 2]).contiguous(), false],
    ['one leading axis, large: [301, 9, 57] → [9, 301, 57]', [301, 9, 57], (x: T.Tensor) => x.permute([1, 0, 2]).contiguous(), true],
    ['a narrowed view with an offset: [9, 401, 70] columns 3…42', [9, 401, 70], (x: T.Tensor) => x.narrow(2, 3, 40).contiguous(), true],
    ['a small one: [2, 3, 5, 6] → [3, 2, 5, 6]', [2, 3, 5, 6], (x: T.Tensor) => x.permute([1, 0, 2, 3]).contiguous(), false],
  ] as const)('%s: the cpu backend values', (_what, shape, f, splits) => {
    expectSame([...shape], 'float32', f, splits);
  });

  it('copies int32 views too', () => {
    expectSame([16, 4, 67, 65], 'int32', (x) => x.permute([0, 2, 1, 3]).contiguous(), true);
  });
});

describe('sums over leading axes split by columns (colSums)', () => {
  it.each([
    ['[1031, 129] over rows', [1031, 129], [0], true],
    ['[2048, 512] over rows (a bias gradient of the Transformer step)', [2048, 512], [0], true],
    ['[4, 257, 67] over the first two axes', [4, 257, 67], [0, 1], true],
    ['[3, 7] over rows (small, one call)', [3, 7], [0], false],
    ['[20000, 4] over rows (four columns, one a part)', [20000, 4], [0], true],
    // sixteen columns a pass, then four, then one: the edges of each
    ['[300, 16] over rows (one wide pass)', [300, 16], [0], false],
    ['[300, 15] over rows (no wide pass)', [300, 15], [0], false],
    ['[100, 47] over rows (two wide passes, three of four, three single)', [100, 47], [0], false],
    ['[1792, 512] over rows (an LSTM input bias gradient over 64 × 28 tokens)', [1792, 512], [0], true],
    ['[600, 130] over rows (parts of 16 or 17 columns on two threads)', [600, 130], [0], true],
  ] as const)('%s: the cpu backend values', (_what, shape, axes, splits) => {
    expectSame([...shape], 'float32', (x) => x.sum([...axes]), splits);
  });
});
