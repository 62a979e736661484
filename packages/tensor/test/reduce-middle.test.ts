import { describe, expect, it } from 'vitest';
import { fromArray, max, min, prod, sum } from '../src/index.js';

// a [2, 3, 10] tensor reduced over axis 1, and over axes [0, 1]: the in-place path for
// middle axes of contiguous tensors (inner size ≥ 8) must equal a plain loop
const values = Array.from({ length: 60 }, (_, i) => ((i * 37) % 11) - 5 + (i % 3) / 4);
const at = (o: number, r: number, i: number) => values[(o * 3 + r) * 10 + i];

describe('reductions over middle axes', () => {
  it('sum, prod, max and min over axis 1', () => {
    const x = fromArray(Float64Array.from(values), [2, 3, 10]);
    const want = (f: (a: number, b: number) => number, init: number) =>
      Array.from({ length: 20 }, (_, k) => [0, 1, 2].reduce((acc, r) => f(acc, at(Math.floor(k / 10), r, k % 10)), init));
    expect(Array.from(sum(x, 1).dataSync())).toEqual(want((a, b) => a + b, 0));
    expect(Array.from(prod(x, 1).dataSync())).toEqual(want((a, b) => a * b, 1));
    expect(Array.from(max(x, 1).dataSync())).toEqual(want(Math.max, -Infinity));
    expect(Array.from(min(x, 1).dataSync())).toEqual(want(Math.min, Infinity));
    expect(sum(x, 1).shape).toEqual([2, 10]);
  });
  it('over two leading axes, and NaN propagates through max/min', () => {
    const x = fromArray(Float64Array.from(values), [2, 3, 10]);
    const s = sum(x, [0, 1]).dataSync();
    for (let i = 0; i < 10; i++) expect(s[i]).toBeCloseTo([0, 1].reduce((a, o) => a + [0, 1, 2].reduce((b, r) => b + at(o, r, i), 0), 0), 12);
    const withNaN = [...values];
    withNaN[(0 * 3 + 1) * 10 + 4] = NaN; // o = 0, r = 1, i = 4
    const y = fromArray(Float64Array.from(withNaN), [2, 3, 10]);
    expect(Number.isNaN(max(y, 1).dataSync()[4])).toBe(true);
    expect(Number.isNaN(min(y, 1).dataSync()[4])).toBe(true);
    expect(Number.isNaN(max(y, 1).dataSync()[5])).toBe(false);
  });
});

describe('int32 prod wraps as integer arithmetic', () => {
  it('equals the exact product modulo 2^32 on every reduction path, also past 2^53', () => {
    const values = Array.from({ length: 44 }, (_, i) => [3, -5, 7, 9, -11, 13][i % 6]); // odd: no trailing zero bits to hide a lost one
    const exact = (vs: number[]) => Number(BigInt.asIntN(32, vs.reduce((p, v) => p * BigInt(v), 1n)));
    expect(Math.abs(values.reduce((p, v) => p * v, 1))).toBeGreaterThan(2 ** 53);
    // all axes (general loop), the trailing axis of [4, 11] (leading block), the middle axis of [2, 11, 2]
    expect(prod(fromArray(values, [44], { dtype: 'int32' })).item()).toBe(exact(values));
    const rows = Array.from({ length: 4 }, (_, r) => values.slice(r * 11, r * 11 + 11));
    expect(Array.from(prod(fromArray(values, [4, 11], { dtype: 'int32' }), [1]).dataSync())).toEqual(rows.map(exact));
    const t = fromArray(values, [2, 11, 2], { dtype: 'int32' });
    const cols = [0, 1, 2, 3].map((k) => Array.from({ length: 11 }, (_, r) => values[Math.floor(k / 2) * 22 + r * 2 + (k % 2)]));
    expect(Array.from(prod(t, [1]).dataSync())).toEqual(cols.map(exact));
  });
});
