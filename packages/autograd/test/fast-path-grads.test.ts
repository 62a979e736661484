import * as T from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { grad, noGrad } from '../src/index.js';

// Gradients through the ops' fast paths (two tensors of one shape; a tensor with a scalar,
// which becomes one element broadcast to the tensor's shape) against closed forms.

const f64 = { dtype: 'float64' as const };
const values = (t: T.Tensor) => Array.from(t.dataSync());

describe('gradients through the per-op fast paths', () => {
  it('d/dx Σ(3x + 1 − x/4) = 2.75 and d/dx Σ(2 − x) = −1 (scalars on either side)', () => {
    const x = T.tensor([1, -2, 0.5, 4], { requiresGrad: true, ...f64 });
    x.mul(3).add(1).sub(x.div(4)).sum().backward();
    expect(values(x.grad!)).toEqual([2.75, 2.75, 2.75, 2.75]);
    const y = T.tensor([1, 2], { requiresGrad: true });
    T.sub(2, y).sum().backward();
    expect(values(y.grad!)).toEqual([-1, -1]);
  });

  it('d/dx Σ x²/2 = x and d/dw Σ(x·w + w) = x + 1, d/dx = w (tensors of one shape)', () => {
    const xv = [0.5, -1.5, 2, 3];
    const wv = [2, -1, 0.25, 1];
    const x = T.tensor(xv, { requiresGrad: true, ...f64 });
    const w = T.tensor(wv, { requiresGrad: true, ...f64 });
    x.mul(x).mul(0.5).sum().backward();
    expect(values(x.grad!)).toEqual(xv);
    x.grad = null;
    x.mul(w).add(w).sum().backward();
    expect(values(x.grad!)).toEqual(wv);
    expect(values(w.grad!)).toEqual(xv.map((v) => v + 1));
  });

  it('the per-op benchmark\'s z·y + y, recorded: ∂/∂y Σ = z + 1, and the tape is freed with the tidy', () => {
    const zv = [0.5, -2, 3, 0];
    const z = T.tensor(zv);
    const y = T.tensor([1, 2, 3, 4], { requiresGrad: true });
    const before = T.memory();
    const g = T.tidy(() => grad((yy: T.Tensor) => z.mul(yy).add(yy).sum())(y) as T.Tensor);
    expect(values(g)).toEqual(zv.map((v) => v + 1));
    g.dispose();
    expect(T.memory().numTensors).toBe(before.numTensors);
    expect(T.memory().numBytes).toBe(before.numBytes);
  });

  it('no recording under noGrad, or when no input needs a gradient', () => {
    const y = T.tensor([1, 2], { requiresGrad: true });
    const a = noGrad(() => y.mul(2).add(y));
    expect(a.requiresGrad).toBe(false);
    expect(a.isLeaf).toBe(true);
    const b = T.tensor([1, 2]).mul(3).add(1);
    expect(b.isLeaf).toBe(true);
    const c = y.mul(2);
    expect(c.isLeaf).toBe(false);
    expect(c.requiresGrad).toBe(true);
  });
});
