import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { scatterWithFit } from '../src/node.js';
import { layerValues, marks, render, translation, vertices } from './helpers.js';

/** Distance in pixels from p to the polyline through `line`. */
function distanceToPolyline(p: [number, number], line: [number, number][]): number {
  let best = Infinity;
  for (let i = 1; i < line.length; i++) {
    const [ax, ay] = line[i - 1];
    const [bx, by] = line[i];
    const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - ax) * (bx - ax) + (p[1] - ay) * (by - ay)) / len2));
    best = Math.min(best, Math.hypot(p[0] - ax - t * (bx - ax), p[1] - ay - t * (by - ay)));
  }
  return best;
}

describe('scatterWithFit', () => {
  const x = [-2, -1.5, -0.25, 0, 0.5, 1, 2.5, 3, 4, 5];
  const y = x.map((v) => 3 * v - 2);

  it('draws one symbol per point and one line for a fit function', async () => {
    const { doc } = await render(scatterWithFit({ x, y, fit: (v) => 3 * v - 2, title: 'y = 3x − 2' }));
    expect(marks(doc, 'symbol')).toHaveLength(x.length);
    const lines = marks(doc, 'line');
    expect(lines).toHaveLength(1);
    expect(vertices(lines[0].getAttribute('d')!)).toHaveLength(100);
  });

  it('places the points where the fitted line is when the data lie on it (pixel check)', async () => {
    const { doc } = await render(scatterWithFit({ x, y, fit: (v) => 3 * v - 2, samples: 7 }));
    const line = vertices(marks(doc, 'line')[0].getAttribute('d')!);
    for (const s of marks(doc, 'symbol')) expect(distanceToPolyline(translation(s), line)).toBeLessThan(0.01);
    // and off it when they are not: y + 1 is 1 data unit above, many pixels away
    const { doc: off } = await render(scatterWithFit({ x, y: y.map((v) => v + 1), fit: (v) => 3 * v - 2 }));
    const offLine = vertices(marks(off, 'line')[0].getAttribute('d')!);
    for (const s of marks(off, 'symbol')) expect(distanceToPolyline(translation(s), offLine)).toBeGreaterThan(1);
  });

  it('draws sampled fit points in order of x, and no line without a fit', async () => {
    const spec = scatterWithFit({ x, y, fit: { x: [2, -2, 0], y: [4, 4, 0] } });
    const { doc } = await render(spec);
    const v = vertices(marks(doc, 'line')[0].getAttribute('d')!);
    expect(v).toHaveLength(3);
    expect(v[0][0]).toBeLessThan(v[1][0]);
    expect(v[1][0]).toBeLessThan(v[2][0]);
    const { doc: bare } = await render(scatterWithFit({ x, y }));
    expect(marks(bare, 'line')).toHaveLength(0);
    expect(marks(bare, 'symbol')).toHaveLength(x.length);
  });

  it('takes Tensors as well as arrays', () => {
    const a = scatterWithFit({ x: tensor(x), y: tensor(y, { dtype: 'float64' }) });
    expect(layerValues(a, 0)).toEqual(layerValues(scatterWithFit({ x, y }), 0));
    const column = scatterWithFit({ x: tensor(x.map((v) => [v])), y: Float64Array.from(y) });
    expect(layerValues(column, 0)).toEqual(layerValues(a, 0));
  });

  it('rejects mismatched lengths, empty data and a bad fit', () => {
    expect(() => scatterWithFit({ x: [1, 2, 3], y: [1, 2] })).toThrow('scatterWithFit: x has 3 values but y has 2; they must have the same length');
    expect(() => scatterWithFit({ x: [], y: [] })).toThrow(/x is empty/);
    expect(() => scatterWithFit({ x, y, fit: { x: [1, 2], y: [1] } })).toThrow(/fit\.x has 2 values but fit\.y has 1/);
    expect(() => scatterWithFit({ x, y, fit: (v) => v, samples: 1 })).toThrow(/samples must be an integer ≥ 2/);
    expect(() => scatterWithFit({ x: tensor([[1, 2], [3, 4]]), y: [1, 2] })).toThrow(/x: expected a 1-D tensor/);
  });
});
