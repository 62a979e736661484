import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ColumnType, CsvError, type CsvOptions, parseCsv } from '../src/node.js';
import { fuzzReader, mutated, repeated } from './fuzz.js';

// ≥ 10,000 generated CSV inputs, most of them malformed: each parses to a well-formed table
// or throws a CsvError naming the input, in under 2 s, keeping little more memory than its size.

const NAME = 'fuzz.csv';

/** names: ordinary, Object.prototype members, blank, padded, odd characters */
const columnName = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'x', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', '', ' a ', 'a"b', 'a,b', 'é', '🙂', 'column0'),
  fc.string({ maxLength: 6 }),
);

/** cells: numbers (finite, beyond float64, tiny), tokens, dates (real and not), text */
const cell = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', '1', '-2', '+3', '3.5', '.5', '5.', '1e3', '1E-3', '0', '007', '1e999', '-1e999', '1e-999', '9'.repeat(400), '9007199254740993') },
  { weight: 2, arbitrary: fc.constantFrom('NaN', 'nan', 'NA', 'N/A', 'null', 'NULL', 'Infinity', '-Infinity', 'inf', 'true', 'x', ' 7 ', '\t', '\0') },
  { weight: 2, arbitrary: fc.constantFrom('2020-01-02', '2020-02-30', '2020-13-45', '2020-01-02T03:04:05Z', '2020-01-02 03:04', '0000-00-00', '9999-12-31T23:59:59.999+14:00') },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 2, arbitrary: fc.double().map(String) },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
);

const lineBreak = fc.constantFrom('\n', '\r\n', '\r', '\n\n');

/** a field as written: bare, quoted (quotes doubled), or quoted wrongly */
const field = fc.tuple(cell, fc.constantFrom('bare', 'bare', 'quoted', 'half-quoted', 'raw-quote')).map(([v, how]) =>
  how === 'bare' ? v : how === 'quoted' ? `"${v.replaceAll('"', '""')}"` : how === 'half-quoted' ? `"${v}` : `${v}"${v}`,
);

/** a CSV file: header and rows of roughly (not always) the header's width */
const csvFile = fc
  .tuple(
    fc.array(columnName, { minLength: 1, maxLength: 6 }),
    fc.array(fc.array(field, { minLength: 0, maxLength: 7 }), { maxLength: 8 }),
    lineBreak,
    fc.constantFrom(',', ',', ';', '\t'),
    fc.boolean(),
  )
  .map(([header, rows, br, sep, bom]) => (bom ? '\uFEFF' : '') + [header.map((h) => (/[",;\t\n\r]/.test(h) ? `"${h.replaceAll('"', '""')}"` : h)).join(sep), ...rows.map((r) => r.join(sep))].join(br) + br);

/** the characters and pieces CSV is made of, in any order */
const soup = fc
  .array(fc.constantFrom(',', ',', '"', '""', '\n', '\r', '\r\n', ';', '\t', ' ', 'a', '1', '.', '-', 'e', '9', '1e999', 'NaN', '\uFEFF', '\0', 'é', '\ud800', '__proto__', 'toString'), { maxLength: 120 })
  .map((xs) => xs.join(''));

/** wide headers and long files: many distinct columns, many rows */
const large = fc.oneof(
  repeated(fc.constantFrom('c#,', 'toString,', '"q#""",', 'x,', '#,'), 1500).map((h) => `${h}end\n${h.replaceAll(/[^,]+/g, '1')}0\n`),
  fc.tuple(repeated(fc.constantFrom('#,1.5,x\n', '#,1e999,x\n', '"#\n",2,y\n', '#,,\n', '#,NaN,z\r\n', '#,"a""b",c\n'), 1000), fc.constantFrom('a,b,c\n', 'a,a,b\n', '')).map(([body, h]) => h + body),
);

/** a file every reader should take: rows as wide as the header, fields quoted where needed */
const wellFormed = fc
  .tuple(fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'x', 'toString', '__proto__', 'constructor', 'valueOf', '0', 'é'), { minLength: 1, maxLength: 5 }), fc.array(cell, { maxLength: 40 }), lineBreak)
  .map(([header, cells, br]) => {
    const quote = (v: string) => (/[",\n\r]/.test(v) || v.trim() !== v ? `"${v.replaceAll('"', '""')}"` : v);
    const rows: string[] = [];
    for (let i = 0; i + header.length <= cells.length; i += header.length) rows.push(cells.slice(i, i + header.length).map(quote).join(','));
    return [header.join(','), ...rows].join(br) + br;
  });

const csvText = fc.oneof(
  { weight: 12, arbitrary: mutated(csvFile, fc.oneof(fc.constantFrom(',', '"', '\n', '\r', '1e999', '__proto__'), fc.string({ maxLength: 3 }))) },
  { weight: 4, arbitrary: wellFormed },
  { weight: 4, arbitrary: soup },
  { weight: 1, arbitrary: large },
);

const columnType = fc.constantFrom<ColumnType | 'float' | ''>('number', 'int', 'string', 'date', 'number', 'float', '');

const options = fc.record(
  {
    header: fc.boolean(),
    delimiter: fc.constantFrom(',', ',', ',', ';', '\t', '||', ''),
    types: fc.array(fc.tuple(columnName, columnType), { maxLength: 3 }).map((kv) => Object.fromEntries(kv) as Record<string, ColumnType>),
    missing: fc.array(fc.constantFrom('', 'NA', 'NaN', '1e999', '-', 'x'), { maxLength: 3 }),
    columns: fc.array(columnName, { maxLength: 4 }),
  },
  { requiredKeys: [] },
);

describe('parseCsv fuzz', () => {
  it('turns 12,000 generated inputs, most of them malformed, into a table or a CsvError', () => {
    const input = fc.record({ text: csvText, options: fc.oneof(fc.constant({}), options) });
    const report = fuzzReader(input, ({ text, options: o }) => parseCsv(text, { ...(o as CsvOptions), name: NAME }), CsvError, NAME, 12_000);
    console.log(`parseCsv fuzz: ${JSON.stringify(report)}`);
    expect(report.inputs).toBeGreaterThanOrEqual(Math.min(10_000, Number(process.env.FUZZ_RUNS ?? 10_000)));
    // mostly malformed inputs, some good ones
    expect(report.rejected).toBeGreaterThan(report.inputs / 2);
    expect(report.accepted).toBeGreaterThan(report.inputs / 20);
    expect(report.peakRssGrowthMb).toBeLessThan(512);
  });
});
