import { manualSeed, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { circles, noisyLine, polynomial, rings, spirals, twoGaussians, weeklySeries, xor } from '../src/node.js';
import { expectClose, values } from './helpers.js';

function rows(x: Tensor): number[][] {
  const v = values(x);
  const d = x.shape[1];
  return Array.from({ length: x.shape[0] }, (_, i) => v.slice(i * d, (i + 1) * d));
}

describe('noisyLine', () => {
  it('gives x [n, 1] and y [n, 1] on y = w·x + b (exact without noise)', () => {
    const { x, y } = noisyLine({ n: 50, w: 2.5, b: -1, noise: 0, seed: 0 });
    expect(x.shape).toEqual([50, 1]);
    expect(y.shape).toEqual([50, 1]);
    expectClose(values(y), values(x).map((v) => Math.fround(2.5 * v - 1)), 1e-6);
    expect(Math.min(...values(x))).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...values(x))).toBeLessThan(1);
  });

  it('recovers w and b by least squares from noisy points', () => {
    const { x, y } = noisyLine({ n: 2000, w: 2.5, b: -1, noise: 0.1, seed: 1 });
    const xs = values(x);
    const ys = values(y);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const w = xs.reduce((s, v, i) => s + (v - mx) * (ys[i] - my), 0) / xs.reduce((s, v) => s + (v - mx) ** 2, 0);
    expect(w).toBeCloseTo(2.5, 1);
    expect(my - w * mx).toBeCloseTo(-1, 1);
    // residual std ≈ noise
    const resid = ys.map((v, i) => v - (w * xs[i] + my - w * mx));
    expect(Math.sqrt(resid.reduce((s, r) => s + r * r, 0) / resid.length)).toBeCloseTo(0.1, 2);
  });

  it('repeats with the same seed, differs with another, and follows manualSeed without one', () => {
    const a = values(noisyLine({ n: 5, seed: 3 }).y);
    expect(values(noisyLine({ n: 5, seed: 3 }).y)).toEqual(a);
    expect(values(noisyLine({ n: 5, seed: 4 }).y)).not.toEqual(a);
    manualSeed(9);
    const b = values(noisyLine({ n: 5 }).y);
    manualSeed(9);
    expect(values(noisyLine({ n: 5 }).y)).toEqual(b);
  });
});

describe('polynomial', () => {
  it('evaluates c0 + c1·x + c2·x² on x in xRange', () => {
    const { x, y } = polynomial({ n: 20, coeffs: [1, -2, 3], noise: 0, xRange: [-2, 2], seed: 0 });
    expect(x.shape).toEqual([20, 1]);
    expectClose(values(y), values(x).map((v) => 1 - 2 * v + 3 * v * v), 1e-4);
    expect(Math.min(...values(x))).toBeGreaterThanOrEqual(-2);
  });
});

describe('twoGaussians', () => {
  it('draws two balanced classes around their means', () => {
    const { x, y } = twoGaussians({ n: 2000, means: [[-2, 0, 1], [2, 1, 0]], std: 0.5, seed: 2 });
    expect(x.shape).toEqual([2000, 3]);
    expect(y.dtype).toBe('int32');
    const labels = values(y);
    expect(labels.filter((l) => l === 1).length).toBe(1000);
    const pts = rows(x);
    for (const [c, mean] of [[0, [-2, 0, 1]], [1, [2, 1, 0]]] as const) {
      const mine = pts.filter((_, i) => labels[i] === c);
      for (let j = 0; j < 3; j++) expect(mine.reduce((s, p) => s + p[j], 0) / mine.length).toBeCloseTo(mean[j], 1);
    }
  });
});

describe('circles and rings', () => {
  it('circles: every outer point (class 0) lies farther out than every inner point (class 1)', () => {
    const { x, y } = circles({ n: 1000, noise: 0.05, factor: 0.5, seed: 0 });
    expect(x.shape).toEqual([1000, 2]);
    const labels = values(y);
    const r = rows(x).map(([a, b]) => Math.sqrt(a * a + b * b));
    const outer = r.filter((_, i) => labels[i] === 0);
    const inner = r.filter((_, i) => labels[i] === 1);
    expect(outer.length).toBe(500);
    expect(Math.min(...outer)).toBeGreaterThan(Math.max(...inner));
    expect(outer.reduce((a, b) => a + b) / outer.length).toBeCloseTo(1, 1);
    expect(inner.reduce((a, b) => a + b) / inner.length).toBeCloseTo(0.5, 1);
  });

  it('rings: class k sits at radius (k + 1) / classes', () => {
    const { x, y } = rings({ n: 900, classes: 3, noise: 0, seed: 1 });
    const labels = values(y);
    rows(x).forEach(([a, b], i) => expect(Math.sqrt(a * a + b * b)).toBeCloseTo((labels[i] + 1) / 3, 5));
  });
});

describe('xor', () => {
  it('labels a point 1 exactly when a·b < 0 and keeps the margin from the axes', () => {
    const { x, y } = xor({ n: 500, margin: 0.1, seed: 0 });
    const labels = values(y);
    rows(x).forEach(([a, b], i) => {
      expect(labels[i]).toBe(a * b < 0 ? 1 : 0);
      expect(Math.min(Math.abs(a), Math.abs(b))).toBeGreaterThan(0.1 - 1e-6);
      expect(Math.max(Math.abs(a), Math.abs(b))).toBeLessThanOrEqual(1);
    });
    const ones = labels.filter((l) => l === 1).length;
    expect(ones).toBeGreaterThan(200);
    expect(ones).toBeLessThan(300);
  });
});

describe('spirals', () => {
  it('puts point j of each arm at radius j / (n − 1), class by class', () => {
    const { x, y } = spirals({ n: 50, classes: 3, noise: 0.2, seed: 0 });
    expect(x.shape).toEqual([150, 2]);
    expect(values(y)).toEqual([...new Array(50).fill(0), ...new Array(50).fill(1), ...new Array(50).fill(2)]);
    rows(x).forEach(([a, b], i) => expect(Math.sqrt(a * a + b * b)).toBeCloseTo((i % 50) / 49, 5));
  });

  it('without noise, the arms of 2 classes are mirror images (angle + π)', () => {
    const p = rows(spirals({ n: 10, classes: 2, noise: 0, seed: 0 }).x);
    for (let j = 0; j < 10; j++) {
      expect(p[10 + j][0]).toBeCloseTo(-p[j][0], 5);
      expect(p[10 + j][1]).toBeCloseTo(-p[j][1], 5);
    }
  });
});

describe('weeklySeries', () => {
  it('is level + trend·d + amplitude·sin(2πd / period) without noise', () => {
    const { t, values: v } = weeklySeries({ days: 21, trend: 0.5, amplitude: 2, level: 10, noise: 0, seed: 0 });
    expect(t.shape).toEqual([21]);
    expectClose(values(v), values(t).map((d) => 10 + 0.5 * d + 2 * Math.sin((2 * Math.PI * d) / 7)), 1e-5);
  });

  it('repeats a given weekly pattern, and noise is seeded', () => {
    const pattern = [5, 5, 5, 5, 5, 1, 1];
    const { values: v } = weeklySeries({ days: 14, pattern, noise: 0 });
    expect(values(v)).toEqual([...pattern, ...pattern]);
    expect(values(weeklySeries({ days: 14, seed: 1 }).values)).toEqual(values(weeklySeries({ days: 14, seed: 1 }).values));
    expect(() => weeklySeries({ days: 7, pattern: [1, 2] })).toThrow(/pattern has 2 values, expected one per day of the period \(7\)/);
  });
});
