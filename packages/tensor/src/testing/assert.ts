/** The kit's assertions: they read tensors only through `await t.data()` and name the running case in every message. */
import { fromArray, Tensor, type DType, type NestedArray } from '../index.js';
import { checkOptions, optionKeys } from '../options.js';
import type { ConformanceCase } from './run.js';

export interface CloseOptions {
  /** absolute tolerance (default 1e-5 for float dtypes, 0 otherwise) */
  atol?: number;
  /** relative tolerance (default 1e-5 for float dtypes, 0 otherwise) */
  rtol?: number;
  /** check the dtype too */
  dtype?: DType;
  /** expected shape; default: the shape of the nested `expected` array (a number means 0-d) */
  shape?: readonly number[];
  /** extra context for failure messages */
  label?: string;
}

const CLOSE_KEYS = optionKeys<CloseOptions>()(['atol', 'rtol', 'dtype', 'shape', 'label']);

/** Thrown by the kit's assertions; the message starts with the case name. */
export class ConformanceError extends Error {
  override name = 'ConformanceError';
}

// ================================================================ assertions

let currentCase: string | null = null;

function context(label?: string): string {
  const head = currentCase ?? 'conformance';
  return label ? `${head} [${label}]` : head;
}

function fail(message: string, label?: string): never {
  throw new ConformanceError(`${context(label)}: ${message}`);
}

/** `[2,3]` — shapes in messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function inferShape(expected: NestedArray): number[] {
  const shape: number[] = [];
  let probe: NestedArray = expected;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  return shape;
}

function flattenExpected(expected: NestedArray, shape: readonly number[], label?: string): number[] {
  const out: number[] = [];
  const walk = (v: NestedArray, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) fail(`expected value is ragged at depth ${depth}`, label);
      out.push(typeof v === 'boolean' ? (v ? 1 : 0) : v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) fail(`expected value is ragged at depth ${depth}`, label);
    for (const e of v) walk(e, depth + 1);
  };
  walk(expected, 0);
  return out;
}

function multiIndex(flat: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  let rem = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = shape[d] === 0 ? 0 : rem % shape[d];
    rem = shape[d] === 0 ? 0 : Math.floor(rem / shape[d]);
  }
  return `[${idx.join(',')}]`;
}

function isFloatDType(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/**
 * Check `actual`'s shape (and dtype when given) and that every value is within
 * `atol + rtol·|expected|`; NaN matches NaN, ±Infinity must match exactly. Reads
 * through `await actual.data()` only.
 */
export async function assertClose(actual: Tensor, expected: NestedArray, options: CloseOptions = {}): Promise<void> {
  checkOptions('assertClose', options, CLOSE_KEYS);
  const { label } = options;
  if (!(actual instanceof Tensor)) fail(`expected a Tensor, got ${typeof actual}`, label);
  const shape = options.shape ? [...options.shape] : inferShape(expected);
  if (actual.shape.length !== shape.length || actual.shape.some((d, i) => d !== shape[i])) {
    fail(`shape mismatch: got ${fmtShape(actual.shape)}, expected ${fmtShape(shape)}`, label);
  }
  if (options.dtype !== undefined && actual.dtype !== options.dtype) {
    fail(`dtype mismatch: got ${actual.dtype}, expected ${options.dtype} (shape ${fmtShape(shape)})`, label);
  }
  const float = isFloatDType(actual.dtype);
  const atol = options.atol ?? (float ? 1e-5 : 0);
  const rtol = options.rtol ?? (float ? 1e-5 : 0);
  const size = shape.reduce((p, d) => p * d, 1);
  let want: number[];
  if (!Array.isArray(expected) && shape.length > 0) {
    // a single expected number broadcast over an explicitly given shape
    const v = typeof expected === 'boolean' ? (expected ? 1 : 0) : expected;
    want = new Array<number>(size).fill(v);
  } else {
    want = flattenExpected(expected, inferShape(expected), label);
    if (want.length !== size) fail(`expected value has ${want.length} elements, shape ${fmtShape(shape)} needs ${size}`, label);
  }
  const got = await actual.data();
  if (got.length !== size) fail(`data() returned ${got.length} values for shape ${fmtShape(shape)}`, label);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < size; i++) {
    const a = got[i];
    const e = want[i];
    const ok =
      a === e ||
      (Number.isNaN(a) && Number.isNaN(e)) ||
      (Number.isFinite(a) && Number.isFinite(e) && Math.abs(a - e) <= atol + rtol * Math.abs(e));
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    fail(
      `value mismatch at index ${multiIndex(first, shape)} (flat ${first}): got ${got[first]}, expected ${want[first]}` +
        ` (atol ${atol}, rtol ${rtol}, dtype ${actual.dtype}, shape ${fmtShape(shape)}; ${bad} of ${size} elements differ)`,
      label,
    );
  }
}

/** `fn` must throw an error whose message matches `pattern`; returns the error. */
export function assertThrows(fn: () => unknown, pattern: RegExp, label?: string): Error {
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!pattern.test(err.message)) fail(`expected an error matching ${pattern}, got ${err.name}: ${err.message}`, label);
    return err;
  }
  if (result instanceof Promise) {
    result.catch(() => undefined);
    fail(`expected a synchronous error matching ${pattern}, but the function returned a Promise (use assertRejects)`, label);
  }
  return fail(`expected an error matching ${pattern}, but nothing was thrown`, label);
}

/** `fn()` must return a promise that rejects with a message matching `pattern`. */
export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp, label?: string): Promise<Error> {
  let promise: Promise<unknown>;
  try {
    promise = fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return fail(`expected a rejected Promise matching ${pattern}, but the call threw synchronously: ${msg}`, label);
  }
  try {
    await promise;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!pattern.test(err.message)) fail(`expected a rejection matching ${pattern}, got ${err.name}: ${err.message}`, label);
    return err;
  }
  return fail(`expected a rejection matching ${pattern}, but the Promise resolved`, label);
}

/** Plain assertion with a case-named message. */
export function assert(condition: boolean, message: string, label?: string): asserts condition {
  if (!condition) fail(message, label);
}

/** Deterministic test data: ((i % mod) - shift) · scale in row-major order (mirrored in the NumPy fixtures). */
export function pattern(shape: readonly number[], mod: number, shift: number, scale: number, dtype: DType = 'float32'): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) values[i] = ((i % mod) - shift) * scale;
  return fromArray(values, shape, { dtype });
}

/** Wrap a case body so that assertion messages inside it start with the case name. */
export function named(name: string, body: () => Promise<void>): ConformanceCase {
  return {
    name,
    async run() {
      const prev = currentCase;
      currentCase = name;
      try {
        await body();
      } finally {
        currentCase = prev;
      }
    },
  };
}
