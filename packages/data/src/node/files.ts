/** Reading tables from files (Node): the path-taking versions of `parseCsv` and `parseJsonRecords`. */
import { readFile } from 'node:fs/promises';
import type { Table } from '../table.js';
import { checkOptions } from '@ml/tensor';
import { CSV_ALIASES, CSV_KEYS, CsvError, type CsvOptions, parseCsv } from '../csv.js';
import { fetchCsv } from '../fetch.js';
import { JSON_RECORDS_KEYS, JsonError, type JsonRecordsOptions, parseJsonRecords } from '../json.js';

/**
 * Read a CSV file (or CSV text: any string containing a line break, or an http(s):// URL,
 * which `fetchCsv` downloads) into typed columns:
 *
 * ```ts
 * const weather = await readCsv('seattle-weather.csv', { types: { date: 'date' } });
 * weather.rows[0].temp_max; // 12.8
 * ```
 *
 * Quoted fields may hold the delimiter, quotes ("") and line breaks (\r\n inside a field
 * reads as \n). Missing cells (the `missing` tokens: empty, NA, NaN, …) are null and listed
 * in `missing`; a row with the wrong number of fields, a value that does not fit its
 * column's type, or a number beyond float64's range (`1e999`, which would be Infinity)
 * throws a `CsvError` naming the file, the line and the column. Any column name works,
 * `toString` and `__proto__` included: rows have no `Object.prototype` members.
 */
export async function readCsv(pathOrText: string, options: CsvOptions = {}): Promise<Table> {
  checkOptions('readCsv', options, CSV_KEYS, CSV_ALIASES);
  if (/[\r\n]/.test(pathOrText)) return parseCsv(pathOrText, options);
  if (/^https?:\/\//i.test(pathOrText)) return fetchCsv(pathOrText, options);
  let text: string;
  try {
    text = await readFile(pathOrText, 'utf8');
  } catch (e) {
    throw new CsvError(`${pathOrText}: cannot read the file (${(e as Error).message})`, pathOrText);
  }
  return parseCsv(text, { ...options, name: options.name ?? pathOrText });
}

/**
 * Read a JSON file holding an array of flat records (`[{"a": 1, "b": "x"}, …]`) into the
 * same typed table as `readCsv`: columns in first-seen order, null or absent fields
 * reported in `missing`. Malformed JSON throws a `JsonError` with the file, line, column
 * and character position; so do a number beyond float64's range (`1e999`, which JSON.parse
 * reads as Infinity) and a table larger than `maxCells`.
 */
export async function readJsonRecords(path: string, options: JsonRecordsOptions = {}): Promise<Table> {
  checkOptions('readJsonRecords', options, JSON_RECORDS_KEYS, { dtype: 'types' });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new JsonError(`${path}: cannot read the file (${(e as Error).message})`, path);
  }
  return parseJsonRecords(text, { ...options, name: options.name ?? path });
}
