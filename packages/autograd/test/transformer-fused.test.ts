// layerNorm, gelu and scaledDotProductAttention: the cpu backend's fused kernels (forward
// and backward) against the composites in float64 — values and every input gradient —
// over odd shapes, masks of every kind, broadcasting and non-contiguous inputs; a spy that
// fails when a kernel declines on the normal path; gradcheck through the fused path.
import * as T from '@ml/tensor';
import { registerCompositeBackend, registerCountingBackend } from '@ml/tensor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { gradcheck } from '../src/index.js';

/** A cpu backend counting the calls of its transformer kernels that did not decline. */
const { backend: spy, counts: calls } = registerCountingBackend('cpu-transformer-spy', ['layerNorm', 'layerNormBackward', 'gelu', 'geluBackward', 'scaledDotProductAttention', 'scaledDotProductAttentionBackward']);
const COMPOSITE = registerCompositeBackend('cpu-transformer-composite').name;

const f64 = { dtype: 'float64' as const };
type Make = () => T.Tensor[];
type Fn = (...xs: T.Tensor[]) => T.Tensor;

/** Output and gradients of every float input for a fixed upstream gradient, on `backend`. */
function run(backend: string, fn: Fn, make: Make): { y: number[]; grads: number[][]; op: string | undefined } {
  T.setBackend(backend);
  try {
    T.manualSeed(7);
    const inputs = make();
    const leaves = inputs.filter((t) => T.isFloat(t.dtype));
    for (const t of leaves) t.requiresGrad_();
    const y = fn(...inputs);
    const up = T.sin(T.arange(y.size, undefined, 1, { dtype: y.dtype }).add(0.5)).reshape(y.shape);
    y.mul(up).sum().backward();
    return { y: Array.from(y.dataSync()), grads: leaves.map((t) => Array.from(t.grad!.dataSync())), op: y.gradNode?.op };
  } finally {
    T.setBackend('cpu');
  }
}

function expectClose(a: number[], b: number[], label: string, tol = 1e-10): void {
  expect(a.length, label).toBe(b.length);
  a.forEach((v, i) => {
    if (Number.isNaN(b[i])) expect(v, `${label}[${i}]`).toBeNaN();
    else expect(Math.abs(v - b[i]), `${label}[${i}]: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i])));
  });
}

/** The fused kernels (forward and backward ran, recorded as one op) equal the composite. */
function expectFusedEqualsComposite(fn: Fn, make: Make, op: string, kernels = [op, `${op}Backward`]): void {
  const before = kernels.map((k) => calls[k] ?? 0);
  const fused = run(spy.name, fn, make);
  kernels.forEach((k, i) => expect(calls[k] ?? 0, `${k} ran`).toBe(before[i] + 1));
  expect(fused.op).toBe(op);
  const composite = run(COMPOSITE, fn, make);
  expect(composite.op).not.toBe(op);
  expectClose(fused.y, composite.y, 'output');
  expect(fused.grads.length).toBe(composite.grads.length);
  fused.grads.forEach((g, i) => expectClose(g, composite.grads[i], `grad ${i}`));
}

afterEach(() => T.setBackend('cpu'));

const randn = (...s: number[]) => T.randn(s, f64);

describe('layerNorm: fused kernels equal the composite (float64)', () => {
  it.each([
    ['[2,3,5] over [5], weight and bias', [2, 3, 5], [5], true, true],
    ['[4,7] over [7], no affine', [4, 7], [7], false, false],
    ['[3,2,3] over [2,3], weight only', [3, 2, 3], [2, 3], true, false],
    ['[2,1] over [1] (one element per row), bias only', [2, 1], [1], false, true],
    ['[1,9] over [9] (one row)', [1, 9], [9], true, true],
  ] as const)('%s', (_what, xs, ns, withW, withB) => {
    const make = () => [randn(...xs).mul(3).add(1), ...(withW ? [randn(...ns)] : []), ...(withB ? [randn(...ns)] : [])];
    const fn = (x: T.Tensor, ...rest: T.Tensor[]) => T.layerNorm(x, ns, withW ? rest[0] : null, withB ? rest[rest.length - 1] : null, 1e-5);
    expectFusedEqualsComposite(fn, make, 'layerNorm');
  });

  it("weight and bias gradients are buffers of their own (not views keeping the whole backward output alive)", () => {
    const x = randn(16, 8);
    const w = randn(8).requiresGrad_();
    const b = randn(8).requiresGrad_();
    T.layerNorm(x, [8], w, b).sum().backward();
    expect(w.grad!.storage.size).toBe(8);
    expect(b.grad!.storage.size).toBe(8);
  });

  it('a transposed (non-contiguous) input', () => {
    const make = () => [randn(6, 3), randn(6), randn(6)];
    expectFusedEqualsComposite((x, w, b) => T.layerNorm(x.transpose(0, 1), 6, w, b), make, 'layerNorm');
  });

  it('matches the normalization written out: each row has mean b and standard deviation |w| (ε = 0)', () => {
    const x = T.tensor([[1, 2, 3, 4], [-2, 0, 0, 10]], f64);
    const y = T.layerNorm(x, [4], T.full([4], 2, f64), T.full([4], 0.5, f64), 0);
    const rows = [[1, 2, 3, 4], [-2, 0, 0, 10]].map((r) => {
      const mu = r.reduce((a, b) => a + b) / 4;
      const sd = Math.sqrt(r.reduce((a, b) => a + (b - mu) ** 2, 0) / 4);
      return r.map((v) => ((v - mu) / sd) * 2 + 0.5);
    });
    expectClose(Array.from(y.dataSync()), rows.flat(), 'y', 1e-14);
  });
});

describe('gelu: fused kernels equal the composite (float64)', () => {
  it.each(['none', 'tanh'] as const)("approximate: '%s', [3,5] with large and tiny values", (approximate) => {
    const make = () => [randn(3, 5).mul(3)];
    expectFusedEqualsComposite((x) => T.gelu(x, approximate), make, 'gelu');
  });
  it.each(['none', 'tanh'] as const)("approximate: '%s', a sliced input", (approximate) => {
    const make = () => [randn(4, 6)];
    expectFusedEqualsComposite((x) => T.gelu(T.narrow(x, 1, 1, 3), approximate), make, 'gelu');
  });
  it('known values: gelu(1) = Φ(1) = 0.8413447460685429, tanh form 0.8411919906082768', () => {
    expect(T.gelu(T.tensor([1], f64)).item()).toBeCloseTo(0.8413447460685429, 14);
    expect(T.gelu(T.tensor([1], f64), 'tanh').item()).toBeCloseTo(0.8411919906082768, 14);
  });
});

describe('scaledDotProductAttention: fused kernels equal the composite (float64)', () => {
  const sdpa = (o: T.AttentionOptions = {}) => (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.scaledDotProductAttention(q, k, v, o);
  const qkv = (qs: number[], ks: number[], vs: number[]): Make => () => [randn(...qs), randn(...ks), randn(...vs)];
  const op = 'scaledDotProductAttention';

  it.each([
    ['[2,3,5,4] × [2,3,7,4] × [2,3,7,6]', [2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6]],
    ['unbatched [5,3] × [4,3] × [4,2]', [5, 3], [4, 3], [4, 2]],
    ['one query, L = 1', [2, 1, 4], [2, 6, 4], [2, 6, 3]],
    ['one key, S = 1', [3, 4, 5], [3, 1, 5], [3, 1, 2]],
    ['k and v shared by the batch ([1,·,·] and [·,·])', [3, 4, 5], [1, 6, 5], [6, 2]],
  ])('%s', (_what, qs, ks, vs) => {
    expectFusedEqualsComposite(sdpa(), qkv(qs, ks, vs), op);
  });

  it('a custom scale', () => expectFusedEqualsComposite(sdpa({ scale: 0.3 }), qkv([2, 3, 4], [2, 5, 4], [2, 5, 4]), op));

  it('causal, L < S and L > S', () => {
    expectFusedEqualsComposite(sdpa({ isCausal: true }), qkv([2, 2, 4, 3], [2, 2, 6, 3], [2, 2, 6, 5]), op);
    expectFusedEqualsComposite(sdpa({ isCausal: true }), qkv([2, 6, 3], [2, 4, 3], [2, 4, 5]), op);
  });

  it('a bool mask [L,S] with a fully masked row (zeros, no NaN), broadcast over batch and heads', () => {
    const mask = () => T.tensor([[false, true, false, true], [true, true, true, true], [false, false, false, true]], { dtype: 'bool' });
    const make = () => [...qkv([2, 3, 3, 5], [2, 3, 4, 5], [2, 3, 4, 2])()];
    const fn = (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.scaledDotProductAttention(q, k, v, { attnMask: mask() });
    expectFusedEqualsComposite(fn, make, op);
    const [q, k, v] = make();
    const row = Array.from(T.narrow(fn(q, k, v), 2, 1, 1).dataSync());
    expect(row.every((x) => x === 0)).toBe(true);
  });

  it('an additive float mask with −∞ entries and a whole −∞ row, per batch and broadcast over heads ([N,1,L,S])', () => {
    const hide = () => T.tensor([[0, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], { dtype: 'bool' });
    const mask = () => T.where(hide(), -Infinity, fixed([2, 1, 4, 5]));
    const fn = (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.scaledDotProductAttention(q, k, v, { attnMask: mask() });
    expectFusedEqualsComposite(fn, qkv([2, 3, 4, 3], [2, 3, 5, 3], [2, 3, 5, 4]), op);
  });

  it('two masks at once (a key-padding mask [N,1,1,S] and a causal float mask) plus isCausal', () => {
    const pad = () => T.tensor([[[[false, false, false, true]]], [[[false, true, true, true]]]], { dtype: 'bool' });
    const fn = (q: T.Tensor, k: T.Tensor, v: T.Tensor) =>
      T.scaledDotProductAttention(q, k, v, { attnMask: [pad(), T.mul(fixed([4, 4]), 0.1)], isCausal: true });
    expectFusedEqualsComposite(fn, qkv([2, 2, 4, 3], [2, 2, 4, 3], [2, 2, 4, 3]), op);
  });

  it('heads split out of [N, L, H·D] (non-contiguous q, k, v) and a transposed k', () => {
    const heads = (t: T.Tensor, L: number) => t.reshape([2, L, 3, 2]).transpose(1, 2);
    const fn = (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.scaledDotProductAttention(heads(q, 5), heads(k.transpose(1, 2), 4), heads(v, 4));
    expectFusedEqualsComposite(fn, qkv([2, 5, 6], [2, 6, 4], [2, 4, 6]), op);
  });

  it('a float mask that needs a gradient runs the composite and gets one', () => {
    const [q, k, v] = qkv([2, 3, 2], [2, 4, 2], [2, 4, 2])();
    const m = randn(3, 4).requiresGrad_();
    const y = T.scaledDotProductAttention(q, k, v, { attnMask: m });
    expect(y.gradNode?.op).not.toBe(op);
    y.sum().backward();
    expect(m.grad?.shape).toEqual([3, 4]);
  });

  it('agrees with attention written out on plain numbers (one query, two keys)', () => {
    const q = T.tensor([[1, 0]], f64);
    const k = T.tensor([[1, 0], [0, 1]], f64);
    const v = T.tensor([[2, 0], [0, 4]], f64);
    const y = T.scaledDotProductAttention(q, k, v, { scale: 1 });
    const p0 = Math.E / (Math.E + 1);
    expectClose(Array.from(y.dataSync()), [2 * p0, 4 * (1 - p0)], 'y', 1e-15);
  });
});

/** Fixed float64 values in [−1, 1] (no draw from the seeded generator). */
function fixed(shape: number[]): T.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return T.sin(T.arange(0, n, 1, f64).mul(1.7)).reshape(shape);
}

describe('the backward kernels called directly (nothing saved: they recompute) equal the composites', () => {
  /** values of `fn` on `backend`, inputs drawn there with one seed */
  const on = (backend: string, fn: () => T.Tensor): number[] => {
    T.setBackend(backend);
    try {
      T.manualSeed(17);
      return Array.from(fn().dataSync());
    } finally {
      T.setBackend('cpu');
    }
  };
  it.each([
    ['layerNormBackward', () => T.layerNormBackward(randn(3, 4, 5), randn(5), randn(3, 4, 5), [5])],
    ['geluBackward', () => T.geluBackward(randn(4, 5), randn(4, 5))],
    ["geluBackward 'tanh'", () => T.geluBackward(randn(4, 5), randn(4, 5), 'tanh')],
    ['scaledDotProductAttentionBackward, causal', () => T.scaledDotProductAttentionBackward(randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 2), randn(2, 3, 2), { isCausal: true })],
  ] as const)('%s', (name, fn) => {
    const before = calls[name.split(/[ ,]/)[0]] ?? 0;
    const fused = on(spy.name, fn);
    expect(calls[name.split(/[ ,]/)[0]]).toBe(before + 1);
    expectClose(fused, on(COMPOSITE, fn), name);
  });
});

describe('on the normal path the kernels do not decline', () => {
  it('a post-norm block: layerNorm(x + attention(x)) → gelu, with gradients, float32', () => {
    T.setBackend(spy.name);
    try {
      const before = { ...calls };
      const x = T.randn([2, 5, 8]).requiresGrad_();
      const w = T.ones([8]).requiresGrad_();
      const b = T.zeros([8]).requiresGrad_();
      const h = x.reshape([2, 5, 2, 4]).transpose(1, 2);
      const a = T.scaledDotProductAttention(h, h, h, { isCausal: true }).transpose(1, 2).reshape([2, 5, 8]);
      const y = T.gelu(T.layerNorm(x.add(a), [8], w, b));
      y.square().mean().backward();
      for (const k of ['layerNorm', 'layerNormBackward', 'gelu', 'geluBackward', 'scaledDotProductAttention', 'scaledDotProductAttentionBackward']) {
        expect(calls[k] ?? 0, k).toBe((before[k] ?? 0) + 1);
      }
    } finally {
      T.setBackend('cpu');
    }
  });
});

describe('gradcheck through the fused kernels (float64)', () => {
  it('layerNorm with weight and bias', () => {
    T.manualSeed(3);
    expect(gradcheck((x, w, b) => T.layerNorm(x, [4], w, b), [randn(3, 4), randn(4), randn(4)]).ok).toBe(true);
  });
  it.each(['none', 'tanh'] as const)("gelu '%s'", (a) => {
    T.manualSeed(4);
    expect(gradcheck((x) => T.gelu(x, a), [randn(2, 5)]).ok).toBe(true);
  });
  it('scaledDotProductAttention with a bool mask and isCausal', () => {
    T.manualSeed(5);
    const m = T.tensor([[false, false, true], [false, false, false]], { dtype: 'bool' });
    expect(gradcheck((q, k, v) => T.scaledDotProductAttention(q, k, v, { attnMask: m, isCausal: true }), [randn(2, 2, 3), randn(2, 3, 3), randn(2, 3, 2)]).ok).toBe(true);
  });
});
