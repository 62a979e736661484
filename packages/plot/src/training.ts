import { checkOptions, optionKeys } from '@ml/tensor';
import { header, size, CATEGORY_COLORS, type ChartOptions, type TopLevelSpec } from './chart.js';
import { toNumbers, type Values } from './input.js';

/** What Keras's `model.fit` (and `@ml/train`'s `fit`) returns: epochs and one series per logged name. */
export interface HistoryLike {
  readonly epoch: Values;
  readonly history: Readonly<Record<string, Values>>;
}

export interface LossCurvesOptions extends ChartOptions {
  /** which logged names to draw (default: all); `val_x` pairs with `x` either way */
  metrics?: readonly string[];
  /** log-scale y axis for the loss panel (every loss must be > 0) */
  logLoss?: boolean;
}

/**
 * A History, or its logs alone as Keras's `history.history` dict (`{ loss: [...],
 * val_loss: [...] }`), with epochs 0, 1, … for the latter.
 */
function asHistory(input: HistoryLike | Readonly<Record<string, Values>> | null | undefined): HistoryLike | null | undefined {
  if (input == null || typeof input !== 'object' || 'history' in input) return input as HistoryLike | null | undefined;
  const logs = input as Readonly<Record<string, Values>>;
  const lengths = Object.values(logs).map((v) => (v as ArrayLike<number>)?.length ?? 0);
  return { epoch: Array.from({ length: Math.max(0, ...lengths) }, (_, i) => i), history: logs };
}

/** One point of one series, in the long format Vega-Lite wants. */
interface Row {
  epoch: number;
  value: number;
  /** the logged name (`val_loss`) */
  series: string;
  /** the name without the split prefix (`loss`): the color */
  metric: string;
  /** `train` or `validation`: the dash pattern */
  split: 'train' | 'validation';
}

const VAL_PREFIX = 'val_';

/** `loss` panel or the metrics panel: losses are the names that end in "loss" (loss, val_loss, recon_loss). */
function isLoss(metric: string): boolean {
  return /loss$/i.test(metric);
}

/**
 * Training curves from a Keras-like history (`{ epoch, history: { loss, val_loss, accuracy, … } }`):
 * one line per logged name, colored by metric with training solid and validation (`val_…`) dashed,
 * so that each metric's pair reads together. Losses go in the top panel, every other metric below
 * (one panel when there is only one kind). Non-finite values (a diverged run) are left out.
 */
const LOSS_CURVES_KEYS = optionKeys<LossCurvesOptions>()(['title', 'width', 'height', 'logLoss', 'metrics']);

export function lossCurves(input: HistoryLike | Readonly<Record<string, Values>>, options: LossCurvesOptions = {}): TopLevelSpec {
  const op = 'lossCurves';
  checkOptions(op, options, LOSS_CURVES_KEYS);
  const history = asHistory(input);
  if (history == null || history.history == null || typeof history.history !== 'object') {
    throw new Error(`${op}: expected a history { epoch: number[], history: { loss: number[], … } } or its logs { loss: number[], … }`);
  }
  const epochs = toNumbers(history.epoch, `${op}: history.epoch`);
  const available = Object.keys(history.history);
  if (available.length === 0) throw new Error(`${op}: the history has no logged metrics (history.history is empty)`);
  if (epochs.length === 0) throw new Error(`${op}: the history has no epochs (history.epoch is empty)`);
  const names = options.metrics ?? available;
  if (names.length === 0) throw new Error(`${op}: options.metrics is empty; available: ${available.join(', ')}`);

  const rows: Row[] = [];
  const metrics: string[] = [];
  for (const series of names) {
    const raw = history.history[series];
    if (raw === undefined) throw new Error(`${op}: no metric '${series}' in the history; available: ${available.join(', ')}`);
    const values = toNumbers(raw, `${op}: history.history.${series}`);
    if (values.length !== epochs.length) {
      throw new Error(`${op}: history.history.${series} has ${values.length} values but history.epoch has ${epochs.length}`);
    }
    const validation = series.startsWith(VAL_PREFIX) && series.length > VAL_PREFIX.length;
    const metric = validation ? series.slice(VAL_PREFIX.length) : series;
    if (!metrics.includes(metric)) metrics.push(metric);
    values.forEach((value, i) => {
      if (Number.isFinite(value)) rows.push({ epoch: epochs[i], value, series, metric, split: validation ? 'validation' : 'train' });
    });
  }
  if (options.logLoss) {
    const bad = rows.find((r) => isLoss(r.metric) && r.value <= 0);
    if (bad) throw new Error(`${op}: logLoss needs positive losses, but ${bad.series} is ${bad.value} at epoch ${bad.epoch}`);
  }

  const { width, height } = size(options, 480, 220);
  const color = { field: 'metric', type: 'nominal', title: 'metric', scale: { domain: metrics, range: CATEGORY_COLORS } } as const;
  const strokeDash = {
    field: 'split',
    type: 'nominal',
    title: null,
    scale: { domain: ['train', 'validation'], range: [[1, 0], [6, 3]] },
  } as const;
  const panel = (loss: boolean): Omit<Extract<TopLevelSpec, { mark: unknown }>, 'params'> => ({
    width,
    height,
    data: { values: rows.filter((r) => isLoss(r.metric) === loss) },
    mark: { type: 'line', strokeWidth: 2, clip: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', scale: { zero: false, nice: false }, axis: { tickMinStep: 1, format: 'd' } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: loss ? 'loss' : 'metric',
        scale: loss && options.logLoss ? ({ type: 'log' } as const) : { zero: false },
      },
      color,
      strokeDash,
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'epoch', type: 'quantitative' },
        { field: 'value', type: 'quantitative', format: '.4g' },
      ],
    },
  });

  const hasLoss = metrics.some(isLoss);
  const hasOther = metrics.some((m) => !isLoss(m));
  const base = header(options);
  if (hasLoss && hasOther) {
    return {
      ...base,
      vconcat: [panel(true), panel(false)],
      resolve: { scale: { color: 'shared', strokeDash: 'shared' } },
    };
  }
  return { ...base, ...panel(hasLoss) };
}
