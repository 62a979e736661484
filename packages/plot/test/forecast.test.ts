import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { forecast } from '../src/node.js';
import { marks, render, translation, vertices } from './helpers.js';

const t = Array.from({ length: 48 }, (_, i) => i);
const truth = t.map((i) => Math.sin(i / 4) + i / 24);

describe('forecast', () => {
  it('draws the truth and one line per model, and a rule at the split', async () => {
    const { doc } = await render(
      forecast({
        t,
        truth,
        predictions: {
          // aligned with t, NaN before the test period
          lstm: t.map((i) => (i < 36 ? NaN : truth[i] + 0.1)),
          // its own times
          naive: { t: t.slice(36), y: t.slice(36).map(() => truth[35]) },
        },
        splitAt: 35.5,
        title: 'Forecast',
      }),
    );
    const lines = marks(doc, 'line');
    expect(lines).toHaveLength(3);
    const points = Object.fromEntries(lines.map((l) => [/series: (\w+)/.exec(l.getAttribute('aria-label')!)![1], vertices(l.getAttribute('d')!)]));
    expect(points.truth).toHaveLength(48);
    expect(points.lstm).toHaveLength(12);
    expect(points.naive).toHaveLength(12);
    // the naive forecast is flat: every vertex at the same height
    for (const [, y] of points.naive) expect(y).toBeCloseTo(points.naive[0][1], 6);

    const rules = marks(doc, 'rule');
    expect(rules).toHaveLength(1);
    // the rule sits between the truth's vertices for t = 35 and t = 36
    const rx = translation(rules[0])[0];
    expect(rx).toBeCloseTo((points.truth[35][0] + points.truth[36][0]) / 2, 3);
    expect(marks(doc, 'text').map((e) => e.textContent)).toEqual(['test →']);
  });

  it('plots dates on a time axis', async () => {
    const days = t.map((i) => new Date(Date.UTC(2024, 0, 1 + i)));
    const spec = forecast({ t: days, truth, splitAt: days[40] });
    expect(JSON.stringify(spec)).toContain('"type":"temporal"');
    const { doc } = await render(spec);
    expect(marks(doc, 'line')).toHaveLength(1);
    expect(marks(doc, 'rule')).toHaveLength(1);
  });

  it('takes Tensors', async () => {
    const { doc } = await render(forecast({ t: tensor(t), truth: tensor(truth), predictions: { m: tensor(truth.map((v) => v * 0.9)) } }));
    expect(marks(doc, 'line')).toHaveLength(2);
  });

  it('rejects mismatched lengths, a model named like the truth and a split of the wrong kind', () => {
    expect(() => forecast({ t, truth: truth.slice(1) })).toThrow('forecast: t has 48 values but truth has 47; they must have the same length');
    expect(() => forecast({ t: [], truth: [] })).toThrow(/t is empty/);
    expect(() => forecast({ t, truth, predictions: { m: [1, 2] } })).toThrow(/predictions\.m has 2 values but t has 48; pad with NaN or pass \{ t, y \}/);
    expect(() => forecast({ t, truth, predictions: { m: { t: [1, 2], y: [1] } } })).toThrow(/predictions\.m has 2 times but 1 values/);
    expect(() => forecast({ t, truth, predictions: { truth } })).toThrow(/named 'truth'/);
    expect(() => forecast({ t, truth, splitAt: new Date() })).toThrow(/splitAt must be a number, like t/);
    const days = t.map((i) => new Date(2024, 0, 1 + i));
    expect(() => forecast({ t: days, truth, predictions: { m: { t, y: truth } } })).toThrow(/both be numbers or both dates/);
  });
});
