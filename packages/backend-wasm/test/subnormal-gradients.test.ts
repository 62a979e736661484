import { describe, expect, it } from 'vitest';
import '@ml/autograd';
import { gruSequence, lstmSequence, manualSeed, narrow, randn, rnnSequence, select, setBackend, tidy, type Tensor } from '@ml/tensor';
import { GRADIENT_FLUSH_BELOW } from '@ml/tensor/backend';
import { Adam } from '@ml/optim';
import { registerWasmBackend } from '../src/index.js';

// A gradient that vanishes through a long sequence used to shrink through the subnormal
// floats on its way to zero, and x86 cores run every instruction that reads or makes a
// subnormal 12–90× slower (a length-256 LSTM step took 877 ms on one thread instead of 69).
// The backward gate passes now write gradients under 2⁻¹⁰⁰ as +0, in the wasm kernels and in
// @ml/tensor's JavaScript passes alike: no subnormal reaches the products, and what is kept
// is what the passes computed.
const threaded = registerWasmBackend();
await threaded.gemm.whenReady();
registerWasmBackend({ threads: 1, name: 'wasm-1t' });

const [L, B, H] = [256, 8, 32];
const SMALLEST_NORMAL = 2 ** -126;

type Cell = 'lstm' | 'gru' | 'rnn';
/** The gradient of the last step's hidden state's sum with respect to the sequence op's input projection, [L, B, G·H]. */
function inputGradient(cell: Cell, backend: string): Float32Array {
  setBackend(backend);
  manualSeed(7);
  return tidy(() => {
    const G = cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1;
    const xp = randn([L, B, G * H]).keep();
    xp.requiresGrad = true;
    const h0 = randn([B, H]).mul(0.5);
    const whh = randn([G * H, H]).mul(0.05); // the gradient shrinks a few-fold every step
    const y: Tensor = cell === 'lstm' ? lstmSequence(xp, h0, randn([B, H]), whh) : cell === 'gru' ? gruSequence(xp, h0, whh, null) : rnnSequence(xp, h0, whh);
    narrow(select(y, 0, L - 1), 1, 0, H).sum().backward();
    const g = xp.grad!.dataSync() as Float32Array;
    xp.dispose();
    return Float32Array.from(g);
  });
}

const subnormals = (a: Float32Array): number => a.reduce((n, v) => n + (v !== 0 && Math.abs(v) < SMALLEST_NORMAL ? 1 : 0), 0);
/** the earliest step (of L) with a non-zero gradient */
const firstLive = (a: Float32Array): number => Math.floor(a.findIndex((v) => v !== 0) / (a.length / L));

describe('a gradient vanishing through 256 steps', () => {
  for (const cell of ['lstm', 'gru', 'rnn'] as const) {
    it(`${cell}: no subnormal in the gate gradients, none kept under 2⁻¹⁰⁰, the early steps +0, on wasm (both thread counts) and cpu`, () => {
      const runs = ['wasm', 'wasm-1t', 'cpu'].map((b) => inputGradient(cell, b));
      for (const g of runs) {
        expect(subnormals(g)).toBe(0);
        expect(g.every((v) => v === 0 || Math.abs(v) >= GRADIENT_FLUSH_BELOW)).toBe(true);
        // the gradient did vanish: steps near the start are exactly zero, the last ones are not
        expect(firstLive(g)).toBeGreaterThan(10);
        expect(g.subarray(g.length - B * H).some((v) => v !== 0)).toBe(true);
      }
      // the threaded and one-thread kernels agree to the bit, and the cpu passes closely
      expect(runs[1]).toEqual(runs[0]);
      let worst = 0;
      for (let i = 0; i < runs[0].length; i++) worst = Math.max(worst, Math.abs(runs[0][i] - runs[2][i]) / (1e-6 + Math.abs(runs[2][i])));
      expect(worst).toBeLessThan(1e-3);
    });
  }
});

describe('Adam\'s moments of a gradient that stops (an MNIST pixel no later image lights)', () => {
  // m shrinks ×0.9 a step once the gradient is 0: from 10⁻³ it would pass 2⁻¹²⁶ after about
  // 760 steps and sit in the subnormals until about 910, where every step's arithmetic on it
  // ran 2.7× slower on an Intel Xeon. Written as +0 under 2⁻¹⁰⁰ it never gets there; v,
  // shrinking ×0.999, stays normal and is kept.
  for (const backend of ['wasm', 'wasm-1t', 'cpu']) {
    it(`${backend}: after 800 steps of zero gradient m is +0 (no subnormal) and v is not`, () => {
      setBackend(backend);
      const p = randn([4096]).keep();
      p.requiresGrad = true;
      const opt = new Adam([p], { lr: 1e-3 });
      const step = (scale: number) =>
        tidy(() => {
          opt.zeroGrad();
          p.mul(scale).sum().backward();
          opt.step();
        });
      step(1e-2);
      for (let i = 0; i < 800; i++) step(0);
      const state = opt.stateDict().state[0] as { expAvg: Tensor; expAvgSq: Tensor };
      const [m, v] = [state.expAvg.dataSync() as Float32Array, state.expAvgSq.dataSync() as Float32Array];
      expect(subnormals(m)).toBe(0);
      expect(m.every((x) => Object.is(x, 0))).toBe(true);
      expect(v.every((x) => x > 1e-9 && x < 1e-7)).toBe(true); // 10⁻⁷·0.999⁸⁰⁰ ≈ 4.5·10⁻⁸
      // one more step with a gradient: m starts again from +0
      step(1e-2);
      expect(Array.from((opt.stateDict().state[0] as { expAvg: Tensor }).expAvg.dataSync() as Float32Array).every((x) => Math.abs(x - 1e-3) < 1e-9)).toBe(true);
      p.dispose();
    });
  }
});
