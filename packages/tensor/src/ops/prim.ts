import type { Backend, DataId, SaveForBackward, View } from '../backend.js';
import { type DType, isFloat, promoteTypes, type TypedArray } from '../dtype.js';
import { anyRequiresGrad, DEBUG, debugLog, getBackend, isGradEnabled, record, Storage } from '../engine.js';
import { defineOp, type OpDef } from '../op.js';
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
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
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
 * Run one primitive op: check inputs, call the backend, wrap the result, and let the tape
 * record it. `run` gets the backend and the inputs' strided views.
 */
export function prim<A extends object>(
  def: OpDef<A>,
  inputs: readonly Tensor[],
  attrs: A,
  shape: readonly number[],
  dtype: DType,
  run: (backend: Backend, views: View[]) => DataId,
): Tensor {
  const backend = commonBackend(def.name, inputs);
  const t0 = DEBUG ? performance.now() : 0;
  const views = new Array<View>(inputs.length);
  for (let i = 0; i < inputs.length; i++) views[i] = inputs[i].view_();
  const data = run(backend, views);
  const out = fromData(backend, data, shape, dtype);
  if (DEBUG) debugLog(def.name, backend.lastRoute?.() ?? backend.name, inputs.map((t) => t.shape), performance.now() - t0);
  return isFloat(dtype) ? record(def, inputs, attrs, out) : out;
}

/** A view op: same buffer, new shape/strides/offset; recorded for gradients. */
export function viewOp<A extends object>(
  def: OpDef<A>,
  x: Tensor,
  attrs: A,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): Tensor {
  x.assertAlive(def.name);
  const out = new Tensor(x.storage, shape, strides, offset);
  return isFloat(x.dtype) ? record(def, [x], attrs, out) : out;
}

/**
 * Run an op that has a fused kernel: the backend's kernel when it offers one for this case
 * (and, when a gradient is needed, the op has a rule of its own), else the composite.
 * `out` is the output's shape and dtype, which the op worked out and checked.
 */
export function runOp<A extends object>(
  def: OpDef<A>,
  inputs: readonly Tensor[],
  attrs: A,
  out: { shape: readonly number[]; dtype: DType },
  composite: () => Tensor,
): Tensor {
  const backend = commonBackend(def.name, inputs);
  const needsGrad = isGradEnabled() && anyRequiresGrad(inputs);
  if (def.fused === undefined || (needsGrad && def.grad === undefined)) return composite();
  const saved: Tensor[] = [];
  const save: SaveForBackward = needsGrad ? (data, shape, dtype) => void saved.push(fromData(backend, data, shape, dtype)) : null;
  const t0 = DEBUG ? performance.now() : 0;
  let data: DataId | null;
  try {
    data = def.fused(backend, inputs.map((t) => t.view_()), attrs, save);
  } catch (e) {
    for (const s of saved) s.dispose();
    throw e;
  }
  if (data === null) {
    for (const s of saved) s.dispose();
    return composite();
  }
  if (DEBUG) debugLog(`${def.name} (fused)`, backend.lastRoute?.() ?? backend.name, inputs.map((t) => t.shape), performance.now() - t0);
  return record(def, inputs, attrs, fromData(backend, data, out.shape, out.dtype), saved);
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

/**
 * Scalar → tensor of `dtype` on `backend`: 0-d, or given `shape`, its one element broadcast
 * to that shape (zero strides, as `expand` gives, without the 0-d tensor and the view).
 */
export function scalarTensor(value: Scalar, dtype: DType, backend: Backend, shape: readonly number[] = NO_DIMS): Tensor {
  return new Tensor(new Storage(backend, backend.fill(1, dtype, Number(value)), dtype, 1), shape, zeroStrides(shape.length));
}

const NO_DIMS: readonly number[] = Object.freeze([]);
/** Frozen all-zero strides by rank (shared by every broadcast scalar of that rank). */
const ZERO_STRIDES: (readonly number[])[] = [];
function zeroStrides(ndim: number): readonly number[] {
  return (ZERO_STRIDES[ndim] ??= Object.freeze(new Array<number>(ndim).fill(0)));
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

/** The dtype change; its gradient casts back (none from an integer source). */
const castOp: OpDef<{ from: DType }> = defineOp<{ from: DType }>({
  name: 'cast',
  grad: (dy, n) => [isFloat(n.attrs.from) ? castTo(dy, n.attrs.from) : null],
});

export function castTo(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return prim(castOp, [x], { from: x.dtype }, x.shape, dtype, (b, [v]) => b.cast(v, dtype));
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
