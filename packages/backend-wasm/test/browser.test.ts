// The backend in a real browser (Debian's Chromium through playwright-core): Web Workers on
// the shared memory in a cross-origin-isolated page, one thread elsewhere.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Tensor from '@ml/tensor';
import type * as Wasm from '../src/index.js';

/** What the page puts on `window.ml`: the two packages, loaded as ES modules from dist/. */
interface Ml {
  wasm: typeof Wasm;
  T: typeof Tensor;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const ROOTS: Record<string, string> = {
  '/wasm/': join(here, '../dist'),
  '/tensor/': join(here, '../node_modules/@ml/tensor/dist'),
};

const PAGE = `<!doctype html>
<script type="importmap">{ "imports": { "@ml/tensor": "/tensor/index.js" } }</script>
<script type="module">
  import * as wasm from '/wasm/index.js';
  import * as T from '@ml/tensor';
  window.ml = { wasm, T };
</script>`;

/** A static server for the page and the built packages; `?isolated=1` adds COOP/COEP. */
function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers: Record<string, string> = {};
    if (url.searchParams.get('isolated') === '1' || req.headers.referer?.includes('isolated=1')) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    if (url.pathname === '/') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end(PAGE);
      return;
    }
    const prefix = Object.keys(ROOTS).find((p) => url.pathname.startsWith(p));
    const file = prefix && normalize(join(ROOTS[prefix], url.pathname.slice(prefix.length)));
    if (!file || !file.startsWith(ROOTS[prefix])) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { ...headers, 'Content-Type': extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

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

describe.skipIf(!existsSync(CHROMIUM))(`in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = await serve();
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
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
