// The README's first example, line for line; what it prints is asserted here.
import { describe, expect, it } from 'vitest';
import { arange, conv2d, manualSeed, matmul, memory, randn, softmax, tensor, tidy } from '../src/index.js';

describe('README example', () => {
  it('prints what the README says', async () => {
    const a = tensor([[1, 2], [3, 4]]);
    expect(a.add(tensor([10, 20])).toString()).toBe('tensor([[11., 22.],\n        [13., 24.]])');
    expect(matmul(a, a.T).arraySync()).toEqual([[5, 11], [11, 25]]);
    expect(arange(6).reshape(2, 3).sum(-1).arraySync()).toEqual([3, 12]);
    // each row: e^(x − max) normalized — [1/(1+e), e/(1+e)]
    const p = 1 / (1 + Math.E);
    const rows = softmax(a, -1).arraySync() as number[][];
    for (const row of rows) expect(row.map((v, i) => Math.abs(v - [p, 1 - p][i]) < 1e-6)).toEqual([true, true]);
    manualSeed(0);
    const img = randn([1, 1, 28, 28]);
    const kernel = randn([8, 1, 3, 3]);
    expect(conv2d(img, kernel, null, { padding: 'same' }).shape).toEqual([1, 8, 28, 28]);
    const before = memory().numTensors;
    const y = tidy(() => a.mul(2).add(1).sum());
    // 2·(1+2+3+4) + 4 = 24; tidy kept only y
    expect([Array.from(await y.data()), memory().numTensors]).toEqual([[24], before + 1]);
  });
});
