import type { TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec };

/** Options every chart builder takes. */
export interface ChartOptions {
  /** title above the chart */
  title?: string;
  /** width of the plotting area in pixels (of each panel, for multi-panel charts) */
  width?: number;
  /** height of the plotting area in pixels (of each panel, for multi-panel charts) */
  height?: number;
}

/** The Vega-Lite major version the specs are written for (they carry its `$schema`). */
export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Category colors (Vega's tableau10), shared so that "the same thing" has the same color across charts. */
export const CATEGORY_COLORS = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

/** `$schema`, title, white background and a quiet frame: the part of the spec every chart shares. */
export function header(options: ChartOptions, defaultTitle?: string): { $schema: string; title?: string; background: string; config: { view: { stroke: null } } } {
  const title = options.title ?? defaultTitle;
  return { $schema: SCHEMA, ...(title ? { title } : {}), background: 'white', config: { view: { stroke: null } } };
}

export function size(options: ChartOptions, width: number, height: number): { width: number; height: number } {
  const w = options.width ?? width;
  const h = options.height ?? height;
  for (const [name, v] of [['width', w], ['height', h]] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`chart ${name} must be a positive number of pixels, got ${v}`);
  }
  return { width: w, height: h };
}

/** One layer of a layered chart (`{ layer: [...] }`). */
export type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];
