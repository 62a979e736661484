import { checkOptions, optionKeys, type Tensor } from '@ml/tensor';
import { type Info, parse } from '#csv-parse';
import {
  badTypes,
  checkToTensorsOptions,
  type CellValue,
  type ColumnType,
  inferType,
  keyed,
  type MissingCell,
  named,
  nameList,
  own,
  parseValue,
  type Table,
  type TableTensors,
  tableToTensors,
  type ToTensorsOptions,
} from './table.js';

/** A CSV file that cannot be read as asked; the message names the file, line and column. */
export class CsvError extends Error {
  override name = 'CsvError';
  constructor(
    message: string,
    /** the file (or 'CSV text') */
    readonly file: string,
    /** 1-based line the problem is on, when known */
    readonly line?: number,
    /** the column, when known */
    readonly column?: string,
  ) {
    super(message);
  }
}

export interface CsvOptions {
  /**
   * With a header: keep only these columns, in this order. Without one: the column names
   * (default column0, column1, …).
   */
  columns?: readonly string[];
  /** column types; columns not listed are inferred (int, number, date as ISO yyyy-mm-dd, else string) */
  types?: Readonly<Record<string, ColumnType>>;
  /** the first line names the columns (default true) */
  header?: boolean;
  /** field separator (default ',') */
  delimiter?: string;
  /**
   * cell texts that mean "no value" (default '', NA, N/A, NaN, nan, null, NULL); other texts
   * in a number column must be finite numbers (Infinity is not one)
   */
  missing?: readonly string[];
  /** the name errors use for text input (default 'CSV text') */
  name?: string;
}

/** @internal the keys of CsvOptions */
export const CSV_KEYS = optionKeys<CsvOptions>()(['columns', 'types', 'header', 'delimiter', 'missing', 'name']);
/** @internal pandas' and d3's names for ours */
export const CSV_ALIASES = { sep: 'delimiter', usecols: 'columns', names: 'columns', dtype: 'types', na_values: 'missing', naValues: 'missing' };

const DEFAULT_MISSING = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL'];

interface ParsedRecord {
  fields: string[];
  line: number;
}

interface CsvParseError {
  code?: string;
  message: string;
  lines?: number;
  column?: number | string;
}

/** `readCsv` for text already in memory. */
export function parseCsv(text: string, options: CsvOptions = {}): Table {
  checkOptions('parseCsv', options, CSV_KEYS, CSV_ALIASES);
  const file = options.name ?? 'CSV text';
  const header = options.header ?? true;
  const missingTokens = new Set(options.missing ?? DEFAULT_MISSING);
  const badType = badTypes(options.types);
  if (badType !== null) throw new CsvError(`${file}: ${badType}`, file);
  if (options.columns) {
    const dup = firstDuplicate(options.columns);
    if (dup) throw new CsvError(`${file}: columns names ${named(dup.name)} twice (entries ${dup.first + 1} and ${dup.second + 1})`, file, undefined, dup.name);
  }
  const records = parseRecords(text, file, options.delimiter ?? ',');

  let names: string[];
  let body: ParsedRecord[];
  if (header) {
    if (records.length === 0) throw new CsvError(`${file}: the file is empty (expected a header line)`, file);
    const line = records[0].line;
    names = records[0].fields.map((s) => s.trim());
    body = records.slice(1);
    const seen = new Map<string, number>();
    names.forEach((nm, i) => {
      if (nm === '') throw new CsvError(`${file}: line ${line}: column ${i + 1} of the header has no name`, file, line);
      const j = seen.get(nm);
      if (j !== undefined) throw new CsvError(`${file}: line ${line}: the header names column ${named(nm)} twice (columns ${j + 1} and ${i + 1})`, file, line, nm);
      seen.set(nm, i);
    });
  } else {
    const width = records[0]?.fields.length ?? options.columns?.length ?? 0;
    names = options.columns ? [...options.columns] : Array.from({ length: width }, (_, i) => `column${i}`);
    if (options.columns && records.length > 0 && options.columns.length !== width) {
      throw new CsvError(`${file}: ${options.columns.length} column names given but line ${records[0].line} has ${width} fields`, file, records[0].line);
    }
    body = records;
  }

  // every row must have exactly one field per column
  for (const r of body) {
    if (r.fields.length !== names.length) {
      const few = r.fields.length < names.length;
      const col = few ? names[r.fields.length] : undefined;
      throw new CsvError(
        few
          ? `${file}: line ${r.line}: ${r.fields.length} fields where the header has ${names.length}; column ${named(col!)} and after are absent`
          : `${file}: line ${r.line}: ${r.fields.length} fields where the header has ${names.length}; extra field(s) after column ${named(names[names.length - 1] ?? '')}`,
        file,
        r.line,
        col,
      );
    }
  }

  let keep = names.map((_, i) => i);
  if (header && options.columns) {
    const at = new Map(names.map((nm, i) => [nm, i]));
    keep = options.columns.map((c) => {
      const i = at.get(c);
      if (i === undefined) throw new CsvError(`${file}: no column ${named(c)} (the header has ${nameList(names)})`, file, undefined, c);
      return i;
    });
  }
  const columns = keep.map((i) => names[i]);
  const columnSet = new Set(columns);
  for (const c of Object.keys(options.types ?? {})) {
    if (!columnSet.has(c)) throw new CsvError(`${file}: types names column ${named(c)}, which is not among ${nameList(columns)}`, file, undefined, c);
  }

  const types = keyed<ColumnType>();
  const typeList = columns.map((name, k) => {
    const type = own(options.types, name) ?? inferType(presentValues(body, keep[k], missingTokens));
    types[name] = type;
    return type;
  });

  const rows: Record<string, CellValue>[] = [];
  const missing: MissingCell[] = [];
  body.forEach((r, rowIndex) => {
    const row = keyed<CellValue>();
    for (let k = 0; k < columns.length; k++) {
      const name = columns[k];
      const raw = r.fields[keep[k]];
      if (missingTokens.has(raw.trim())) {
        row[name] = null;
        missing.push({ row: rowIndex, column: name, line: r.line });
        continue;
      }
      const v = parseValue(raw, typeList[k]);
      if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
        throw new CsvError(`${file}: line ${r.line}, column ${named(name)} (${typeList[k]}): ${v.error}`, file, r.line, name);
      }
      row[name] = v;
    }
    rows.push(row);
  });
  return { columns, types, rows, missing };
}

/** The first name given twice, in one pass. */
function firstDuplicate(names: readonly string[]): { name: string; first: number; second: number } | null {
  const seen = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const j = seen.get(names[i]);
    if (j !== undefined) return { name: names[i], first: j, second: i };
    seen.set(names[i], i);
  }
  return null;
}

function* presentValues(body: readonly ParsedRecord[], i: number, missing: ReadonlySet<string>): Generator<string> {
  for (const r of body) {
    const v = r.fields[i];
    if (!missing.has(v.trim())) yield v;
  }
}

function parseRecords(text: string, file: string, delimiter: string): ParsedRecord[] {
  // one line-break convention, so csv-parse's line counts are exact
  const src = text.replace(/\r\n?/g, '\n');
  let parsed: { record: string[]; info: Info }[];
  try {
    // with info: true each entry is { record, info } (the typings only know plain records)
    parsed = parse(src, { bom: true, delimiter, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof parsed;
  } catch (e) {
    const err = e as CsvParseError;
    const line = typeof err.lines === 'number' ? err.lines : undefined;
    throw new CsvError(`${file}: ${line !== undefined ? `line ${line}: ` : ''}${err.message}`, file, line);
  }
  return parsed.map(({ record, info }) => {
    // info.lines is the line the record ends on; quoted line breaks push it past the start
    let breaks = 0;
    for (const f of record) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) breaks++;
    return { fields: record, line: info.lines - breaks };
  });
}

/** Feature and target tensors from a CSV table; the same as `tableToTensors`. */
export function csvToTensors(table: Table, options: ToTensorsOptions & { target: string }): TableTensors & { y: Tensor };
export function csvToTensors(table: Table, options: ToTensorsOptions): TableTensors;
export function csvToTensors(table: Table, options: ToTensorsOptions): TableTensors {
  checkToTensorsOptions('csvToTensors', options);
  return tableToTensors(table, options);
}
