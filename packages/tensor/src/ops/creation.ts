import type { Backend, DataId } from '../backend.js';
import { allocArray, assertDType, type DType, isFloat, toTypedArray, type TypedArray } from '../dtype.js';
import { getBackend } from '../engine.js';
import { rng } from '../random.js';
import { assertShape, fmt, ShapeError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { type NestedArray } from '../tensor.js';
import { fromData } from './prim.js';
import { checkOptions, optionKeys } from '../options.js';

export interface CreateOptions {
  dtype?: DType;
  /** make the result a leaf that gradients flow to */
  requiresGrad?: boolean;
  /** backend name; default: the current backend */
  backend?: string;
}

const CREATE_KEYS = optionKeys<CreateOptions>()(['dtype', 'requiresGrad', 'backend']);

/** The options of a creation function, checked: an unknown key throws naming `op`. */
function checkCreate(op: string, options: CreateOptions): void {
  checkOptions(op, options, CREATE_KEYS);
}

function backendOf(options: CreateOptions): Backend {
  return getBackend(options.backend);
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) {
    if (!isFloat(t.dtype)) throw new TypeError(`requiresGrad: only floating-point tensors can require gradients (got ${t.dtype})`);
    t.requiresGrad = true;
  }
  return t;
}

/** Make a tensor from typed-array data and a shape. */
export function fromArray(values: TypedArray | ArrayLike<number | boolean>, shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkCreate('fromArray', options);
  assertShape('fromArray', shape);
  const dtype = options.dtype ?? inferTypedDType(values);
  assertDType(dtype, 'fromArray');
  if (values.length !== sizeOf(shape)) {
    throw new ShapeError(`fromArray: ${values.length} values do not fill shape ${fmt(shape)} (${sizeOf(shape)} elements)`);
  }
  const b = backendOf(options);
  return finish(fromData(b, b.write(toTypedArray(values, dtype), dtype), shape, dtype), options);
}

function inferTypedDType(values: ArrayLike<number | boolean>): DType {
  if (values instanceof Float64Array) return 'float64';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof Uint8Array) return 'bool';
  if (values.length > 0 && typeof values[0] === 'boolean') return 'bool';
  return 'float32';
}

/**
 * A tensor from nested arrays (or a number). JS numbers carry no int/float distinction,
 * so numbers default to float32 (pass `dtype: 'int32'` for integers); booleans give bool.
 */
export function tensor(data: NestedArray | TypedArray, options: CreateOptions = {}): Tensor {
  checkCreate('tensor', options);
  if (ArrayBuffer.isView(data)) return fromArray(data as TypedArray, [data.length], options);
  const shape: number[] = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const flat: (number | boolean)[] = [];
  const walk = (v: NestedArray, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new ShapeError(`tensor: ragged nested array (expected a number at depth ${depth})`);
      if (typeof v !== 'number' && typeof v !== 'boolean') throw new TypeError(`tensor: expected numbers or booleans, got ${typeof v}`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ShapeError(`tensor: ragged nested array — expected length ${shape[depth]} at depth ${depth}, got ${Array.isArray(v) ? v.length : 'a scalar'}`);
    }
    for (const e of v) walk(e, depth + 1);
  };
  walk(data, 0);
  const dtype = options.dtype ?? (typeof probe === 'boolean' ? 'bool' : 'float32');
  return fromArray(flat, shape, { ...options, dtype });
}

/** A 0-d tensor. */
export function scalar(value: number | boolean, options: CreateOptions = {}): Tensor {
  checkCreate('scalar', options);
  return tensor(value, options);
}

export function full(shape: readonly number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  checkCreate('full', options);
  assertShape('full', shape);
  const dtype = options.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  assertDType(dtype, 'full');
  const b = backendOf(options);
  return finish(fromData(b, b.fill(sizeOf(shape), dtype, Number(value)), shape, dtype), options);
}
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkCreate('zeros', options);
  return full(shape, 0, options);
}
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkCreate('ones', options);
  return full(shape, 1, options);
}

function likeOptions(x: Tensor, options: CreateOptions): CreateOptions {
  return { dtype: x.dtype, backend: x.backend.name, ...options };
}
export function zerosLike(x: Tensor, options: CreateOptions = {}): Tensor {
  checkCreate('zerosLike', options);
  return zeros(x.shape, likeOptions(x, options));
}
export function onesLike(x: Tensor, options: CreateOptions = {}): Tensor {
  checkCreate('onesLike', options);
  return ones(x.shape, likeOptions(x, options));
}
export function fullLike(x: Tensor, value: number | boolean, options: CreateOptions = {}): Tensor {
  checkCreate('fullLike', options);
  return full(x.shape, value, likeOptions(x, options));
}
export function randLike(x: Tensor, options: CreateOptions = {}): Tensor {
  checkCreate('randLike', options);
  return rand(x.shape, likeOptions(x, options));
}
export function randnLike(x: Tensor, options: CreateOptions = {}): Tensor {
  checkCreate('randnLike', options);
  return randn(x.shape, likeOptions(x, options));
}

/**
 * Values from `start` to `end` (exclusive) by `step`; `arange(n)` is 0..n-1.
 * int32 when every argument is an integer, else float32 (PyTorch's rule).
 */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  checkCreate('arange', options);
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new RangeError('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = options.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const values = allocArray(dtype, n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return fromArray(values, [n], { ...options, dtype });
}

/** `steps` evenly spaced values from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  checkCreate('linspace', options);
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const dtype = options.dtype ?? 'float32';
  const values = allocArray(dtype, steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) values[i] = i === steps - 1 && steps > 1 ? end : start + i * step;
  return fromArray(values, [steps], { ...options, dtype });
}

/** Identity matrix n×m (m defaults to n). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkCreate('eye', options);
  assertShape('eye', [n, m]);
  const dtype = options.dtype ?? 'float32';
  const values = allocArray(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return fromArray(values, [n, m], { ...options, dtype });
}

/**
 * A new tensor whose elements `fill` writes: straight into the backend's host memory where
 * it has one (no staging array: a fresh array's first touch costs page faults, and the copy
 * a pass), else through an array handed to `write`. `onBackend` may make it on the
 * backend's own kernel first (null: it did not), as a dropout mask on the wasm kernel.
 */
function filledBy(op: string, shape: readonly number[], options: CreateOptions, fill: (out: TypedArray) => void, onBackend?: (b: Backend, n: number) => DataId | null): Tensor {
  assertShape(op, shape);
  const dtype = options.dtype ?? 'float32';
  assertDType(dtype, op);
  const b = backendOf(options);
  const n = sizeOf(shape);
  let data = onBackend?.(b, n) ?? null;
  if (data === null && b.hostArray !== undefined) {
    data = b.fill(n, dtype, 0);
    try {
      const host = b.hostArray(data);
      fill(host.length === n ? host : host.subarray(0, n));
    } catch (e) {
      b.dispose(data);
      throw e;
    }
  } else if (data === null) {
    const values = allocArray(dtype, n);
    fill(values);
    data = b.write(values, dtype);
  }
  return finish(fromData(b, data, shape, dtype), options);
}

/**
 * A tensor whose elements `fill(out)` writes — for data made on the host (decoded files,
 * conversions) without a staging array: on backends whose tensors live in host memory
 * (cpu, wasm) `out` is the tensor's own buffer, zeroed; elsewhere (a GPU) it is an array
 * copied over once `fill` returns. `out` is contiguous, row-major, of `shape`'s size and the
 * dtype's array type (Uint8Array for bool); write it within `fill` only, and make no tensors
 * there (a backend may move its memory). Nothing is kept if `fill` throws.
 *
 * ```ts
 * const pixels = fromFill([n, 784], (out) => { for (let i = 0; i < out.length; i++) out[i] = bytes[i] / 255; });
 * ```
 */
export function fromFill(shape: readonly number[], fill: (out: TypedArray) => void, options: CreateOptions = {}): Tensor {
  checkCreate('fromFill', options);
  return filledBy('fromFill', shape, options, fill);
}

function randomTensor(op: string, shape: readonly number[], options: CreateOptions, draw: () => number): Tensor {
  return filledBy(op, shape, options, (values) => {
    for (let i = 0; i < values.length; i++) values[i] = draw();
  });
}

/** Uniform on [0, 1) from the seeded generator. */
export function rand(shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkCreate('rand', options);
  return uniform(shape, 0, 1, options);
}

/** Uniform on [low, high). */
export function uniform(shape: readonly number[], low = 0, high = 1, options: CreateOptions = {}): Tensor {
  checkCreate('uniform', options);
  if (!(high >= low)) throw new RangeError(`uniform: high (${high}) must be >= low (${low})`);
  const f32 = (options.dtype ?? 'float32') === 'float32';
  // rounding to float32 can land exactly on `high`: such values are redrawn (half-open interval)
  return filledBy('uniform', shape, options, (values) => rng().fillUniform(values, low, high, f32));
}

/**
 * An inverted-dropout mask: `scale` where a uniform draw on [0, 1) is ≥ p, else 0 — the
 * draws `rand(shape)` would make, in the same order, compared and scaled in the same pass
 * (what `rand(shape).ge(p).cast(dtype).mul(scale)` gives, without four tensors).
 */
export function dropoutMask(shape: readonly number[], p: number, scale: number, options: CreateOptions = {}): Tensor {
  checkCreate('dropoutMask', options);
  const dtype = options.dtype ?? 'float32';
  if (!isFloat(dtype)) throw new TypeError(`dropoutMask: dtype must be floating point, got ${dtype}`);
  const cut = dtype === 'float32' ? Math.fround(p) : p; // as ge() casts the scalar
  const onBackend = dtype === 'float32' ? (b: Backend, n: number) => rng().dropoutMaskOn(b, n, cut, scale) : undefined;
  return filledBy('dropoutMask', shape, options, (values) => rng().fillDropoutMask(values as Float32Array | Float64Array, cut, scale, dtype === 'float32'), onBackend);
}

/** Standard normal samples. */
export function randn(shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkCreate('randn', options);
  return normal(shape, 0, 1, options);
}

/** Normal samples with the given mean and standard deviation. */
export function normal(shape: readonly number[], mean = 0, std = 1, options: CreateOptions = {}): Tensor {
  checkCreate('normal', options);
  if (!(std >= 0)) throw new RangeError(`normal: std must be >= 0, got ${std}`);
  const g = rng();
  return randomTensor('normal', shape, options, () => mean + std * g.nextNormal());
}

/** Uniform integers in [low, high) as int32. */
export function randint(low: number, high: number, shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkCreate('randint', options);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: need integers low < high, got low=${low} high=${high}`);
  }
  const g = rng();
  return randomTensor('randint', shape, { dtype: 'int32', ...options }, () => low + g.nextInt(high - low));
}

/** A random permutation of 0..n-1 (int32), Fisher–Yates with the seeded generator. */
export function randperm(n: number, options: CreateOptions = {}): Tensor {
  checkCreate('randperm', options);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`randperm: n must be a non-negative integer, got ${n}`);
  const g = rng();
  const values = new Int32Array(n);
  for (let i = 0; i < n; i++) values[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = g.nextInt(i + 1);
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  return fromArray(values, [n], { dtype: 'int32', ...options });
}
