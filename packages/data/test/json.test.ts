import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonError, parseJsonRecords, readJsonRecords, tableToTensors } from '../src/index.js';
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
