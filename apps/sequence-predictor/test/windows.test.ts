import { describe, expect, it } from 'vitest';
import { compareWindows, windowChart, windowTable, type WindowRow } from '../src/windows.js';

// a weekly pattern with a slow trend and a little deterministic wobble, 200 days
const series = Array.from({ length: 200 }, (_, d) => 10 + 0.01 * d + [0, 1, 3, 2, 5, -1, -2][d % 7] + 0.3 * Math.sin(d * 1.7));

describe('the window table', () => {
  it('trains the model once per window: three rows, finite losses, the training windows each window leaves', async () => {
    const rows = await compareWindows(series, { lookbacks: [7, 28, 56], models: ['linear'], horizon: 1, testFraction: 0.2, epochs: 2, seed: 1, maxWindows: 1000, verbose: 0 });
    expect(rows.map((r) => [r.model, r.lookback])).toEqual([
      ['linear', 7],
      ['linear', 28],
      ['linear', 56],
    ]);
    // split = ⌊200 · 0.8⌋ = 160; origins L − 1 … 158 (the target of origin o is o + 1 < 160)
    expect(rows.map((r) => r.trainWindows)).toEqual([160 - 7, 160 - 28, 160 - 56]);
    // y = b + Σⱼ wⱼ·xⱼ: L weights and a bias
    expect(rows.map((r) => r.params)).toEqual([8, 29, 57]);
    for (const r of rows) {
      expect(Number.isFinite(r.trainMae) && r.trainMae > 0).toBe(true);
      expect(Number.isFinite(r.testMae) && r.testMae > 0).toBe(true);
      expect(r.epochs).toBe(2);
    }
  });

  it('prints the two losses side by side, a row per window', () => {
    const row = (lookback: number, trainMae: number, testMae: number): WindowRow => ({ lookback, model: 'linear', trainMae, testMae, trainWindows: 100, params: lookback + 1, epochs: 60, seconds: 1.25 });
    const text = windowTable([row(7, 0.48, 0.58), row(28, 0.3814, 0.4612), row(56, 0.32, 0.46)], 'k');
    expect(text.split('\n')).toEqual([
      '  model    window   train MAE (k)   held-out MAE (k)  params  epochs  train s',
      '  linear        7          0.4800             0.5800       8      60      1.3',
      '  linear       28          0.3814             0.4612      29      60      1.3',
      '  linear       56          0.3200             0.4600      57      60      1.3',
    ]);
    const spec = windowChart([row(7, 0.48, 0.58), row(28, 0.38, 0.46)], 'views', 'k') as { data: { values: { window: number; part: string; mae: number }[] } };
    expect(spec.data.values).toEqual([
      { window: 7, model: 'linear', part: 'training', mae: 0.48 },
      { window: 7, model: 'linear', part: 'held out', mae: 0.58 },
      { window: 28, model: 'linear', part: 'training', mae: 0.38 },
      { window: 28, model: 'linear', part: 'held out', mae: 0.46 },
    ]);
  });
});
