import { formatShape, isTensor, type Tensor } from '@ml/tensor';

/** A sequence of numbers: a plain or typed array, or a 1-D tensor (`[n]` or `[n, 1]`). */
export type Values = ArrayLike<number> | Tensor;

/** Rows of numbers: an array of rows (`number[][]`) or a 2-D tensor `[n, d]`. */
export type Rows = ReadonlyArray<ArrayLike<number>> | Tensor;

/** `values` as a fresh `number[]`; tensors are read with `dataSync()`. */
export function toNumbers(values: Values, name: string): number[] {
  if (isTensor(values)) {
    const extra = values.shape.filter((d, i) => i > 0 && d !== 1);
    if (values.shape.length === 0 || extra.length > 0) {
      throw new Error(`${name}: expected a 1-D tensor ([n] or [n, 1]), got shape ${formatShape(values.shape)}`);
    }
    return Array.from(values.dataSync(), Number);
  }
  if (values == null || typeof values.length !== 'number') {
    throw new Error(`${name}: expected an array of numbers or a Tensor, got ${describe(values)}`);
  }
  return Array.from(values, Number);
}

/** `rows` as `number[][]`, every row of length `width` (a tensor must be `[n, width]`). */
export function toRows(rows: Rows, width: number, name: string): number[][] {
  if (isTensor(rows)) {
    if (rows.shape.length !== 2 || rows.shape[1] !== width) {
      throw new Error(`${name}: expected a tensor of shape [n, ${width}], got ${formatShape(rows.shape)}`);
    }
    const flat = rows.dataSync();
    const out: number[][] = [];
    for (let i = 0; i < rows.shape[0]; i++) out.push(Array.from(flat.subarray(i * width, (i + 1) * width), Number));
    return out;
  }
  if (rows == null || typeof rows.length !== 'number') {
    throw new Error(`${name}: expected an array of rows or a Tensor, got ${describe(rows)}`);
  }
  return Array.from(rows, (row, i) => {
    if (row == null || row.length !== width) {
      throw new Error(`${name}: row ${i} has ${row == null ? 'no' : row.length} values, expected ${width}`);
    }
    return Array.from(row, Number);
  });
}

/** A square matrix `[k, k]` from rows or a tensor; `name` appears in errors. */
export function toSquare(matrix: Rows, name: string): number[][] {
  if (isTensor(matrix)) {
    if (matrix.shape.length !== 2 || matrix.shape[0] !== matrix.shape[1]) {
      throw new Error(`${name}: expected a square matrix [k, k], got shape ${formatShape(matrix.shape)}`);
    }
    return toRows(matrix, matrix.shape[1], name);
  }
  const k = matrix.length;
  for (let i = 0; i < k; i++) {
    if (matrix[i]?.length !== k) {
      throw new Error(`${name}: expected a square matrix [k, k]: ${k} rows, but row ${i} has ${matrix[i]?.length ?? 0} values`);
    }
  }
  return toRows(matrix, k, name);
}

export function checkSameLength(a: readonly unknown[], aName: string, b: readonly unknown[], bName: string, op: string): void {
  if (a.length !== b.length) {
    throw new Error(`${op}: ${aName} has ${a.length} values but ${bName} has ${b.length}; they must have the same length`);
  }
}

export function checkNonEmpty(a: readonly unknown[], name: string, op: string): void {
  if (a.length === 0) throw new Error(`${op}: ${name} is empty`);
}

/** A closed interval `[lo, hi]` with finite ends and lo < hi. */
export function checkRange(r: readonly [number, number], name: string, op: string): void {
  if (!Array.isArray(r) || r.length !== 2 || !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || !(r[0] < r[1])) {
    throw new Error(`${op}: ${name} must be [lo, hi] with finite lo < hi, got ${JSON.stringify(r)}`);
  }
}

export function checkPositiveInt(n: number, name: string, op: string, min = 1): void {
  if (!Number.isInteger(n) || n < min) throw new Error(`${op}: ${name} must be an integer ≥ ${min}, got ${n}`);
}

/** min and max of the finite values (NaN/±∞ are ignored); undefined when none is finite. */
export function extent(values: readonly number[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
