import * as T from '@ml/tensor';
import { registerCompositeBackend } from '@ml/tensor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import '../src/index.js';

// the cpu backend with every fused kernel declined: the ops run their composites
registerCompositeBackend('cpu-composite');

/** Run `fn` with the composites instead of the cpu backend's fused kernels. */
function composites<R>(fn: () => R): R {
  T.setBackend('cpu-composite');
  try {
    return fn();
  } finally {
    T.setBackend('cpu');
  }
}
const f64 = { dtype: 'float64' as const };

/** Output and input gradients of `fn` for a fixed upstream gradient, as plain arrays. */
function run(fn: (...xs: T.Tensor[]) => T.Tensor, make: () => T.Tensor[]): { y: number[]; grads: number[][]; op: string | undefined } {
  T.manualSeed(7);
  const inputs = make().map((t) => t.requiresGrad_());
  const y = fn(...inputs);
  const up = T.sin(T.arange(y.size, undefined, 1, { dtype: y.dtype })).reshape(y.shape);
  y.mul(up).sum().backward();
  return { y: Array.from(y.dataSync()), grads: inputs.map((t) => Array.from(t.grad!.dataSync())), op: y.gradNode?.op };
}

/** Run with the fused CPU kernels, then with them removed (the composites), and compare. */
function expectSameAsComposite(fn: (...xs: T.Tensor[]) => T.Tensor, make: () => T.Tensor[], fusedOp: string): void {
  const fused = run(fn, make);
  expect(fused.op).toBe(fusedOp); // the kernel ran and was recorded as one op
  const composite = composites(() => run(fn, make));
  expect(composite.op).not.toBe(fusedOp);
  const close = (a: number[], b: number[]) => {
    expect(a.length).toBe(b.length);
    a.forEach((v, i) => (Number.isNaN(b[i]) ? expect(v).toBeNaN() : expect(v).toBeCloseTo(b[i], 12)));
  };
  close(fused.y, composite.y);
  fused.grads.forEach((g, i) => close(g, composite.grads[i]));
}

afterEach(() => T.setBackend('cpu'));

describe('the fused linear kernel equals its composite, matmul(x, wᵀ) + b (float64)', () => {
  it.each([
    ['x [5, 7], w [3, 7], bias', [5, 7], [3, 7], true],
    ['x [2, 3, 7] (leading axes flattened), bias', [2, 3, 7], [4, 7], true],
    ['1-D x [7], no bias', [7], [3, 7], false],
    ['x [6, 1], w [9, 1], bias', [6, 1], [9, 1], true],
  ] as const)('linear %s', (_what, xs, ws, withBias) => {
    const make = () => [T.randn([...xs], f64), T.randn([...ws], f64), ...(withBias ? [T.randn([ws[0]], f64)] : [])];
    expectSameAsComposite((x, w, b) => T.linear(x, w, b ?? null), make, 'linear');
  });

  it('declines for mixed dtypes (the composite promotes them)', () => {
    const y = T.linear(T.randn([2, 3]), T.randn([4, 3], f64).requiresGrad_());
    expect(y.dtype).toBe('float64');
    expect(y.gradNode?.op).not.toBe('linear');
  });

  it('names the op and both shapes on a mismatch', () => {
    expect(() => T.linear(T.randn([2, 3]), T.randn([4, 5]))).toThrow(/linear: x's last dim must be weight's in features 5: x \[2,3\], weight \[4,5\]/);
    expect(() => T.linear(T.randn([2, 3]), T.randn([4, 3]), T.randn([3]))).toThrow(/linear: bias must be \[4\]/);
    expect(() => T.linear(T.randn([2, 3]), T.randn([3]))).toThrow(/linear: weight must be 2-D \[out, in\], got \[3\]/);
    expect(() => T.linear(T.randn([]), T.randn([4, 3]))).toThrow(/linear: x's last dim must be weight's in features 3/);
  });
});

describe('fused conv2d / maxPool2d kernels equal the composites (float64)', () => {
  const conv = (o: T.Conv2dOptions) => (x: T.Tensor, w: T.Tensor, b?: T.Tensor) => T.conv2d(x, w, b ?? null, o);
  it.each([
    ['3x3, no padding, bias', {}, [2, 3, 6, 5], [4, 3, 3, 3], true],
    ["stride 2, padding 'same', bias", { stride: 2, padding: 'same' }, [2, 2, 7, 6], [3, 2, 3, 3], true],
    ['dilation 2, padding [1, 2], no bias', { dilation: 2, padding: [1, 2] }, [1, 3, 6, 7], [2, 3, 2, 3], false],
    ['1x1 kernel, stride [2, 1]', { stride: [2, 1] }, [3, 4, 5, 5], [5, 4, 1, 1], true],
  ] as const)('conv2d %s', (_what, options, xs, ws, withBias) => {
    const make = () => [T.randn([...xs], f64), T.randn([...ws], f64), ...(withBias ? [T.randn([ws[0]], f64)] : [])];
    expectSameAsComposite(conv(options as T.Conv2dOptions), make, 'conv2d');
  });

  it('conv2d with groups declines the kernel and still differentiates', () => {
    const y = T.conv2d(T.randn([1, 4, 5, 5], f64).requiresGrad_(), T.randn([4, 2, 3, 3], f64).requiresGrad_(), null, { groups: 2 });
    expect(y.gradNode?.op).not.toBe('conv2d');
  });

  it.each([
    ['2x2, stride 2, ties', { kernelSize: 2 }],
    ['3x3, stride 1, padding 1 (overlapping windows, padded edges)', { kernelSize: 3, stride: 1, padding: 1 }],
    ['2x3, stride [1, 2], dilation 2', { kernelSize: [2, 3], stride: [1, 2], dilation: 2 }],
  ] as const)('maxPool2d %s', (_what, options) => {
    // small integers: many windows hold their max more than once, so ties share the gradient
    const make = () => [T.randint(0, 3, [2, 3, 7, 8]).cast('float64')];
    expectSameAsComposite((x) => T.maxPool2d(x, options as T.Pool2dOptions), make, 'maxPool2d');
  });

  it('maxPool2d: -∞ inputs tie with the padding, NaN wins its window', () => {
    const make = () => [T.tensor([[[[-Infinity, -Infinity, 1], [2, NaN, 0], [-Infinity, 3, -Infinity]]]], f64)];
    expectSameAsComposite((x) => T.maxPool2d(x, { kernelSize: 2, stride: 1, padding: 1 }), make, 'maxPool2d');
  });

  it('relu gradient: the fused pass equals where(x > 0, dy, 0), NaN, ±0 and ±∞ included', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = [-2, -0, 0, 3, NaN, Infinity, -Infinity, 1e-30];
      const dy = [1, 2, -3, NaN, 5, -0, Infinity, -Infinity];
      const run = () => {
        const xt = T.tensor(x, { dtype });
        return Array.from(T.reluBackward(xt, T.tensor(dy, { dtype })).dataSync()).map(String);
      };
      const fused = run();
      const composite = composites(run);
      expect(fused).toEqual(composite);
      expect(fused).toEqual(['0', '0', '0', 'NaN', '0', '0', '0', '-Infinity']);
    }
  });

  it.each(['mean', 'sum', 'none'] as const)('softmaxCrossEntropy (%s) and its gradient', (reduction) => {
    // one row of large logits, one with a -∞ logit away from its target
    const make = () => [T.cat([T.randn([3, 4], f64), T.tensor([[1000, -1000, 999, 0], [0, 1, -Infinity, 2]], f64)], 0)];
    // the target on the backend the logits are on (the fused run's or the composites')
    const loss = (x: T.Tensor) => T.softmaxCrossEntropy(x, T.tensor([3, 0, 2, 2, 1], { dtype: 'int32', backend: x.backend.name }), reduction);
    expectSameAsComposite(loss, make, 'softmaxCrossEntropy');
  });

  it('int32 maxPool2d runs the kernel too (no gradient)', () => {
    const x = T.tensor([[[[1, 5], [3, -2]]]], { dtype: 'int32' });
    expect(Array.from(T.maxPool2d(x, { kernelSize: 2 }).dataSync())).toEqual([5]);
  });
});
