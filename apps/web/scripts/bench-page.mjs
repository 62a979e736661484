// Training speed in the Train page of the built site (dist/), for the README: steps/s of
// the MLP and the CNN (batch 64, MNIST) on each backend this Chromium has, and the longest
// main-thread task while fit ran (PerformanceObserver 'longtask'). Run after the build:
//   node scripts/bench-page.mjs            (scripts/bench-node.mjs gives the same in Node)
/* global window, document, PerformanceObserver -- the functions given to page.evaluate run in the page */
import { fileURLToPath, URL } from 'node:url';
import { launchChromium, serveDir } from '@ml/browser-kit';

// steps per run: enough for a steady rate (the rate counts from the 5th step) on each backend
const RUNS = [
  ['mlp', 'wasm', 1000],
  ['mlp', 'cpu', 60],
  ['mlp', 'webgpu', 40],
  ['cnn', 'wasm', 150],
  ['cnn', 'cpu', 8],
  ['cnn', 'webgpu', 8],
];

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const server = await serveDir(dist, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
const browser = await launchChromium(['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader']);
const rows = [];
try {
  for (const [model, backend, steps] of RUNS) {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.addInitScript(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${server.base}/train.html`);
    await page.waitForSelector('body[data-state="ready"]');
    if (!(await page.isEnabled(`input[name="backend"][value="${backend}"]`))) {
      rows.push({ model, backend, note: `not available: ${await page.textContent(`label[data-backend="${backend}"]`)}` });
      await page.close();
      continue;
    }
    await page.selectOption('#model', model);
    await page.check(`input[name="backend"][value="${backend}"]`);
    await page.fill('#steps', String(steps));
    await page.fill('#batch', '64');
    await page.click('#start');
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 600_000 });
    const r = await page.evaluate(() => {
      const d = document.getElementById('train-status').dataset;
      const during = window.longTasks.filter((t) => t.start >= Number(d.trainStart) && t.start < Number(d.trainEnd)).map((t) => t.duration);
      return {
        state: document.body.dataset.state,
        text: document.getElementById('train-status').textContent,
        stepsPerSecond: Number(d.stepsPerSecond),
        longestTask: Math.max(0, ...during),
        chartMs: Number(d.chartMs),
        device: document.querySelector(`label[data-backend="${document.querySelector('input[name="backend"]:checked').value}"]`).textContent,
      };
    });
    rows.push({ model, backend, steps, ...r });
    console.log(JSON.stringify(rows.at(-1)));
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log('\n| model | backend | steps | steps/s | longest task during fit (ms) | slowest chart redraw (ms) |\n|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(r.note ? `| ${r.model} | ${r.backend} | — | ${r.note} | | |` : `| ${r.model} | ${r.backend} | ${r.steps} | ${r.stepsPerSecond.toFixed(r.stepsPerSecond < 1 ? 2 : 1)} | ${r.longestTask.toFixed(0)} | ${r.chartMs.toFixed(0)} |`);
}
