import { checkOptions, optionKeys } from '@ml/tensor';
import { badTypes, BEYOND_FLOAT64, type CellValue, type ColumnType, ISO_DATE, keyed, type MissingCell, named, nameList, own, parseValue, quoted, type Table } from './table.js';

/** A JSON file that is malformed or not a list of flat records; names the file and where. */
export class JsonError extends Error {
  override name = 'JsonError';
  constructor(
    message: string,
    readonly file: string,
    /** character offset of a syntax error */
    readonly position?: number,
    /** 0-based record index of a bad value */
    readonly record?: number,
  ) {
    super(message);
  }
}

export interface JsonRecordsOptions {
  /** column types; columns not listed are inferred from the values */
  types?: Readonly<Record<string, ColumnType>>;
  /** the name errors use for text input (default 'JSON text') */
  name?: string;
  /**
   * The most cells (records × distinct fields) the table may have; a field absent from a
   * record is a cell too (null, listed in `missing`). Default: 2 per character of the text,
   * at least 100,000 — every table with at least one cell in ten present is within it, while
   * a small file whose records each bring new fields cannot fill the memory with absent cells.
   */
  maxCells?: number;
}

/** @internal the keys of JsonRecordsOptions */
export const JSON_RECORDS_KEYS = optionKeys<JsonRecordsOptions>()(['types', 'name', 'maxCells']);

/** @internal the default `maxCells` for a text of `length` characters */
export function defaultMaxCells(length: number): number {
  return Math.max(100_000, 2 * length);
}

/** What the first pass learns of a column, from its present values. */
interface ColumnState {
  /** the kind of the values so far (null before the first present value) */
  kind: 'number' | 'string' | 'boolean' | null;
  allInt: boolean;
  /** every string an ISO date (yyyy-mm-dd…) */
  allDates: boolean;
}

/** `readJsonRecords` for text already in memory. */
export function parseJsonRecords(text: string, options: JsonRecordsOptions = {}): Table {
  checkOptions('parseJsonRecords', options, JSON_RECORDS_KEYS, { dtype: 'types' });
  const file = options.name ?? 'JSON text';
  const badType = badTypes(options.types);
  if (badType !== null) throw new JsonError(`${file}: ${badType}`, file);
  if (options.maxCells !== undefined && !(options.maxCells >= 0)) throw new JsonError(`${file}: maxCells is ${String(options.maxCells)}; expected a number ≥ 0 (or Infinity)`, file);
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let data: unknown;
  try {
    data = JSON.parse(src);
  } catch (e) {
    const at = locateJsonError(src);
    if (at) {
      const { line, column } = lineColumn(src, at.offset);
      throw new JsonError(`${file}: malformed JSON at line ${line}, column ${column} (position ${at.offset}): ${at.problem}`, file, at.offset);
    }
    throw new JsonError(`${file}: malformed JSON: ${(e as Error).message}`, file);
  }
  if (!Array.isArray(data)) {
    throw new JsonError(`${file}: expected an array of records at the top level, got ${data === null ? 'null' : typeof data}`, file);
  }

  // one pass over the present fields: columns in first-seen order, each one's kind of values
  const state = new Map<string, ColumnState>();
  let present = 0;
  data.forEach((rec: unknown, i) => {
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
      throw new JsonError(`${file}: record ${i} is ${Array.isArray(rec) ? 'an array' : rec === null ? 'null' : `a ${typeof rec}`}, expected an object`, file, undefined, i);
    }
    // JSON.parse makes every field an own property, "__proto__" included
    for (const k of Object.keys(rec)) {
      const v = (rec as Record<string, unknown>)[k];
      if (typeof v === 'object' && v !== null) throw new JsonError(`${file}: record ${i}, field ${named(k)} holds ${Array.isArray(v) ? 'an array' : 'an object'}; records must be flat`, file, undefined, i);
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new JsonError(`${file}: record ${i}, field ${named(k)}: a number ${BEYOND_FLOAT64}; it reads as Infinity)`, file, undefined, i);
      }
      let s = state.get(k);
      if (s === undefined) {
        s = { kind: null, allInt: true, allDates: true };
        state.set(k, s);
      }
      if (v === null) continue;
      present++;
      const kind = typeof v as 'number' | 'string' | 'boolean';
      if (s.kind !== null && kind !== s.kind && own(options.types, k) === undefined) {
        throw new JsonError(
          `${file}: field ${named(k)} mixes ${s.kind}s and ${kind}s (record ${i} has ${typeof v === 'string' ? quoted(v) : String(v)}); pass types: { ${JSON.stringify(k)}: 'string' } (or 'number') to read it one way`,
          file,
          undefined,
          i,
        );
      }
      s.kind = kind;
      if (kind === 'number' && !Number.isInteger(v)) s.allInt = false;
      if (kind === 'string' && s.allDates && !ISO_DATE.test((v as string).trim())) s.allDates = false;
    }
  });
  const records = data as Record<string, unknown>[];
  const columns = [...state.keys()];
  for (const c of Object.keys(options.types ?? {})) {
    if (!state.has(c)) throw new JsonError(`${file}: types names field ${named(c)}, which no record has (fields: ${nameList(columns)})`, file);
  }

  // absent fields are cells too: bound them before making any
  const cells = records.length * columns.length;
  const maxCells = options.maxCells ?? defaultMaxCells(src.length);
  if (cells > maxCells) {
    throw new JsonError(
      `${file}: ${records.length} records × ${columns.length} fields make ${cells} cells (${present} of them present), more than maxCells (${maxCells}); pass a larger maxCells to read it anyway`,
      file,
    );
  }

  const types = keyed<ColumnType>();
  const typeList = columns.map((c) => {
    const type = own(options.types, c) ?? typeFrom(state.get(c)!);
    types[c] = type;
    return type;
  });

  const missing: MissingCell[] = [];
  const rows = records.map((rec, i) => {
    const row = keyed<CellValue>();
    for (let k = 0; k < columns.length; k++) {
      const c = columns[k];
      const v = Object.hasOwn(rec, c) ? rec[c] : null;
      if (v === null || v === undefined) {
        row[c] = null;
        missing.push({ row: i, column: c });
        continue;
      }
      row[c] = convert(v, typeList[k], file, i, c);
    }
    return row;
  });
  return { columns, types, rows, missing };
}

function typeFrom(s: ColumnState): ColumnType {
  if (s.kind === 'boolean') return 'int';
  if (s.kind === 'number') return s.allInt ? 'int' : 'number';
  if (s.kind === 'string') return s.allDates ? 'date' : 'string';
  return 'string';
}

function convert(v: unknown, type: ColumnType, file: string, record: number, column: string): CellValue {
  const fail = (why: string): never => {
    throw new JsonError(`${file}: record ${record}, field ${named(column)} (${type}): ${why}`, file, undefined, record);
  };
  if (typeof v === 'boolean') return type === 'string' ? String(v) : type === 'date' ? fail(`${v} is not a date`) : v ? 1 : 0;
  if (typeof v === 'number') {
    if (type === 'string') return String(v);
    if (type === 'date') {
      const d = new Date(v);
      return Number.isNaN(d.getTime()) ? fail(`${v} is not a date (beyond ±8.64e15 ms from 1970)`) : d;
    }
    if (type === 'int' && !Number.isInteger(v)) fail(`${v} is not an integer`);
    return v;
  }
  if (typeof v === 'string') {
    const parsed = parseValue(v, type);
    if (parsed !== null && typeof parsed === 'object' && !(parsed instanceof Date)) return fail(parsed.error);
    return parsed;
  }
  return fail(`unsupported value ${String(v)}`);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * Where JSON text first breaks the grammar (RFC 8259), and what was expected there.
 * Run only after JSON.parse failed: Node's own messages do not always carry a position.
 */
/** @internal */
export function locateJsonError(text: string): { offset: number; problem: string } | null {
  let i = 0;
  const n = text.length;
  class Stop {
    constructor(
      readonly offset: number,
      readonly problem: string,
    ) {}
  }
  const fail = (problem: string, at = i): never => {
    throw new Stop(at, problem);
  };
  const found = (): string => (i >= n ? 'the end of the text' : JSON.stringify(text[i]));
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`expected a value, found ${found()}`);
  };
  const string = (): void => {
    i++; // opening quote
    while (true) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in a string (escape it, e.g. \\n)');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape: expected 4 hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(`bad escape \\${e ?? ''}`);
        continue;
      }
      i++;
    }
  };
  const number = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail(`expected a value, found ${found()}`);
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 2000) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      while (true) {
        ws();
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${found()}`);
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after the property name, found ${found()}`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}' in an object, found ${found()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      while (true) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']' in an array, found ${found()}`);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail(`expected a value, found ${found()}`);
  };
  try {
    value(0);
    ws();
    if (i < n) fail(`unexpected ${found()} after the JSON value`);
    return null;
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, problem: e.problem };
    throw e;
  }
}
