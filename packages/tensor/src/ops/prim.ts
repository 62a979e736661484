import type { Backend, DataId, View } from '../backend.js';
import { type DType, isFloat, promoteTypes, type TypedArray } from '../dtype.js';
import {
  DEBUG,
  debugLog,
  getBackend,
  getKernel,
  isGradEnabled,
  record,
  setGradEnabled,
  Storage,
  autogradRuleExists,
} from '../engine.js';
import { fmt, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';

export type Scalar = number | boolean;
export type TensorLike = Tensor | Scalar;

/** Wrap a fresh contiguous backend buffer as a tensor. */
export function fromData(backend: Backend, data: DataId, shape: readonly number[], dtype: DType): Tensor {
  return new Tensor(new Storage(backend, data, dtype, sizeOf(shape)), shape);
}

/** All inputs alive and on one backend; returns that backend. */
export function commonBackend(op: string, inputs: readonly Tensor[]): Backend {
  let b: Backend | null = null;
  for (const t of inputs) {
    assertTensor(op, 'an input', t);
    t.assertAlive(op);
    if (b === null) b = t.backend;
    else if (t.backend !== b) {
      throw new Error(`${op}: tensors are on different backends ('${b.name}' and '${t.backend.name}') — move one first: await toBackend(tensor, '${b.name}')`);
    }
  }
  return b ?? getBackend();
}

/**
 * Run one primitive: check inputs, call the backend, wrap the result, and let the tape
 * record it. `run` gets the backend and the inputs' strided views.
 */
export function prim(
  op: string,
  inputs: readonly Tensor[],
  attrs: Record<string, unknown>,
  shape: readonly number[],
  dtype: DType,
  run: (backend: Backend, views: View[]) => DataId,
): Tensor {
  const backend = commonBackend(op, inputs);
  const t0 = DEBUG ? performance.now() : 0;
  const data = run(backend, inputs.map((t) => t.view_()));
  const out = fromData(backend, data, shape, dtype);
  if (DEBUG) debugLog(op, backend.lastRoute?.() ?? backend.name, inputs.map((t) => t.shape), performance.now() - t0);
  return isFloat(dtype) ? record(op, inputs, attrs, out) : out;
}

/** A view op: same buffer, new shape/strides/offset; recorded for gradients. */
export function viewOp(
  op: string,
  x: Tensor,
  attrs: Record<string, unknown>,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): Tensor {
  x.assertAlive(op);
  const out = new Tensor(x.storage, shape, strides, offset);
  return isFloat(x.dtype) ? record(op, [x], attrs, out) : out;
}

let recorded = false;

/**
 * Whether the kernel running now (see `dispatch`) is recorded for autograd, so its
 * gradient rule will ask for its backward: a backend may keep what the backward reuses.
 */
export function kernelRecorded(): boolean {
  return recorded;
}

/**
 * Use a backend kernel registered for a composite op when there is one (and, if
 * gradients are needed, autograd has a rule for the op); else run the composite.
 */
export function dispatch(op: string, inputs: readonly Tensor[], attrs: Record<string, unknown>, composite: () => Tensor): Tensor {
  const backend = commonBackend(op, inputs);
  const kernel = getKernel(op, backend.name);
  if (!kernel) return composite();
  const needsGrad = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  if (needsGrad && !autogradRuleExists(op)) return composite();
  const prev = setGradEnabled(false);
  const prevRecorded = recorded;
  recorded = needsGrad;
  let out: Tensor | null;
  const t0 = DEBUG ? performance.now() : 0;
  try {
    out = kernel([...inputs], attrs);
  } finally {
    setGradEnabled(prev);
    recorded = prevRecorded;
  }
  if (out === null) return composite();
  if (DEBUG) debugLog(`${op} (kernel)`, backend.lastRoute?.() ?? backend.name, inputs.map((t) => t.shape), performance.now() - t0);
  return record(op, inputs, attrs, out);
}

/**
 * The host typed array holding `t`'s elements, without a copy, on backends whose data live
 * in host memory (cpu, wasm); null on other backends and for non-contiguous views. Writes
 * change the tensor and every view of its storage: meant for in-place updates of buffers
 * the caller owns, such as an optimizer's state. Valid while the tensor is alive (a
 * disposed tensor's buffer may be handed to another one).
 */
export function hostData(t: Tensor): TypedArray | null {
  t.assertAlive('hostData');
  const b = t.backend;
  if (b.hostArray === undefined || !t.isContiguous) return null;
  return b.hostArray(t.storage.data).subarray(t.offset, t.offset + t.size);
}

/** Scalar → 0-d tensor of `dtype` on `backend`. */
export function scalarTensor(value: Scalar, dtype: DType, backend: Backend): Tensor {
  return fromData(backend, backend.fill(1, dtype, Number(value)), [], dtype);
}

function scalarDType(v: Scalar): DType {
  if (typeof v === 'boolean') return 'bool';
  return Number.isInteger(v) ? 'int32' : 'float32';
}

/**
 * The dtype an op computes in. Python scalars are "weak": they never widen a float
 * tensor (x·0.5 stays float64 for a float64 x), but a fractional scalar makes an int tensor float32.
 */
export function resultType(a: TensorLike, b: TensorLike): DType {
  if (a instanceof Tensor && b instanceof Tensor) return promoteTypes(a.dtype, b.dtype);
  if (a instanceof Tensor) return weak(a.dtype, b as Scalar);
  if (b instanceof Tensor) return weak(b.dtype, a as Scalar);
  return promoteTypes(scalarDType(a), scalarDType(b));
}
function weak(t: DType, s: Scalar): DType {
  if (isFloat(t)) return t;
  const sd = scalarDType(s);
  if (sd === 'float32') return 'float32';
  if (t === 'bool' && sd === 'int32') return 'int32';
  return t;
}

/** Turn operands into tensors of `dtype` (casting tensors, materializing scalars). */
export function operands(op: string, xs: readonly TensorLike[], dtype: DType): Tensor[] {
  const tensors = xs.filter((x): x is Tensor => x instanceof Tensor);
  for (const x of xs) {
    if (!(x instanceof Tensor) && typeof x !== 'number' && typeof x !== 'boolean') {
      throw new TypeError(`${op}: an operand must be a tensor, a number or a boolean, got ${describeValue(x)}`);
    }
  }
  const backend = commonBackend(op, tensors);
  return xs.map((x) => (x instanceof Tensor ? castTo(x, dtype) : scalarTensor(x, dtype, backend)));
}

export function castTo(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return prim('cast', [x], { from: x.dtype }, x.shape, dtype, (b, [v]) => b.cast(v, dtype));
}

/** What a value that should have been a tensor is, for an error message. */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (v instanceof Promise) return 'a Promise (a missing await?)';
  if (Array.isArray(v)) return 'an array (make a tensor of it first: tensor(...))';
  if (typeof v === 'object') {
    const keys = Object.keys(v).slice(0, 4);
    return keys.length > 0 ? `an object with keys ${keys.join(', ')}` : 'an object';
  }
  return `a ${typeof v} (${String(v)})`;
}

/** A clear error when `v` is not a tensor: `${op}: ${name} must be a tensor, got …`. */
export function assertTensor(op: string, name: string, v: unknown): asserts v is Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a tensor, got ${describeValue(v)}`);
}

export function assertFloat(op: string, x: Tensor): void {
  assertTensor(op, 'the input', x);
  if (!isFloat(x.dtype)) throw new TypeError(`${op}: expected a floating-point tensor, got ${x.dtype} ${fmt(x.shape)}`);
}
