import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { CellValue, ColumnType, Table } from '../src/node.js';

// Shared by the reader fuzz tests: each generated input must parse to a well-formed table or
// throw the reader's own error with a message — within 2 s, keeping memory within a small
// multiple of the input's size.

/** seed and size of a run: FUZZ_SEED=random (or a number) and FUZZ_RUNS=100000 explore further */
export function fuzzSettings(runs: number): { seed: number; numRuns: number } {
  const seed = process.env.FUZZ_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED ?? 20_240_517);
  return { seed, numRuns: Number(process.env.FUZZ_RUNS ?? runs) };
}

// the collector, for telling retained memory from garbage not yet collected
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
setFlagsFromString('--no-expose-gc');

const memory = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

export interface FuzzLimits {
  /** the longest one input may take (ms) */
  maxMs: number;
  /** memory an input may keep while its result is alive: fixed + perChar × its length */
  fixedBytes: number;
  perChar: number;
}

/** inputs this long or longer have their kept memory measured after a collection */
const PRECISE_FROM = 16_000;

export const LIMITS: FuzzLimits = { maxMs: 2000, fixedBytes: 24 << 20, perChar: 256 };

/** What a run saw, for the test's report. */
export interface FuzzReport {
  inputs: number;
  rejected: number;
  accepted: number;
  slowestMs: number;
  longestInput: number;
  /** inputs whose kept memory was measured after a collection */
  measured: number;
  /** the most memory one of them kept (bytes), and its length */
  worstKept: { bytes: number; chars: number };
  /** growth of the process's peak resident memory over the run (MB) */
  peakRssGrowthMb: number;
  seconds: number;
}

/**
 * Run `parse` on every input `arb` makes: it returns a table (checked by `checkTable`) or
 * throws an `errorType` whose message starts with `name`. Time and memory are measured per
 * input; memory above the limit is measured again after a collection before it counts.
 */
export function fuzzReader<T extends { text: string }>(
  arb: fc.Arbitrary<T>,
  parse: (input: T) => Table,
  errorType: new (...args: never[]) => Error,
  name: string,
  runs: number,
): FuzzReport {
  const report: FuzzReport = { inputs: 0, rejected: 0, accepted: 0, slowestMs: 0, longestInput: 0, measured: 0, worstKept: { bytes: 0, chars: 0 }, peakRssGrowthMb: 0, seconds: 0 };
  const rss0 = process.resourceUsage().maxRSS;
  const start = performance.now();
  gc();
  let base = memory();
  fc.assert(
    fc.property(arb, (input) => {
      report.inputs++;
      report.longestInput = Math.max(report.longestInput, input.text.length);
      let result: Table | undefined;
      let error: unknown;
      const t0 = performance.now();
      try {
        result = parse(input);
      } catch (e) {
        error = e;
      }
      const ms = performance.now() - t0;
      report.slowestMs = Math.max(report.slowestMs, ms);
      if (ms > LIMITS.maxMs) throw new Error(`took ${ms.toFixed(0)} ms (limit ${LIMITS.maxMs}) on an input of ${input.text.length} characters`);
      if (error !== undefined) {
        report.rejected++;
        if (!(error instanceof errorType)) throw new Error(`threw ${(error as Error)?.name ?? typeof error}, not ${errorType.name}: ${String((error as Error)?.message ?? error)}`);
        expect(error.constructor).toBe(errorType);
        expect(error.message.startsWith(`${name}: `)).toBe(true);
        expect(error.message.length).toBeGreaterThan(name.length + 2);
        // a message names things, it does not echo the whole input
        expect(error.message.length).toBeLessThan(1000);
      } else {
        report.accepted++;
        checkTable(result!);
      }
      // memory kept with the result alive, measured after a collection for long inputs and
      // whenever the raw figure (garbage included) is over the limit
      const limit = LIMITS.fixedBytes + LIMITS.perChar * input.text.length;
      let kept = memory() - base;
      if (kept > limit || input.text.length >= PRECISE_FROM) {
        gc();
        kept = memory() - base;
        if (kept > limit) throw new Error(`kept ${(kept / 2 ** 20).toFixed(1)} MB for an input of ${input.text.length} characters (limit ${(limit / 2 ** 20).toFixed(1)} MB)`);
        report.measured++;
        if (kept > report.worstKept.bytes) report.worstKept = { bytes: kept, chars: input.text.length };
        result = undefined;
        gc();
        base = memory();
      }
    }),
    fuzzSettings(runs),
  );
  report.seconds = (performance.now() - start) / 1000;
  report.peakRssGrowthMb = (process.resourceUsage().maxRSS - rss0) / 1024;
  return report;
}

const TYPES: readonly ColumnType[] = ['number', 'int', 'string', 'date'];

/** A table as the readers promise it: typed, finite, no inherited members, missing cells listed. */
export function checkTable(t: Table): void {
  expect(new Set(t.columns).size).toBe(t.columns.length);
  // (a column named like an array index, '0', comes first among an object's keys)
  const sorted = [...t.columns].sort();
  expect(Object.keys(t.types).sort()).toEqual(sorted);
  for (const c of t.columns) expect(TYPES).toContain(t.types[c]);
  let nulls = 0;
  t.rows.forEach((row) => {
    expect(Object.keys(row).sort()).toEqual(sorted);
    expect('hasOwnProperty' in row && !Object.hasOwn(row, 'hasOwnProperty')).toBe(false);
    for (const c of t.columns) {
      const v: CellValue = row[c];
      if (v === null) {
        nulls++;
        continue;
      }
      const type = t.types[c];
      const ok =
        type === 'string'
          ? typeof v === 'string'
          : type === 'date'
            ? v instanceof Date && Number.isFinite(v.getTime())
            : typeof v === 'number' && Number.isFinite(v) && (type === 'number' || Number.isInteger(v));
      if (!ok) throw new Error(`column '${c}' (${type}) holds ${String(v)}`);
    }
  });
  expect(t.missing.length).toBe(nulls);
  for (const m of t.missing) expect(t.rows[m.row][m.column]).toBeNull();
}

/** Apply random edits (delete, insert, duplicate, cut) to a text. */
export function mutated(text: fc.Arbitrary<string>, insertions: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom('delete', 'insert', 'duplicate', 'cut', 'swap'), fc.nat(), fc.nat({ max: 40 }), insertions);
  return fc.tuple(text, fc.array(edit, { maxLength: 4 })).map(([t, edits]) => {
    let s = t;
    for (const [op, at, len, ins] of edits) {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      if (op === 'delete') s = s.slice(0, i) + s.slice(i + len);
      else if (op === 'insert') s = s.slice(0, i) + ins + s.slice(i);
      else if (op === 'duplicate') s = s.slice(0, i + len) + s.slice(i, i + len) + s.slice(i + len);
      else if (op === 'cut') s = s.slice(0, i);
      else if (op === 'swap' && i + 1 < s.length) s = s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
    }
    return s;
  });
}

/** A template repeated up to `maxTimes` times, `#` standing for the repeat's index: wide headers, many distinct keys. */
export function repeated(template: fc.Arbitrary<string>, maxTimes: number): fc.Arbitrary<string> {
  return fc.tuple(template, fc.integer({ min: 1, max: maxTimes })).map(([t, n]) => Array.from({ length: n }, (_, i) => t.replaceAll('#', String(i))).join(''));
}
