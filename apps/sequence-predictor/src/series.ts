import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readCsv, weeklySeries } from '@ml/data';

/** A univariate series with its seasonal period and a default lookback. */
export interface Series {
  name: string;
  title: string;
  /** the observations, oldest first */
  values: number[];
  /** time stamps for charts (dates, or step numbers) */
  t: Date[] | number[];
  /** steps per season: what the seasonal-naive baseline repeats */
  season: number;
  /** default input window */
  lookback: number;
  unit: string;
}

export const SERIES = ['weekly', 'co2', 'seattle'] as const;
export type SeriesName = (typeof SERIES)[number];

/** The directory of the npm package vega-datasets' CSV files. */
export function vegaDataDir(): string {
  // the package exports only build/index.js; its data/ folder sits next to build/
  return join(dirname(dirname(createRequire(import.meta.url).resolve('vega-datasets'))), 'data');
}

/** The synthetic weekly-periodic series of the notes: trend + a 7-day pattern + noise. */
export function weekly(seed: number, days = 728): Series {
  const { values } = weeklySeries({ days, trend: 0.01, amplitude: 2, level: 10, noise: 0.3, seed });
  return {
    name: 'weekly',
    title: 'Synthetic weekly-periodic series',
    values: Array.from(values.dataSync()),
    t: Array.from({ length: days }, (_, i) => i),
    season: 7,
    lookback: 28,
    unit: '',
  };
}

/** A numeric column of a CSV file with an optional date column, rejecting missing values. */
export async function csvSeries(file: string, column: string, dateColumn?: string): Promise<{ values: number[]; t: Date[] | number[] }> {
  const table = await readCsv(file, { types: { [column]: 'number', ...(dateColumn ? { [dateColumn]: 'date' } : {}) } });
  const gaps = table.missing.filter((m) => m.column === column);
  if (gaps.length > 0) {
    throw new Error(`${file}: column '${column}' has ${gaps.length} missing value${gaps.length > 1 ? 's' : ''} (first at line ${gaps[0].line}); a forecast needs an unbroken series`);
  }
  const values = table.rows.map((r) => r[column] as number);
  const t = dateColumn ? table.rows.map((r) => r[dateColumn] as Date) : values.map((_, i) => i);
  return { values, t };
}

/** Monthly mean CO2 at Mauna Loa since 1958 (ppm): a trend with a yearly season. */
export async function co2(dir = vegaDataDir()): Promise<Series> {
  const { values, t } = await csvSeries(join(dir, 'co2-concentration.csv'), 'CO2', 'Date');
  return { name: 'co2', title: 'Mauna Loa CO2, monthly (ppm)', values, t, season: 12, lookback: 24, unit: 'ppm' };
}

/** Seattle's hourly temperature normals over one year (°C): a daily cycle over a yearly one. */
export async function seattle(dir = vegaDataDir()): Promise<Series> {
  const { values, t } = await csvSeries(join(dir, 'seattle-weather-hourly-normals.csv'), 'temperature', 'date');
  return { name: 'seattle', title: 'Seattle hourly temperature normals (°C)', values, t, season: 24, lookback: 48, unit: '°C' };
}

export async function loadSeries(name: SeriesName, seed: number, dataDir?: string): Promise<Series> {
  if (name === 'weekly') return weekly(seed);
  if (name === 'co2') return co2(dataDir);
  return seattle(dataDir);
}
