import { checkOptions, optionKeys } from '@ml/tensor';
import { header, size, CATEGORY_COLORS, type ChartOptions, type Layer, type TopLevelSpec } from './chart.js';
import { checkNonEmpty, checkSameLength, toNumbers, type Values } from './input.js';

/** Time stamps: numbers (steps, years) or dates. */
export type Times = Values | readonly Date[];

export interface ForecastOptions extends ChartOptions {
  /** the time of each observation */
  t: Times;
  /** the observed series */
  truth: Values;
  /**
   * Each model's predictions: an array aligned with `t` (NaN where it makes none), or its own
   * `{ t, y }` (for example only over the test period).
   */
  predictions?: Readonly<Record<string, Values | { t: Times; y: Values }>>;
  /** where training data ends and the forecast starts: a vertical rule at this time */
  splitAt?: number | Date;
  /** legend entry of the observed series (default "truth") */
  truthLabel?: string;
  /** axis titles (default "t" and "y") */
  tLabel?: string;
  yLabel?: string;
}

function isDates(t: Times): t is readonly Date[] {
  return Array.isArray(t) && t.length > 0 && t[0] instanceof Date;
}

/** Times as numbers (dates as milliseconds since 1970, which Vega-Lite reads as temporal). */
function toTimes(t: Times, name: string): { values: number[]; temporal: boolean } {
  if (isDates(t)) {
    const values = t.map((d, i) => {
      if (!(d instanceof Date)) throw new Error(`${name}: entry ${i} is not a Date, but entry 0 is; use all numbers or all dates`);
      return d.getTime();
    });
    return { values, temporal: true };
  }
  return { values: toNumbers(t as Values, name), temporal: false };
}

/**
 * A time-series forecast against the truth: the observed series and one line per model, with a
 * dashed rule where training data ends (`splitAt`). Non-finite values leave gaps out.
 */
const FORECAST_KEYS = optionKeys<ForecastOptions>()(['title', 'width', 'height', 't', 'truth', 'predictions', 'splitAt', 'truthLabel', 'tLabel', 'yLabel']);

export function forecast(options: ForecastOptions): TopLevelSpec {
  const op = 'forecast';
  checkOptions(op, options, FORECAST_KEYS);
  const truthLabel = options.truthLabel ?? 'truth';
  const t = toTimes(options.t, `${op}: t`);
  const truth = toNumbers(options.truth, `${op}: truth`);
  checkSameLength(t.values, 't', truth, 'truth', op);
  checkNonEmpty(t.values, 't', op);

  const rows: { t: number; y: number; series: string }[] = [];
  const add = (ts: number[], ys: number[], series: string) =>
    ts.forEach((ti, i) => {
      if (Number.isFinite(ti) && Number.isFinite(ys[i])) rows.push({ t: ti, y: ys[i], series });
    });
  add(t.values, truth, truthLabel);

  const models = Object.keys(options.predictions ?? {});
  for (const name of models) {
    if (name === truthLabel) throw new Error(`${op}: a model is named '${name}', like the truth series; rename it or set truthLabel`);
    const p = options.predictions![name];
    const own = typeof p === 'object' && p !== null && 't' in p && 'y' in p && !Array.isArray(p);
    const pt = own ? toTimes(p.t, `${op}: predictions.${name}.t`) : t;
    if (pt.temporal !== t.temporal) throw new Error(`${op}: predictions.${name}.t and t must both be numbers or both dates`);
    const py = toNumbers(own ? p.y : (p as Values), own ? `${op}: predictions.${name}.y` : `${op}: predictions.${name}`);
    if (py.length !== pt.values.length) {
      throw new Error(
        own
          ? `${op}: predictions.${name} has ${pt.values.length} times but ${py.length} values`
          : `${op}: predictions.${name} has ${py.length} values but t has ${pt.values.length}; pad with NaN or pass { t, y }`,
      );
    }
    add(pt.values, py, name);
  }

  const timeType = t.temporal ? 'temporal' : 'quantitative';
  const domain = [truthLabel, ...models];
  const layers: Layer[] = [
    {
      data: { values: rows },
      mark: { type: 'line', strokeWidth: 1.8 },
      encoding: {
        x: { field: 't', type: timeType, title: options.tLabel ?? 't', ...(t.temporal ? {} : { scale: { zero: false } }) },
        y: { field: 'y', type: 'quantitative', title: options.yLabel ?? 'y', scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain, range: ['#333333', ...CATEGORY_COLORS] } },
        order: { field: 't', type: 'quantitative' },
        tooltip: [
          { field: 'series', type: 'nominal' },
          { field: 't', type: timeType },
          { field: 'y', type: 'quantitative', format: '.4g' },
        ],
      },
    },
  ];
  if (options.splitAt !== undefined) {
    const split = options.splitAt instanceof Date ? options.splitAt.getTime() : options.splitAt;
    if (!Number.isFinite(split)) throw new Error(`${op}: splitAt must be a finite time, got ${String(options.splitAt)}`);
    if ((options.splitAt instanceof Date) !== t.temporal) throw new Error(`${op}: splitAt must be a ${t.temporal ? 'Date' : 'number'}, like t`);
    layers.push(
      {
        data: { values: [{ t: split }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#888888' },
        encoding: { x: { field: 't', type: timeType } },
      },
      {
        data: { values: [{ t: split, label: 'test →' }] },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 2, color: '#666666' },
        encoding: { x: { field: 't', type: timeType }, y: { value: 0 }, text: { field: 'label', type: 'nominal' } },
      },
    );
  }
  return { ...header(options), ...size(options, 560, 260), layer: layers };
}
