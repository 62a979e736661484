import { checkOptions, formatShape, fromArray, indexSelect, isFloat, isTensor, optionKeys, reshape, select, type Tensor, tidy } from '@ml/tensor';

export interface WindowOptions {
  /** past steps per input window */
  lookback: number;
  /** future steps to predict after each window (default 1) */
  horizon?: number;
  /** steps between the starts of consecutive windows (default 1) */
  stride?: number;
  /** for a [T, F] series: the column y is taken from (required when F > 1) */
  targetColumn?: number;
  /** x as [N, lookback · F] rows instead of [N, lookback, F] (default false) */
  flat?: boolean;
}

const WINDOW_KEYS = optionKeys<WindowOptions>()(['lookback', 'horizon', 'stride', 'targetColumn', 'flat']);

export interface Windows {
  /** [N, lookback, F] (or [N, lookback · F] with flat) */
  x: Tensor;
  /** [N, horizon] */
  y: Tensor;
}

/**
 * Supervised pairs from a time series: window i starts at s = i · stride, its input is
 * steps s … s + lookback − 1 (all columns) and its target steps s + lookback … s +
 * lookback + horizon − 1 of `targetColumn`. There are N = ⌊(T − lookback − horizon) /
 * stride⌋ + 1 windows.
 *
 * ```ts
 * slidingWindows([1, 2, 3, 4, 5], { lookback: 3 }); // x [[1,2,3],[2,3,4]] as [2,3,1], y [[4],[5]]
 * ```
 */
export function slidingWindows(series: readonly number[] | Float32Array | Float64Array | Tensor, options: WindowOptions): Windows {
  const op = 'slidingWindows';
  checkOptions(op, options, WINDOW_KEYS, { window: 'lookback', windowSize: 'lookback', window_size: 'lookback', lag: 'lookback', lags: 'lookback' });
  if (options === undefined || options === null) throw new TypeError(`${op}: options with lookback are required, e.g. { lookback: 7 }`);
  const { lookback } = options;
  const horizon = options.horizon ?? 1;
  const stride = options.stride ?? 1;
  for (const [name, v] of [['lookback', lookback], ['horizon', horizon], ['stride', stride]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  }
  return tidy(() => {
    let s: Tensor;
    if (isTensor(series)) {
      if (series.ndim !== 1 && series.ndim !== 2) throw new RangeError(`${op}: the series must be [T] or [T, F], got ${formatShape(series.shape)}`);
      s = isFloat(series.dtype) ? series : series.cast('float32');
    } else {
      s = fromArray(series, [series.length], { dtype: series instanceof Float64Array ? 'float64' : 'float32' });
    }
    const T = s.shape[0];
    const F = s.ndim === 2 ? s.shape[1] : 1;
    const series2d = s.ndim === 2 ? s : reshape(s, [T, 1]);
    if (lookback + horizon > T) {
      throw new RangeError(`${op}: lookback ${lookback} + horizon ${horizon} = ${lookback + horizon} steps do not fit a series of ${T} steps`);
    }
    const col = options.targetColumn ?? (F === 1 ? 0 : undefined);
    if (col === undefined) throw new RangeError(`${op}: the series has ${F} columns; pass targetColumn (0..${F - 1}) to say which one y is taken from`);
    if (!Number.isInteger(col) || col < 0 || col >= F) throw new RangeError(`${op}: targetColumn ${col} is outside 0..${F - 1}`);

    const n = Math.floor((T - lookback - horizon) / stride) + 1;
    const xi = new Int32Array(n * lookback);
    const yi = new Int32Array(n * horizon);
    for (let i = 0; i < n; i++) {
      const start = i * stride;
      for (let k = 0; k < lookback; k++) xi[i * lookback + k] = start + k;
      for (let k = 0; k < horizon; k++) yi[i * horizon + k] = start + lookback + k;
    }
    const backend = s.backend.name;
    const xRows = indexSelect(series2d, 0, fromArray(xi, [xi.length], { dtype: 'int32', backend }));
    const yVals = indexSelect(select(series2d, 1, col), 0, fromArray(yi, [yi.length], { dtype: 'int32', backend }));
    return {
      x: reshape(xRows, options.flat ? [n, lookback * F] : [n, lookback, F]),
      y: reshape(yVals, [n, horizon]),
    };
  });
}
