/**
 * Gradients of @ml/tensor's eigh, cholesky, solve and lstsq against central finite
 * differences (float64), first and second order. The rules are written in @ml/tensor
 * beside the ops (`linalgGradRules`).
 */
import * as T from '@ml/tensor';
import { getOpDef } from '@ml/tensor/backend';
import type { Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { gradcheck, gradgradcheck, grad } from '../src/index.js';


const f64 = { dtype: 'float64' as const };
const randn = (...shape: number[]) => T.randn(shape, f64);
const sym = (x: Tensor): Tensor => T.mul(T.add(x, T.transpose(x, -2, -1)), 0.5);
/** X + Xᵀ + n·I-ish: well separated eigenvalues are likely; SPD after X Xᵀ + 2I */
const spd = (x: Tensor): Tensor => {
  const n = x.shape[x.ndim - 1];
  return T.add(T.matmul(x, T.transpose(x, -2, -1)), T.mul(T.eye(n, n, f64), 2));
};
/** A well-conditioned square matrix: X + 3I */
const wellConditioned = (x: Tensor): Tensor => T.add(x, T.mul(T.eye(x.shape[x.ndim - 1], x.shape[x.ndim - 1], f64), 3));

const tol = { atol: 1e-6, rtol: 1e-4, eps: 1e-6 };
const tol2 = { atol: 1e-5, rtol: 1e-3, eps: 1e-6 };

interface Case {
  what: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: () => Tensor[];
}

const cases: Case[] = [
  { what: 'eigvalsh((X + Xᵀ)/2), 4×4', fn: (x) => T.eigvalsh(sym(x)), inputs: () => [randn(4, 4)] },
  { what: 'eigh((X + Xᵀ)/2).eigenvectors, 4×4', fn: (x) => T.eigh(sym(x)).eigenvectors, inputs: () => [randn(4, 4)] },
  {
    what: 'eigh of a batch [2,3,3]: values and vectors in one loss',
    fn: (x) => {
      const { eigenvalues: w, eigenvectors: v } = T.eigh(sym(x));
      return T.add(T.sum(T.mul(w, w)), T.sum(T.mul(v, T.reshape(T.arange(0, 18, 1, f64), [2, 3, 3]))));
    },
    inputs: () => [randn(2, 3, 3)],
  },
  { what: 'cholesky(X Xᵀ + 2I), 4×4', fn: (x) => T.cholesky(spd(x)), inputs: () => [randn(4, 4)] },
  { what: 'cholesky of a batch [2,3,3]', fn: (x) => T.cholesky(spd(x)), inputs: () => [randn(2, 3, 3)] },
  { what: 'solve(A + 3I, B), B [3,2]', fn: (a, b) => T.solve(wellConditioned(a), b), inputs: () => [randn(3, 3), randn(3, 2)] },
  { what: 'solve with a vector B [3]', fn: (a, b) => T.solve(wellConditioned(a), b), inputs: () => [randn(3, 3), randn(3)] },
  { what: 'solve, batch [2,3,3] with B [3,1] broadcast', fn: (a, b) => T.solve(wellConditioned(a), b), inputs: () => [randn(2, 3, 3), randn(3, 1)] },
  { what: 'lstsq(A [5,3], B [5,2])', fn: (a, b) => T.lstsq(a, b), inputs: () => [randn(5, 3), randn(5, 2)] },
  { what: 'lstsq(A [4,2], b [4])', fn: (a, b) => T.lstsq(a, b), inputs: () => [randn(4, 2), randn(4)] },
];

describe('linalg gradients against finite differences (float64)', () => {
  cases.forEach((c, i) => {
    it(`${c.what}: first and second order`, () => {
      T.manualSeed(2100 + i);
      const inputs = c.inputs();
      expect(gradcheck(c.fn, inputs, tol).ok).toBe(true);
      expect(gradgradcheck(c.fn, inputs, tol2).ok).toBe(true);
    });
  });

  it('a wrong eigenvector rule is caught (the check can fail)', () => {
    const def = getOpDef('eighVectors');
    const saved = def.grad!.bind(def);
    // F with the wrong sign: 1/(λ_i − λ_j)
    def.grad = (dy, node) => saved(dy, node, [true]).map((g) => (g ? T.neg(g) : g));
    try {
      T.manualSeed(7);
      const r = gradcheck((x) => T.eigh(sym(x)).eigenvectors, [randn(3, 3)], { ...tol, raiseException: false });
      expect(r.ok).toBe(false);
    } finally {
      def.grad = saved;
    }
  });

  it('d λ_min / d A = v vᵀ for the eigenvector v of λ_min (closed form)', () => {
    const A = T.tensor([[2, 1, 0], [1, 3, 1], [0, 1, 4]], f64);
    const g = grad((a: Tensor) => T.select(T.eigvalsh(sym(a)), 0, 0))(A);
    const v = T.select(T.eigh(A).eigenvectors, 1, 0);
    expect(T.max(T.abs(T.sub(g, T.outer(v, v)))).item()).toBeLessThan(1e-12);
  });
});
