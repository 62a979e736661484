import '@ml/autograd';
import * as T from '@ml/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

// The row passes that split across the threads (layerNorm, gelu in both forms and its
// backward, the softmax and its backward through attention, row copies of heads and
// concatenations, binary ops on whole-vector rows) give on two threads exactly what they
// give on one: rows and elements are
// independent. Shapes large enough to split (≥ 256 KiB moved), with odd row lengths and
// element counts so every part's last group and each split edge land mid-vector.
const one: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-transformer-1t' });
const two: WasmBackend = registerWasmBackend({ threads: 2, name: 'wasm-transformer-2t' });
afterEach(() => T.setBackend('cpu'));
beforeAll(async () => {
  await two.gemm.whenReady();
});

/** f's output and its inputs' gradients (for a fixed random cotangent) on `backend`, as plain arrays. */
function run(backend: WasmBackend, shapes: number[][], f: (xs: T.Tensor[]) => T.Tensor): number[][] {
  T.setBackend(backend.name);
  T.manualSeed(11);
  const xs = shapes.map((s) => T.randn(s).requiresGrad_());
  const y = f(xs);
  const g = T.randn(y.shape);
  y.mul(g).sum().backward();
  const out = [Array.from(y.dataSync()), ...xs.map((x) => Array.from(x.grad!.dataSync()))];
  for (const t of [...xs, y, g]) t.dispose();
  return out;
}

describe('transformer passes split across two threads', () => {
  it.each([
    ['layerNorm, rows of 129', [[1031, 129], [129], [129]], (xs: T.Tensor[]) => T.layerNorm(xs[0], 129, xs[1], xs[2])],
    ['gelu (exact), 100,003 elements', [[100003]], (xs: T.Tensor[]) => T.gelu(xs[0])],
    ['gelu (tanh), [517, 203]', [[517, 203]], (xs: T.Tensor[]) => T.gelu(xs[0], 'tanh')],
    ['attention, 4 heads of 63 × 61 (softmax backward, head copies)', [[8, 4, 63, 33], [8, 4, 61, 33], [8, 4, 61, 35]], (xs: T.Tensor[]) => T.scaledDotProductAttention(xs[0], xs[1], xs[2])],
    ['attention with a float mask (softmax split by rows)', [[8, 4, 63, 33], [8, 4, 61, 33], [8, 4, 61, 35], [63, 61]], (xs: T.Tensor[]) => T.scaledDotProductAttention(xs[0], xs[1], xs[2], { attnMask: xs[3] })],
    ['causal attention (softmax on the calling thread)', [[8, 4, 64, 32], [8, 4, 64, 32], [8, 4, 64, 32]], (xs: T.Tensor[]) => T.scaledDotProductAttention(xs[0], xs[1], xs[2], { isCausal: true })],
    ['binary ops on rows of 132 (split) with a broadcast row', [[1031, 132], [1031, 132], [132]], (xs: T.Tensor[]) => xs[0].mul(xs[1]).add(xs[2]).sub(xs[1]).div(xs[2].abs().add(1))],
    ['binary ops on rows of 203 (whole-vector rows only split: not these)', [[517, 203], [517, 203]], (xs: T.Tensor[]) => xs[0].mul(xs[1]).add(xs[0])],
    ['heads split out and merged back, and a concat', [[16, 67, 4 * 65]], (xs: T.Tensor[]) => {
      const heads = xs[0].reshape([16, 67, 4, 65]).permute([0, 2, 1, 3]).contiguous(); // [16, 4, 67, 65]
      return T.concat([heads.permute([0, 2, 1, 3]).contiguous().reshape([16, 67, 260]).mul(2), xs[0]], 2);
    }],
  ] as const)('%s: bit for bit the one-thread results', (_what, shapes, f) => {
    const before = two.gemm.splitCalls;
    const want = run(one, shapes.map((s) => [...s]), f);
    const got = run(two, shapes.map((s) => [...s]), f);
    expect(two.gemm.splitCalls - before).toBeGreaterThan(0);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      expect(g.length).toBe(want[i].length);
      const bad = g.findIndex((v, j) => !Object.is(v, want[i][j]));
      expect(bad, `array ${i}, element ${bad}`).toBe(-1);
    });
  });
});
