import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonError, parseJsonRecords, readJsonRecords, tableToTensors } from '../src/node.js';
import { values } from './helpers.js';

// the package exports only its JS entry (build/index.js); its data/ folder sits beside build/
const carsPath = join(dirname(dirname(createRequire(import.meta.url).resolve('vega-datasets'))), 'data', 'cars.json');
const tmp = mkdtempSync(join(tmpdir(), 'ml-data-json-'));

describe('readJsonRecords on vega-datasets cars.json', () => {
  it('reads 406 records with typed columns', async () => {
    const t = await readJsonRecords(carsPath);
    expect(t.rows).toHaveLength(406);
    expect(t.columns).toEqual(['Name', 'Miles_per_Gallon', 'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin']);
    expect(t.types.Horsepower).toBe('int');
    expect(t.types.Year).toBe('date');
    expect(t.rows[0].Name).toBe('chevrolet chevelle malibu');
    expect(t.rows[0].Year).toEqual(new Date(Date.UTC(1970, 0, 1)));
  });

  it('reports every null Horsepower as missing', async () => {
    const t = await readJsonRecords(carsPath);
    const raw = JSON.parse(readFileSync(carsPath, 'utf8')) as Record<string, unknown>[];
    const nullRows = raw.flatMap((r, i) => (r.Horsepower === null || r.Horsepower === undefined ? [i] : []));
    expect(nullRows.length).toBe(6);
    expect(t.missing.filter((m) => m.column === 'Horsepower').map((m) => m.row)).toEqual(nullRows);
    for (const i of nullRows) expect(t.rows[i].Horsepower).toBeNull();
  });

  it('gives regression tensors, dropping the rows with missing values on request', async () => {
    const t = await readJsonRecords(carsPath);
    expect(() => tableToTensors(t, { features: ['Horsepower'], target: 'Miles_per_Gallon' })).toThrow(/14 rows have missing values/);
    const { x, y, rows } = tableToTensors(t, { features: ['Horsepower', 'Weight_in_lbs'], target: 'Miles_per_Gallon', dropMissing: true });
    // 406 cars, 8 without MPG and 6 without horsepower, none without both
    expect(x.shape).toEqual([392, 2]);
    expect(y.shape).toEqual([392]);
    expect(y.dtype).toBe('float32');
    expect(values(x).slice(0, 2)).toEqual([130, 3504]);
    expect(rows.length).toBe(392);
  });
});

describe('parseJsonRecords errors', () => {
  it('names the file, line, column and position of malformed JSON', () => {
    const text = '[\n  {"a": 1},\n  {"a": }\n]';
    const pos = text.indexOf('}', text.indexOf('"a": }'));
    const path = join(tmp, 'broken.json');
    writeFileSync(path, text);
    return expect(readJsonRecords(path)).rejects.toThrow(`${path}: malformed JSON at line 3, column 9 (position ${pos}): expected a value, found "}"`);
  });

  it('reports the end of a truncated file', () => {
    const text = '[{"a": 1}';
    expect(() => parseJsonRecords(text, { name: 'cut.json' })).toThrow(/^cut\.json: malformed JSON at line 1, column 10 \(position 9\): expected ',' or '\]' in an array, found the end of the text/);
    try {
      parseJsonRecords(text);
    } catch (e) {
      expect(e).toBeInstanceOf(JsonError);
      expect((e as JsonError).position).toBe(9);
    }
  });

  it('wants an array of flat records', () => {
    expect(() => parseJsonRecords('{"a": 1}')).toThrow(/expected an array of records at the top level, got object/);
    expect(() => parseJsonRecords('[{"a": {"b": 1}}]')).toThrow(/record 0, field 'a' holds an object; records must be flat/);
    expect(() => parseJsonRecords('[1]')).toThrow(/record 0 is a number, expected an object/);
  });

  it('refuses a column that mixes numbers and strings unless a type is given', () => {
    const text = '[{"v": 1}, {"v": "two"}]';
    expect(() => parseJsonRecords(text)).toThrow(/field 'v' mixes numbers and strings \(record 1 has "two"\)/);
    expect(parseJsonRecords(text, { types: { v: 'string' } }).rows).toEqual([{ v: '1' }, { v: 'two' }]);
    expect(() => parseJsonRecords(text, { types: { v: 'number' } })).toThrow(/record 1, field 'v' \(number\): "two" is not a number/);
  });
});

describe('parseJsonRecords with hostile input', () => {
  it('reads fields named like Object.prototype members (toString, __proto__, constructor)', () => {
    const text = '[{"a": 1}, {"toString": 2, "__proto__": 3, "constructor": "x"}, {"a": 4, "toString": 5}]';
    const t = parseJsonRecords(text);
    expect(t.columns).toEqual(['a', 'toString', '__proto__', 'constructor']);
    expect(Object.entries(t.types)).toEqual([['a', 'int'], ['toString', 'int'], ['__proto__', 'int'], ['constructor', 'string']]);
    expect(Object.entries(t.rows[0])).toEqual([['a', 1], ['toString', null], ['__proto__', null], ['constructor', null]]);
    expect(Object.entries(t.rows[1])).toEqual([['a', null], ['toString', 2], ['__proto__', 3], ['constructor', 'x']]);
    expect(Object.entries(t.rows[2])).toEqual([['a', 4], ['toString', 5], ['__proto__', null], ['constructor', null]]);
    expect(t.missing).toEqual([
      { row: 0, column: 'toString' },
      { row: 0, column: '__proto__' },
      { row: 0, column: 'constructor' },
      { row: 1, column: 'a' },
      { row: 2, column: '__proto__' },
      { row: 2, column: 'constructor' },
    ]);
    expect(parseJsonRecords('[{"toString": 1}]', { types: Object.fromEntries([['toString', 'string' as const]]) }).rows[0].toString).toBe('1');
    expect(() => parseJsonRecords('[{"a": 1}]', { types: Object.fromEntries([['valueOf', 'int' as const]]) })).toThrow(/types names field 'valueOf', which no record has/);
  });

  it('refuses, quickly and with a clear error, a 95 KB file whose records each have a new field', () => {
    // 8,600 records × 8,600 distinct fields = 74 million cells, nearly all absent: the old
    // reader built every one (3,000 such records took 7 s and 1.5 GB; 95 KB ran out of heap)
    const n = 8_600;
    const text = `[${Array.from({ length: n }, (_, i) => `{"k${i}":1}`).join(',')}]`;
    expect(text.length).toBeGreaterThan(95_000);
    const t0 = performance.now();
    expect(() => parseJsonRecords(text, { name: 'sparse.json' })).toThrow(JsonError);
    expect(() => parseJsonRecords(text, { name: 'sparse.json' })).toThrow(
      /^sparse\.json: 8600 records × 8600 fields make 73960000 cells \(8600 of them present\), more than maxCells \(\d+\); pass a larger maxCells to read it anyway$/,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    // a sparse table within the limit, or with the limit raised, reads
    const small = `[${Array.from({ length: 300 }, (_, i) => `{"k${i}":1}`).join(',')}]`;
    expect(parseJsonRecords(small).columns).toHaveLength(300);
    const mid = `[${Array.from({ length: 600 }, (_, i) => `{"k${i}":1}`).join(',')}]`;
    expect(() => parseJsonRecords(mid)).toThrow(/600 records × 600 fields make 360000 cells/);
    expect(parseJsonRecords(mid, { maxCells: 360_000 }).missing).toHaveLength(359_400);
    expect(() => parseJsonRecords(mid, { maxCells: Number.NaN })).toThrow(/maxCells is NaN; expected a number ≥ 0/);
  });

  it('reads many distinct fields without quadratic work', () => {
    // one record with 100,000 fields, and 20,000 records of 5 fields each: about 0.1–0.3 s
    // idle; work quadratic in the fields (10¹⁰ steps) would take minutes. The bound is loose
    // because CI runs packages' tests side by side on two cores.
    const wide = `[{${Array.from({ length: 100_000 }, (_, i) => `"f${i}":${i}`).join(',')}}]`;
    const long = `[${Array.from({ length: 20_000 }, (_, i) => `{"a":${i},"b":"x${i}","c":${i / 2},"d":true,"e":null}`).join(',')}]`;
    const t0 = performance.now();
    expect(parseJsonRecords(wide).rows[0].f99999).toBe(99_999);
    expect(parseJsonRecords(long).rows[19_999]).toEqual({ a: 19_999, b: 'x19999', c: 9999.5, d: 1, e: null });
    expect(performance.now() - t0).toBeLessThan(15_000);
  });

  it('rejects numbers beyond the float64 range, naming the file, record and field', () => {
    let err: unknown;
    try {
      parseJsonRecords('[{"a": 1, "b": 2}, {"a": 3, "b": 1e999}]', { name: 'huge.json' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonError);
    expect((err as JsonError).message).toBe(`huge.json: record 1, field 'b': a number beyond the range of a float64 (±1.8e308; it reads as Infinity)`);
    expect((err as JsonError).record).toBe(1);
    expect(() => parseJsonRecords('[{"a": -1e999}]', { types: { a: 'string' } })).toThrow(/record 0, field 'a': a number beyond the range of a float64/);
    expect(() => parseJsonRecords('[{"a": "1e999"}]', { types: { a: 'number' } })).toThrow(/record 0, field 'a' \(number\): "1e999" is beyond the range of a float64/);
    expect(() => parseJsonRecords('[{"a": "NaN"}]', { types: { a: 'number' } })).toThrow(/record 0, field 'a' \(number\): "NaN" is not a number/);
    // a number too large for a date
    expect(() => parseJsonRecords('[{"d": 1e300}]', { types: { d: 'date' } })).toThrow(/record 0, field 'd' \(date\): 1e\+300 is not a date/);
    // null and absent fields stay missing values
    expect(parseJsonRecords('[{"a": null}, {}]').missing).toEqual([{ row: 0, column: 'a' }, { row: 1, column: 'a' }]);
  });
});
