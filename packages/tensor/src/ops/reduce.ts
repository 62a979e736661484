import type { ArgReduceOp, ReduceOp } from '../backend.js';
import { isFloat } from '../dtype.js';
import { checkOptions, optionKeys } from '../options.js';
import { fmt, normAxes, normAxis, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { defineOp, type GradNode, type GradRule, type OpDef } from '../op.js';
import { add, div, eq, exp, isFinite, log, mul, sqrt, sub, where } from './elementwise.js';
import { expand, flatten, reshape } from './layout.js';
import { castTo, prim } from './prim.js';

// ------------------------------------------------------------ op definitions

/** A reduction's attributes: the sorted reduced axes and the input's shape. */
export interface ReduceAttrs {
  axes: readonly number[];
  inShape: readonly number[];
}
type ReduceNode = GradNode<ReduceAttrs>;

/** The reduced result (or dy) with the reduced dims restored as 1s and broadcast back to the input's shape. */
function broadcastBack(t: Tensor, n: ReduceNode): Tensor {
  const { axes, inShape } = n.attrs;
  return expand(reshape(t, inShape.map((d, i) => (axes.includes(i) ? 1 : d))), inShape);
}

/** max/min: the gradient goes to the elements equal to the result, shared among ties. */
const extremum: GradRule<ReduceAttrs> = (dy, n) => {
  const x = n.inputs[0];
  const mask = castTo(eq(x, broadcastBack(n.output, n)), x.dtype);
  const count = sum(mask, n.attrs.axes, true);
  return [div(mul(broadcastBack(dy, n), mask), count)];
};

/** The gradient rules of the reductions (the backend's `reduce(op, x, axes)`). */
const REDUCE_GRADS: Record<ReduceOp, GradRule<ReduceAttrs>> = {
  sum: (dy, n) => [broadcastBack(dy, n)],
  max: extremum,
  min: extremum,
  // ∂/∂x_i Π x = Π_{j≠i} x_j, computed without dividing by zero. With one zero x_z,
  // the others' gradient is x_z·Π_{j≠i,z} x_j: zero in value, but written with x_z so
  // that its own derivative (second order) is right.
  prod: (dy, n) => {
    const x = n.inputs[0];
    const axes = n.attrs.axes;
    const isZero = eq(x, 0);
    const zeroCount = broadcastBack(sum(castTo(isZero, 'int32'), axes), n);
    const nonZero = where(isZero, 1, x);
    const prodNonZero = broadcastBack(prod(nonZero, axes), n);
    const zeroValue = broadcastBack(sum(where(isZero, x, 0), axes), n);
    const oneZero = where(isZero, prodNonZero, div(mul(zeroValue, prodNonZero), nonZero));
    const others = where(eq(zeroCount, 0), div(prodNonZero, nonZero), where(eq(zeroCount, 1), oneZero, 0));
    return [mul(broadcastBack(dy, n), others)];
  },
};

const reduceOps = Object.fromEntries(
  Object.entries(REDUCE_GRADS).map(([name, grad]) => [name, defineOp<ReduceAttrs>({ name, grad })]),
) as Record<ReduceOp, OpDef<ReduceAttrs>>;

/** The sum primitive over sorted axes (no keepdim). */
export function reduceSum(x: Tensor, axes: readonly number[]): Tensor {
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  return prim(reduceOps.sum, [x], { axes, inShape: x.shape }, shape, x.dtype, (b, [v]) => b.reduce('sum', v, axes));
}

/** argmax/argmin give int32 indices: never recorded, no rule. */
const argReduceOps: Record<ArgReduceOp, OpDef> = {
  argmax: defineOp({ name: 'argmax' }),
  argmin: defineOp({ name: 'argmin' }),
};

type Dim = number | readonly number[] | undefined;

function keepShape(x: Tensor, axes: readonly number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function finishKeep(x: Tensor, r: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  return keepdim ? reshape(r, keepShape(x, axes)) : r;
}

function reducePrim(op: ReduceOp, x: Tensor, axes: readonly number[]): Tensor {
  if (op === 'sum') return reduceSum(x, axes);
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  if ((op === 'max' || op === 'min') && axes.some((a) => x.shape[a] === 0)) {
    throw new ShapeError(`${op}: cannot reduce over an empty dim of ${fmt(x.shape)}`);
  }
  return prim(reduceOps[op], [x], { axes, inShape: x.shape }, shape, x.dtype, (b, [v]) => b.reduce(op, v, axes));
}

function reduction(op: ReduceOp) {
  return (x: Tensor, dim?: Dim, keepdim = false): Tensor => {
    const axes = normAxes(op, dim, x.ndim);
    const src = x.dtype === 'bool' ? castTo(x, 'int32') : x;
    return finishKeep(x, reducePrim(op, src, axes), axes, keepdim);
  };
}

/** Sum over `dim` (all dims by default). */
export const sum = reduction('sum');
export const prod = reduction('prod');
/** Largest value over `dim` (values only; see `argmax` for indices). */
export const max = reduction('max');
export const min = reduction('min');

function count(x: Tensor, axes: readonly number[]): number {
  return axes.reduce((n, a) => n * x.shape[a], 1);
}

export function mean(x: Tensor, dim?: Dim, keepdim = false): Tensor {
  const axes = normAxes('mean', dim, x.ndim);
  const src = isFloat(x.dtype) ? x : castTo(x, 'float32');
  return div(sum(src, axes, keepdim), count(x, axes));
}

export interface VarOptions {
  keepdim?: boolean;
  /** Bessel's correction: divide by N - correction (PyTorch's default 1: unbiased) */
  correction?: number;
}

const VAR_KEYS = optionKeys<VarOptions>()(['keepdim', 'correction']);

export function variance(x: Tensor, dim?: Dim, options: VarOptions = {}): Tensor {
  checkOptions('variance', options, VAR_KEYS);
  const axes = normAxes('var', dim, x.ndim);
  const src = isFloat(x.dtype) ? x : castTo(x, 'float32');
  const n = count(x, axes);
  const correction = options.correction ?? 1;
  const centered = sub(src, mean(src, axes, true));
  return div(sum(mul(centered, centered), axes, options.keepdim ?? false), Math.max(0, n - correction));
}
export { variance as var_ };

export function std(x: Tensor, dim?: Dim, options: VarOptions = {}): Tensor {
  checkOptions('std', options, VAR_KEYS);
  return sqrt(variance(x, dim, options));
}

/** log Σ exp(x) over `dim`, stable: the max is subtracted first (and detached). */
export function logsumexp(x: Tensor, dim: number | readonly number[], keepdim = false): Tensor {
  const axes = normAxes('logsumexp', dim, x.ndim);
  const src = isFloat(x.dtype) ? x : castTo(x, 'float32');
  const m0 = max(src.detach(), axes, true);
  const m = where(isFinite(m0), m0, 0);
  const out = add(log(sum(exp(sub(src, m)), axes, true)), m);
  return keepdim ? out : reshape(out, src.shape.filter((_, i) => !axes.includes(i)));
}

function argReduction(op: ArgReduceOp) {
  return (x: Tensor, dim?: number, keepdim = false): Tensor => {
    if (dim === undefined) {
      const flat = flatten(x);
      if (flat.size === 0) throw new ShapeError(`${op}: empty tensor ${fmt(x.shape)}`);
      const r = prim(argReduceOps[op], [flat], {}, [], 'int32', (b, [v]) => b.argReduce(op, v, 0));
      return keepdim ? reshape(r, x.shape.map(() => 1)) : r;
    }
    const axis = normAxis(op, dim, x.ndim);
    if (x.shape[axis] === 0) throw new ShapeError(`${op}: cannot reduce over an empty dim of ${fmt(x.shape)}`);
    const src = x.ndim === 0 ? reshape(x, [1]) : x;
    const shape = src.shape.filter((_, i) => i !== axis);
    const r = prim(argReduceOps[op], [src], {}, shape, 'int32', (b, [v]) => b.argReduce(op, v, axis));
    return keepdim ? reshape(r, keepShape(x, [axis])) : r;
  };
}
export const argmax = argReduction('argmax');
export const argmin = argReduction('argmin');

/** True if every element is nonzero (over `dim`). */
export function all(x: Tensor, dim?: Dim, keepdim = false): Tensor {
  return castTo(min(castTo(castTo(x, 'bool'), 'int32'), dim, keepdim), 'bool');
}
export function any(x: Tensor, dim?: Dim, keepdim = false): Tensor {
  return castTo(max(castTo(castTo(x, 'bool'), 'int32'), dim, keepdim), 'bool');
}
