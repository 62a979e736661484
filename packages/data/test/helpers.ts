import type { Tensor } from '@ml/tensor';
import { expect } from 'vitest';

/** Values of a tensor as a flat JS array. */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Element-wise closeness with an absolute tolerance, with a readable diff on failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  const bad = Array.from(actual).findIndex((v, i) => !(Math.abs(v - expected[i]) <= tol));
  if (bad >= 0) expect(Array.from(actual)).toEqual(Array.from(expected));
}

export function sorted(xs: ArrayLike<number>): number[] {
  return Array.from(xs).sort((a, b) => a - b);
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
