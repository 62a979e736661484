import { describe, expect, it } from 'vitest';
import { manualSeed, matmul, randn, setBackend, toBackend, type Tensor } from '@ml/tensor';
import '@ml/autograd';
import { registerWasmBackend } from '../src/index.js';

registerWasmBackend();

async function onCpu(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

// Issue 17, item 1: a B shared by every batch (stride 0) whose rows are read in place by
// the first product was then read from never-packed scratch memory by the later ones.
describe('wasm matmul with one B for every batch', () => {
  it.each([
    ['rows read in place', [5, 4, 64], [64, 8]],
    ['packed B', [3, 8, 512], [512, 256]],
    ['ragged width', [4, 5, 64], [64, 13]],
  ] as const)('matches the cpu backend for every batch (%s)', async (_, aShape, wShape) => {
    manualSeed(7);
    setBackend('cpu');
    const a = randn([...aShape]);
    const w = randn([...wShape]);
    const want = await onCpu(matmul(a, w.unsqueeze(0).expand([aShape[0], ...wShape])));
    setBackend('wasm');
    try {
      const aw = await toBackend(a, 'wasm');
      const ww = await toBackend(w, 'wasm');
      for (let run = 0; run < 3; run++) {
        const got = await onCpu(matmul(aw, ww.unsqueeze(0).expand([aShape[0], ...wShape])));
        for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 3);
      }
    } finally {
      setBackend('cpu');
    }
  });
});
