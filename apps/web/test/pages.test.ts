// The built site (vite build's dist/, served statically with COOP/COEP) in Debian's Chromium
// through playwright-core: each page's behaviour, and no uncaught error in any of them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, hasChromium, launchChromium, serveDir, type Browser, type Page, type PageServer } from '@ml/browser-kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const modelDir = fileURLToPath(new URL('../trained-model/', import.meta.url));
const cli = fileURLToPath(new URL('../node_modules/@ml/mnist-classifier/dist/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ml-web-'));

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** The top-3 the page shows: label and full-precision probability. */
async function top3(page: Page): Promise<{ label: string; probability: number }[]> {
  return page.$$eval('#top3 li', (items) => items.map((li) => ({ label: (li as HTMLElement).dataset.label!, probability: Number((li as HTMLElement).dataset.probability) })));
}

/** `mnist-classifier predict` on one file: its top-3 lines ("  7     98.2%"). */
function cliPredict(file: string): { label: string; percent: string }[] {
  const run = spawnSync(process.execPath, [cli, 'predict', file, '--model-dir', modelDir], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = /^\s+(\S+)\s+([\d.]+)%$/.exec(l)!;
      return { label: m[1], percent: m[2] };
    });
}

/**
 * A digit written on paper, made in the page by the browser's own encoders: strokes of
 * `path` (in a 100×100 box) on a page `paper` grey; `photo` adds a lighting gradient and
 * seeded sensor noise, as a phone photo has.
 */
function makeImage(page: Page, type: 'image/png' | 'image/jpeg', path: [number, number][][], photo: boolean): Promise<number[]> {
  return page.evaluate(
    async ({ type, path, photo }) => {
      const w = 150;
      const h = 170;
      const c = new OffscreenCanvas(w, h);
      const g = c.getContext('2d')!;
      const light = g.createLinearGradient(0, 0, w, h);
      light.addColorStop(0, photo ? '#d8d6cf' : '#fff');
      light.addColorStop(1, photo ? '#b9b7b0' : '#fff');
      g.fillStyle = light;
      g.fillRect(0, 0, w, h);
      g.strokeStyle = photo ? '#2b2d33' : '#000';
      g.lineWidth = 11;
      g.lineCap = 'round';
      g.lineJoin = 'round';
      for (const stroke of path) {
        g.beginPath();
        stroke.forEach(([x, y], i) => (i === 0 ? g.moveTo(25 + x, 30 + y) : g.lineTo(25 + x, 30 + y)));
        g.stroke();
      }
      if (photo) {
        const img = g.getImageData(0, 0, w, h);
        let s = 12345;
        for (let i = 0; i < w * h; i++) {
          s = (s * 1103515245 + 12345) >>> 0;
          const n = ((s >>> 16) % 13) - 6;
          for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.max(0, Math.min(255, img.data[4 * i + k] + n));
        }
        g.putImageData(img, 0, 0);
      }
      const blob = await c.convertToBlob({ type, quality: 0.9 });
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    },
    { type, path, photo },
  );
}

/** a 1 with a long flag, which the model also finds 7-like: the probabilities spread out */
const FLAGGED_ONE: [number, number][][] = [
  [
    [25, 30],
    [60, 5],
    [55, 110],
  ],
];
/** a 3 whose strokes nearly close into an 8 */
const THREE_OR_EIGHT: [number, number][][] = [
  [
    [20, 15],
    [60, 5],
    [75, 30],
    [30, 55],
    [80, 80],
    [55, 108],
    [15, 95],
    [35, 55],
  ],
];

describe.skipIf(!hasChromium())(`the built site in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  let server: PageServer;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(dist, 'digits.html')) || !existsSync(join(modelDir, 'config.json'))) throw new Error('apps/web is not built: run `pnpm --filter @ml/web build` first');
    server = await serveDir(dist, ISOLATION);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(() => {
    // no uncaught error and no console error in any page
    const seen = errors.splice(0);
    expect(seen).toEqual([]);
  });

  async function open(name: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${name}: console: ${m.text()}`);
    });
    await page.goto(`${server.base}/${name}`);
    return page;
  }

  it('regression: descent converges to the least-squares line, the rate slider works from the keyboard, and a large rate shows the divergence message', async () => {
    const page = await open('regression.html');
    const stable = await page.$eval('#stable', (e) => ({ ...(e as HTMLElement).dataset }));
    const rate = Number(stable.rate);
    // x uniform on [−1, 1): E x² ≈ 1/3, E x ≈ 0, so λmax ≈ 2 and the bound ≈ 1
    expect(rate).toBeGreaterThan(0.8);
    expect(rate).toBeLessThan(1.2);
    // keyboard: the rate slider moves with the arrow keys (0.10 → 0.12)
    await page.focus('#lr');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.$eval('#lr-value', (e) => e.textContent)).toBe('0.12');
    await page.$eval('#lr', (e) => {
      (e as HTMLInputElement).value = '0.3';
      e.dispatchEvent(new Event('input'));
    });
    await page.click('#run');
    await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });
    const rows = await page.$$eval('#state tbody tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const gd = rows.find((r) => r.method === 'gradient descent')!;
    expect(Math.abs(Number(gd.w) - Number(stable.w))).toBeLessThan(1e-3);
    expect(Math.abs(Number(gd.b) - Number(stable.b))).toBeLessThan(1e-3);
    // SGD and mini-batch hover near the minimum (their noise keeps them from settling)
    for (const r of rows) expect(Math.hypot(Number(r.w) - Number(stable.w), Number(r.b) - Number(stable.b))).toBeLessThan(0.5);
    expect(await page.isHidden('#diverged')).toBe(true);

    await page.$eval('#lr', (e) => {
      (e as HTMLInputElement).value = '1.2';
      e.dispatchEvent(new Event('input'));
    });
    await page.click('#reset');
    await page.click('#run');
    await page.waitForSelector('#diverged:not([hidden])', { timeout: 30_000 });
    const text = await page.textContent('#diverged');
    expect(text).toMatch(/diverged at step \d+/);
    expect(text).toContain(`2/λmax = ${rate.toFixed(3)}`);
    await page.close();
  });

  it('digits: a 7 and a 1 drawn stroke by stroke with the mouse; the top-3 updates while drawing', async () => {
    const page = await open('digits.html');
    await page.waitForSelector('body[data-model="ready"]');
    // from navigation to a model ready to predict (fetch, parse, build): well under 5 s
    const ms = Number(await page.getAttribute('body', 'data-model-ms'));
    console.log(`digits: model ready ${ms} ms after navigation`);
    expect(ms).toBeLessThan(5000);
    const box = (await page.locator('#pad').boundingBox())!;
    const stroke = async (points: [number, number][]) => {
      const at = ([x, y]: [number, number]) => [box.x + (x / 280) * box.width, box.y + (y / 280) * box.height] as const;
      await page.mouse.move(...at(points[0]));
      await page.mouse.down();
      for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
      await page.mouse.up();
    };
    // a 7: the bar, then the leg; the bars appear after the first stroke already
    await stroke([
      [70, 60],
      [210, 60],
    ]);
    await page.waitForSelector('#top3 li');
    await stroke([
      [210, 60],
      [120, 240],
    ]);
    await page.waitForTimeout(100);
    expect((await top3(page))[0].label).toBe('7');
    const input = await page.$eval('#input28', (c) => Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0));
    // the 28×28 input: a 20-pixel box of ink, centred (the corners stay black)
    expect(input.filter((v) => v > 128).length).toBeGreaterThan(20);
    expect(input[0] + input[27] + input[27 * 28] + input[783]).toBe(0);

    await page.click('#clear');
    expect(await page.$$('#top3 li')).toHaveLength(0);
    await stroke([
      [140, 40],
      [145, 240],
    ]);
    await page.waitForTimeout(100);
    expect((await top3(page))[0].label).toBe('1');
    await page.close();
  });

  it('digits: an uploaded PNG and a dark-on-light JPEG photo get the probabilities of the CLI’s predict, to its printed digit (Chromium encodes them)', async () => {
    const page = await open('digits.html');
    await page.waitForSelector('body[data-model="ready"]');
    for (const [name, type, path, photo] of [
      ['one.png', 'image/png', FLAGGED_ONE, false],
      ['three-photo.jpg', 'image/jpeg', THREE_OR_EIGHT, true],
    ] as const) {
      const file = join(tmp, name);
      writeFileSync(file, Uint8Array.from(await makeImage(page, type, path as unknown as [number, number][][], photo)));
      const expected = cliPredict(file);
      await page.setInputFiles('#upload', file);
      await page.waitForSelector(`body[data-predicted="${name}"]`);
      const shown = await top3(page);
      expect(shown.map((t) => ({ label: t.label, percent: (100 * t.probability).toFixed(1) }))).toEqual(expected);
      expect(shown[0].label).toBe(name.startsWith('one') ? '1' : '3');
      // ambiguous digits: the comparison covers three probabilities, not 100.0 / 0.0 / 0.0
      expect(shown[1].probability).toBeGreaterThan(0.05);
    }
    await page.close();
  });

  it('digits: the model saved to IndexedDB, the page reloaded and the model loaded back gives the same probabilities', async () => {
    const page = await open('digits.html');
    await page.waitForSelector('body[data-model="ready"]');
    const file = join(tmp, 'stored.png');
    writeFileSync(file, Uint8Array.from(await makeImage(page, 'image/png', THREE_OR_EIGHT, false)));
    await page.setInputFiles('#upload', file);
    await page.waitForSelector('body[data-predicted="stored.png"]');
    const before = await top3(page);
    await page.click('#save-browser');
    await page.waitForSelector('body[data-saved="indexeddb://digits"]');
    await page.reload();
    await page.waitForSelector('body[data-model="ready"]');
    await page.click('#load-browser');
    await page.waitForSelector('body[data-loaded="indexeddb"]');
    expect(await page.textContent('#model-status')).toContain('saved in this browser');
    await page.setInputFiles('#upload', file);
    await page.waitForSelector('body[data-predicted="stored.png"]');
    expect(await top3(page)).toEqual(before);
    await page.close();
  });

  it('digits: a non-image, a 30000×30000 PNG (refused from its header, never decoded) and an empty canvas each get a clear message', async () => {
    const page = await open('digits.html');
    await page.waitForSelector('body[data-model="ready"]');
    // count decodes: the huge image must be refused before createImageBitmap sees it
    await page.evaluate(() => {
      const w = window as unknown as { decodes: number };
      w.decodes = 0;
      const original = window.createImageBitmap.bind(window);
      window.createImageBitmap = ((...args: Parameters<typeof createImageBitmap>) => {
        w.decodes++;
        return original(...args);
      }) as typeof createImageBitmap;
    });
    await page.setInputFiles('#upload', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image\n') });
    await page.waitForSelector('#message:not([hidden])');
    expect(await page.textContent('#message')).toBe('notes.txt is neither a PNG nor a JPEG file');

    // the PNG signature and an IHDR chunk declaring 30000×30000, grey, 8 bits; no pixel data
    const huge = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(huge, 0);
    huge.writeUInt32BE(13, 8);
    huge.write('IHDR', 12, 'latin1');
    huge.writeUInt32BE(30000, 16);
    huge.writeUInt32BE(30000, 20);
    huge[24] = 8;
    await page.setInputFiles('#upload', { name: 'huge.png', mimeType: 'image/png', buffer: huge });
    await page.waitForFunction(() => document.getElementById('message')!.textContent!.startsWith('huge.png'));
    expect(await page.textContent('#message')).toBe('huge.png is 30000×30000; a digit image must be between 8×8 and 4096×4096 pixels');
    expect(await page.evaluate(() => (window as unknown as { decodes: number }).decodes)).toBe(0);

    await page.click('#clear');
    await page.click('#classify');
    expect(await page.textContent('#message')).toMatch(/^The canvas is empty/);
    expect(await page.$$('#top3 li')).toHaveLength(0);
    await page.close();
  });

  it('every page fits a 390-pixel phone width, and every control has a label', async () => {
    for (const name of ['index.html', 'digits.html', 'train.html', 'regression.html']) {
      const page = await open(name);
      await page.waitForLoadState('load');
      // no sideways scrolling at phone width
      expect(await page.evaluate(() => document.documentElement.scrollWidth), name).toBeLessThanOrEqual(390);
      // each input, button and canvas has an accessible name: a <label>, aria-label or its text
      const unnamed = await page.$$eval('input, button, canvas', (els) =>
        els.filter((e) => !((e as HTMLInputElement).labels?.length || e.getAttribute('aria-label') || e.textContent?.trim())).map((e) => e.outerHTML),
      );
      expect(unnamed, name).toEqual([]);
      await page.close();
    }
  });

  it('train: lists what this browser has; the served site is cross-origin isolated, so WebAssembly gets threads', async () => {
    const page = await open('train.html');
    await page.waitForSelector('#backends label[data-backend="wasm"]');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.textContent('#backends label[data-backend="wasm"]')).toMatch(/available \(\d+ threads \(cross-origin isolated\)\)/);
    expect(await page.textContent('#backends label[data-backend="cpu"]')).toContain('available');
    await page.close();
  });
});
