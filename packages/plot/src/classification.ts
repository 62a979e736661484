import { header, size, CATEGORY_COLORS, type ChartOptions, type TopLevelSpec } from './chart.js';
import { checkOptions, isTensor, optionKeys } from '@ml/tensor';
import { rasterRuns, tint } from './raster.js';
import { checkNonEmpty, checkPositiveInt, checkSameLength, extent, toNumbers, toRows, toSquare, type Rows, type Values } from './input.js';

/** What a classifier gives for the grid: classes, per-class scores or probabilities. */
export type Prediction = Values | Rows;

export interface DecisionRegionsOptions extends ChartOptions {
  /**
   * the classifier, given the grid's points `[m, 2]`: one class per point (`[m]`), scores per
   * class (`[m, k]`, k ≥ 2: the argmax is taken) or a probability per point (`[m]` or `[m, 1]`
   * in [0, 1], not all whole numbers: class 1 where ≥ 0.5, a sigmoid output's reading), as
   * numbers, rows or a tensor — or a promise of one (`(p) => model.predict(p)`), and then
   * `decisionRegions` returns a promise too
   */
  predict: (points: number[][]) => Prediction | Promise<Prediction>;
  /** the data points, `[n, 2]` */
  x: Rows;
  /** their classes, `[n]` */
  y: Values;
  /** grid cells per axis (default 100, so 100×100 predictions) */
  resolution?: number;
  /** margin around the data on each axis, in data units (default: 10% of that axis's range) */
  padding?: number;
  /** class names by class index (default: the numbers) */
  labels?: readonly string[];
  /** axis titles (default "x₁" and "x₂") */
  xLabel?: string;
  yLabel?: string;
}

/**
 * A 2-D classifier's decision regions: the plane colored by the class `predict` gives each cell
 * of a `resolution`×`resolution` grid (pale), with the data points on top colored by their true
 * class. Neighboring cells of a grid row with the same class are drawn as one rectangle, so a
 * 100×100 grid costs a few hundred marks, not 10,000.
 */
const DECISION_REGIONS_KEYS = optionKeys<DecisionRegionsOptions>()(['title', 'width', 'height', 'x', 'y', 'predict', 'labels', 'resolution', 'padding', 'xLabel', 'yLabel']);

export function decisionRegions(options: DecisionRegionsOptions & { predict: (points: number[][]) => Promise<Prediction> }): Promise<TopLevelSpec>;
export function decisionRegions(options: DecisionRegionsOptions & { predict: (points: number[][]) => Prediction }): TopLevelSpec;
export function decisionRegions(options: DecisionRegionsOptions): TopLevelSpec | Promise<TopLevelSpec>;
export function decisionRegions(options: DecisionRegionsOptions): TopLevelSpec | Promise<TopLevelSpec> {
  const op = 'decisionRegions';
  checkOptions(op, options, DECISION_REGIONS_KEYS);
  if (typeof options.predict !== 'function') throw new Error(`${op}: predict must be a function (points: number[][]) => class per point`);
  const points = toRows(options.x, 2, `${op}: x`);
  const classes = toNumbers(options.y, `${op}: y`);
  checkSameLength(points, 'x', classes, 'y', op);
  checkNonEmpty(points, 'x', op);
  const resolution = options.resolution ?? 100;
  checkPositiveInt(resolution, 'resolution', op, 2);
  if (options.padding !== undefined && !(Number.isFinite(options.padding) && options.padding >= 0)) {
    throw new Error(`${op}: padding must be a number ≥ 0, got ${options.padding}`);
  }

  const axis = (k: 0 | 1): [number, number] => {
    const e = extent(points.map((p) => p[k]));
    if (!e) throw new Error(`${op}: x has no finite values in column ${k}`);
    const pad = options.padding ?? (0.1 * (e[1] - e[0]) || 1);
    return e[1] - e[0] + 2 * pad > 0 ? [e[0] - pad, e[1] + pad] : [e[0] - 1, e[1] + 1];
  };
  const [x0, x1] = axis(0);
  const [y0, y1] = axis(1);
  const dx = (x1 - x0) / resolution;
  const dy = (y1 - y0) / resolution;

  // predict at the cell centers, row by row (row j spans y0 + j·dy … y0 + (j+1)·dy)
  const grid: number[][] = [];
  for (let j = 0; j < resolution; j++) {
    for (let i = 0; i < resolution; i++) grid.push([x0 + (i + 0.5) * dx, y0 + (j + 0.5) * dy]);
  }
  const output = options.predict(grid);
  if (isPromise(output)) return output.then(async (o) => draw(await readPrediction(o)));
  return draw(output);

  function draw(output: Prediction): TopLevelSpec {
  const predicted = classesOf(output, grid.length);
  if (predicted.length !== grid.length) {
    throw new Error(`${op}: predict returned ${predicted.length} classes for ${grid.length} points; it must return one class per point`);
  }
  const badClass = predicted.findIndex((c) => !Number.isFinite(c));
  if (badClass >= 0) throw new Error(`${op}: predict returned ${predicted[badClass]} for point [${grid[badClass].join(', ')}]`);

  const label = (c: number) => options.labels?.[c] ?? String(c);
  const domain = [...new Set([...classes.filter(Number.isFinite), ...predicted])].sort((a, b) => a - b).map(label);

  const rows = Array.from({ length: resolution }, (_, j) => predicted.slice(j * resolution, (j + 1) * resolution));
  const regions = rasterRuns(rows, (c) => c, x0, x1, y0, y1).map((r) => ({ x: r.x, x2: r.x2, y: r.y, y2: r.y2, class: label(r.value) }));
  const data = points
    .map((p, i) => ({ x: p[0], y: p[1], class: label(classes[i]) }))
    .filter((_, i) => Number.isFinite(points[i][0]) && Number.isFinite(points[i][1]) && Number.isFinite(classes[i]));

  const color = { field: 'class', type: 'nominal', title: 'class', scale: { domain, range: CATEGORY_COLORS } } as const;
  // the regions in opaque pale versions of the class colors (opaque, because the rectangles overlap)
  const regionColor = { ...color, scale: { domain, range: CATEGORY_COLORS.map((c) => tint(c, 0.7)) }, legend: null } as const;
  const xScale = { domain: [x0, x1], nice: false, zero: false };
  const yScale = { domain: [y0, y1], nice: false, zero: false };
  return {
    ...header(options),
    ...size(options, 400, 400),
    layer: [
      {
        data: { values: regions },
        mark: { type: 'rect' },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale, title: options.xLabel ?? 'x₁' },
          x2: { field: 'x2' },
          y: { field: 'y', type: 'quantitative', scale: yScale, title: options.yLabel ?? 'x₂' },
          y2: { field: 'y2' },
          color: regionColor,
        },
      },
      {
        data: { values: data },
        mark: { type: 'point', filled: true, size: 36, stroke: '#222', strokeWidth: 0.6, opacity: 0.9 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
          color,
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
  }
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';

/** A tensor read asynchronously (a WebGPU tensor cannot be read synchronously); other values as they are. */
async function readPrediction(p: Prediction): Promise<Prediction> {
  if (!isTensor(p)) return p;
  const values = Array.from(await p.data(), Number);
  if (p.shape.length === 2 && p.shape[1] > 1) return Array.from({ length: p.shape[0] }, (_, i) => values.slice(i * p.shape[1], (i + 1) * p.shape[1]));
  return p.shape.length === 1 || (p.shape.length === 2 && p.shape[1] === 1) ? values : p;
}

/** One class per point from classes, per-class scores (argmax) or probabilities (≥ 0.5). */
function classesOf(output: Prediction, points: number): number[] {
  const op = 'decisionRegions: predict(points)';
  const scoreRows = isTensor(output) ? output.shape.length === 2 && output.shape[1] > 1 : Array.from(output as ArrayLike<unknown>).some((r) => typeof r === 'object' && r !== null && (r as ArrayLike<number>).length > 1);
  if (scoreRows) {
    const width = isTensor(output) ? output.shape[1] : ((output as ArrayLike<ArrayLike<number>>)[0]?.length ?? 0);
    return toRows(output as Rows, width, op).map((r) => r.reduce((best, v, k) => (v > r[best] ? k : best), 0));
  }
  let values: number[];
  try {
    const flat = isTensor(output) ? output : Array.from(output as ArrayLike<number | ArrayLike<number>>, (v) => (typeof v === 'number' ? v : v[0]));
    values = toNumbers(flat, op);
  } catch (err) {
    throw new Error(`${(err as Error).message} (predict must return one class, one probability or a row of scores per point, for ${points} points)`);
  }
  const fraction = values.findIndex((v) => Number.isFinite(v) && !Number.isInteger(v));
  if (fraction < 0) return values;
  const outside = values.findIndex((v) => !(v >= 0 && v <= 1));
  if (outside >= 0) {
    throw new Error(`${op}: got ${values[fraction]} and ${values[outside]}: neither classes (whole numbers) nor probabilities in [0, 1]; return classes, probabilities, or a row of scores per point (the argmax is taken)`);
  }
  return values.map((v) => (v >= 0.5 ? 1 : 0));
}

export interface ConfusionMatrixOptions extends ChartOptions {
  /**
   * Show fractions instead of counts (scikit-learn's names): `'true'` divides each row (true class)
   * by its total — the recall per class on the diagonal; `'pred'` each column; `'all'` the total.
   */
  normalize?: 'true' | 'pred' | 'all';
  /** axis titles (default "predicted" and "true") */
  xLabel?: string;
  yLabel?: string;
}

/**
 * A confusion matrix as a heatmap: rows are true classes, columns predicted classes (as
 * scikit-learn), each cell shaded by its count and labeled with it.
 */
const CONFUSION_MATRIX_KEYS = optionKeys<ConfusionMatrixOptions>()(['title', 'width', 'height', 'normalize', 'xLabel', 'yLabel']);

export function confusionMatrix(matrix: Rows, labels?: readonly string[], options: ConfusionMatrixOptions = {}): TopLevelSpec {
  const op = 'confusionMatrix';
  checkOptions(op, options, CONFUSION_MATRIX_KEYS);
  const m = toSquare(matrix, op);
  const k = m.length;
  if (k === 0) throw new Error(`${op}: the matrix is empty`);
  m.forEach((row, i) =>
    row.forEach((v, j) => {
      if (!(Number.isFinite(v) && v >= 0)) throw new Error(`${op}: entry [${i}][${j}] is ${v}; counts must be finite and ≥ 0`);
    }),
  );
  const names = labels ? [...labels] : m.map((_, i) => String(i));
  if (names.length !== k) throw new Error(`${op}: ${names.length} labels for a ${k}×${k} matrix; give one label per class`);
  if (new Set(names).size !== k) throw new Error(`${op}: labels must be distinct, got ${names.join(', ')}`);

  const total = m.flat().reduce((a, b) => a + b, 0);
  const rowSum = m.map((row) => row.reduce((a, b) => a + b, 0));
  const colSum = m[0].map((_, j) => m.reduce((a, row) => a + row[j], 0));
  const norm = options.normalize;
  if (norm !== undefined && norm !== 'true' && norm !== 'pred' && norm !== 'all') {
    throw new Error(`${op}: normalize must be 'true', 'pred' or 'all', got ${String(norm)}`);
  }
  const divisor = (i: number, j: number) => (norm === 'true' ? rowSum[i] : norm === 'pred' ? colSum[j] : norm === 'all' ? total : 1);
  const cells = m.flatMap((row, i) =>
    row.map((count, j) => {
      const d = divisor(i, j);
      const value = d > 0 ? count / d : 0;
      return { true: names[i], predicted: names[j], count, value, text: norm ? value.toFixed(2) : formatCount(count) };
    }),
  );
  const max = Math.max(...cells.map((c) => c.value));
  const longest = Math.max(...names.map((n) => n.length));
  const side = Math.max(160, Math.min(600, 44 * k));
  const order = { sort: names } as const;
  return {
    ...header(options),
    ...size(options, side, side),
    data: { values: cells },
    encoding: {
      x: { field: 'predicted', type: 'nominal', title: options.xLabel ?? 'predicted', ...order, axis: { labelAngle: longest > 3 ? -45 : 0 } },
      y: { field: 'true', type: 'nominal', title: options.yLabel ?? 'true', ...order },
    },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          color: {
            field: 'value',
            type: 'quantitative',
            title: norm ? 'fraction' : 'count',
            scale: { scheme: 'blues', domain: [0, max > 0 ? max : 1] },
          },
          tooltip: [
            { field: 'true', type: 'nominal' },
            { field: 'predicted', type: 'nominal' },
            { field: 'count', type: 'quantitative' },
            ...(norm ? [{ field: 'value', type: 'quantitative', format: '.3f' } as const] : []),
          ],
        },
      },
      {
        mark: { type: 'text', fontSize: k > 12 ? 8 : 11 },
        encoding: {
          text: { field: 'text', type: 'nominal' },
          // white on the dark half of the color scale
          color: { condition: { test: `datum.value > ${max / 2}`, value: 'white' }, value: '#222' },
        },
      },
    ],
  };
}

function formatCount(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}
