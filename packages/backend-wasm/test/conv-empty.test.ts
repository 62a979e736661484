import { describe, expect, it } from 'vitest';
import { conv2d, randn, setBackend, toBackend } from '@ml/tensor';
import '@ml/autograd';
import { registerWasmBackend } from '../src/index.js';

registerWasmBackend();

// Found by the differential backend test (issue 17): convolutions with an empty operand
// (no input channels, no output channels, no images) left the kernels' outputs unwritten —
// the direct 3×3 kernel over no input channels, the Winograd weight gradient over no images.
// Each now gives the CPU code's zeros.
describe('wasm conv2d with an empty operand', () => {
  it.each([
    ['no input channels (direct 3×3)', [1, 0, 3, 6], [2, 0, 3, 3]],
    ['no output channels (direct 3×3)', [2, 3, 4, 6], [0, 3, 3, 3]],
    ['no images (Winograd)', [0, 8, 4, 9], [8, 8, 3, 3]],
    ['no input channels (patch matrices)', [2, 0, 5, 5], [3, 0, 2, 2]],
  ] as const)('writes zeros, forward and backward: %s', async (_, xShape, wShape) => {
    setBackend('cpu');
    const x = randn([...xShape]);
    const w = randn([...wShape]);
    const b = randn([wShape[0]]);
    const [xw, ww, bw] = [await toBackend(x, 'wasm'), await toBackend(w, 'wasm'), await toBackend(b, 'wasm')];
    for (const t of [xw, ww, bw]) t.requiresGrad_();
    setBackend('wasm');
    try {
      for (let run = 0; run < 3; run++) {
        const y = conv2d(xw, ww, bw, { padding: 1 });
        const want = conv2d(x, w, b, { padding: 1 });
        expect(Array.from(await y.data())).toEqual(Array.from(await want.data()));
        y.sum().backward();
        expect(Array.from(await xw.grad!.data()).every((v) => v === 0)).toBe(true);
        expect(Array.from(await ww.grad!.data()).every((v) => v === 0)).toBe(true);
        for (const t of [xw, ww, bw]) t.grad = null;
      }
    } finally {
      setBackend('cpu');
    }
  });
});
