/**
 * The notes' window table: the same model trained on lookback windows of 7, 28 and 56 days,
 * its loss on the training part beside its loss on the held-out tail. In the notes (daily
 * video views, y = b + Σⱼ wⱼ·xⱼ) more days lower the training loss, while from 28 to 56 days
 * the loss on unseen days no longer improves (L′ stays at 0.46k).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SCHEMA, saveSvg, type TopLevelSpec } from '@ml/plot';
import { forecastAt, prepare, score, trainNeural, type Setup } from './forecast.js';
import type { NeuralKind } from './models.js';
import type { Series } from './series.js';

export interface WindowRow {
  lookback: number;
  model: NeuralKind;
  /** MAE on the training windows (the notes' L), in the series' units */
  trainMae: number;
  /** MAE on the held-out tail (the notes' L′) */
  testMae: number;
  trainWindows: number;
  params: number;
  epochs: number;
  seconds: number;
}

export interface WindowOptions {
  lookbacks: readonly number[];
  models: readonly NeuralKind[];
  horizon: number;
  testFraction: number;
  epochs: number;
  seed: number;
  maxWindows: number;
  verbose: 0 | 1 | 2;
}

/**
 * Train each model once per lookback on the same series and the same held-out tail (the
 * split does not depend on the window, so every row is scored on the same days).
 */
export async function compareWindows(values: readonly number[], o: WindowOptions): Promise<WindowRow[]> {
  const rows: WindowRow[] = [];
  for (const model of o.models) {
    for (const lookback of o.lookbacks) {
      const setup: Setup = { lookback, horizon: o.horizon, testFraction: o.testFraction, epochs: o.epochs, seed: o.seed, maxWindows: o.maxWindows, verbose: o.verbose };
      const p = prepare(values, setup);
      const r = await trainNeural(model, values, p, setup);
      const fitted = await forecastAt(r.model!, values, p.trainOrigins, p, setup);
      rows.push({
        lookback,
        model,
        trainMae: score(values, fitted, p, p.trainOrigins).mae,
        testMae: score(values, r.forecasts, p).mae,
        trainWindows: p.trainOrigins.length,
        params: r.params,
        epochs: r.history?.epoch.length ?? 0,
        seconds: r.seconds,
      });
    }
  }
  return rows;
}

/** The table: one row per (model, window), the two losses side by side. */
export function windowTable(rows: readonly WindowRow[], unit: string): string {
  const u = unit ? ` (${unit})` : '';
  const head = `  ${'model'.padEnd(8)}${'window'.padStart(7)}${`train MAE${u}`.padStart(16)}${`held-out MAE${u}`.padStart(19)}${'params'.padStart(8)}${'epochs'.padStart(8)}${'train s'.padStart(9)}`;
  const lines = rows.map(
    (r) =>
      `  ${r.model.padEnd(8)}${String(r.lookback).padStart(7)}${r.trainMae.toFixed(4).padStart(16)}${r.testMae.toFixed(4).padStart(19)}${r.params.toLocaleString('en-US').padStart(8)}${String(r.epochs).padStart(8)}${r.seconds.toFixed(1).padStart(9)}`,
  );
  return [head, ...lines].join('\n');
}

/** Training and held-out MAE against the window length, a line per model and part. */
export function windowChart(rows: readonly WindowRow[], title: string, unit: string): TopLevelSpec {
  const data = rows.flatMap((r) => [
    { window: r.lookback, model: r.model, part: 'training', mae: r.trainMae },
    { window: r.lookback, model: r.model, part: 'held out', mae: r.testMae },
  ]);
  const several = new Set(rows.map((r) => r.model)).size > 1;
  return {
    $schema: SCHEMA,
    title,
    background: 'white',
    width: 420,
    height: 260,
    data: { values: data },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'window', type: 'ordinal', title: 'lookback window (steps)', axis: { labelAngle: 0 } },
      y: { field: 'mae', type: 'quantitative', title: `MAE${unit ? ` (${unit})` : ''}`, scale: { zero: false } },
      color: { field: 'part', type: 'nominal', title: null, sort: ['training', 'held out'] },
      ...(several ? { strokeDash: { field: 'model', type: 'nominal', title: 'model' } } : {}),
    },
  };
}

/** Run the comparison on one series: print the table, write `<out>/<series>-windows.svg`. */
export async function runWindows(series: Series, o: WindowOptions & { out: string; quick: boolean }): Promise<{ rows: WindowRow[]; chart: string }> {
  const values = o.quick ? series.values.slice(-Math.min(series.values.length, 400)) : series.values;
  const split = Math.floor(values.length * (1 - o.testFraction));
  console.log(
    `\n${series.title}: lookback windows ${o.lookbacks.join(', ')} with ${o.models.join(', ')} — trained on the first ${split} steps, scored on both parts and on the last ${values.length - split} (held out)`,
  );
  const rows = await compareWindows(values, o);
  console.log(windowTable(rows, series.unit));
  for (const model of o.models) {
    const mine = rows.filter((r) => r.model === model);
    const bestTrain = mine.reduce((a, b) => (b.trainMae < a.trainMae ? b : a));
    const bestTest = mine.reduce((a, b) => (b.testMae < a.testMae ? b : a));
    console.log(`  ${model}: lowest training loss with ${bestTrain.lookback} steps, lowest held-out loss with ${bestTest.lookback}`);
  }
  await mkdir(o.out, { recursive: true });
  const chart = join(o.out, `${series.name}-windows.svg`);
  await saveSvg(windowChart(rows, `${series.title}: loss against the lookback window`, series.unit), chart);
  console.log(`  chart: ${chart}`);
  return { rows, chart };
}
