import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { confusionMatrix, savePng, saveSvg, saveSvgs, scatterWithFit, toHtml, toPng, toSvg, toVega, type TopLevelSpec } from '../src/node.js';
import { loadResvg, writeAtomic } from '../src/node/render.js';
import { diagnostics, parseXml } from './helpers.js';

const spec = scatterWithFit({ x: [1, 2, 3], y: [2, 4, 6], fit: (x) => 2 * x, title: 'tiny' });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ml-plot-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the test helpers', () => {
  it('see Vega-Lite warnings (so that "no warnings" means something)', async () => {
    const bad = { data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' }, shape: { field: 'a', type: 'quantitative' } } } as TopLevelSpec;
    expect((await diagnostics(bad)).join('\n')).toMatch(/warn: .*shape/i);
  });
});

describe('toSvg / toVega', () => {
  it('renders a standalone SVG document of the chart size, scaled on request', async () => {
    const svg = await toSvg(spec);
    const root = parseXml(svg);
    expect(root.tagName).toBe('svg');
    expect(root.getAttribute('xmlns')).toBe('http://www.w3.org/2000/svg');
    const width = Number(root.getAttribute('width'));
    expect(width).toBeGreaterThan(400);
    const doubled = parseXml(await toSvg(spec, { scale: 2 }));
    expect(Number(doubled.getAttribute('width'))).toBe(2 * width);
    await expect(toSvg(spec, { scale: 0 })).rejects.toThrow(/scale must be a positive number/);
  });

  it('gives the same SVG for the same chart (clip and gradient ids numbered per document)', async () => {
    const cm = confusionMatrix([[1, 2], [3, 4]]);
    const first = await toSvg(cm);
    expect(first).toMatch(/id="gradient_0"/);
    expect(await toSvg(cm)).toBe(first);
  });

  it('leaves the spec it renders unchanged', async () => {
    const copy = structuredClone(spec);
    await toSvg(spec);
    expect(spec).toStrictEqual(copy);
  });

  it('compiles to a Vega spec', () => {
    const vg = toVega(spec);
    expect(vg.$schema).toMatch(/vega\/v6/);
    expect(vg.marks?.length).toBeGreaterThan(0);
  });
});

describe('saveSvg', () => {
  it('replaces an existing file whole, through a rename, and leaves no temporary file', async () => {
    const path = join(dir, 'chart.svg');
    await writeFile(path, 'x'.repeat(1_000_000));
    const before = await stat(path);
    await saveSvg(spec, path);
    expect(await readFile(path, 'utf8')).toBe(await toSvg(spec));
    // a new inode: the old file was swapped out, not overwritten in place
    expect((await stat(path)).ino).not.toBe(before.ino);
    expect(await readdir(dir)).toEqual(['chart.svg']);
  });

  it('leaves one whole file when two saves race', async () => {
    const path = join(dir, 'race.svg');
    const other = confusionMatrix([[1, 2], [3, 4]]);
    await Promise.all([saveSvg(spec, path), saveSvg(other, path)]);
    const text = await readFile(path, 'utf8');
    expect([await toSvg(spec), await toSvg(other)]).toContain(text);
    expect(await readdir(dir)).toEqual(['race.svg']);
  });

  it('saveSvgs writes each chart as <dir>/<name>.svg, creating the folder', async () => {
    const other = confusionMatrix([[1, 2], [3, 4]]);
    const files = await saveSvgs({ fit: spec, confusion: other }, join(dir, 'charts'));
    expect(files).toEqual([join(dir, 'charts', 'fit.svg'), join(dir, 'charts', 'confusion.svg')]);
    expect(await readFile(files[0], 'utf8')).toBe(await toSvg(spec));
    expect(await readFile(files[1], 'utf8')).toBe(await toSvg(other));
    expect((await readdir(join(dir, 'charts'))).sort()).toEqual(['confusion.svg', 'fit.svg']);
  });

  it('removes the temporary file when the rename fails, and names the path', async () => {
    const target = join(dir, 'taken');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x');
    await expect(writeAtomic(target, 'data')).rejects.toThrow(/taken/);
    expect(await readdir(dir)).toEqual(['taken']);
    await expect(saveSvg(spec, join(dir, 'missing', 'chart.svg'))).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual(['taken']);
  });
});

describe('toPng / savePng', () => {
  it('rasterizes with @resvg/resvg-js at twice the SVG size by default', async () => {
    const png = await toPng(spec);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
    const root = parseXml(await toSvg(spec));
    // IHDR: width and height, big-endian, at bytes 16 and 20
    expect(view.getUint32(16)).toBe(2 * Number(root.getAttribute('width')));
    expect(view.getUint32(20)).toBe(2 * Number(root.getAttribute('height')));
    const path = join(dir, 'chart.png');
    await savePng(spec, path, { scale: 1 });
    const saved = await readFile(path);
    expect(saved.readUInt32BE(16)).toBe(Number(root.getAttribute('width')));
    expect(await readdir(dir)).toEqual(['chart.png']);
  });

  it('says what to install when the rasterizer is missing', async () => {
    await expect(loadResvg('@ml/no-such-rasterizer')).rejects.toThrow(/toPng needs the optional package @ml\/no-such-rasterizer.*pnpm add @ml\/no-such-rasterizer/);
  });
});

describe('toHtml', () => {
  it('is a well-formed page that embeds the spec as JSON and calls vega-embed', () => {
    const html = toHtml(spec);
    expect(html.startsWith('<!DOCTYPE html>\n')).toBe(true);
    const root = parseXml(html);
    expect(root.tagName).toBe('html');
    const title = root.getElementsByTagName('title')[0];
    expect(title.textContent).toBe('tiny');
    const scripts = Array.from(root.getElementsByTagName('script'));
    expect(scripts.filter((s) => s.getAttribute('src')).map((s) => s.getAttribute('src'))).toEqual([
      'https://cdn.jsdelivr.net/npm/vega@6',
      'https://cdn.jsdelivr.net/npm/vega-lite@6',
      'https://cdn.jsdelivr.net/npm/vega-embed@7',
    ]);
    const json = scripts.find((s) => s.getAttribute('type') === 'application/json')!;
    expect(JSON.parse(json.textContent!)).toEqual(spec);
    expect(scripts.find((s) => s.getAttribute('type') === 'module')!.textContent).toMatch(/vegaEmbed\('#chart', spec/);
  });

  it('escapes titles and strings that would break out of the markup', () => {
    const nasty = scatterWithFit({ x: [1], y: [1], title: '</script><b>&"x"' });
    const html = toHtml(nasty, { scripts: ['vega.js', 'vega-lite.js', 'vega-embed.js'] });
    expect(html).not.toContain('</script><b>');
    const root = parseXml(html);
    expect(root.getElementsByTagName('title')[0].textContent).toBe('</script><b>&"x"');
    expect(root.getElementsByTagName('b')).toHaveLength(0);
    const json = Array.from(root.getElementsByTagName('script')).find((s) => s.getAttribute('type') === 'application/json')!;
    expect(JSON.parse(json.textContent!)).toEqual(nasty);
  });
});
