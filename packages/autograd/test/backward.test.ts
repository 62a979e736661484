import * as T from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { enableGrad, grad, hessian, hvp, isGradEnabled, jacobian, noGrad, valueAndGrad, vjp } from '../src/index.js';

const f64 = { dtype: 'float64' as const };
const values = (t: T.Tensor) => Array.from(t.dataSync());

describe('backward() fills .grad on leaves (PyTorch semantics)', () => {
  it('d(x² + 3x)/dx = 2x + 3 at x = [1, -2]', () => {
    const x = T.tensor([1, -2], { requiresGrad: true });
    x.mul(x).add(x.mul(3)).sum().backward();
    expect(values(x.grad!)).toEqual([5, -1]);
  });

  it('accumulates across calls until the grad is cleared', () => {
    const w = T.tensor([2], { requiresGrad: true });
    w.mul(5).sum().backward();
    w.mul(5).sum().backward();
    expect(values(w.grad!)).toEqual([10]);
    w.grad!.dispose();
    w.grad = null;
    w.mul(w).sum().backward();
    expect(values(w.grad!)).toEqual([4]);
  });

  it('reduces broadcast gradients back to each input shape', () => {
    const a = T.ones([3, 1], { requiresGrad: true });
    const b = T.ones([4], { requiresGrad: true });
    T.mul(a, b).sum().backward();
    expect(a.grad!.shape).toEqual([3, 1]);
    expect(values(a.grad!)).toEqual([4, 4, 4]);
    expect(values(b.grad!)).toEqual([3, 3, 3, 3]);
  });

  it('a tensor used on several paths sums its contributions', () => {
    // y = x·sin(x) + x: dy/dx = sin x + x cos x + 1
    const x = T.tensor([0.7], { ...f64, requiresGrad: true });
    x.mul(x.sin()).add(x).sum().backward();
    expect(values(x.grad!)[0]).toBeCloseTo(Math.sin(0.7) + 0.7 * Math.cos(0.7) + 1, 12);
  });

  it('a non-scalar root needs an explicit gradient (vector-Jacobian product)', () => {
    const x = T.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x);
    expect(() => y.backward()).toThrow(/implicit only for one-element outputs; got \[3\]/);
    y.backward(T.tensor([1, 0.5, 0]));
    expect(values(x.grad!)).toEqual([2, 2, 0]);
    expect(() => x.mul(2).backward(T.tensor([1, 2]))).toThrow(/gradient \[2\] does not match output \[3\]/);
  });

  it('detach() and noGrad stop the tape; enableGrad restarts it', () => {
    const x = T.tensor([3], { requiresGrad: true });
    const y = x.mul(x.detach()); // d/dx = x.detach() = 3, not 2x
    y.sum().backward();
    expect(values(x.grad!)).toEqual([3]);
    const z = noGrad(() => x.mul(2));
    expect(z.requiresGrad).toBe(false);
    expect(() => z.sum().backward()).toThrow(/does not require grad/);
    noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      expect(enableGrad(() => x.mul(2)).requiresGrad).toBe(true);
    });
    expect(isGradEnabled()).toBe(true);
  });

  it('integer tensors cannot require grad, and comparisons do not record', () => {
    expect(() => T.tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(/only floating-point tensors/);
    const x = T.tensor([1, 2], { requiresGrad: true });
    expect(x.gt(1).requiresGrad).toBe(false);
    expect(x.argmax().requiresGrad).toBe(false);
  });

  it('backward without the engine names the import to add', async () => {
    // the engine is installed by importing @ml/autograd; the message is for those who forget
    const { autogradHooks } = await import('../../tensor/src/engine.js');
    expect(typeof autogradHooks).toBe('function');
    expect(() => autogradHooks()).toThrow(/import '@ml\/autograd'/); // separate module instance: nothing installed there
  });
});

describe('functional transforms', () => {
  it('grad of sum(x³) is 3x²', () => {
    const g = grad((x: T.Tensor) => x.pow(3).sum())(T.tensor([1, 2, -1], f64));
    expect(values(g)).toEqual([3, 12, 3]);
  });

  it('valueAndGrad over a tree of parameters', () => {
    const params = { w: T.tensor([[1, 2]], f64), b: T.tensor([0.5], f64) };
    const x = T.tensor([[3], [4]], f64);
    // loss = Σ (w·x + b)² = (3 + 8 + 0.5)² = 132.25
    const [loss, g] = valueAndGrad((p: { w: T.Tensor; b: T.Tensor }, input: T.Tensor) => T.matmul(p.w, input).add(p.b).pow(2).sum())(params, x);
    expect(loss.item()).toBe(132.25);
    // ∂/∂w = 2·11.5·xᵀ = [69, 92]; ∂/∂b = 23
    expect(values(g.w)).toEqual([69, 92]);
    expect(values(g.b)).toEqual([23]);
    expect(params.w.requiresGrad).toBe(false); // inputs are not modified
  });

  it('argnums picks several arguments; unused ones get zeros', () => {
    const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => a.mul(b).sum().add(c.sum().mul(0));
    const [ga, gc] = grad(f, { argnums: [0, 2] })(T.tensor([2, 3]), T.tensor([5, 7]), T.tensor([1])) as T.Tensor[];
    expect(values(ga)).toEqual([5, 7]);
    expect(values(gc)).toEqual([0]);
    expect(values(grad((_a: T.Tensor, b: T.Tensor) => b.sum(), { argnums: 0 })(T.tensor([1]), T.tensor([2])) as T.Tensor)).toEqual([0]);
  });

  it('grad refuses non-scalar outputs with a pointer to vjp', () => {
    expect(() => grad((x: T.Tensor) => x.mul(2))(T.tensor([1, 2]))).toThrow(/one-element tensor.*use vjp/);
  });

  it('vjp and jacobian of y = [x0·x1, sin x0]', () => {
    const f = (x: T.Tensor) => T.stack([x.select(0, 0).mul(x.select(0, 1)), x.select(0, 0).sin()]);
    const x = T.tensor([0.5, 2], f64);
    const J = jacobian(f, x);
    expect(J.shape).toEqual([2, 2]);
    const [a, b, c, d] = values(J);
    expect([a, b, c]).toEqual([2, 0.5, Math.cos(0.5)]);
    expect(d).toBe(0);
    const { grads } = vjp(f, [x], T.tensor([1, 1], f64));
    expect(values(grads[0])).toEqual([2 + Math.cos(0.5), 0.5]);
  });
});

describe('second order: Hessians through grad(grad(f))', () => {
  /** H_ij = ∂/∂w_i (∂f/∂w_j) by nesting grad on scalar parameters. */
  function hessian2(f: (w1: T.Tensor, w2: T.Tensor) => T.Tensor, w1: number, w2: number): number[][] {
    const a = T.scalar(w1, f64);
    const b = T.scalar(w2, f64);
    const partial = (j: number) => (x: T.Tensor, y: T.Tensor) => grad(f, { argnums: j })(x, y) as T.Tensor;
    return [0, 1].map((i) => [0, 1].map((j) => (grad(partial(j), { argnums: i })(a, b) as T.Tensor).item()));
  }

  it('quadratic f = 3w1² + 2w1w2 + w2² has the constant Hessian [[6,2],[2,2]]', () => {
    const f = (w1: T.Tensor, w2: T.Tensor) => w1.pow(2).mul(3).add(w1.mul(w2).mul(2)).add(w2.pow(2));
    expect(hessian2(f, 0.3, -1.7)).toEqual([[6, 2], [2, 2]]);
    expect(hessian2(f, 5, 2)).toEqual([[6, 2], [2, 2]]);
  });

  it('f = w1²·w2 + sin(w1)·e^{w2} matches the analytic Hessian', () => {
    const f = (w1: T.Tensor, w2: T.Tensor) => w1.pow(2).mul(w2).add(w1.sin().mul(w2.exp()));
    const [w1, w2] = [0.8, -0.4];
    const e = Math.exp(w2);
    const expected = [
      [2 * w2 - Math.sin(w1) * e, 2 * w1 + Math.cos(w1) * e],
      [2 * w1 + Math.cos(w1) * e, Math.sin(w1) * e],
    ];
    const H = hessian2(f, w1, w2);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expect(H[i][j]).toBeCloseTo(expected[i][j], 12);
  });

  it('hessian() of the saddle f = x² − y² has eigenvalues 2 and −2', () => {
    const H = hessian((v: T.Tensor) => v.select(0, 0).pow(2).sub(v.select(0, 1).pow(2)), T.tensor([0, 0], f64));
    // (+ 0 turns a −0, which the off-diagonal may carry, into 0)
    expect((H.arraySync() as number[][]).map((r) => r.map((v) => v + 0))).toEqual([[2, 0], [0, -2]]);
  });

  it('Hessian-vector product on a 1,000-parameter function matches the closed form', () => {
    // f(x) = Σ x_i³/3 + Σ x_i·x_{i+1}  ⇒  (Hv)_i = 2 x_i v_i + v_{i-1} + v_{i+1}
    const n = 1000;
    T.manualSeed(7);
    const x = T.randn([n], f64);
    const v = T.randn([n], f64);
    const f = (z: T.Tensor) => z.pow(3).div(3).sum().add(z.narrow(0, 0, n - 1).mul(z.narrow(0, 1, n - 1)).sum());
    const Hv = values(hvp(f, x, v));
    const xs = values(x);
    const vs = values(v);
    const expected = xs.map((xi, i) => 2 * xi * vs[i] + (i > 0 ? vs[i - 1] : 0) + (i < n - 1 ? vs[i + 1] : 0));
    expect(Hv.length).toBe(n);
    let maxErr = 0;
    for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(Hv[i] - expected[i]));
    expect(maxErr).toBeLessThan(1e-12);
  });
});

describe('memory', () => {
  it('1,000 steps of forward + backward + update inside tidy keep memory flat', () => {
    T.manualSeed(3);
    const w = T.randn([8, 4], { requiresGrad: true });
    const b = T.zeros([4], { requiresGrad: true });
    const x = T.randn([16, 8]);
    const y = T.randn([16, 4]);
    const step = () =>
      T.tidy(() => {
        const loss = T.matmul(x, w).add(b).sub(y).pow(2).mean();
        loss.backward();
        noGrad(() => {
          w.assign(w.sub(w.grad!.mul(0.05)));
          b.assign(b.sub(b.grad!.mul(0.05)));
        });
        for (const p of [w, b]) {
          p.grad!.dispose();
          p.grad = null;
        }
        return loss.item();
      });
    const first = step();
    for (let i = 0; i < 9; i++) step();
    const after10 = T.memory();
    let last = first;
    for (let i = 0; i < 990; i++) last = step();
    const after1000 = T.memory();
    expect(after1000.numTensors).toBe(after10.numTensors);
    expect(after1000.numBytes).toBe(after10.numBytes);
    expect(last).toBeLessThan(first); // it did learn
  });

  it('grad() outside tidy frees its intermediates', () => {
    const x = T.tensor([1, 2, 3]);
    const before = T.memory().numTensors;
    const g = grad((z: T.Tensor) => z.exp().mul(z).sum())(x);
    expect(T.memory().numTensors).toBe(before + 1);
    g.dispose();
  });
});
