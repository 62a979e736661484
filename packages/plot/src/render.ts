import { parse, View, type Spec as VegaSpec } from 'vega';
import { compile } from 'vega-lite';
import { checkOptions, optionKeys } from '@ml/tensor';
import type { TopLevelSpec } from './chart.js';

export type { VegaSpec };

/** `ML_DEBUG=1` in the environment (Node); read through globalThis, as a browser has no `process`. */
const DEBUG = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.ML_DEBUG === '1';

export interface SvgOptions {
  /** multiply the pixel size (default 1) */
  scale?: number;
}

export interface PngOptions {
  /** pixels per SVG pixel (default 2, for sharp text) */
  scale?: number;
}

export interface HtmlOptions {
  /** the page's `<title>` (default: the chart's title, else "chart") */
  title?: string;
  /**
   * The three scripts that define `vegaEmbed`: vega, vega-lite and vega-embed builds, in that
   * order. Default: jsDelivr, pinned to the majors this package compiles with. Point them at
   * local copies (node_modules/vega/build/vega.min.js, …) for a page that works offline.
   */
  scripts?: readonly [vega: string, vegaLite: string, vegaEmbed: string];
}

/** The Vega spec that a Vega-Lite spec compiles to (warnings go to the console, as Vega-Lite's own). */
export function toVega(spec: TopLevelSpec): VegaSpec {
  // a copy: Vega tags the data objects it ingests, and the caller's spec should stay as it was
  return compile(structuredClone(spec)).spec;
}

/** Render a Vega-Lite spec to an SVG document string, headless (no browser, no canvas). */
export const SVG_KEYS = optionKeys<SvgOptions>()(['scale']);
const HTML_KEYS = optionKeys<HtmlOptions>()(['title', 'scripts']);

export async function toSvg(spec: TopLevelSpec, options: SvgOptions = {}): Promise<string> {
  checkOptions('toSvg', options, SVG_KEYS);
  const scale = options.scale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`toSvg: scale must be a positive number, got ${scale}`);
  const t0 = DEBUG ? performance.now() : 0;
  const view = new View(parse(toVega(spec)), { renderer: 'none' });
  try {
    const svg = renumberIds(await view.toSVG(scale));
    if (DEBUG) {
      console.log(`[ml:plot] toSvg ${view.width()}×${view.height()} px, ${svg.length} bytes in ${(performance.now() - t0).toFixed(1)} ms`);
    }
    return svg;
  } finally {
    view.finalize();
  }
}

/**
 * Vega numbers clip paths and gradients with counters global to the process (clip7,
 * gradient_3); renumbering them from 0 per document makes the same chart give the same SVG.
 */
function renumberIds(svg: string): string {
  const ids = new Map<string, string>();
  const counts = new Map<string, number>();
  return svg.replace(/(id="|url\(#)(clip|gradient_)(\d+)/g, (_, lead: string, prefix: string, n: string) => {
    const key = prefix + n;
    let id = ids.get(key);
    if (id === undefined) {
      const k = counts.get(prefix) ?? 0;
      counts.set(prefix, k + 1);
      id = prefix + k;
      ids.set(key, id);
    }
    return lead + id;
  });
}

const DEFAULT_SCRIPTS = [
  'https://cdn.jsdelivr.net/npm/vega@6',
  'https://cdn.jsdelivr.net/npm/vega-lite@6',
  'https://cdn.jsdelivr.net/npm/vega-embed@7',
] as const;

/**
 * A standalone HTML page that shows the chart interactively (tooltips, export menu) with
 * vega-embed. The spec is inlined as JSON; the page loads vega, vega-lite and vega-embed from
 * `options.scripts` (a CDN by default). The markup is also well-formed XML.
 */
export function toHtml(spec: TopLevelSpec, options: HtmlOptions = {}): string {
  checkOptions('toHtml', options, HTML_KEYS);
  const title = options.title ?? (typeof spec.title === 'string' ? spec.title : 'chart');
  const scripts = options.scripts ?? DEFAULT_SCRIPTS;
  // `<`, `>` and `&` escaped so that no string in the spec can close the script element or break the markup
  const json = JSON.stringify(spec).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8" />',
    `<title>${escapeHtml(title)}</title>`,
    ...scripts.map((src) => `<script src="${escapeHtml(src)}"></script>`),
    '</head>',
    '<body>',
    '<div id="chart"></div>',
    `<script type="application/json" id="spec">${json}</script>`,
    '<script type="module">',
    "const spec = JSON.parse(document.getElementById('spec').textContent);",
    "window.vegaEmbed('#chart', spec, { actions: { export: true, source: false, compiled: false, editor: false } });",
    '</script>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
