// The Train page of the built site (dist/, served statically with COOP/COEP) in Debian's
// Chromium: the MLP trained in the page on WebAssembly and on WebGPU (SwiftShader, no GPU
// needed), Stop, saving to IndexedDB, and no uncaught error or console error throughout.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, hasChromium, launchChromium, serveDir, type Browser, type Page, type PageServer } from '@ml/browser-kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
/** WebGPU on SwiftShader's Vulkan, as @ml/backend-webgpu's browser test launches it (no --disable-gpu) */
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];

interface Settings {
  model?: 'mlp' | 'cnn';
  backend: 'wasm' | 'webgpu' | 'cpu';
  steps: number;
  batch?: number;
  lr?: number;
}

interface Outcome {
  state: string;
  steps: number;
  stepsPerSecond: number;
  firstLoss: number;
  lastLoss: number;
  accuracy: number;
  /** the longest main-thread task while training (PerformanceObserver 'longtask'), ms */
  longestTask: number;
  wrong: number;
  /** the slowest redraw of the live chart, ms */
  chartMs: number;
}

describe.skipIf(!hasChromium())(`the Train page in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  let server: PageServer;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(dist, 'data', 'sets.json'))) throw new Error('apps/web is not built: run `pnpm --filter @ml/web build` first');
    server = await serveDir(dist, ISOLATION);
    browser = await launchChromium(WEBGPU_FLAGS);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(() => {
    const seen = errors.splice(0);
    expect(seen).toEqual([]);
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.on('pageerror', (e) => errors.push(`train: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`train: console: ${m.text()}`);
    });
    // the longest main-thread task from here on
    await page.addInitScript(() => {
      const w = window as unknown as { longTasks: { start: number; duration: number }[] };
      w.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${server.base}/train.html`);
    await page.waitForSelector('body[data-state="ready"]');
    return page;
  }

  async function start(page: Page, s: Settings): Promise<void> {
    await page.selectOption('#model', s.model ?? 'mlp');
    await page.selectOption('#dataset', 'mnist');
    await page.check(`input[name="backend"][value="${s.backend}"]`);
    await page.fill('#steps', String(s.steps));
    await page.fill('#batch', String(s.batch ?? 64));
    await page.fill('#lr', String(s.lr ?? 0.002));
    await page.click('#start');
    // started: a short run can be past training (evaluating, done, or failed) before the
    // selector is first checked (it polls on animation frames, which a busy page delays)
    await page.waitForSelector(['training', 'evaluating', 'done', 'error'].map((s) => `body[data-state="${s}"]`).join(', '));
  }

  async function outcome(page: Page): Promise<Outcome> {
    return page.evaluate(() => {
      const d = document.getElementById('train-status')!.dataset;
      return {
        state: document.body.dataset.state!,
        steps: Number(d.step),
        stepsPerSecond: Number(d.stepsPerSecond),
        firstLoss: Number(d.firstLoss),
        lastLoss: Number(d.lastLoss),
        accuracy: Number(document.getElementById('test-accuracy')!.dataset.value),
        // tasks that began while fit ran (not loading the data, nor testing after it)
        longestTask: Math.max(
          0,
          ...(window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks
            .filter((t) => t.start >= Number(d.trainStart) && t.start < Number(d.trainEnd))
            .map((t) => t.duration),
        ),
        chartMs: Number(d.chartMs),
        wrong: document.querySelectorAll('#wrong li').length,
      };
    });
  }

  async function trainAndCheck(page: Page, s: Settings): Promise<Outcome> {
    await start(page, s);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 150_000 });
    const o = await outcome(page);
    console.log(`train page, ${s.model ?? 'mlp'} on ${s.backend}: ${JSON.stringify(o)}`);
    expect(o.state, (await page.textContent('#train-status')) ?? '').toBe('done');
    expect(o.steps).toBe(s.steps);
    // the loss falls: the mean over the last 20 steps well under that of the first 20
    expect(o.lastLoss).toBeLessThan(o.firstLoss / 3);
    expect(o.accuracy).toBeGreaterThan(0.85);
    // the confusion matrix (an SVG from @ml/plot) and the misclassified images
    expect(await page.locator('#confusion svg').count()).toBe(1);
    expect(await page.locator('#live-chart svg').count()).toBe(1);
    expect(o.wrong).toBe(Math.min(48, Math.round((1 - o.accuracy) * 1000)));
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    return o;
  }

  it('offers the data sets the build found and names the ones it lacked (Fashion-MNIST needs Debian\'s dataset-fashion-mnist)', async () => {
    const manifest = JSON.parse(readFileSync(join(dist, 'data', 'sets.json'), 'utf8')) as { train: number; test: number; sets: Record<string, { title: string; available: boolean }> };
    expect(manifest.sets.mnist.available).toBe(true);
    expect(statSync(join(dist, 'data', 'mnist', 'train-images-idx3-ubyte')).size).toBe(16 + manifest.train * 784);
    const page = await open();
    for (const [id, set] of Object.entries(manifest.sets)) {
      expect(await page.isDisabled(`#dataset option[value="${id}"]`), id).toBe(!set.available);
      if (!set.available) expect(await page.textContent('#dataset-note')).toContain(`${set.title} isn't available in this build`);
    }
    expect(await page.textContent('#train-count')).toBe(manifest.train.toLocaleString('en'));
    await page.close();
  });

  const fashion = (): boolean => (JSON.parse(readFileSync(join(dist, 'data', 'sets.json'), 'utf8')) as { sets: Record<string, { available: boolean }> }).sets.fashion?.available === true;

  it.skipIf(!fashion())('Fashion-MNIST, where the build had it: the MLP learns it and the misclassified images are captioned with class names', async () => {
    const page = await open();
    await page.selectOption('#dataset', 'fashion');
    await page.check('input[name="backend"][value="wasm"]');
    await page.fill('#steps', '150');
    await page.click('#start');
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
    expect(Number(await page.getAttribute('#test-accuracy', 'data-value'))).toBeGreaterThan(0.6);
    const captions = await page.$$eval('#wrong canvas', (cs) => cs.map((c) => c.getAttribute('aria-label')!));
    expect(captions.length).toBeGreaterThan(0);
    for (const c of captions) expect(c).toMatch(/^test image \d+: true (T-shirt|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Boot), predicted /);
    await page.close();
  });

  it('the MLP on WebAssembly: 300 steps of 64, the loss falls and the 1,000-image test slice is above 85%; saved to IndexedDB', async () => {
    const page = await open();
    expect(await page.textContent('label[data-backend="wasm"]')).toMatch(/threads \(cross-origin isolated\)/);
    await trainAndCheck(page, { backend: 'wasm', steps: 300 });
    await page.click('#save-idb');
    await page.waitForSelector('#save-status[data-saved="indexeddb://mnist-mlp"]');
    const stored = await page.evaluate(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const open = indexedDB.open('ml-models');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const req = open.result.transaction('models').objectStore('models').getAllKeys();
            req.onsuccess = () => resolve(req.result.map(String));
            req.onerror = () => reject(req.error);
          };
        }),
    );
    expect(stored).toContain('mnist-mlp');
    await page.close();
  });

  it('the MLP on WebGPU (SwiftShader): 300 steps of 64, the loss falls and the test slice is above 85%', async (ctx) => {
    const page = await open();
    const gpu = await page.isEnabled('input[name="backend"][value="webgpu"]');
    if (!gpu) {
      const why = await page.textContent('label[data-backend="webgpu"]');
      if (process.env.ML_REQUIRE_WEBGPU) throw new Error(`ML_REQUIRE_WEBGPU is set but the page found no WebGPU: ${why}`);
      console.log(`skipped: no WebGPU adapter in this Chromium (${why})`);
      await page.close();
      ctx.skip();
    }
    await trainAndCheck(page, { backend: 'webgpu', steps: 300 });
    await page.close();
  });

  it('from the keyboard, Start and then Stop mid-run: the page says stopped, tests what it learnt, logs no error, and trains again', async () => {
    const page = await open();
    // from the keyboard: the settings typed, Enter in a field starts, Enter on Stop stops
    await page.check('input[name="backend"][value="wasm"]');
    await page.focus('#steps');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('100000');
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-state="training"]');
    await page.waitForFunction(() => Number(document.getElementById('train-status')!.dataset.step) >= 30);
    expect(await page.isEnabled('#start')).toBe(false);
    await page.focus('#stop');
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-state="stopped"]', { timeout: 30_000 });
    const o = await outcome(page);
    expect(o.steps).toBeGreaterThanOrEqual(30);
    expect(o.steps).toBeLessThan(1000);
    expect(await page.textContent('#train-status')).toMatch(/^Stopped: \d+ steps/);
    expect(o.accuracy).toBeGreaterThan(0.5);
    // ready again: a second run (the stopped model's weights freed) trains as the first
    expect(await page.isEnabled('#start')).toBe(true);
    expect(await page.isEnabled('#stop')).toBe(false);
    await start(page, { backend: 'wasm', steps: 20 });
    await page.waitForSelector('body[data-state="done"]');
    expect((await outcome(page)).steps).toBe(20);
    await page.close();
  });
});
