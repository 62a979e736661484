/**
 * Tables over HTTP: `fetchCsv` downloads with the platform's `fetch` (Node 20+, browsers,
 * workers) and parses with `parseCsv`, so it runs anywhere and reads like `readCsv`.
 */
import { checkOptions, optionKeys } from '@ml/tensor';
import { CSV_ALIASES, CSV_KEYS, CsvError, type CsvOptions, parseCsv } from './csv.js';
import type { Table } from './table.js';

export interface FetchCsvOptions extends CsvOptions {
  /** cancels the download (an `AbortController`'s signal, or `AbortSignal.timeout(ms)`) */
  signal?: AbortSignal;
  /** extra request headers, e.g. an authorization token */
  headers?: Readonly<Record<string, string>>;
}

const FETCH_CSV_KEYS = optionKeys<FetchCsvOptions>()([...CSV_KEYS, 'signal', 'headers']);

/** Content types that are not a table: a web page (an error or login page, GitHub's file view), JSON, images… */
const NOT_CSV = /^(text\/html|application\/xhtml|application\/json|application\/xml|text\/xml|image\/|audio\/|video\/|application\/pdf|application\/zip|application\/gzip)/i;

/**
 * Download a CSV file and read it into typed columns, as `readCsv` reads a file (the same
 * options, types and errors; errors name the URL):
 *
 * ```ts
 * const cars = await fetchCsv('https://example.org/data/cars.csv', { types: { Year: 'date' } });
 * ```
 *
 * An HTTP error status (404, 500, …) throws a `CsvError` with the status and the URL; so do
 * a download cut short, a body that is a web page, JSON or binary data instead of CSV text
 * (a common mistake: the URL of a page showing the file rather than of the raw file), and a
 * network failure.
 */
export async function fetchCsv(url: string | URL, options: FetchCsvOptions = {}): Promise<Table> {
  const op = 'fetchCsv';
  checkOptions(op, options, FETCH_CSV_KEYS, CSV_ALIASES);
  const href = String(url);
  if (typeof fetch !== 'function') throw new CsvError(`${op}: this platform has no global fetch (Node 20+ and browsers do); read the text yourself and call parseCsv`, href);
  const { signal, headers, ...csvOptions } = options;
  let response: Response;
  try {
    response = await fetch(url, { signal, headers: { accept: 'text/csv, text/plain;q=0.9, */*;q=0.1', ...headers } });
  } catch (e) {
    throw new CsvError(`${href}: cannot fetch it (${describe(e)})`, href);
  }
  if (!response.ok) {
    // the start of the server's explanation, when it sent one in text
    let detail = '';
    try {
      const body = (await response.text()).trim();
      if (body !== '' && !/^</.test(body)) detail = `: ${body.slice(0, 200)}`;
    } catch {
      // the status says enough
    }
    throw new CsvError(`${href}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${detail}`, href);
  }
  const type = response.headers.get('content-type') ?? '';
  if (NOT_CSV.test(type)) {
    throw new CsvError(`${href}: the server sent ${type.split(';')[0]}, not CSV text${/html/i.test(type) ? ' (a web page: use the URL of the raw file)' : ''}`, href);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (e) {
    throw new CsvError(`${href}: the download was cut short (${describe(e)})`, href);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const encoding = response.headers.get('content-encoding');
  if (Number.isFinite(length) && (encoding === null || encoding === 'identity') && new TextEncoder().encode(text).length < length) {
    throw new CsvError(`${href}: the download was cut short (${new TextEncoder().encode(text).length} of ${length} bytes)`, href);
  }
  if (/^\s*<(!doctype html|html|\?xml)/i.test(text)) throw new CsvError(`${href}: the server sent a web page or XML, not CSV text (use the URL of the raw file)`, href);
  if (text.includes('\0')) throw new CsvError(`${href}: the body holds binary data (a NUL byte), not CSV text${type ? ` (content type ${type})` : ''}`, href);
  return parseCsv(text, { ...csvOptions, name: csvOptions.name ?? href });
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // Node's fetch says "fetch failed" and puts the reason (ECONNREFUSED, …) in `cause`
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== e.message ? `${e.message}: ${cause.message}` : e.message;
}
