import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { CpuBackend } from '../src/backend-api.js';
import type { Tensor } from '../src/index.js';

/** Inputs and outputs of numpy.linalg, from test/fixtures/linalg_fixtures.py. */
interface Arr {
  shape: number[];
  data: number[];
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/linalg.json', import.meta.url), 'utf8')) as Record<string, Record<string, Arr>>;

const f64 = (a: Arr): Tensor => T.fromArray(Float64Array.from(a.data), a.shape, { dtype: 'float64' });
const f32 = (a: Arr): Tensor => T.fromArray(Float32Array.from(a.data), a.shape, { dtype: 'float32' });

function expectClose(actual: Tensor, expected: Arr, atol: number): void {
  expect(actual.shape).toEqual(expected.shape);
  const got = actual.dataSync();
  let worst = 0;
  expected.data.forEach((e, i) => (worst = Math.max(worst, Math.abs(got[i] - e))));
  expect(worst).toBeLessThan(atol);
}

/** Eigenvectors agree up to the sign of each column. */
function expectColumnsUpToSign(actual: Tensor, expected: Arr, atol: number): void {
  expect(actual.shape).toEqual(expected.shape);
  const n = expected.shape[expected.shape.length - 1];
  const got = actual.dataSync();
  for (let b = 0; b < expected.data.length; b += n * n) {
    for (let c = 0; c < n; c++) {
      let dot = 0;
      for (let r = 0; r < n; r++) dot += got[b + r * n + c] * expected.data[b + r * n + c];
      const s = Math.sign(dot);
      for (let r = 0; r < n; r++) expect(Math.abs(got[b + r * n + c] - s * expected.data[b + r * n + c])).toBeLessThan(atol);
    }
  }
}

describe('eigh: matches numpy.linalg.eigh', () => {
  for (const name of ['eigh_3', 'eigh_5', 'eigh_batch_2x4', 'eigh_diag', 'eigh_2x2']) {
    const fx = fixtures[name];
    it(`${name} ${JSON.stringify(fx.A.shape)}: eigenvalues ascending, eigenvectors up to sign (float64)`, () => {
      const { eigenvalues, eigenvectors } = T.eigh(f64(fx.A));
      expectClose(eigenvalues, fx.eigenvalues, 1e-12);
      expectColumnsUpToSign(eigenvectors, fx.eigenvectors, 1e-10);
    });
  }
  it('float32 in, float32 out, to float32 precision', () => {
    const fx = fixtures.eigh_5;
    const { eigenvalues, eigenvectors } = T.eigh(f32(fx.A));
    expect(eigenvalues.dtype).toBe('float32');
    expect(eigenvectors.dtype).toBe('float32');
    expectClose(eigenvalues, fx.eigenvalues, 1e-5);
    expectColumnsUpToSign(eigenvectors, fx.eigenvectors, 1e-4);
  });
  it('V diag(λ) Vᵀ rebuilds A and VᵀV = I; each column has its largest entry positive', () => {
    const A = f64(fixtures.eigh_5.A);
    const { eigenvalues: w, eigenvectors: V } = T.eigh(A);
    const rebuilt = T.matmul(T.mul(V, T.unsqueeze(w, 0)), V.T);
    expect(T.max(T.abs(T.sub(rebuilt, A))).item()).toBeLessThan(1e-12);
    expect(T.max(T.abs(T.sub(T.matmul(V.T, V), T.eye(5, 5, { dtype: 'float64' })))).item()).toBeLessThan(1e-12);
    const v = V.arraySync() as number[][];
    for (let c = 0; c < 5; c++) {
      const col = v.map((row) => row[c]);
      const big = col.reduce((b, x, i) => (Math.abs(x) > Math.abs(col[b]) ? i : b), 0);
      expect(col[big]).toBeGreaterThan(0);
    }
  });
  it('eigvalsh returns the eigenvalues alone; its errors name eigvalsh', () => {
    expectClose(T.eigvalsh(f64(fixtures.eigh_3.A)), fixtures.eigh_3.eigenvalues, 1e-12);
    expect(() => T.eigvalsh(T.zeros([2, 3]))).toThrow('eigvalsh: A must be square, got [2,3] (2×3)');
  });
  it('errors name the op and the shape: non-square, not symmetric, unknown option, int dtype', () => {
    expect(() => T.eigh(T.zeros([2, 3]))).toThrow('eigh: A must be square, got [2,3] (2×3)');
    expect(() => T.eigh(T.zeros([3]))).toThrow(/eigh: A must be a matrix or a batch of matrices \[\.\.\., m, n\], got \[3\]/);
    expect(() => T.eigh(T.tensor([[1, 2], [3, 4]]))).toThrow(/eigh: A \[2,2\] is not symmetric: A\[0,1\] = 2 but A\[1,0\] = 3/);
    expect(() => T.eigh(T.tensor([[[1, 0], [0, 1]], [[1, 2], [0, 1]]]))).toThrow(/matrix \[1\] of the batch/);
    // @ts-expect-error an unknown option
    expect(() => T.eigh(T.eye(2), { symmetry_tol: 1 })).toThrow("eigh: unknown option 'symmetry_tol'; did you mean 'symmetryTol'?");
    expect(() => T.eigh(T.tensor([[1, 0], [0, 1]], { dtype: 'int32' }))).toThrow(/eigh: expected a floating-point tensor, got int32 \[2,2\]/);
  });
  it('symmetryTol accepts a nearly symmetric matrix and reads (A + Aᵀ)/2', () => {
    const A = T.tensor([[2, 1 + 1e-3], [1 - 1e-3, 2]], { dtype: 'float64' });
    expect(() => T.eigh(A)).toThrow(/not symmetric/);
    expect(T.eigvalsh(A, { symmetryTol: 1e-2 }).arraySync()).toEqual([1, 3].map((x) => expect.closeTo(x, 12)));
    expect(() => T.eigh(A, { symmetryTol: -1 })).toThrow('eigh: symmetryTol must be a finite number ≥ 0, got -1');
  });
});

describe('cholesky: matches numpy.linalg.cholesky', () => {
  for (const name of ['cholesky_4', 'cholesky_batch_3x3']) {
    const fx = fixtures[name];
    it(`${name} ${JSON.stringify(fx.A.shape)}: lower-triangular L (float64 and float32)`, () => {
      expectClose(T.cholesky(f64(fx.A)), fx.L, 1e-12);
      expectClose(T.cholesky(f32(fx.A)), fx.L, 1e-4);
    });
  }
  it('a matrix that is not positive definite: a clear error naming the minor', () => {
    expect(() => T.cholesky(T.tensor([[1, 2], [2, 1]]))).toThrow('cholesky: A [2,2]: the matrix is not positive definite (the leading 2×2 minor is not positive)');
    expect(() => T.cholesky(T.tensor([[1, 2], [0, 1]]))).toThrow(/cholesky: A \[2,2\] is not symmetric/);
  });
});

describe('solve: matches numpy.linalg.solve', () => {
  for (const name of ['solve_4x2', 'solve_vector', 'solve_batch_broadcast']) {
    const fx = fixtures[name];
    it(`${name}: A ${JSON.stringify(fx.A.shape)}, B ${JSON.stringify(fx.B.shape)}`, () => {
      expectClose(T.solve(f64(fx.A), f64(fx.B)), fx.X, 1e-12);
      expectClose(T.solve(f32(fx.A), f32(fx.B)), fx.X, 1e-4);
    });
  }
  it('errors: non-square A, rows that do not match, a singular matrix', () => {
    expect(() => T.solve(T.zeros([2, 3]), T.zeros([2, 1]))).toThrow('solve: A must be square, got [2,3] (2×3)');
    expect(() => T.solve(T.eye(3), T.zeros([2, 1]))).toThrow('solve: A [3,3] and B [2,1] — B needs 3 rows (B is [..., 3, k] or [3])');
    expect(() => T.solve(T.tensor([[1, 2], [2, 4]]), T.ones([2]))).toThrow(/solve: A \[2,2\]: the matrix is singular/);
    expect(() => T.solve(T.stack([T.eye(2), T.zeros([2, 2])]), T.ones([2, 1]))).toThrow(/singular.*matrix \[1\] of the batch/);
  });
});

describe('lstsq: matches numpy.linalg.lstsq', () => {
  for (const name of ['lstsq_6x3', 'lstsq_vector', 'lstsq_square']) {
    const fx = fixtures[name];
    it(`${name}: A ${JSON.stringify(fx.A.shape)}, B ${JSON.stringify(fx.B.shape)}`, () => {
      expectClose(T.lstsq(f64(fx.A), f64(fx.B)), fx.X, 1e-12);
      expectClose(T.lstsq(f32(fx.A), f32(fx.B)), fx.X, 1e-4);
    });
  }
  it('the residual is orthogonal to the columns of A (the normal equations hold)', () => {
    const fx = fixtures.lstsq_6x3;
    const A = f64(fx.A);
    const B = f64(fx.B);
    const r = T.sub(B, T.matmul(A, T.lstsq(A, B)));
    expect(T.max(T.abs(T.matmul(A.T, r))).item()).toBeLessThan(1e-12);
  });
  it('errors: fewer rows than columns, rank deficiency', () => {
    expect(() => T.lstsq(T.zeros([2, 3]), T.zeros([2, 1]))).toThrow(/lstsq: A \[2,3\] has fewer rows \(2\) than columns \(3\)/);
    const dependent = T.tensor([[1, 2], [2, 4], [3, 6]]);
    expect(() => T.lstsq(dependent, T.ones([3]))).toThrow('lstsq: A [3,2]: the matrix does not have full column rank (column 1 depends on the ones before it)');
  });
});

describe('README: factorizations and solvers', () => {
  it('gives the values the README states', () => {
    const A = T.tensor([[2, 1], [1, 2]], { dtype: 'float64' });
    const { eigenvalues, eigenvectors } = T.eigh(A);
    const h = Math.SQRT1_2;
    expectClose(eigenvalues, { shape: [2], data: [1, 3] }, 1e-15);
    expectClose(eigenvectors, { shape: [2, 2], data: [h, h, -h, h] }, 1e-15);
    expectClose(T.solve(A, T.tensor([3, 3], { dtype: 'float64' })), { shape: [2], data: [1, 1] }, 1e-15);
    expectClose(T.cholesky(A), { shape: [2, 2], data: [Math.SQRT2, 0, h, Math.sqrt(1.5)] }, 1e-15);
    expectClose(T.lstsq(T.tensor([[1, 0], [1, 1], [1, 2]]), T.tensor([1, 2, 2])), { shape: [2], data: [7 / 6, 1 / 2] }, 1e-6);
  });
});

describe('where they compute', () => {
  it("write the result on the input's backend, in its dtype", () => {
    class OtherCpu extends CpuBackend {
      override readonly name = 'other-cpu';
    }
    T.registerBackend(new OtherCpu());
    const A = T.tensor([[4, 1], [1, 3]], { backend: 'other-cpu' });
    for (const out of [T.solve(A, T.ones([2], { backend: 'other-cpu' })), T.cholesky(A), T.eigh(A).eigenvectors, T.lstsq(A, T.ones([2, 1], { backend: 'other-cpu' }))]) {
      expect(out.backend.name).toBe('other-cpu');
      expect(out.dtype).toBe('float32');
    }
  });
  it('on a backend that reads only asynchronously (a GPU), the error says to move the tensor first', async () => {
    const { AsyncCpuBackend } = await import('./async-backend.js');
    T.registerBackend(new AsyncCpuBackend());
    const A = T.tensor([[2, 1], [1, 2]], { backend: 'async-cpu' });
    expect(() => T.eigh(A)).toThrow("eigh: computes on the host and reads its input synchronously, which backend 'async-cpu' cannot do — move the tensor first: await toBackend(A, 'cpu')");
    expect(T.eigvalsh(await T.toBackend(A, 'cpu')).arraySync()).toEqual([1, 3]);
  });
});
