import * as T from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { propagate } from '../src/engine.js';
import { grad, gradcheck, gradgradcheck } from '../src/index.js';

const f64 = { dtype: 'float64' as const };

describe('gradients of many slices of one tensor (a loop over time steps)', () => {
  it('a select per step: each step gets its own gradient, the steps never taken get zero', () => {
    const x = T.randn([6, 2, 3], f64).requiresGrad_();
    // steps 0, 1, 3, 4 (not 2 and 5), each scaled differently
    const loss = [0, 1, 3, 4].map((t) => T.select(x, 0, t).mul(t + 1).sum()).reduce((a, b) => a.add(b));
    loss.backward();
    const g = x.grad!.arraySync() as number[][][];
    g.forEach((step, t) => step.flat().forEach((v) => expect(v).toBe([1, 2, 0, 4, 5, 0][t])));
  });
  it('overlapping and strided slices still sum correctly (the general rule)', () => {
    const x = T.randn([5, 4], f64).requiresGrad_();
    const loss = T.narrow(x, 0, 0, 3).sum().add(T.narrow(x, 0, 2, 3).mul(2).sum()).add(T.sliceView(x, [0, 0], [3, 2], [2, 2]).mul(10).sum());
    loss.backward();
    const want = [0, 1, 2, 3, 4].map((r) => [0, 1, 2, 3].map((c) => (r < 3 ? 1 : 0) + (r >= 2 ? 2 : 0) + (r % 2 === 0 && c % 2 === 0 ? 10 : 0)));
    expect(x.grad!.arraySync()).toEqual(want);
  });
  it('slices along a middle axis, the batch-first layout, join too', () => {
    const x = T.randn([2, 5, 3], f64);
    const f = (t: T.Tensor) => [4, 0, 2, 1, 3].map((s) => T.select(t, 1, s).pow(2).mul(s + 1).sum()).reduce((a, b) => a.add(b));
    const g = grad((t: T.Tensor) => f(t))(x) as T.Tensor;
    const xs = x.arraySync() as number[][][];
    (g.arraySync() as number[][][]).forEach((b, i) => b.forEach((row, s) => row.forEach((v, k) => expect(v).toBeCloseTo(2 * (s + 1) * xs[i][s][k], 12))));
  });
  it('passes gradcheck and gradgradcheck (joined gradients are differentiable)', () => {
    const f = (t: T.Tensor) => [0, 1, 2].map((s) => T.select(t, 0, s).tanh().mul(s + 0.5)).reduce((a, b) => a.add(b));
    const inputs = [T.randn([3, 4], f64)];
    expect(gradcheck(f, inputs).ok).toBe(true);
    expect(gradgradcheck(f, inputs).ok).toBe(true);
  });
  it('joins them in one concat (linear in the number of steps), not one full-size padding per step', () => {
    const x = T.randn([40, 3], f64).requiresGrad_();
    // squares, so each step's gradient depends on x and the join is recorded (createGraph)
    const loss = Array.from({ length: 40 }, (_, t) => T.select(x, 0, t).pow(2).mul(t).sum()).reduce((a, b) => a.add(b));
    const g = propagate([loss], [T.onesLike(loss)], new Set([x]), true).get(x)!;
    expect(g.gradNode?.op).toBe('concat');
    expect(g.gradNode?.inputs.length).toBe(40);
  });
  it('a single narrow or select joins by concat too (a copy of rows, not a padding loop), with the right values', () => {
    for (const [take, op] of [[(t: T.Tensor) => T.narrow(t, 2, 1, 2), 'narrow'], [(t: T.Tensor) => T.select(t, 1, 3), 'select']] as const) {
      const x = T.randn([2, 4, 3], f64).requiresGrad_();
      const loss = take(x).pow(2).sum();
      const g = propagate([loss], [T.onesLike(loss)], new Set([x]), true).get(x)!;
      expect(g.gradNode?.op, op).toBe('concat');
      const xs = x.arraySync() as number[][][];
      const want = xs.map((b) => b.map((row, s) => row.map((v, k) => (op === 'narrow' ? (k >= 1 ? 2 * v : 0) : s === 3 ? 2 * v : 0))));
      expect(g.arraySync()).toEqual(want);
    }
  });
  it('a single strided slice keeps its own rule (a padding)', () => {
    const x = T.randn([6, 2], f64).requiresGrad_();
    const loss = T.sliceView(x, [0, 0], [3, 2], [2, 1]).mul(3).sum();
    const g = propagate([loss], [T.onesLike(loss)], new Set([x]), true).get(x)!;
    expect(g.gradNode?.op).not.toBe('concat');
    expect(g.arraySync()).toEqual([[3, 3], [0, 0], [3, 3], [0, 0], [3, 3], [0, 0]]);
  });
});
