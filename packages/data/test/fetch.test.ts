import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvError, fetchCsv, parseCsv, readCsv } from '../src/node.js';

// A local server (no network): each path answers the way a real one can go wrong.
const CSV = 'city,temp,when\nOslo,-3.5,2024-01-02\n"Cape Town, ZA",24,2024-01-03\n';
let server: Server;
let base = '';
const seen: { path: string; headers: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    switch (req.url) {
      case '/weather.csv':
        res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
        res.end(CSV);
        return;
      case '/untyped':
        res.writeHead(200); // no content type: judged by the body
        res.end('a;b\n1;2\n');
        return;
      case '/missing.csv':
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such file');
        return;
      case '/truncated.csv':
        // promises 1,000 bytes, sends 30 and hangs up
        res.writeHead(200, { 'content-type': 'text/csv', 'content-length': '1000' });
        res.write('a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n1');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      case '/ragged.csv':
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end('a,b\n1,2\n3\n');
        return;
      case '/page':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>cars.csv</title><table></table>');
        return;
      case '/page-as-text':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('<!DOCTYPE html>\n<html><body>Sign in</body></html>');
        return;
      case '/binary':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x61, 0x0a]));
        return;
      default:
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('boom');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** the CsvError a promise rejects with */
async function failure(p: Promise<unknown>): Promise<CsvError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CsvError);
  return e as CsvError;
}

describe('fetchCsv', () => {
  it('downloads and parses the same table parseCsv reads from the text, with the same options', async () => {
    const t = await fetchCsv(`${base}/weather.csv`, { types: { when: 'string' } });
    expect(t).toEqual(parseCsv(CSV, { types: { when: 'string' } }));
    expect(t.rows[1]).toEqual({ city: 'Cape Town, ZA', temp: 24, when: '2024-01-03' });
    expect(seen.at(-1)?.headers.accept).toMatch(/^text\/csv/);
  });

  it('takes a URL object, headers, and a body without a content type', async () => {
    const t = await fetchCsv(new URL('/untyped', base), { delimiter: ';', headers: { authorization: 'Bearer t' } });
    expect(t.rows).toEqual([{ a: 1, b: 2 }]);
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer t');
  });

  it('an HTTP error names the status and the URL', async () => {
    const e = await failure(fetchCsv(`${base}/missing.csv`));
    expect(e.message).toBe(`${base}/missing.csv: HTTP 404 Not Found: no such file`);
    expect(e.file).toBe(`${base}/missing.csv`);
    expect((await failure(fetchCsv(`${base}/other`))).message).toBe(`${base}/other: HTTP 500 Internal Server Error: boom`);
  });

  it('a download cut short is an error, not a table of the rows that arrived', async () => {
    const e = await failure(fetchCsv(`${base}/truncated.csv`));
    expect(e.message).toMatch(new RegExp(`^${base}/truncated\\.csv: the download was cut short`));
  });

  it('a malformed body fails as parseCsv does, naming the URL and the line', async () => {
    const e = await failure(fetchCsv(`${base}/ragged.csv`));
    expect(e.message).toMatch(new RegExp(`^${base}/ragged\\.csv`));
    expect(e.line).toBe(3);
  });

  it('a web page, or binary data, is refused as not CSV', async () => {
    expect((await failure(fetchCsv(`${base}/page`))).message).toBe(`${base}/page: the server sent text/html, not CSV text (a web page: use the URL of the raw file)`);
    expect((await failure(fetchCsv(`${base}/page-as-text`))).message).toMatch(/the server sent a web page or XML, not CSV text/);
    expect((await failure(fetchCsv(`${base}/binary`))).message).toMatch(/binary data \(a NUL byte\), not CSV text/);
  });

  it('a server that is not there is an error naming the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x.csv`;
    await new Promise((resolve) => closed.close(resolve));
    expect((await failure(fetchCsv(url))).message).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/x\\.csv: cannot fetch it \\(fetch failed`));
  });

  it('refuses unknown options, naming ours', async () => {
    await expect(fetchCsv(`${base}/weather.csv`, { sep: ';' } as never)).rejects.toThrow("fetchCsv: unknown option 'sep'; did you mean 'delimiter'?");
    await expect(fetchCsv(`${base}/weather.csv`, { timeout: 5 } as never)).rejects.toThrow(TypeError);
  });

  it('readCsv reads an http(s) URL through fetchCsv', async () => {
    expect(await readCsv(`${base}/weather.csv`)).toEqual(parseCsv(CSV));
    expect((await failure(readCsv(`${base}/missing.csv`))).message).toMatch(/HTTP 404/);
  });
});
