#!/usr/bin/env node
import { BACKEND_CHOICES, parseFlags, nonNegativeInt, UsageError, oneOf, positiveInt, runCli, selectBackendFlag } from '@ml/cli-kit';
import { run, runWindowTables, type RunOptions } from './run.js';
import { LINEAR, MODELS, NEURAL, type ModelKind } from './models.js';
import { SERIES, type SeriesName } from './series.js';
import { enableRelaxedSimd } from '@ml/backend-wasm';

// This program asks for WebAssembly's relaxed SIMD (fused multiply-adds in the wasm
// backend's products): on Node 20 it sits behind a V8 flag, set here for this process.
enableRelaxedSimd();

const HELP = `sequence-predictor — forecast a time series from lookback windows, on @ml

Usage:
  sequence-predictor [options]

Options:
  --series <names>      weekly, co2, seattle or all (comma-separated)       (default all)
                          weekly   synthetic daily series with a 7-day pattern (season 7)
                          co2      Mauna Loa CO2, monthly since 1958 (season 12)
                          seattle  Seattle hourly temperature normals (season 24)
  --csv <file>          forecast a column of your own CSV instead (with --column, --season)
  --column <name>       the CSV column to forecast
  --date-column <name>  a date column for the chart's time axis
  --season <n>          steps per season for the seasonal-naive baseline
  --models <names>      mlp, rnn, lstm, gru, transformer, esn or all       (default all)
                        or linear (the notes' y = b + Σ wⱼxⱼ over the window)
  --lookback <n>        input window (default per series: weekly 28, co2 24, seattle 48)
  --horizon <n>         steps predicted at once (1 = one-step)             (default 1)
  --epochs <n>          most epochs per model (early stopping on validation) (default 60)
  --test-fraction <f>   the held-out tail                                  (default 0.2)
  --data-dir <dir>      where co2-concentration.csv and seattle-weather-hourly-normals.csv are
                        (default: the vega-datasets package)
  --out <dir>           where the forecast charts go                       (default ./forecasts)
  --seed <n>            random seed                                        (default 1)
  --windows <list>      compare lookback windows, e.g. 7,28,56 (the notes' table):
                        the same model trained on each, its training and held-out
                        MAE side by side, and <out>/<series>-windows.svg; with
                        --models (default linear; not esn) and --series (default
                        weekly). Instead of --lookback
  --quick               a small run (short series, 3 epochs) to check the setup
  --verbose <0|1|2>     0 a line per model, 1 progress bars, 2 a line per
                        epoch                                              (default 0)
  --backend <name>      cpu, wasm, webgpu (a GPU through WebGPU; the series and the
                        echo-state network's ridge solve stay on the cpu backend)
                        or auto: wasm where supported                       (default auto)
  -h, --help            show this help

For each series: every model is trained on the first part and scored (MAE, RMSE) on the
held-out tail next to the last-value and seasonal-naive baselines; a table is printed and
<out>/<series>-forecast.svg shows the best model and the seasonal baseline against the truth.
`;

function list<T extends string>(name: string, v: string | undefined, allowed: readonly T[], all: readonly T[] = allowed): T[] {
  if (v === undefined || v === 'all') return [...all];
  const items = v.split(',').map((s) => s.trim());
  for (const it of items) if (!allowed.includes(it as T)) throw new UsageError(`--${name}: unknown '${it}' (choose from ${allowed.join(', ')} or all)`);
  return items as T[];
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    series: { type: 'string' },
    csv: { type: 'string' },
    column: { type: 'string' },
    'date-column': { type: 'string' },
    season: { type: 'string' },
    models: { type: 'string' },
    lookback: { type: 'string' },
    horizon: { type: 'string' },
    epochs: { type: 'string' },
    'test-fraction': { type: 'string' },
    'data-dir': { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    quick: { type: 'boolean' },
    windows: { type: 'string' },
    verbose: { type: 'string' },
    backend: { type: 'string' },
  });
  const v = parsed.values;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument '${parsed.positionals[0]}' (sequence-predictor takes only options; see --help)`);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  await selectBackendFlag(oneOf('backend', v.backend, BACKEND_CHOICES, 'auto'));
  const verbose = v.verbose === undefined ? 0 : Number(v.verbose);
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new UsageError(`--verbose must be 0, 1 or 2, got '${v.verbose}'`);
  const testFraction = v['test-fraction'] === undefined ? 0.2 : Number(v['test-fraction']);
  if (!(testFraction > 0 && testFraction < 0.9)) throw new UsageError(`--test-fraction must be in (0, 0.9), got '${v['test-fraction']}'`);
  if (v.csv !== undefined && (v.column === undefined || v.season === undefined)) throw new UsageError('--csv needs --column and --season');
  if (v.csv === undefined && (v.column !== undefined || v['date-column'] !== undefined)) throw new UsageError('--column and --date-column go with --csv');
  const windows = v.windows === undefined ? undefined : lookbacks(v.windows);
  if (windows !== undefined && v.lookback !== undefined) throw new UsageError('--windows and --lookback exclude each other: --windows 7,28,56 trains once per window');
  if (windows !== undefined && v.models !== undefined && v.models.split(',').map((s) => s.trim()).includes('esn')) {
    throw new UsageError('--windows compares models that read a window; esn reads the whole series (choose from linear, mlp, rnn, lstm, gru, transformer)');
  }
  const options: RunOptions = {
    series: v.csv === undefined ? (windows !== undefined && v.series === undefined ? ['weekly'] : list<SeriesName>('series', v.series, SERIES)) : [],
    csv: v.csv === undefined ? undefined : { file: v.csv, column: v.column as string, dateColumn: v['date-column'], season: positiveInt('season', v.season) as number },
    models: windows === undefined ? list<ModelKind>('models', v.models, [...MODELS, LINEAR], MODELS) : v.models === undefined ? [LINEAR] : list<ModelKind>('models', v.models, [LINEAR, ...NEURAL]),
    lookback: positiveInt('lookback', v.lookback),
    horizon: positiveInt('horizon', v.horizon) ?? 1,
    epochs: positiveInt('epochs', v.epochs),
    testFraction,
    dataDir: v['data-dir'],
    out: v.out ?? 'forecasts',
    seed: nonNegativeInt('seed', v.seed) ?? 1,
    quick: v.quick ?? false,
    verbose,
  };
  if (windows !== undefined) await runWindowTables({ ...options, windows });
  else await run(options);
  return 0;
}

/** `7,28,56` → [7, 28, 56]: distinct positive integers. */
function lookbacks(text: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  const values = items.map((s) => Number(s));
  const bad = items.find((s, i) => s === '' || !Number.isInteger(values[i]) || values[i] < 1);
  if (bad !== undefined) throw new UsageError(`--windows expects positive integers separated by commas, e.g. 7,28,56; got '${text}'`);
  if (new Set(values).size !== values.length) throw new UsageError(`--windows lists a window twice: '${text}'`);
  return values;
}

runCli('sequence-predictor', () => main(process.argv.slice(2)));
