import { checkOptions, type DType, fromArray, optionKeys, type Tensor } from '@ml/tensor';

/** How a column's values are read: floats, integers, text, or dates. */
export type ColumnType = 'number' | 'int' | 'string' | 'date';
export type CellValue = number | string | Date | null;

/** A cell with no value: where it is, so it can be filled or dropped on purpose. */
export interface MissingCell {
  /** 0-based data row (the header is not a row) */
  row: number;
  column: string;
  /** 1-based line in a CSV file, or undefined for JSON records */
  line?: number;
}

/** Rows of typed values, as `readCsv` and `readJsonRecords` return them. */
export interface Table {
  columns: string[];
  types: Record<string, ColumnType>;
  /**
   * one object per row; a missing value is null (and listed in `missing`). Rows (and
   * `types`) have no `Object.prototype` members: a column may be named `toString` or
   * `__proto__`, and only columns are properties.
   */
  rows: Record<string, CellValue>[];
  missing: MissingCell[];
}

const INT = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** @internal */
export const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const COLUMN_TYPES: readonly ColumnType[] = ['number', 'int', 'string', 'date'];

/**
 * Rows (and `types`) inherit from this empty, frozen object without a prototype: a column
 * may be named `toString`, `constructor` or `__proto__` and is an own property like any
 * other, and nothing inherited reads as a column. (Objects made by `Object.create(null)`
 * itself are dictionaries in V8: three times the memory and time of these.)
 */
const NO_MEMBERS: object = Object.freeze(Object.create(null) as object);

/** @internal an object for user-named keys: no Object.prototype members */
export function keyed<T>(): Record<string, T> {
  return Object.create(NO_MEMBERS) as Record<string, T>;
}

/** @internal a plain object (or a table row): fields by name, nothing else */
export function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null || proto === NO_MEMBERS;
}

/** @internal `record[key]` when the key is the record's own (never an inherited member) */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** @internal the problem with a `types` option, or null: every type one of the four */
export function badTypes(types: Readonly<Record<string, unknown>> | undefined): string | null {
  for (const k of Object.keys(types ?? {})) {
    const t = types![k];
    if (!COLUMN_TYPES.includes(t as ColumnType)) return `types gives ${named(k)} the type ${typeof t === 'string' ? quoted(t) : String(t)}; expected one of ${COLUMN_TYPES.join(', ')}`;
  }
  return null;
}

/** @internal a text in quotes for a message, cut after 40 characters */
export function quoted(text: string): string {
  return text.length > 40 ? `${JSON.stringify(text.slice(0, 40)).slice(0, -1)}…"` : JSON.stringify(text);
}

/** @internal a column name in quotes for a message, cut after 60 characters */
export function named(name: string): string {
  return `'${name.length > 60 ? `${name.slice(0, 60)}…` : name}'`;
}

/** @internal names for a message: the first ten, and how many in all */
export function nameList(names: readonly string[]): string {
  const first = names.slice(0, 10).map((n) => (n.length > 60 ? `${n.slice(0, 60)}…` : n));
  return names.length > 10 ? `${first.join(', ')}, … (${names.length} in all)` : first.join(', ');
}

/** @internal the type every (non-missing) text value of a column fits, narrowest first */
export function inferType(values: Iterable<string>): ColumnType {
  let isInt = true;
  let isNumber = true;
  let isDate = true;
  let any = false;
  for (const raw of values) {
    const v = raw.trim();
    any = true;
    if (isInt && !(INT.test(v) && Number.isSafeInteger(Number(v)))) isInt = false;
    if (isNumber && !NUMBER.test(v)) isNumber = false;
    if (isDate && !ISO_DATE.test(v)) isDate = false;
    if (!isInt && !isNumber && !isDate) return 'string';
  }
  if (!any) return 'string';
  return isInt ? 'int' : isNumber ? 'number' : isDate ? 'date' : 'string';
}

/** @internal the message for a number beyond float64 */
export const BEYOND_FLOAT64 = 'beyond the range of a float64 (±1.8e308';

/**
 * @internal Parse one text value as `type`; returns an Error message instead of a value
 * when it does not fit. A number beyond float64's range (1e999, 400 digits) does not fit:
 * it would be ±Infinity.
 */
export function parseValue(raw: string, type: ColumnType): CellValue | { error: string } {
  const v = raw.trim();
  switch (type) {
    case 'string':
      return raw;
    case 'int':
      if (!INT.test(v) || !Number.isSafeInteger(Number(v))) return { error: `${quoted(raw)} is not an integer` };
      return Number(v);
    case 'number': {
      if (!NUMBER.test(v)) return { error: `${quoted(raw)} is not a number` };
      const n = Number(v);
      if (!Number.isFinite(n)) return { error: `${quoted(raw)} is ${BEYOND_FLOAT64}; it would read as Infinity)` };
      return n;
    }
    case 'date': {
      const iso = ISO_DATE.exec(v);
      // ISO dates and times without a zone are read as UTC, so a file means the same everywhere
      const ms = iso ? Date.parse(iso[1] === undefined && v.length > 10 ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T')) : Date.parse(v);
      if (Number.isNaN(ms)) return { error: `${quoted(raw)} is not a date` };
      return new Date(ms);
    }
  }
}

const RANGES: Partial<Record<DType, { min: number; max: number; text: string; fix: string }>> = {
  float32: { min: -3.4028234663852886e38, max: 3.4028234663852886e38, text: '±3.4e38', fix: "pass dtype: 'float64', or scale the column" },
  int32: { min: -2147483648, max: 2147483647, text: '-2147483648..2147483647', fix: 'scale or re-code the column' },
};

export interface ToTensorsOptions {
  /** columns of x, in order (number or int columns) */
  features: readonly string[];
  /** column of y: int → int32, number → float32, string → int32 class indices (see `classes`) */
  target?: string;
  /** dtype of x (default float32) */
  dtype?: DType;
  /** drop rows with a missing value in a used column instead of throwing (default false) */
  dropMissing?: boolean;
}

const TO_TENSORS_KEYS = optionKeys<ToTensorsOptions>()(['features', 'target', 'dtype', 'dropMissing']);

/** @internal check `options` of `tableToTensors` (or `csvToTensors`, under its own name) */
export function checkToTensorsOptions(op: string, options: unknown): void {
  checkOptions(op, options, TO_TENSORS_KEYS, { columns: 'features', label: 'target', labels: 'target', y: 'target', dropna: 'dropMissing' });
  if (options === undefined || options === null) throw new TypeError(`${op}: options with features are required, e.g. { features: ['a', 'b'], target: 'y' }`);
}

export interface TableTensors {
  /** [rows, features] */
  x: Tensor;
  /** [rows], when a target was given */
  y?: Tensor;
  /** the table rows the tensors hold, in order (all of them unless dropMissing dropped some) */
  rows: Int32Array;
  /** for a string target: the class names, sorted; y holds indices into this list */
  classes?: string[];
}

/**
 * Feature matrix and target vector from a table (`readCsv`, `readJsonRecords`):
 * `tableToTensors(cars, { features: ['Horsepower', 'Weight_in_lbs'], target: 'Miles_per_Gallon', dropMissing: true })`.
 * Missing values in the chosen columns throw unless `dropMissing` is set.
 */
export function tableToTensors(table: Table, options: ToTensorsOptions & { target: string }): TableTensors & { y: Tensor };
export function tableToTensors(table: Table, options: ToTensorsOptions): TableTensors;
export function tableToTensors(table: Table, options: ToTensorsOptions): TableTensors {
  const op = 'tableToTensors';
  checkToTensorsOptions(op, options);
  const { features, target } = options;
  if (features.length === 0) throw new Error(`${op}: features must name at least one column`);
  const used = target === undefined ? [...features] : [...features, target];
  const known = new Set(table.columns);
  for (const c of used) {
    if (!known.has(c)) throw new Error(`${op}: no column ${named(c)} (columns: ${nameList(table.columns)})`);
  }
  for (const c of features) {
    const t = own(table.types, c);
    if (t === 'string') throw new Error(`${op}: feature ${named(c)} is a string column; encode it as numbers first (e.g. one column per category)`);
    if (t === 'date') throw new Error(`${op}: feature ${named(c)} is a date column; turn it into numbers first (e.g. day of year, or getTime())`);
  }
  const targetType = target === undefined ? undefined : own(table.types, target);
  if (targetType === 'date') throw new Error(`${op}: target ${named(target!)} is a date column; turn it into numbers first`);

  const usedSet = new Set(used);
  const badRows = new Set<number>();
  const firstBad: MissingCell[] = [];
  for (const m of table.missing) {
    if (!usedSet.has(m.column)) continue;
    badRows.add(m.row);
    if (firstBad.length < 3) firstBad.push(m);
  }
  if (badRows.size > 0 && !options.dropMissing) {
    const where = firstBad.map((m) => `row ${m.row}${m.line !== undefined ? ` (line ${m.line})` : ''} column ${named(m.column)}`).join('; ');
    throw new Error(`${op}: ${badRows.size} rows have missing values in the chosen columns (${where}${badRows.size > 3 ? '; …' : ''}); pass dropMissing: true to drop them, or fill them first`);
  }
  const keptRows: number[] = [];
  for (let r = 0; r < table.rows.length; r++) if (!badRows.has(r)) keptRows.push(r);

  // a value the tensor cannot hold (Infinity, NaN, 1e39 as float32, 3e9 as int32) is refused
  // here, by row and column, instead of reaching training as Infinity or a wrapped integer
  const dtype = options.dtype ?? 'float32';
  const numberAt = (r: number, c: string, to: DType): number => {
    const v = own(table.rows[r], c);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`${op}: row ${r} column ${named(c)} holds ${typeof v === 'string' ? quoted(v) : String(v)}, not a finite number`);
    }
    const range = RANGES[to];
    if (range !== undefined && !(v >= range.min && v <= range.max)) {
      throw new Error(`${op}: row ${r} column ${named(c)} holds ${v}, beyond the range of ${to} (${range.text}); ${range.fix}`);
    }
    return v;
  };
  const n = keptRows.length;
  const f = features.length;
  const xs = new Float64Array(n * f);
  keptRows.forEach((r, i) => {
    for (let j = 0; j < f; j++) xs[i * f + j] = numberAt(r, features[j], dtype);
  });
  const out: TableTensors = { x: fromArray(xs, [n, f], { dtype }), rows: Int32Array.from(keptRows) };
  if (target !== undefined) {
    if (targetType === 'string') {
      const labelAt = (r: number): string => own(table.rows[r], target) as string;
      const classes = [...new Set(keptRows.map(labelAt))].sort();
      const index = new Map(classes.map((c, i) => [c, i]));
      out.y = fromArray(Int32Array.from(keptRows, (r) => index.get(labelAt(r))!), [n], { dtype: 'int32' });
      out.classes = classes;
    } else {
      const to: DType = targetType === 'int' ? 'int32' : 'float32';
      const values = Float64Array.from(keptRows, (r) => numberAt(r, target, to));
      out.y = fromArray(values, [n], { dtype: to });
    }
  }
  return out;
}
