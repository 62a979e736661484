// Time from page load to the Digits page's first prediction, for the README: over 5 fresh
// loads of the built site (dist/), the time from navigation until the model is ready
// (fetched, checked, built: the page's data-model-ms) and until the top-3 of a first stroke
// is shown (the stroke drawn right when the model is ready). Run after the build:
//   node scripts/first-prediction.mjs
/* global performance -- the functions given to page.evaluate run in the page */
import { fileURLToPath, URL } from 'node:url';
import { launchChromium, serveDir } from '@ml/browser-kit';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const server = await serveDir(dist, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
const browser = await launchChromium([]);
const ready = [];
const first = [];
try {
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext(); // a fresh cache each time
    const page = await context.newPage();
    await page.goto(`${server.base}/digits.html`);
    await page.waitForSelector('body[data-model="ready"]');
    ready.push(Number(await page.getAttribute('body', 'data-model-ms')));
    const box = await page.locator('#pad').boundingBox();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.8, { steps: 4 });
    await page.mouse.up();
    await page.waitForSelector('#top3 li');
    first.push(await page.evaluate(() => performance.now()));
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`model ready: median ${median(ready).toFixed(0)} ms after navigation (${ready.map((v) => v.toFixed(0)).join(', ')})`);
console.log(`first prediction shown (a stroke drawn as soon as the model is ready): median ${median(first).toFixed(0)} ms (${first.map((v) => v.toFixed(0)).join(', ')})`);
