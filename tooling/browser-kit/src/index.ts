/**
 * @ml/browser-kit — what the backends' browser tests share: a static server for one test
 * page and the built packages it imports, and Debian's Chromium (never a downloaded
 * browser) launched through playwright-core.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Where the browser is: `CHROMIUM_PATH`, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether that browser is installed (the tests are skipped, and say so, where it is not). */
export const hasChromium = (): boolean => existsSync(CHROMIUM);

export interface PageServer {
  /** e.g. http://127.0.0.1:41234 */
  base: string;
  close(): Promise<void>;
}

/**
 * Serve `page` at `/` and the files below `roots[prefix]` at `/<prefix>…` (e.g.
 * `{ '/tensor/': '…/@ml/tensor/dist' }`), on a free port of 127.0.0.1; `headers` adds
 * response headers per request (cross-origin isolation, say).
 */
export function servePage(page: string, roots: Record<string, string>, headers: (url: URL, req: IncomingMessage) => Record<string, string> = () => ({})): Promise<PageServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const extra = headers(url, req);
    if (url.pathname === '/') {
      res.writeHead(200, { ...extra, 'Content-Type': 'text/html' }).end(page);
      return;
    }
    const prefix = Object.keys(roots).find((p) => url.pathname.startsWith(p));
    const file = prefix && normalize(join(roots[prefix], url.pathname.slice(prefix.length)));
    if (!prefix || !file || !file.startsWith(roots[prefix])) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { ...extra, 'Content-Type': extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.wasm': 'application/wasm',
};

/**
 * Serve a folder as a static host would (a built site, say): `/` and any `…/` give their
 * `index.html`, other paths their file below `root`, with a content type from the name;
 * `headers` go on every response (COOP/COEP for cross-origin isolation, say).
 */
export function serveDir(root: string, headers: Record<string, string> = {}): Promise<PageServer> {
  const base = normalize(root);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path = decodeURIComponent(url.pathname);
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(base, path));
    if (!file.startsWith(base.endsWith(sep) ? base : base + sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { ...headers, 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404, headers).end(),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}

/** Chromium headless, offline (no background networking or updates), with `args` added. */
export function launchChromium(args: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...args],
  });
}

export type { Browser, Page } from 'playwright-core';
