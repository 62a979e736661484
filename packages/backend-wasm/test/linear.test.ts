import '@ml/autograd';
import * as T from '@ml/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

// linear(x, w, b) on the wasm backend is one product whose accumulators start from the
// bias (gemmBias): its values and gradients against the cpu backend's (float32, within the
// products' rounding), on shapes that cross each rule of the product — output columns not a
// multiple of 8 (the bias row padded with zeros), rows not a multiple of 4 (C staged and
// copied out), an A large enough to go in blocks of rows on two threads, a product too
// small for the kernel, a non-contiguous x — and on two threads bit for bit as on one.
const one: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-linear-1t' });
const two: WasmBackend = registerWasmBackend({ threads: 2, name: 'wasm-linear-2t' });
afterEach(() => T.setBackend('cpu'));
beforeAll(async () => {
  await two.gemm.whenReady();
});

interface Run {
  y: number[];
  grads: number[][];
  op: string | undefined;
}

/** linear's output and the gradients of x, w (and b) for a fixed cotangent, on `backend`. */
function run(backend: string, xs: readonly number[], ws: readonly number[], withBias: boolean, strided = false): Run {
  T.setBackend(backend);
  T.manualSeed(3);
  const x0 = T.randn(strided ? [...xs.slice(0, -1), xs[xs.length - 1] + 3] : [...xs]).requiresGrad_();
  const w = T.randn([...ws]).requiresGrad_();
  const b = withBias ? T.randn([ws[0]]).requiresGrad_() : null;
  const x = strided ? x0.narrow(x0.ndim - 1, 2, xs[xs.length - 1]) : x0;
  const y = T.linear(x, w, b);
  const g = T.randn(y.shape);
  y.mul(g).sum().backward();
  const out = { y: Array.from(y.dataSync()), grads: [x0, w, ...(b ? [b] : [])].map((t) => Array.from(t.grad!.dataSync())), op: y.gradNode?.op };
  for (const t of [x0, w, y, g, ...(b ? [b] : [])]) t.dispose();
  return out;
}

function expectClose(got: number[], want: number[], K: number): void {
  expect(got.length).toBe(want.length);
  const tol = (v: number) => 1e-5 * Math.sqrt(K) * Math.max(1, Math.abs(v));
  const bad = got.findIndex((v, i) => !(Math.abs(v - want[i]) <= tol(want[i])));
  expect(bad, `element ${bad}: ${got[bad]} vs ${want[bad]}`).toBe(-1);
}

describe('linear on the wasm backend (gemmBias)', () => {
  it.each([
    ['x [64, 784] · w [128, 784]ᵀ + b (an MLP layer)', [64, 784], [128, 784], true, false],
    ['x [33, 100] · w [13, 100]ᵀ + b: 13 columns, 33 rows', [33, 100], [13, 100], true, false],
    ['x [4, 64, 128] · w [384, 128]ᵀ + b (attention in_proj)', [4, 64, 128], [384, 128], true, false],
    ['x [2048, 200] · w [24, 200]ᵀ + b: blocks of rows on two threads', [2048, 200], [24, 200], true, false],
    ['x [50, 70] · w [10, 70]ᵀ, no bias', [50, 70], [10, 70], false, false],
    ['x [3, 5] · w [2, 5]ᵀ + b: too small for the kernel', [3, 5], [2, 5], true, false],
    ['x a narrowed view [40, 60] of [40, 63] · w [17, 60]ᵀ + b: not contiguous', [40, 60], [17, 60], true, true],
  ] as const)('%s: the cpu backend values and gradients', (_what, xs, ws, withBias, strided) => {
    const want = run('cpu', xs, ws, withBias, strided);
    const K = xs[xs.length - 1];
    for (const backend of [one, two]) {
      const before = backend.stats.wasm;
      const got = run(backend.name, xs, ws, withBias, strided);
      expect(got.op).toBe('linear');
      // a product too small for the kernel runs the CPU code
      expect(backend.stats.wasm > before).toBe(sizeOfRows(xs) * K * ws[0] >= 4096);
      expectClose(got.y, want.y, K);
      got.grads.forEach((g, i) => expectClose(g, want.grads[i], Math.max(K, sizeOfRows(xs))));
    }
    // the same kernel on every part: two threads give one thread's bits
    const a = run(one.name, xs, ws, withBias, strided);
    const b = run(two.name, xs, ws, withBias, strided);
    expect(b.y).toEqual(a.y);
  });

  it('adds the bias as the products are written: one product on the kernel, nothing else', () => {
    T.setBackend(one.name);
    const x = T.randn([64, 128]);
    const w = T.randn([64, 128]);
    const b = T.randn([64]);
    const before = one.stats.wasm;
    const y = T.linear(x, w, b);
    expect(one.stats.wasm - before).toBe(1);
    const want = T.add(T.matmul(x, w.T), b);
    expectClose(Array.from(y.dataSync()), Array.from(want.dataSync()), 128);
    for (const t of [x, w, b, y, want]) t.dispose();
  });
});

/** rows of x (its leading axes), the sum's length in ∂W and ∂b */
function sizeOfRows(xs: readonly number[]): number {
  return xs.slice(0, -1).reduce((p, d) => p * d, 1);
}
