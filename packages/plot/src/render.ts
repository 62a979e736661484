import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse, View, type Spec as VegaSpec } from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from './chart.js';

export type { VegaSpec };

const DEBUG = typeof process !== 'undefined' && process.env?.ML_DEBUG === '1';

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
export async function toSvg(spec: TopLevelSpec, options: SvgOptions = {}): Promise<string> {
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

/**
 * Write `data` to `path` atomically: into a temporary file beside it, then rename over it, so
 * readers see the old file or the new one, never half of one. The temporary file is removed
 * if anything fails.
 */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Render `spec` to SVG and write it to `path` (atomically: a temporary file, then a rename). */
export async function saveSvg(spec: TopLevelSpec, path: string, options: SvgOptions = {}): Promise<void> {
  await writeAtomic(path, await toSvg(spec, options));
}

/** The part of `@resvg/resvg-js` that `toPng` uses. */
interface ResvgModule {
  Resvg: new (
    svg: string,
    options?: { fitTo?: { mode: 'zoom'; value: number }; font?: { loadSystemFonts?: boolean; defaultFontFamily?: string; sansSerifFamily?: string } },
  ) => { render(): { asPng(): Uint8Array } };
}

const RESVG = '@resvg/resvg-js';
const SANS_SERIF = 'Helvetica, Arial, DejaVu Sans, Liberation Sans, Noto Sans, sans-serif';

/** Load the optional rasterizer (`specifier` is for tests); the error says what to install. */
export async function loadResvg(specifier: string = RESVG): Promise<ResvgModule> {
  let mod: Partial<ResvgModule> & { default?: Partial<ResvgModule> };
  try {
    // a variable specifier keeps bundlers and the type checker from requiring the optional package
    mod = (await import(/* @vite-ignore */ specifier)) as typeof mod;
  } catch (err) {
    throw new Error(
      `toPng needs the optional package ${specifier} (an SVG rasterizer shipped as prebuilt npm binaries, no download at install): ` +
        `install it with \`pnpm add ${specifier}\`, or use toSvg/saveSvg instead. (${(err as Error).message})`,
    );
  }
  const Resvg = mod.Resvg ?? mod.default?.Resvg;
  if (typeof Resvg !== 'function') throw new Error(`toPng: ${specifier} loaded but has no Resvg class; install version 2.x`);
  return { Resvg };
}

/** Render `spec` to PNG bytes. Needs the optional package `@resvg/resvg-js`; the error says so when it is missing. */
export async function toPng(spec: TopLevelSpec, options: PngOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`toPng: scale must be a positive number, got ${scale}`);
  const { Resvg } = await loadResvg();
  // resvg maps the generic `sans-serif` to one family (Arial) and falls back to a serif font where
  // that is missing; a list of common sans-serif families finds one on most systems
  const svg = (await toSvg(spec)).replace(/font-family="sans-serif"/g, `font-family="${SANS_SERIF}"`);
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true } }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Render `spec` to PNG and write it to `path` atomically. Needs `@resvg/resvg-js`. */
export async function savePng(spec: TopLevelSpec, path: string, options: PngOptions = {}): Promise<void> {
  await writeAtomic(path, await toPng(spec, options));
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
