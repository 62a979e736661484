import { readFile } from 'node:fs/promises';
import { type CellValue, type ColumnType, inferType, type MissingCell, parseValue, type Table } from './table.js';

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
}

/**
 * Read a JSON file holding an array of flat records (`[{"a": 1, "b": "x"}, …]`) into the
 * same typed table as `readCsv`: columns in first-seen order, null or absent fields
 * reported in `missing`. Malformed JSON throws a `JsonError` with the file, line, column
 * and character position.
 */
export async function readJsonRecords(path: string, options: JsonRecordsOptions = {}): Promise<Table> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new JsonError(`${path}: cannot read the file (${(e as Error).message})`, path);
  }
  return parseJsonRecords(text, { ...options, name: options.name ?? path });
}

/** `readJsonRecords` for text already in memory. */
export function parseJsonRecords(text: string, options: JsonRecordsOptions = {}): Table {
  const file = options.name ?? 'JSON text';
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

  const columns: string[] = [];
  const seen = new Set<string>();
  data.forEach((rec: unknown, i) => {
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
      throw new JsonError(`${file}: record ${i} is ${Array.isArray(rec) ? 'an array' : rec === null ? 'null' : `a ${typeof rec}`}, expected an object`, file, undefined, i);
    }
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v === 'object' && v !== null) throw new JsonError(`${file}: record ${i}, field '${k}' holds ${Array.isArray(v) ? 'an array' : 'an object'}; records must be flat`, file, undefined, i);
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  });
  const records = data as Record<string, unknown>[];
  for (const c of Object.keys(options.types ?? {})) {
    if (!seen.has(c)) throw new JsonError(`${file}: types names field '${c}', which no record has (fields: ${columns.join(', ')})`, file);
  }

  const types: Record<string, ColumnType> = {};
  for (const c of columns) types[c] = options.types?.[c] ?? inferJsonType(records, c, file);

  const missing: MissingCell[] = [];
  const rows = records.map((rec, i) => {
    const row: Record<string, CellValue> = {};
    for (const c of columns) {
      const v = rec[c];
      if (v === null || v === undefined) {
        row[c] = null;
        missing.push({ row: i, column: c });
        continue;
      }
      row[c] = convert(v, types[c], file, i, c);
    }
    return row;
  });
  return { columns, types, rows, missing };
}

function inferJsonType(records: readonly Record<string, unknown>[], column: string, file: string): ColumnType {
  let kind: 'number' | 'string' | 'boolean' | null = null;
  let allInt = true;
  const strings: string[] = [];
  for (const [i, rec] of records.entries()) {
    const v = rec[column];
    if (v === null || v === undefined) continue;
    const k = typeof v as 'number' | 'string' | 'boolean';
    if (kind !== null && k !== kind) {
      throw new JsonError(
        `${file}: field '${column}' mixes ${kind}s and ${k}s (record ${i} has ${JSON.stringify(v)}); pass types: { ${JSON.stringify(column)}: 'string' } (or 'number') to read it one way`,
        file,
        undefined,
        i,
      );
    }
    kind = k;
    if (k === 'number' && !Number.isInteger(v)) allInt = false;
    if (k === 'string') strings.push(v as string);
  }
  if (kind === 'boolean') return 'int';
  if (kind === 'number') return allInt ? 'int' : 'number';
  if (kind === 'string') return inferType(strings) === 'date' ? 'date' : 'string';
  return 'string';
}

function convert(v: unknown, type: ColumnType, file: string, record: number, column: string): CellValue {
  const fail = (why: string): never => {
    throw new JsonError(`${file}: record ${record}, field '${column}' (${type}): ${why}`, file, undefined, record);
  };
  if (typeof v === 'boolean') return type === 'string' ? String(v) : type === 'date' ? fail(`${v} is not a date`) : v ? 1 : 0;
  if (typeof v === 'number') {
    if (type === 'string') return String(v);
    if (type === 'date') return new Date(v);
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
