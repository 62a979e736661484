import { grad, noGrad } from '@ml/autograd';
import { conv2d, getBackend, manualSeed, memory, randn, setBackend, tidy, type Conv2dOptions, type Tensor } from '@ml/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

// A forward convolution on the wasm backend keeps what its weight gradient reads again
// (Winograd's padded input, or the patch matrix) as saved tensors of its graph node: those
// blocks of the module memory must go back when tidy() disposes of the graph, so a loop of
// forward and backward steps holds the memory flat.

const wasm: WasmBackend = registerWasmBackend();
let previous = 'cpu';
beforeAll(() => {
  previous = getBackend().name;
  setBackend('wasm');
});
afterAll(() => setBackend(previous));

const heapLive = (): number => memory().backends.wasm.heap?.liveBytes ?? Number.NaN;

/** The three ways the backend convolves, and what each keeps for its weight gradient. */
const CASES: { what: string; x: number[]; w: number[]; options: Conv2dOptions; keeps: (x: number[]) => number }[] = [
  // 8 → 8 channels, 3×3, stride 1: Winograd; keeps the input padded to whole 4×4 tiles (12×12 → 14×14)
  { what: 'Winograd (3×3, 8 channels)', x: [2, 8, 12, 12], w: [8, 8, 3, 3], options: { padding: 1 }, keeps: ([N, C]) => 4 * N * C * 14 * 14 },
  // 1 input channel, 5×5: the patch matrix, [N·oh·ow rounded up to the product's rows, C·25] (+4 floats)
  { what: 'patch matrix (5×5, 1 input channel)', x: [2, 1, 12, 12], w: [4, 1, 5, 5], options: { padding: 2 }, keeps: () => Number.NaN },
  // 1 input channel, 3×3: direct, keeps nothing
  { what: 'direct (3×3, 1 input channel)', x: [2, 1, 12, 12], w: [4, 1, 3, 3], options: { padding: 1 }, keeps: () => 0 },
];

describe('conv2d on wasm: what the forward saves for the backward is freed with the graph', () => {
  for (const c of CASES) {
    it(`${c.what}: liveBytes after step 20 equal those after step 2`, () => {
      manualSeed(5);
      const x = randn(c.x).keep();
      const w = randn(c.w).keep();
      const b = randn([c.w[0]]).keep();
      const gradients = grad((xi: Tensor, wi: Tensor) => conv2d(xi, wi, b, c.options).square().sum(), { argnums: [0, 1] });
      const step = () =>
        tidy(() => {
          const [dx, dw] = gradients(x, w) as Tensor[];
          expect(dx.shape).toEqual(c.x);
          expect(dw.shape).toEqual(c.w);
        });
      const before = heapLive();
      step();
      step();
      const afterTwo = heapLive();
      for (let i = 2; i < 20; i++) step();
      expect(heapLive()).toBe(afterTwo);
      expect(afterTwo).toBe(before); // nothing outlives a step at all
    });
  }

  it('the Winograd and patch-matrix forwards do save (a recorded forward holds more of the memory than an unrecorded one)', () => {
    for (const c of CASES) {
      manualSeed(6);
      const x = randn(c.x).requiresGrad_().keep();
      const w = randn(c.w).keep();
      /** bytes of the memory a forward's output (and its graph node) holds */
      const held = (run: () => Tensor): number =>
        tidy(() => {
          const before = heapLive();
          run();
          return heapLive() - before;
        });
      const extra = held(() => conv2d(x, w, null, c.options)) - held(() => noGrad(() => conv2d(x, w, null, c.options)));
      const keeps = c.keeps(c.x);
      if (Number.isNaN(keeps)) expect(extra, c.what).toBeGreaterThan(4 * c.x[0] * 144 * 25);
      else if (keeps === 0) expect(extra, c.what).toBe(0);
      else expect(extra, c.what).toBeGreaterThanOrEqual(keeps);
    }
    expect(wasm.stats.winograd).toBeGreaterThan(0);
    expect(wasm.stats.direct).toBeGreaterThan(0);
  });
});
