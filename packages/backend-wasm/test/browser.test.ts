// The backend in a real browser (Debian's Chromium through playwright-core): Web Workers on
// the shared memory in a cross-origin-isolated page, one thread elsewhere.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, hasChromium, launchChromium, servePage, type Browser, type PageServer, type Page } from '@ml/browser-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Tensor from '@ml/tensor';
import type * as Wasm from '../src/index.js';

/** What the page puts on `window.ml`: the two packages, loaded as ES modules from dist/. */
interface Ml {
  wasm: typeof Wasm;
  T: typeof Tensor;
}

const here = dirname(fileURLToPath(import.meta.url));
const ROOTS: Record<string, string> = {
  '/wasm/': join(here, '../dist'),
  '/tensor/': join(here, '../node_modules/@ml/tensor/dist'),
};

const PAGE = `<!doctype html>
<script type="importmap">{ "imports": { "@ml/tensor": "/tensor/index.js", "@ml/tensor/backend": "/tensor/backend.js" } }</script>
<script type="module">
  import * as wasm from '/wasm/index.js';
  import * as T from '@ml/tensor';
  window.ml = { wasm, T };
</script>`;

/** `?isolated=1` (and what that page loads) gets COOP/COEP: a cross-origin-isolated page. */
const isolation = (url: URL, req: { headers: { referer?: string } }): Record<string, string> =>
  url.searchParams.get('isolated') === '1' || req.headers.referer?.includes('isolated=1')
    ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
    : {};

interface PageResult {
  isolated: boolean;
  cores: number;
  threads: number;
  kind: string | null;
  equal: boolean;
  size: number;
  kernelRuns: number;
}

/** Load the page, multiply 300×400 by 400×500 on 'wasm' and on a one-thread 'wasm-1t'. */
async function run(page: Page, base: string, isolated: boolean): Promise<PageResult> {
  await page.goto(`${base}/${isolated ? '?isolated=1' : ''}`);
  await page.waitForFunction(() => 'ml' in window);
  return page.evaluate(async () => {
    const { wasm, T } = (window as unknown as { ml: Ml }).ml;
    const b = wasm.registerWasmBackend();
    await b.gemm.whenReady();
    wasm.registerWasmBackend({ threads: 1, name: 'wasm-1t' });
    const product = (name: string) => {
      T.setBackend(name);
      T.manualSeed(5);
      return Array.from(T.matmul(T.randn([300, 400]), T.randn([400, 500])).dataSync());
    };
    const x = product('wasm');
    const y = product('wasm-1t');
    return {
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
      threads: b.threads,
      kind: b.gemm.threadKind,
      equal: x.length === y.length && x.every((v, i) => v === y[i]),
      size: x.length,
      kernelRuns: b.stats.wasm,
    };
  });
}

describe.skipIf(!hasChromium())(`in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  let server: PageServer;
  let base: string;
  beforeAll(async () => {
    server = await servePage(PAGE, ROOTS, isolation);
    base = server.base;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('a cross-origin-isolated page runs products on Web Workers over the shared memory, equal to one thread bit for bit', async () => {
    const r = await run(await browser.newPage(), base, true);
    expect(r.isolated).toBe(true);
    expect(r.threads).toBe(r.cores);
    if (r.cores > 1) expect(r.kind).toBe('web');
    expect(r.kernelRuns).toBe(1);
    expect(r.size).toBe(300 * 500);
    expect(r.equal).toBe(true);
  });

  it('without isolation (no SharedArrayBuffer) it runs on one thread, and says so', async () => {
    const r = await run(await browser.newPage(), base, false);
    expect(r.isolated).toBe(false);
    expect(r.threads).toBe(1);
    expect(r.kind).toBeNull();
    expect(r.equal).toBe(true);
  });
});
