import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ColumnType, JsonError, type JsonRecordsOptions, parseJsonRecords } from '../src/node.js';
import { fuzzReader, mutated, repeated } from './fuzz.js';

// ≥ 10,000 generated JSON inputs, most of them malformed or not flat records: each parses to
// a well-formed table or throws a JsonError naming the input, in under 2 s, keeping little
// more memory than its size.

const NAME = 'fuzz.json';

const key = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', '', '0', '1', 'é', 'a b', '🙂'),
  fc.string({ maxLength: 6 }),
);

/** values as JSON text: numbers (finite, beyond float64, tiny), strings, literals, nested */
const value: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('1', '-2', '3.5', '0', '-0', '1e3', '1E-3', '1e999', '-1e999', '1e-999', '9'.repeat(400), '9007199254740993', '1e300') },
  { weight: 3, arbitrary: fc.constantFrom('null', 'true', 'false', '"NaN"', '"Infinity"', '"1e999"', '"12"', '"x"', '""', '"2020-01-02"', '"2020-13-45"', '"\\u0000"', '"\\ud800"') },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('[]', '{}', '[1]', '{"a":1}', 'NaN', 'Infinity', 'undefined', "'x'", '01', '.5', '+1', '1.', '"\\x"') },
);

const record = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((fields) => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);

/** a top-level array of records, with now and then a non-record among them */
const recordsFile = fc
  .tuple(fc.array(fc.oneof({ weight: 9, arbitrary: record }, { weight: 1, arbitrary: value }), { maxLength: 10 }), fc.constantFrom('', ' ', '\n  '), fc.boolean())
  .map(([recs, ws, bom]) => `${bom ? '\uFEFF' : ''}[${ws}${recs.join(`,${ws}`)}${ws}]`);

/** records that only use finite values: these should read */
const cleanFile = fc
  .array(
    fc.array(fc.tuple(fc.constantFrom('a', 'b', 'toString', '__proto__', 'c'), fc.constantFrom('1', '2', '3.5', 'null', '-7', '1e-999')), { maxLength: 4 }).map((fs) => `{${fs.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
    { maxLength: 12 },
  )
  .map((recs) => `[${recs.join(',')}]`);

const soup = fc
  .array(fc.constantFrom('[', ']', '{', '}', '"', ':', ',', ' ', '\n', '1', '-', 'e', '.', 'true', 'null', '"a"', '"__proto__"', '1e999', '\\', '\\u', '\ud800', '\0'), { maxLength: 100 })
  .map((xs) => xs.join(''));

/** deep nesting, many records, many distinct fields */
const large = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `[{"a":${'['.repeat(n)}${']'.repeat(n)}}]`),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}`),
  repeated(fc.constantFrom('{"k#":1},', '{"a":#,"b":"#"},', '{"#":null},', '{"a":1e999},', '{},'), 1500).map((body) => `[${body}{}]`),
  repeated(fc.constantFrom('"f#":1,', '"toString":#,', '"#":"2020-01-01",'), 1500).map((body) => `[{${body}"z":0}]`),
);

const jsonText = fc.oneof(
  { weight: 12, arbitrary: mutated(recordsFile, fc.oneof(fc.constantFrom('[', '{', '"', ',', '1e999', '"__proto__":', 'null'), fc.string({ maxLength: 3 }))) },
  { weight: 3, arbitrary: cleanFile },
  { weight: 3, arbitrary: soup },
  { weight: 2, arbitrary: fc.json() },
  { weight: 1, arbitrary: large },
);

const columnType = fc.constantFrom<ColumnType | 'float' | ''>('number', 'int', 'string', 'date', 'string', 'float', '');

const options = fc.record(
  {
    types: fc.array(fc.tuple(key, columnType), { maxLength: 3 }).map((kv) => Object.fromEntries(kv) as Record<string, ColumnType>),
    maxCells: fc.constantFrom(0, 1, 10, 1000, -1, Number.NaN),
  },
  { requiredKeys: [] },
);

describe('parseJsonRecords fuzz', () => {
  it('turns 12,000 generated inputs, most of them malformed, into a table or a JsonError', () => {
    const input = fc.record({ text: jsonText, options: fc.oneof(fc.constant({}), options) });
    const report = fuzzReader(input, ({ text, options: o }) => parseJsonRecords(text, { ...(o as JsonRecordsOptions), name: NAME }), JsonError, NAME, 12_000);
    console.log(`parseJsonRecords fuzz: ${JSON.stringify(report)}`);
    expect(report.inputs).toBeGreaterThanOrEqual(Math.min(10_000, Number(process.env.FUZZ_RUNS ?? 10_000)));
    expect(report.rejected).toBeGreaterThan(report.inputs / 2);
    expect(report.accepted).toBeGreaterThan(report.inputs / 20);
    expect(report.peakRssGrowthMb).toBeLessThan(512);
  });
});
