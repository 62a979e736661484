import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { onHost } from '@ml/cli-kit';
import { forecast, saveSvg } from '@ml/plot';
import { lastValue, prepare, score, seasonalNaive, trainEsn, trainNeural, type Forecasts, type Score, type Setup } from './forecast.js';
import type { ModelKind, NeuralKind } from './models.js';
import { runWindows, type WindowRow } from './windows.js';
import { csvSeries, loadSeries, type Series, type SeriesName } from './series.js';

export interface RunOptions {
  series: SeriesName[];
  csv?: { file: string; column: string; dateColumn?: string; season: number };
  models: ModelKind[];
  lookback?: number;
  horizon: number;
  epochs?: number;
  testFraction: number;
  dataDir?: string;
  out: string;
  seed: number;
  quick: boolean;
  verbose: 0 | 1 | 2;
  /** compare these lookback windows (the notes' 7, 28, 56) instead of the models' forecast table */
  windows?: number[];
}

export interface Row {
  model: string;
  score: Score;
  seconds?: number;
  params?: number;
}

export interface SeriesResult {
  series: string;
  rows: Row[];
  best: Row;
  seasonal: Row;
  chart: string;
}

function table(rows: Row[], unit: string): string {
  const head = `  ${'model'.padEnd(16)}${`MAE${unit ? ` (${unit})` : ''}`.padStart(12)}${'RMSE'.padStart(10)}${'params'.padStart(9)}${'train s'.padStart(9)}`;
  const lines = rows.map(
    (r) =>
      `  ${r.model.padEnd(16)}${r.score.mae.toFixed(4).padStart(12)}${r.score.rmse.toFixed(4).padStart(10)}${(r.params === undefined ? '-' : r.params.toLocaleString('en-US')).padStart(9)}${(r.seconds === undefined ? '-' : r.seconds.toFixed(1)).padStart(9)}`,
  );
  return [head, ...lines].join('\n');
}

/** Train and score every model on one series; print its table and write its chart. */
export async function runSeries(series: Series, o: RunOptions): Promise<SeriesResult> {
  const values = o.quick ? series.values.slice(-Math.min(series.values.length, 400)) : series.values;
  const t = o.quick ? series.t.slice(-values.length) : series.t;
  const setup: Setup = {
    lookback: o.lookback ?? series.lookback,
    horizon: o.horizon,
    testFraction: o.testFraction,
    epochs: o.epochs ?? (o.quick ? 3 : 60),
    seed: o.seed,
    maxWindows: o.quick ? 300 : 3000,
    verbose: o.verbose,
  };
  const p = prepare(values, setup);
  console.log(
    `\n${series.title}: ${values.length} steps, the last ${values.length - p.split} held out; lookback ${setup.lookback}, horizon ${setup.horizon}, ${p.trainOrigins.length} training windows, season ${series.season}`,
  );
  const forecasts: Record<string, Forecasts> = {};
  const rows: Row[] = [];
  const add = (model: string, f: Forecasts, extra: Partial<Row> = {}) => {
    forecasts[model] = f;
    rows.push({ model, score: score(values, f, p), ...extra });
  };
  add('last value', lastValue(values, p, setup));
  add('seasonal naive', seasonalNaive(values, series.season, p, setup));
  for (const kind of o.models) {
    // a line as each model starts and ends, at every verbosity: a full run takes minutes
    console.log(`  training ${kind}${kind === 'esn' ? ' (ridge readout)' : ` (up to ${setup.epochs} epochs, early stopping)`}…`);
    // the echo-state network's readout is a ridge solve on the host: on the cpu backend under a GPU one
    const r = kind === 'esn' ? await onHost(() => trainEsn(values, p, setup)) : await trainNeural(kind, values, p, setup);
    add(kind, r.forecasts, { seconds: r.seconds, params: r.params });
    const epochs = r.history === undefined ? '' : `, ${r.history.epoch.length} epochs`;
    console.log(`  trained ${kind} in ${r.seconds.toFixed(1)} s${epochs}: MAE ${rows[rows.length - 1].score.mae.toFixed(4)}`);
  }
  console.log(table(rows, series.unit));
  const seasonal = rows[1];
  const models = rows.slice(2);
  const best = models.length > 0 ? models.reduce((a, b) => (b.score.mae < a.score.mae ? b : a)) : seasonal;
  if (models.length > 0) {
    const ratio = best.score.mae / seasonal.score.mae;
    console.log(`  best: ${best.model}, MAE ${ratio < 1 ? `${((1 - ratio) * 100).toFixed(0)}% below` : `${((ratio - 1) * 100).toFixed(0)}% above`} the seasonal-naive baseline`);
  }

  // chart: the held-out tail (plus one season before it), truth vs the best model and the baseline
  const from = Math.max(0, p.split - 2 * series.season);
  const aligned = (f: Forecasts): number[] => {
    const y = new Array<number>(values.length).fill(NaN);
    p.testOrigins.forEach((origin, k) => f[k].forEach((v, h) => (y[origin + 1 + h] = v)));
    return y.slice(from);
  };
  const predictions: Record<string, number[]> = { 'seasonal naive': aligned(forecasts['seasonal naive']) };
  if (best !== seasonal) predictions[best.model] = aligned(forecasts[best.model]);
  const tt = t.slice(from) as Date[] | number[];
  const spec = forecast({
    t: tt,
    truth: values.slice(from),
    predictions,
    splitAt: t[p.split] as number | Date,
    title: `${series.title}: held-out forecast (horizon ${setup.horizon})`,
    yLabel: series.unit || 'value',
    tLabel: typeof t[0] === 'number' ? 'step' : 'time',
  });
  await mkdir(o.out, { recursive: true });
  const chart = join(o.out, `${series.name}-forecast.svg`);
  await saveSvg(spec, chart);
  console.log(`  chart: ${chart}`);
  return { series: series.name, rows, best, seasonal, chart };
}

async function loadAll(o: RunOptions): Promise<Series[]> {
  const all: Series[] = [];
  if (o.csv) {
    const { values, t } = await onHost(() => csvSeries(o.csv!.file, o.csv!.column, o.csv!.dateColumn));
    const name = o.csv.column.replace(/[^A-Za-z0-9_-]+/g, '_');
    all.push({ name, title: `${o.csv.file}: ${o.csv.column}`, values, t, season: o.csv.season, lookback: Math.max(2 * o.csv.season, 8), unit: '' });
  }
  // load every series first, so a missing file is reported before any training
  for (const name of o.series) all.push(await onHost(() => loadSeries(name, o.seed, o.dataDir)));
  return all;
}

export async function run(o: RunOptions): Promise<SeriesResult[]> {
  const results: SeriesResult[] = [];
  for (const s of await loadAll(o)) results.push(await runSeries(s, o));
  return results;
}

/** `--windows`: for each series, the same model(s) on each lookback window, training and held-out loss side by side. */
export async function runWindowTables(o: RunOptions & { windows: number[] }): Promise<{ series: string; rows: WindowRow[]; chart: string }[]> {
  const results = [];
  for (const s of await loadAll(o)) {
    const r = await runWindows(s, {
      lookbacks: o.windows,
      models: o.models as NeuralKind[],
      horizon: o.horizon,
      testFraction: o.testFraction,
      epochs: o.epochs ?? (o.quick ? 3 : 60),
      seed: o.seed,
      maxWindows: o.quick ? 300 : 3000,
      verbose: o.verbose,
      out: o.out,
      quick: o.quick,
    });
    results.push({ series: s.name, ...r });
  }
  return results;
}
