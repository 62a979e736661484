import { describe, expect, it } from 'vitest';
import { lastValue, prepare, score, seasonalNaive, trainEsn, windows, type Setup } from '../src/forecast.js';

const setup: Setup = { lookback: 4, horizon: 2, testFraction: 0.25, epochs: 1, seed: 1, maxWindows: 1000, verbose: 0 };
const ramp = Array.from({ length: 40 }, (_, i) => 2 * i + 1);

describe('windows and baselines', () => {
  it('origins: training targets end before the split, test origins step by the horizon through the tail', () => {
    const p = prepare(ramp, setup);
    expect(p.split).toBe(30);
    expect(p.trainOrigins[0]).toBe(3);
    expect(p.trainOrigins.at(-1)).toBe(27); // targets 28, 29
    expect(p.testOrigins).toEqual([29, 31, 33, 35, 37]); // targets 30–31, …, 38–39
    expect(p.scale).toBe(1); // constant one-step changes have no spread: scale falls back to 1
  });

  it('inputs and targets are relative to the last input value, over the scale of one-step changes', () => {
    const noisy = ramp.map((v, i) => v + (i % 2 === 0 ? 0.5 : -0.5));
    const p = prepare(noisy, setup);
    // changes alternate 1 and 3 → std ≈ 1 (29 of them in the training part)
    expect(p.scale).toBeCloseTo(1, 2);
    const { x, y } = windows(noisy, [5], p, setup);
    const base = noisy[5];
    const near = (got: ArrayLike<number>, want: number[]) => want.forEach((w, i) => expect(got[i]).toBeCloseTo(w / p.scale, 5));
    near(x.dataSync(), [noisy[2], noisy[3], noisy[4], noisy[5]].map((v) => v - base));
    near(y.dataSync(), [noisy[6] - base, noisy[7] - base]);
  });

  it('seasonal naive is exact on a purely periodic series; last value is exact on a constant one', () => {
    const periodic = Array.from({ length: 60 }, (_, i) => [3, 1, 4, 1, 5][i % 5]);
    const s = { ...setup, horizon: 7 };
    const p = prepare(periodic, s);
    const f = seasonalNaive(periodic, 5, p, s);
    expect(score(periodic, f, p)).toEqual({ mae: 0, rmse: 0 });
    const flat = new Array<number>(40).fill(2);
    const pf = prepare(flat, setup);
    expect(score(flat, lastValue(flat, pf, setup), pf)).toEqual({ mae: 0, rmse: 0 });
  });

  it('score: MAE and RMSE over every forecast step', () => {
    const p = prepare(ramp, setup);
    const f = p.testOrigins.map((o) => [ramp[o + 1] + 1, ramp[o + 2] - 3]);
    const s = score(ramp, f, p);
    expect(s.mae).toBeCloseTo(2, 12);
    expect(s.rmse).toBeCloseTo(Math.sqrt(5), 12);
  });

  it('the echo-state network forecasts a sine wave almost exactly', () => {
    const sine = Array.from({ length: 400 }, (_, i) => Math.sin((2 * Math.PI * i) / 25));
    const s = { ...setup, lookback: 25, horizon: 1 };
    const p = prepare(sine, s);
    const esn = score(sine, trainEsn(sine, p, s).forecasts, p);
    const naive = score(sine, lastValue(sine, p, s), p);
    expect(esn.mae).toBeLessThan(naive.mae / 20);
  });

  it('a series too short for the window is rejected with the numbers', () => {
    expect(() => prepare(ramp.slice(0, 12), setup)).toThrow(/the series has 12 steps: too short for lookback 4 and horizon 2 with 25% held out/);
  });
});
