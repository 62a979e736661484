import { randperm } from '@ml/tensor';

/** Small dense linear algebra in float64, for the closed-form solutions. */

/** Solve A·x = b (A n×n, row-major) by Gaussian elimination with partial pivoting. */
export function solve(A: readonly number[][], b: readonly number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (Math.abs(M[p][c]) < 1e-300) throw new Error(`solve: the matrix is singular (column ${c})`);
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      if (f !== 0) for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/**
 * Least squares with an intercept and an optional ridge penalty λ‖w‖² (the intercept is not
 * penalized): the normal equations (XᵀX + λI)θ = Xᵀy on X with a column of ones appended.
 * Returns the weights and the intercept.
 */
export function leastSquares(X: readonly number[][], y: readonly number[], lambda = 0): { w: number[]; b: number } {
  const d = X[0].length;
  const A = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
  const v = new Array<number>(d + 1).fill(0);
  X.forEach((row, i) => {
    const r = [...row, 1];
    for (let j = 0; j <= d; j++) {
      v[j] += r[j] * y[i];
      for (let k = 0; k <= d; k++) A[j][k] += r[j] * r[k];
    }
  });
  for (let j = 0; j < d; j++) A[j][j] += lambda;
  const theta = solve(A, v);
  return { w: theta.slice(0, d), b: theta[d] };
}

export const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);

export function mse(pred: readonly number[], y: readonly number[]): number {
  return pred.reduce((s, p, i) => s + (p - y[i]) ** 2, 0) / y.length;
}

/** Coefficient of determination R² = 1 − SS_res / SS_tot. */
export function r2(pred: readonly number[], y: readonly number[]): number {
  const m = y.reduce((a, b) => a + b, 0) / y.length;
  const tot = y.reduce((s, v) => s + (v - m) ** 2, 0);
  return 1 - (mse(pred, y) * y.length) / tot;
}

/** Column means and standard deviations of the rows (fit on training data only). */
export function fitScaler(X: readonly number[][]): { mean: number[]; std: number[]; apply: (rows: readonly number[][]) => number[][] } {
  const d = X[0].length;
  const mean = Array.from({ length: d }, (_, j) => X.reduce((s, r) => s + r[j], 0) / X.length);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(X.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / X.length) || 1);
  return { mean, std, apply: (rows) => rows.map((r) => r.map((v, j) => (v - mean[j]) / std[j])) };
}

/** Rows of a [n, d] array given as a flat typed array. */
export function rows(flat: ArrayLike<number>, d: number): number[][] {
  return Array.from({ length: flat.length / d }, (_, i) => Array.from({ length: d }, (_, j) => flat[i * d + j]));
}

/** A random split of 0…n−1 (seeded by the global generator): `fraction` of the indices go to the second part. */
export function splitIndices(n: number, fraction: number): [number[], number[]] {
  const idx = Array.from(randperm(n).dataSync());
  const k = Math.round(n * (1 - fraction));
  return [idx.slice(0, k), idx.slice(k)];
}
