import { checkOptions, optionKeys } from '@ml/tensor';
import { header, size, CATEGORY_COLORS, type ChartOptions, type TopLevelSpec } from './chart.js';
import { checkNonEmpty, checkPositiveInt, checkSameLength, extent, toNumbers, type Values } from './input.js';

export interface ScatterWithFitOptions extends ChartOptions {
  x: Values;
  y: Values;
  /**
   * The fitted line or curve: sampled points `{ x, y }` (drawn in order of x), or a function
   * y = f(x), sampled at `samples` evenly spaced x across the data.
   */
  fit?: { x: Values; y: Values } | ((x: number) => number);
  /** how many points to sample a fit function at (default 100) */
  samples?: number;
  /** legend entry of the fit (default "fit") */
  fitLabel?: string;
  /** axis titles (default "x" and "y") */
  xLabel?: string;
  yLabel?: string;
}

/**
 * Data points and a fitted line or curve over them: the picture of a regression
 * (`scatterWithFit({ x, y, fit: (x) => w * x + b })`).
 */
const SCATTER_KEYS = optionKeys<ScatterWithFitOptions>()(['title', 'width', 'height', 'x', 'y', 'fit', 'samples', 'fitLabel', 'xLabel', 'yLabel']);

export function scatterWithFit(options: ScatterWithFitOptions): TopLevelSpec {
  const op = 'scatterWithFit';
  checkOptions(op, options, SCATTER_KEYS);
  const x = toNumbers(options.x, `${op}: x`);
  const y = toNumbers(options.y, `${op}: y`);
  checkSameLength(x, 'x', y, 'y', op);
  checkNonEmpty(x, 'x', op);
  const fitLabel = options.fitLabel ?? 'fit';
  const points = x.map((xi, i) => ({ x: xi, y: y[i], series: 'data' })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (points.length === 0) throw new Error(`${op}: no point has a finite x and y`);

  let curve: { x: number; y: number; series: string }[] = [];
  const { fit } = options;
  if (typeof fit === 'function') {
    const samples = options.samples ?? 100;
    checkPositiveInt(samples, 'samples', op, 2);
    const [lo, hi] = extent(points.map((p) => p.x))!;
    for (let i = 0; i < samples; i++) {
      const xi = lo + ((hi - lo) * i) / (samples - 1);
      curve.push({ x: xi, y: fit(xi), series: fitLabel });
    }
  } else if (fit !== undefined) {
    const fx = toNumbers(fit.x, `${op}: fit.x`);
    const fy = toNumbers(fit.y, `${op}: fit.y`);
    checkSameLength(fx, 'fit.x', fy, 'fit.y', op);
    checkNonEmpty(fx, 'fit.x', op);
    curve = fx.map((xi, i) => ({ x: xi, y: fy[i], series: fitLabel }));
  }
  curve = curve.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));

  const xEnc = { field: 'x', type: 'quantitative', title: options.xLabel ?? 'x', scale: { zero: false } } as const;
  const yEnc = { field: 'y', type: 'quantitative', title: options.yLabel ?? 'y', scale: { zero: false } } as const;
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: curve.length > 0 ? ['data', fitLabel] : ['data'], range: [CATEGORY_COLORS[0], CATEGORY_COLORS[1]] },
  } as const;
  return {
    ...header(options),
    ...size(options, 400, 300),
    layer: [
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 30, opacity: 0.7 },
        encoding: { x: xEnc, y: yEnc, color },
      },
      ...(curve.length > 0
        ? [
            {
              data: { values: curve },
              mark: { type: 'line', strokeWidth: 2.5 },
              encoding: { x: xEnc, y: yEnc, color, order: { field: 'x', type: 'quantitative' } },
            } as const,
          ]
        : []),
    ],
  };
}
