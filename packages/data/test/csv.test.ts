import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvError, csvToTensors, parseCsv, readCsv } from '../src/index.js';
import { expectClose, values } from './helpers.js';

// the package exports only its JS entry (build/index.js); its data/ folder sits beside build/
const vega = join(dirname(dirname(createRequire(import.meta.url).resolve('vega-datasets'))), 'data');
const tmp = mkdtempSync(join(tmpdir(), 'ml-data-csv-'));

describe('parseCsv', () => {
  const text = ['id,name,score,when', '1,"Smith, J",3.5,2020-01-02', '2,"two', 'lines",,2021-03-04', '3,"say ""hi""",-1e2,2022-12-31'].join('\n');

  it('infers typed columns: int, string, number, date', () => {
    const t = parseCsv(text);
    expect(t.columns).toEqual(['id', 'name', 'score', 'when']);
    expect(t.types).toEqual({ id: 'int', name: 'string', score: 'number', when: 'date' });
    expect(t.rows[0]).toEqual({ id: 1, name: 'Smith, J', score: 3.5, when: new Date(Date.UTC(2020, 0, 2)) });
    expect(t.rows[2].score).toBe(-100);
  });

  it('parses quoted fields holding commas, line breaks and quotes', () => {
    const t = parseCsv(text);
    expect(t.rows.map((r) => r.name)).toEqual(['Smith, J', 'two\nlines', 'say "hi"']);
  });

  it('reports missing values with row, column and line instead of NaN', () => {
    const t = parseCsv(text);
    expect(t.rows[1].score).toBeNull();
    expect(t.missing).toEqual([{ row: 1, column: 'score', line: 3 }]);
  });

  it('counts lines from where a record starts, after quoted line breaks and CRLF', () => {
    const crlf = 'a,b\r\n"x\r\ny",1\r\n\r\nz,oops\r\n';
    expect(() => parseCsv(crlf, { types: { b: 'int' } })).toThrow(/line 5, column 'b' \(int\): "oops" is not an integer/);
  });

  it('throws a CsvError naming the line and the column of a short row', () => {
    const bad = 'a,b,c\n1,2,3\n4,5\n';
    let err: unknown;
    try {
      parseCsv(bad, { name: 'short.csv' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).message).toMatch(/^short\.csv: line 3: 2 fields where the header has 3; column 'c' and after are absent/);
    expect((err as CsvError).line).toBe(3);
    expect((err as CsvError).column).toBe('c');
    expect(() => parseCsv('a,b\n1,2,3\n')).toThrow(/line 2: 3 fields where the header has 2; extra field\(s\) after column 'b'/);
  });

  it('throws a CsvError naming the file, line and column of a value that is not a number', async () => {
    const path = join(tmp, 'prices.csv');
    writeFileSync(path, 'item,price\napple,1.5\npear,2\nplum,cheap\n');
    await expect(readCsv(path, { types: { price: 'number' } })).rejects.toThrow(CsvError);
    await expect(readCsv(path, { types: { price: 'number' } })).rejects.toThrow(`${path}: line 4, column 'price' (number): "cheap" is not a number`);
  });

  it('reports a broken quote with its line', () => {
    expect(() => parseCsv('a,b\n1,"2\n3,4\n', { name: 'q.csv' })).toThrow(/^q\.csv: line \d+: Quote Not Closed/);
  });

  it('reads files without a header, and keeps only the columns asked for', () => {
    const t = parseCsv('1,x\n2,y\n', { header: false, columns: ['n', 's'] });
    expect(t.rows).toEqual([
      { n: 1, s: 'x' },
      { n: 2, s: 'y' },
    ]);
    expect(parseCsv('1,x\n', { header: false }).columns).toEqual(['column0', 'column1']);
    expect(parseCsv('a,b,c\n1,2,3\n', { columns: ['c', 'a'] }).rows).toEqual([{ c: 3, a: 1 }]);
  });

  it('reads a declared string column as text even when it looks numeric', () => {
    const t = parseCsv('zip\n02134\n', { types: { zip: 'string' } });
    expect(t.rows[0].zip).toBe('02134');
  });
});

describe('readCsv on vega-datasets seattle-weather.csv', () => {
  it('reads 1461 daily rows with dates parsed and no missing values', async () => {
    const t = await readCsv(join(vega, 'seattle-weather.csv'));
    expect(t.rows).toHaveLength(1461);
    expect(t.types).toEqual({ date: 'date', precipitation: 'number', temp_max: 'number', temp_min: 'number', wind: 'number', weather: 'string' });
    expect(t.missing).toEqual([]);
    // first and last lines of the file: 2012-01-01,0.0,12.8,5.0,4.7,drizzle and 2015-12-31,0.0,5.6,-2.1,3.5,sun
    expect(t.rows[0]).toEqual({ date: new Date(Date.UTC(2012, 0, 1)), precipitation: 0, temp_max: 12.8, temp_min: 5, wind: 4.7, weather: 'drizzle' });
    expect(t.rows[1460]).toEqual({ date: new Date(Date.UTC(2015, 11, 31)), precipitation: 0, temp_max: 5.6, temp_min: -2.1, wind: 3.5, weather: 'sun' });
    // consecutive days: 2012 is a leap year, so 4 years are 1461 days
    const days = (t.rows[1460].date as Date).getTime() - (t.rows[0].date as Date).getTime();
    expect(days / 86_400_000).toBe(1460);
  });

  it('turns chosen columns into x [N, F] and a string target into class indices', async () => {
    const t = await readCsv(join(vega, 'seattle-weather.csv'));
    const { x, y, classes } = csvToTensors(t, { features: ['temp_max', 'temp_min'], target: 'weather' });
    expect(x.shape).toEqual([1461, 2]);
    expectClose(values(x).slice(0, 2), [12.8, 5], 1e-5);
    expect(classes).toEqual(['drizzle', 'fog', 'rain', 'snow', 'sun']);
    expect(y.dtype).toBe('int32');
    expect(values(y).slice(0, 2)).toEqual([0, 2]);
  });

  it('refuses a string feature and a missing value in a chosen column', () => {
    const t = parseCsv('a,b,c\n1,,x\n2,3,y\n');
    expect(() => csvToTensors(t, { features: ['c'] })).toThrow(/feature 'c' is a string column/);
    expect(() => csvToTensors(t, { features: ['a', 'b'] })).toThrow(/1 rows have missing values in the chosen columns \(row 0 \(line 2\) column 'b'\); pass dropMissing: true/);
    const { x, rows } = csvToTensors(t, { features: ['a', 'b'], dropMissing: true });
    expect(values(x)).toEqual([2, 3]);
    expect(Array.from(rows)).toEqual([1]);
  });
});
