import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvError, csvToTensors, parseCsv, readCsv } from '../src/node.js';
import { expectClose, values } from './helpers.js';
import { growth } from './growth.js';

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

describe('parseCsv with hostile input', () => {
  it('reads columns named like Object.prototype members (toString, __proto__, constructor)', () => {
    const text = 'toString,__proto__,constructor,b\n1,2,x,3\n4,,y,5\n';
    for (const t of [parseCsv(text), parseCsv(text, { types: { b: 'int' } })]) {
      expect(t.columns).toEqual(['toString', '__proto__', 'constructor', 'b']);
      expect(Object.keys(t.rows[0])).toEqual(['toString', '__proto__', 'constructor', 'b']);
      expect(Object.entries(t.rows[0])).toEqual([['toString', 1], ['__proto__', 2], ['constructor', 'x'], ['b', 3]]);
      expect(Object.entries(t.rows[1])).toEqual([['toString', 4], ['__proto__', null], ['constructor', 'y'], ['b', 5]]);
      expect(Object.entries(t.types)).toEqual([['toString', 'int'], ['__proto__', 'int'], ['constructor', 'string'], ['b', 'int']]);
      expect(t.missing).toEqual([{ row: 1, column: '__proto__', line: 3 }]);
    }
    // types given for those names (as JSON.parse makes them: __proto__ an own key) apply to them
    const t = parseCsv(text, { types: JSON.parse('{"__proto__": "string", "toString": "number"}') as Record<string, 'string' | 'number'> });
    expect([t.rows[0].__proto__, t.types.__proto__, t.types.toString]).toEqual(['2', 'string', 'number']);
    // a row has no inherited members to confuse with a column
    expect('hasOwnProperty' in t.rows[0]).toBe(false);
    expect(() => parseCsv('a\n1\n', { columns: ['valueOf'] })).toThrow(CsvError);
    expect(() => parseCsv('a\n1\n', { types: Object.fromEntries([['toString', 'int' as const]]) })).toThrow(/types names column 'toString', which is not among a/);
  });

  it('checks an 80,000-column header for duplicate names in linear time', () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    expect(() => parseCsv(`${[...names(80_000), 'c7'].join(',')}\n`, { name: 'wide.csv' })).toThrow(/^wide\.csv: line 1: the header names column 'c7' twice \(columns 8 and 80001\)$/);
    const all = names(80_000);
    const t = parseCsv(`${all.join(',')}\n${all.map((_, i) => i).join(',')}\n`, { columns: all.slice(40_000).reverse() });
    expect([t.columns.length, t.rows[0].c79999, t.rows[0].c40000]).toEqual([40_000, 79_999, 40_000]);
    // 8× the columns takes about 8× the time (quadratic before: 80k × 80k name comparisons,
    // 6–8 s on the development machine, 64× the time of 10k columns)
    const header = (n: number) => `${names(n).join(',')}\n`;
    expect(growth((n) => parseCsv(header(n), { columns: names(n).slice(n / 2) }), 10_000, 8)).toBeLessThan(32);
  });

  it('rejects numbers beyond the float64 range, naming the file, line and column', () => {
    const err = (() => {
      try {
        parseCsv('a,b\n1,2.5\n2,1e999\n', { name: 'huge.csv' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).message).toBe(`huge.csv: line 3, column 'b' (number): "1e999" is beyond the range of a float64 (±1.8e308; it would read as Infinity)`);
    expect([(err as CsvError).line, (err as CsvError).column]).toEqual([3, 'b']);
    expect(() => parseCsv('a\n-1e999\n', { types: { a: 'number' } })).toThrow(/line 2, column 'a' \(number\): "-1e999" is beyond the range of a float64/);
    // 400 digits: not a safe integer, so a number column, and beyond float64
    expect(() => parseCsv(`a\n${'9'.repeat(400)}\n`)).toThrow(/line 2, column 'a' \(number\): "9{40}…" is beyond the range of a float64/);
    // Infinity is no number to this reader; NaN is a missing-value token (default `missing`), else no number either
    expect(() => parseCsv('a\n1\nInfinity\n', { types: { a: 'number' } })).toThrow(/line 3, column 'a' \(number\): "Infinity" is not a number/);
    expect(parseCsv('a\n1\nInfinity\n').types.a).toBe('string');
    const t = parseCsv('a,b\n1,NaN\n2,\n');
    expect(t.rows).toEqual([
      { a: 1, b: null },
      { a: 2, b: null },
    ]);
    expect(t.missing.map((m) => m.line)).toEqual([2, 3]);
    expect(() => parseCsv('a,b\n1,NaN\n2,3\n', { missing: [''], types: { b: 'number' } })).toThrow(/line 2, column 'b' \(number\): "NaN" is not a number/);
    // tiny values round to 0 or a subnormal: finite, accepted
    expect(parseCsv('a\n1e-999\n5e-324\n').rows.map((r) => r.a)).toEqual([0, 5e-324]);
  });

  it('tableToTensors refuses a value its tensors cannot hold, naming the row and column', () => {
    const t = parseCsv('a,b,c\n1,1e39,3000000000\n2,3,4\n');
    expect(() => csvToTensors(t, { features: ['b'] })).toThrow(/^tableToTensors: row 0 column 'b' holds 1e\+39, beyond the range of float32 \(±3\.4e38\); pass dtype: 'float64', or scale the column$/);
    expect(values(csvToTensors(t, { features: ['b'], dtype: 'float64' }).x)).toEqual([1e39, 3]);
    expect(() => csvToTensors(t, { features: ['a'], target: 'c' })).toThrow(/row 0 column 'c' holds 3000000000, beyond the range of int32/);
    // a table made by hand may hold anything
    const hand = { columns: ['a'], types: { a: 'number' as const }, rows: [{ a: 1 }, { a: Number.NaN }], missing: [] };
    expect(() => csvToTensors(hand, { features: ['a'] })).toThrow(/row 1 column 'a' holds NaN, not a finite number/);
  });
});
