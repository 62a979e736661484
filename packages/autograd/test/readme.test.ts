import { manualSeed, matmul, randn, tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { grad, gradcheck, hvp, noGrad } from '../src/index.js';

// The README's example, line for line; the printed values are asserted here.
describe('README example', () => {
  it('prints what the README says', () => {
    const w = tensor([0.5, -1], { requiresGrad: true });
    const x = tensor([[1, 2], [3, 4]]);
    const loss = matmul(x, w).pow(2).mean();
    loss.backward();
    // residuals r = xw = [-1.5, -2.5]; ∂/∂w mean(r²) = xᵀr = [-9, -13]
    expect(w.grad!.toString()).toBe('tensor([ -9., -13.])');
    const f = (p: { a: ReturnType<typeof tensor> }) => p.a.pow(3).sum();
    expect(grad(f)({ a: tensor([1, 2]) }).a.toString()).toBe('tensor([ 3., 12.])');
    // H = diag(6z) = diag(6, 12)
    expect(hvp((z) => z.pow(3).sum(), tensor([1, 2]), tensor([1, 1])).toString()).toBe('tensor([ 6., 12.])');
    manualSeed(0);
    expect(gradcheck((a, b) => matmul(a, b).tanh(), [randn([2, 3], { dtype: 'float64' }), randn([3, 2], { dtype: 'float64' })]).ok).toBe(true);
    noGrad(() => w.assign(w.sub(w.grad!.mul(0.1))));
    expect(w.toString()).toBe('tensor([1.4000, 0.3000], requiresGrad=true)');
  });
});
