import { type DType, fromArray, type Tensor } from '@ml/tensor';

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
  /** one object per row; a missing value is null (and listed in `missing`) */
  rows: Record<string, CellValue>[];
  missing: MissingCell[];
}

const INT = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

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

/**
 * @internal Parse one text value as `type`; returns an Error message instead of a value
 * when it does not fit.
 */
export function parseValue(raw: string, type: ColumnType): CellValue | { error: string } {
  const v = raw.trim();
  switch (type) {
    case 'string':
      return raw;
    case 'int':
      if (!INT.test(v) || !Number.isSafeInteger(Number(v))) return { error: `${JSON.stringify(raw)} is not an integer` };
      return Number(v);
    case 'number':
      if (!NUMBER.test(v)) return { error: `${JSON.stringify(raw)} is not a number` };
      return Number(v);
    case 'date': {
      const iso = ISO_DATE.exec(v);
      // ISO dates and times without a zone are read as UTC, so a file means the same everywhere
      const ms = iso ? Date.parse(iso[1] === undefined && v.length > 10 ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T')) : Date.parse(v);
      if (Number.isNaN(ms)) return { error: `${JSON.stringify(raw)} is not a date` };
      return new Date(ms);
    }
  }
}

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
  const { features, target } = options;
  if (features.length === 0) throw new Error(`${op}: features must name at least one column`);
  const used = target === undefined ? [...features] : [...features, target];
  for (const c of used) {
    if (!table.columns.includes(c)) throw new Error(`${op}: no column '${c}' (columns: ${table.columns.join(', ')})`);
  }
  for (const c of features) {
    const t = table.types[c];
    if (t === 'string') throw new Error(`${op}: feature '${c}' is a string column; encode it as numbers first (e.g. one column per category)`);
    if (t === 'date') throw new Error(`${op}: feature '${c}' is a date column; turn it into numbers first (e.g. day of year, or getTime())`);
  }
  if (target !== undefined && table.types[target] === 'date') throw new Error(`${op}: target '${target}' is a date column; turn it into numbers first`);

  const usedSet = new Set(used);
  const badRows = new Set<number>();
  const firstBad: MissingCell[] = [];
  for (const m of table.missing) {
    if (!usedSet.has(m.column)) continue;
    badRows.add(m.row);
    if (firstBad.length < 3) firstBad.push(m);
  }
  if (badRows.size > 0 && !options.dropMissing) {
    const where = firstBad.map((m) => `row ${m.row}${m.line !== undefined ? ` (line ${m.line})` : ''} column '${m.column}'`).join('; ');
    throw new Error(`${op}: ${badRows.size} rows have missing values in the chosen columns (${where}${badRows.size > 3 ? '; …' : ''}); pass dropMissing: true to drop them, or fill them first`);
  }
  const keptRows: number[] = [];
  for (let r = 0; r < table.rows.length; r++) if (!badRows.has(r)) keptRows.push(r);

  const n = keptRows.length;
  const f = features.length;
  const xs = new Float64Array(n * f);
  keptRows.forEach((r, i) => {
    const row = table.rows[r];
    for (let j = 0; j < f; j++) xs[i * f + j] = row[features[j]] as number;
  });
  const out: TableTensors = { x: fromArray(xs, [n, f], { dtype: options.dtype ?? 'float32' }), rows: Int32Array.from(keptRows) };
  if (target !== undefined) {
    const type = table.types[target];
    if (type === 'string') {
      const classes = [...new Set(keptRows.map((r) => table.rows[r][target] as string))].sort();
      const index = new Map(classes.map((c, i) => [c, i]));
      out.y = fromArray(Int32Array.from(keptRows, (r) => index.get(table.rows[r][target] as string)!), [n], { dtype: 'int32' });
      out.classes = classes;
    } else {
      const values = Float64Array.from(keptRows, (r) => table.rows[r][target] as number);
      out.y = fromArray(values, [n], { dtype: type === 'int' ? 'int32' : 'float32' });
    }
  }
  return out;
}
