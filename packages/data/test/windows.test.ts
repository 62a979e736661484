import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { slidingWindows } from '../src/node.js';
import { values } from './helpers.js';

describe('slidingWindows', () => {
  it('cuts 1..6 with lookback 3 into three windows, each followed by its next value', () => {
    const { x, y } = slidingWindows([1, 2, 3, 4, 5, 6], { lookback: 3 });
    // N = 6 − 3 − 1 + 1 = 3
    expect(x.shape).toEqual([3, 3, 1]);
    expect(values(x)).toEqual([1, 2, 3, 2, 3, 4, 3, 4, 5]);
    expect(y.shape).toEqual([3, 1]);
    expect(values(y)).toEqual([4, 5, 6]);
  });

  it('steps by stride and predicts horizon values', () => {
    const series = Float32Array.from({ length: 10 }, (_, i) => i + 1);
    const { x, y } = slidingWindows(series, { lookback: 3, horizon: 2, stride: 2, flat: true });
    // N = ⌊(10 − 3 − 2) / 2⌋ + 1 = 3 windows starting at steps 0, 2, 4
    expect(x.shape).toEqual([3, 3]);
    expect(values(x)).toEqual([1, 2, 3, 3, 4, 5, 5, 6, 7]);
    expect(y.shape).toEqual([3, 2]);
    expect(values(y)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('keeps every column of a [T, F] series in x and takes y from targetColumn', () => {
    const series = tensor([0, 1, 2, 3, 4].map((t) => [t, 10 * t]));
    const { x, y } = slidingWindows(series, { lookback: 2, targetColumn: 1 });
    expect(x.shape).toEqual([3, 2, 2]);
    expect(values(x)).toEqual([0, 0, 1, 10, 1, 10, 2, 20, 2, 20, 3, 30]);
    expect(values(y)).toEqual([20, 30, 40]);
    expect(slidingWindows(series, { lookback: 2, targetColumn: 0, flat: true }).x.shape).toEqual([3, 4]);
  });

  it('makes one window when lookback + horizon is exactly the length', () => {
    const { x, y } = slidingWindows([1, 2, 3, 4], { lookback: 3 });
    expect(x.shape).toEqual([1, 3, 1]);
    expect(values(y)).toEqual([4]);
  });

  it('throws when lookback + horizon is longer than the series', () => {
    expect(() => slidingWindows([1, 2, 3, 4], { lookback: 3, horizon: 2 })).toThrow(/lookback 3 \+ horizon 2 = 5 steps do not fit a series of 4 steps/);
  });

  it('asks for targetColumn when the series has several columns', () => {
    expect(() => slidingWindows(tensor([[1, 2], [3, 4], [5, 6]]), { lookback: 1 })).toThrow(/has 2 columns; pass targetColumn/);
    expect(() => slidingWindows([1, 2, 3], { lookback: 0 })).toThrow(/lookback must be a positive integer/);
  });
});
