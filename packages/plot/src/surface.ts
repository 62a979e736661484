import { checkOptions, optionKeys } from '@ml/tensor';
import { header, size, type ChartOptions, type Layer, type TopLevelSpec } from './chart.js';
import { isolines } from './contour.js';
import { rasterRuns } from './raster.js';
import { checkNonEmpty, checkPositiveInt, checkRange, extent, toRows, type Rows } from './input.js';

/** An optimizer's trajectory through parameter space: the (w, b) after each step. */
export interface ParameterPath {
  name: string;
  /** `[w, b]` pairs in step order, `[n, 2]` */
  points: Rows;
}

export interface LossSurfaceOptions extends ChartOptions {
  /** the loss as a function of the two parameters */
  f: (w: number, b: number) => number;
  wRange: readonly [number, number];
  bRange: readonly [number, number];
  /** grid cells per axis (default 100) */
  resolution?: number;
  /** number of color bands (default 10); the isolines sit on the band edges */
  levels?: number;
  /** space the bands geometrically (for losses spanning decades; f must be > 0 on the grid) */
  logScale?: boolean;
  /** draw isolines on the band edges (default true) */
  isolines?: boolean;
  /** optimizer trajectories to draw over the surface */
  paths?: readonly ParameterPath[];
  /** axis titles (default "w" and "b") */
  wLabel?: string;
  bLabel?: string;
}

const PATH_COLORS = ['#ff3b3b', '#ff9f1c', '#f15bb5', '#ffffff', '#111111', '#9b5de5'];

/**
 * A loss surface over two parameters as a contour map: f on a `resolution`×`resolution` grid in
 * `levels` color bands (a run of cells in one band is one rectangle), isolines on the band edges
 * (marching squares), and optimizer paths on top as lines with a point per step.
 */
const SURFACE_KEYS = optionKeys<LossSurfaceOptions>()(['title', 'width', 'height', 'f', 'wRange', 'bRange', 'resolution', 'paths', 'levels', 'isolines', 'logScale', 'wLabel', 'bLabel']);

export function lossSurface(options: LossSurfaceOptions): TopLevelSpec {
  const op = 'lossSurface';
  checkOptions(op, options, SURFACE_KEYS);
  if (typeof options.f !== 'function') throw new Error(`${op}: f must be a function (w, b) => loss`);
  checkRange(options.wRange, 'wRange', op);
  checkRange(options.bRange, 'bRange', op);
  const resolution = options.resolution ?? 100;
  checkPositiveInt(resolution, 'resolution', op, 2);
  const levels = options.levels ?? 10;
  checkPositiveInt(levels, 'levels', op, 2);
  const [w0, w1] = options.wRange;
  const [b0, b1] = options.bRange;
  const dw = (w1 - w0) / resolution;
  const db = (b1 - b0) / resolution;

  // f at the cell centers
  const grid: number[][] = [];
  for (let j = 0; j < resolution; j++) {
    grid.push(Array.from({ length: resolution }, (_, i) => options.f(w0 + (i + 0.5) * dw, b0 + (j + 0.5) * db)));
  }
  const range = extent(grid.flat());
  if (!range) throw new Error(`${op}: f is not finite anywhere on the grid`);
  const [lo, hi] = range;
  if (options.logScale && lo <= 0) throw new Error(`${op}: logScale needs f > 0, but its minimum on the grid is ${lo}`);
  // band edges: evenly spaced between min and max (geometrically with logScale)
  const thresholds: number[] = [];
  if (hi > lo) {
    for (let k = 1; k < levels; k++) thresholds.push(options.logScale ? lo * (hi / lo) ** (k / levels) : lo + ((hi - lo) * k) / levels);
  }
  // band k holds thresholds[k-1] ≤ f < thresholds[k]; -1 for non-finite f
  const band = (v: number) => (Number.isFinite(v) ? thresholds.filter((t) => t <= v).length : -1);
  const edges = [lo, ...thresholds, hi];
  // the fewest significant digits (3 or more) that tell every band edge apart
  let digits = 3;
  while (digits < 12 && new Set(edges.map((e) => e.toPrecision(digits))).size < edges.length) digits++;
  const fmt = (v: number) => String(Number(v.toPrecision(digits)));
  const bandLabels = thresholds.length === 0 ? [fmt(lo)] : edges.slice(1).map((e, k) => `${fmt(edges[k])} – ${fmt(e)}`);

  // the heatmap: a run of cells in the same band along a grid row is one rectangle
  const cells = rasterRuns(grid, band, w0, w1, b0, b1)
    .filter((r) => band(r.value) >= 0)
    .map((r) => ({ w: r.x, w2: r.x2, b: r.y, b2: r.y2, band: bandLabels[band(r.value)] }));

  const layers: Layer[] = [
    {
      data: { values: cells },
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'w', type: 'quantitative', title: options.wLabel ?? 'w', scale: { domain: [w0, w1], nice: false, zero: false } },
        x2: { field: 'w2' },
        y: { field: 'b', type: 'quantitative', title: options.bLabel ?? 'b', scale: { domain: [b0, b1], nice: false, zero: false } },
        y2: { field: 'b2' },
        // the bands as an ordinal scale, highest first (on top of the legend, yellow) down to the lowest (dark)
        color: {
          field: 'band',
          type: 'ordinal',
          title: 'loss',
          scale: { domain: [...bandLabels].reverse(), scheme: { name: 'viridis', extent: [1, 0] } },
          legend: { symbolType: 'square' },
        },
        tooltip: { field: 'band', type: 'nominal', title: 'loss' },
      },
    },
  ];

  if ((options.isolines ?? true) && thresholds.length > 0) {
    // the isolines: f at the grid nodes, so that they reach the edges of the map
    const ws = Array.from({ length: resolution + 1 }, (_, i) => w0 + i * dw);
    const bs = Array.from({ length: resolution + 1 }, (_, j) => b0 + j * db);
    const nodes = bs.map((b) => ws.map((w) => options.f(w, b)));
    const lines = isolines(ws, bs, nodes, thresholds).flatMap((line, id) => line.points.map(([x, y], k) => ({ x, y, k, id, level: line.level })));
    layers.push({
      data: { values: lines },
      mark: { type: 'line', color: 'white', strokeWidth: 0.8, opacity: 0.55, clip: true },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { field: 'y', type: 'quantitative' },
        detail: { field: 'id', type: 'nominal' },
        order: { field: 'k', type: 'quantitative' },
      },
    });
  }

  const paths = options.paths ?? [];
  if (paths.length > 0) {
    const names = paths.map((p) => p.name);
    if (new Set(names).size !== names.length) throw new Error(`${op}: path names must be distinct, got ${names.join(', ')}`);
    const steps = paths.flatMap((p) => {
      if (typeof p.name !== 'string' || p.name === '') throw new Error(`${op}: every path needs a name`);
      const pts = toRows(p.points, 2, `${op}: paths '${p.name}'.points`);
      checkNonEmpty(pts, `path '${p.name}'`, op);
      return pts.map(([w, b], step) => ({ w, b, step, path: p.name }));
    });
    const color = {
      field: 'path',
      type: 'nominal',
      title: 'optimizer',
      scale: { domain: names, range: PATH_COLORS },
    } as const;
    const position = { x: { field: 'w', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } } as const;
    // one sub-layer, so that the lines and their points share one color scale and legend
    layers.push({
      data: { values: steps },
      layer: [
        {
          mark: { type: 'line', strokeWidth: 2, clip: true },
          encoding: { ...position, color, order: { field: 'step', type: 'quantitative' } },
        },
        {
          mark: { type: 'point', filled: true, size: 18, stroke: '#222', strokeWidth: 0.5, clip: true },
          encoding: {
            ...position,
            color,
            tooltip: [
              { field: 'path', type: 'nominal' },
              { field: 'step', type: 'quantitative' },
              { field: 'w', type: 'quantitative', format: '.4g' },
              { field: 'b', type: 'quantitative', format: '.4g' },
            ],
          },
        },
      ],
    });
  }

  return {
    ...header(options),
    ...size(options, 420, 360),
    layer: layers,
    resolve: { scale: { color: 'independent' } },
  };
}
