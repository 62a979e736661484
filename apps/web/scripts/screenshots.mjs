// The README's screenshots: each page of the built site (dist/) in Chromium at a phone's
// width, after a little use. Run after the build: node scripts/screenshots.mjs
import { mkdirSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { launchChromium, serveDir } from '@ml/browser-kit';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const out = fileURLToPath(new URL('../docs/', import.meta.url));
mkdirSync(out, { recursive: true });
const server = await serveDir(dist, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 760 } });

  await page.goto(`${server.base}/regression.html`);
  await page.click('#run');
  await page.waitForSelector('body[data-state="done"]');
  await page.screenshot({ path: `${out}regression.png`, fullPage: true });

  await page.goto(`${server.base}/digits.html`);
  await page.waitForSelector('body[data-model="ready"]');
  const box = await page.locator('#pad').boundingBox();
  const at = (x, y) => [box.x + (x / 280) * box.width, box.y + (y / 280) * box.height];
  for (const stroke of [
    [
      [70, 60],
      [210, 60],
      [120, 240],
    ],
    [
      [105, 150],
      [195, 150],
    ],
  ]) {
    await page.mouse.move(...at(...stroke[0]));
    await page.mouse.down();
    for (const p of stroke.slice(1)) await page.mouse.move(...at(...p), { steps: 8 });
    await page.mouse.up();
  }
  await page.waitForTimeout(200);
  await page.screenshot({ path: `${out}digits.png`, fullPage: true });

  // the Train page after 200 steps of the MLP on WebAssembly: charts, test slice, misclassified images
  await page.goto(`${server.base}/train.html`);
  await page.waitForSelector('body[data-state="ready"]');
  await page.check('input[name="backend"][value="wasm"]');
  await page.fill('#steps', '200');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  await page.screenshot({ path: `${out}train.png`, fullPage: true });
} finally {
  await browser.close();
  await server.close();
}
console.log(`screenshots in ${out}`);
