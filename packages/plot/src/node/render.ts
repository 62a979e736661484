/**
 * What rendering needs Node for: writing files (atomically) and rasterising to PNG with the
 * optional native package @resvg/resvg-js.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TopLevelSpec } from '../chart.js';
import { checkOptions, optionKeys } from '@ml/tensor';
import { SVG_KEYS, type PngOptions, type SvgOptions, toSvg } from '../render.js';

const PNG_KEYS = optionKeys<PngOptions>()(['scale']);

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
  checkOptions('saveSvg', options, SVG_KEYS);
  await writeAtomic(path, await toSvg(spec, options));
}

/**
 * Render each chart of `specs` to `<dir>/<name>.svg` (creating `dir`), as `saveSvg` does;
 * returns the paths written, in the order of `specs`.
 */
export async function saveSvgs(specs: Readonly<Record<string, TopLevelSpec>>, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const file = join(dir, `${name}.svg`);
    await saveSvg(spec, file);
    files.push(file);
  }
  return files;
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
  checkOptions('toPng', options, PNG_KEYS);
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
  checkOptions('savePng', options, PNG_KEYS);
  await writeAtomic(path, await toPng(spec, options));
}
