import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { isolines } from '../src/contour.js';
import { lossSurface } from '../src/node.js';
import { layerValues, marks, render, vertices } from './helpers.js';

describe('isolines (marching squares)', () => {
  const grid = (f: (x: number, y: number) => number, lo: number, hi: number, n: number) => {
    const xs = Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
    return { xs, ys: xs, values: xs.map((y) => xs.map((x) => f(x, y))) };
  };

  it('traces the circles of x² + y² as closed lines at radius √level', () => {
    const { xs, ys, values } = grid((x, y) => x * x + y * y, -2, 2, 40);
    const lines = isolines(xs, ys, values, [0.5, 1, 2]);
    expect(lines.map((l) => l.level)).toEqual([0.5, 1, 2]);
    for (const l of lines) {
      expect(l.closed).toBe(true);
      expect(l.points.at(-1)).toEqual(l.points[0]);
      // linear interpolation of a quadratic across a 0.1 cell: within 0.01 of the circle
      for (const [x, y] of l.points) expect(Math.abs(Math.hypot(x, y) - Math.sqrt(l.level))).toBeLessThan(0.01);
      expect(l.points.length).toBeGreaterThan(20);
    }
  });

  it('gives the exact lines of a linear function, open at the grid edges', () => {
    const { xs, ys, values } = grid((x, y) => x + 2 * y, 0, 1, 7);
    const [l] = isolines(xs, ys, values, [1.3]);
    expect(l.closed).toBe(false);
    for (const [x, y] of l.points) expect(x + 2 * y).toBeCloseTo(1.3, 12);
  });

  it('separates the two branches of the hyperbola xy = 0.2 through the saddle cells', () => {
    const { xs, ys, values } = grid((x, y) => x * y, -1, 1, 20);
    const lines = isolines(xs, ys, values, [0.2]);
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.closed).toBe(false);
      const sign = Math.sign(l.points[0][0]);
      for (const [x, y] of l.points) {
        expect(Math.sign(x)).toBe(sign);
        expect(Math.abs(x * y - 0.2)).toBeLessThan(0.01);
      }
    }
  });

  it('skips cells with a non-finite corner', () => {
    const { xs, ys, values } = grid((x, y) => (x < 0.5 ? NaN : x + y), 0, 1, 4);
    for (const l of isolines(xs, ys, values, [1.5])) for (const [x] of l.points) expect(x).toBeGreaterThanOrEqual(0.5);
  });
});

describe('lossSurface', () => {
  it('bands f(w, b) = w into equal stripes: one rectangle per band per row, isolines on the band edges', async () => {
    // cell centers (i + ½)/8: 1/16 … 15/16, band edges at 1/16 + (14/16)·k/4
    const spec = lossSurface({ f: (w) => w, wRange: [0, 1], bRange: [0, 1], resolution: 8, levels: 4 });
    const { doc } = await render(spec);
    expect(marks(doc, 'rect')).toHaveLength(8 * 4);
    const lines = marks(doc, 'line');
    expect(lines).toHaveLength(3);
    const edges = [0.28125, 0.5, 0.71875];
    const iso = layerValues(spec, 1) as { x: number; id: number }[];
    for (const [k, edge] of edges.entries()) {
      for (const p of iso.filter((q) => q.id === k)) expect(p.x).toBeCloseTo(edge, 12);
    }
    // each isoline is vertical in the picture: every vertex has the same pixel x
    for (const line of lines) {
      const v = vertices(line.getAttribute('d')!);
      for (const [px] of v) expect(px).toBeCloseTo(v[0][0], 6);
    }
  });

  it('draws each optimizer path as a line through its steps, with a point per step', async () => {
    const bowl = (w: number, b: number) => (w - 1) ** 2 + 2 * (b + 0.5) ** 2;
    const spec = lossSurface({
      f: bowl,
      wRange: [-2, 3],
      bRange: [-2, 2],
      resolution: 30,
      paths: [
        { name: 'sgd', points: [[-1.5, 1.5], [-0.5, 0.8], [0.2, 0.1], [0.7, -0.3], [0.95, -0.5]] },
        { name: 'momentum', points: tensor([[2.5, -1.8], [1.9, -1.1], [1.4, -0.6], [1.1, -0.4], [1.0, -0.5], [1.0, -0.5], [1.0, -0.5]]) },
      ],
      title: 'MSE',
    });
    const { doc } = await render(spec);
    const lines = marks(doc, 'line').filter((l) => /optimizer: /.test(l.getAttribute('aria-label') ?? ''));
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => vertices(l.getAttribute('d')!).length).sort()).toEqual([5, 7]);
    expect(marks(doc, 'symbol')).toHaveLength(12);
    // the rest of the lines are isolines, and every one lies inside the plot
    expect(marks(doc, 'line').length).toBeGreaterThan(2);
  });

  it('spaces the bands geometrically with logScale', () => {
    const spec = lossSurface({ f: (w, b) => 10 ** (w + b), wRange: [0, 1], bRange: [0, 1], resolution: 4, levels: 3, logScale: true });
    // centers: w + b from 0.25 to 1.75, so f from 10^0.25 to 10^1.75; edges at 10^0.75 and 10^1.25
    const levels = [...new Set((layerValues(spec, 1) as { level: number }[]).map((p) => p.level))];
    expect(levels).toHaveLength(2);
    expect(levels[0]).toBeCloseTo(10 ** 0.75, 9);
    expect(levels[1]).toBeCloseTo(10 ** 1.25, 9);
    const bands = [...new Set((layerValues(spec, 0) as { band: string }[]).map((c) => c.band))].sort();
    expect(bands).toEqual(['1.78 – 5.62', '17.8 – 56.2', '5.62 – 17.8']);
  });

  it('rejects bad ranges, f that is nowhere finite, logScale with f ≤ 0 and repeated path names', () => {
    const f = (w: number, b: number) => w * w + b * b;
    expect(() => lossSurface({ f, wRange: [1, 1], bRange: [0, 1] })).toThrow(/wRange must be \[lo, hi\] with finite lo < hi/);
    expect(() => lossSurface({ f, wRange: [0, 1], bRange: [0, NaN] })).toThrow(/bRange/);
    expect(() => lossSurface({ f: () => NaN, wRange: [0, 1], bRange: [0, 1] })).toThrow(/not finite anywhere/);
    expect(() => lossSurface({ f: (w) => w, wRange: [-1, 1], bRange: [0, 1], logScale: true })).toThrow(/logScale needs f > 0/);
    const p = { name: 'sgd', points: [[0, 0]] as [number, number][] };
    expect(() => lossSurface({ f, wRange: [0, 1], bRange: [0, 1], paths: [p, p] })).toThrow(/distinct/);
    expect(() => lossSurface({ f, wRange: [0, 1], bRange: [0, 1], paths: [{ name: 'x', points: [[0, 0, 0]] }] })).toThrow(/row 0 has 3 values/);
  });
});
