import type { Backend, BinaryOp, DataId, UnaryOp, View } from '../backend.js';
import { type DType, isFloat } from '../dtype.js';
import { broadcastShapes, broadcastShared, shapesEqual } from '../shape.js';
import { Tensor } from '../tensor.js';
import { defineOp, type GradRule, type OpDef } from '../op.js';
import { reluBackward } from './activation.js';
import { expand } from './layout.js';
import { castTo, operands, prim, resultType, scalarTensor, type Scalar, type TensorLike } from './prim.js';

/** The attributes of the elementwise primitives: none (one shared object). */
const NO_ATTRS: Readonly<Record<string, never>> = Object.freeze({});

// ------------------------------------------------------------ unary

const x0 = (n: { inputs: readonly Tensor[] }): Tensor => n.inputs[0];
const x1 = (n: { inputs: readonly Tensor[] }): Tensor => n.inputs[1];
/** dy · f'(x) for a unary op, f' given the input and the output. */
const chain = (deriv: (x: Tensor, y: Tensor) => Tensor): GradRule => (dy, n) => [mul(dy, deriv(x0(n), n.output))];
/** Piecewise-constant functions (and boolean ones, never recorded): no gradient. */
const zeroGrad: GradRule = () => [null];

/** The gradient rules of the unary primitives. */
const UNARY_GRADS: Record<UnaryOp, GradRule | undefined> = {
  neg: (dy) => [neg(dy)],
  abs: chain((x) => sign(x)),
  sign: zeroGrad,
  floor: zeroGrad,
  ceil: zeroGrad,
  round: zeroGrad,
  not: undefined, // bool → bool: never recorded
  exp: chain((_x, y) => y),
  expm1: chain((_x, y) => add(y, 1)),
  log: (dy, n) => [div(dy, x0(n))],
  log1p: (dy, n) => [div(dy, add(x0(n), 1))],
  sqrt: (dy, n) => [div(mul(dy, 0.5), n.output)],
  rsqrt: chain((_x, y) => mul(pow(y, 3), -0.5)),
  sin: chain((x) => cos(x)),
  cos: chain((x) => neg(sin(x))),
  tanh: chain((_x, y) => sub(1, mul(y, y))),
  sigmoid: chain((_x, y) => mul(y, sub(1, y))),
  relu: (dy, n) => [reluBackward(x0(n), dy)],
  // d/dx erf(x) = 2/√π · e^{-x²}
  erf: chain((x) => mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))),
  reciprocal: chain((_x, y) => neg(mul(y, y))),
};

/** One op definition per unary primitive (the backend's `unary(op, x)`). */
const unaryOps = Object.fromEntries(
  Object.entries(UNARY_GRADS).map(([name, grad]) => [name, defineOp({ name, grad })]),
) as Record<UnaryOp, OpDef>;

function unaryPrim(op: UnaryOp, x: Tensor): Tensor {
  return prim(unaryOps[op], [x], NO_ATTRS, x.shape, x.dtype, (b, [v]) => b.unary(op, v));
}

/** Float-valued functions promote int/bool inputs to float32. */
function floatUnary(op: UnaryOp) {
  return (x: Tensor): Tensor => unaryPrim(op, isFloat(x.dtype) ? x : castTo(x, 'float32'));
}
/** Functions that keep integer dtypes (bool becomes int32). */
function numericUnary(op: UnaryOp) {
  return (x: Tensor): Tensor => unaryPrim(op, x.dtype === 'bool' ? castTo(x, 'int32') : x);
}

export const neg = numericUnary('neg');
export const abs = numericUnary('abs');
export const sign = numericUnary('sign');
export const exp = floatUnary('exp');
export const expm1 = floatUnary('expm1');
export const log = floatUnary('log');
export const log1p = floatUnary('log1p');
export const sqrt = floatUnary('sqrt');
export const rsqrt = floatUnary('rsqrt');
export const sin = floatUnary('sin');
export const cos = floatUnary('cos');
export const tanh = floatUnary('tanh');
export const sigmoid = floatUnary('sigmoid');
export const relu = numericUnary('relu');
export const erf = floatUnary('erf');
export const reciprocal = floatUnary('reciprocal');
export const floor = numericUnary('floor');
export const ceil = numericUnary('ceil');
export const round = numericUnary('round');

export function logicalNot(x: Tensor): Tensor {
  return unaryPrim('not', castTo(x, 'bool'));
}

export function square(x: Tensor): Tensor {
  return mul(x, x);
}

// ------------------------------------------------------------ binary

/** Share of the gradient `first` gets in max(first, second): 1 if larger, ½ on a tie. */
function winShare(first: Tensor, second: Tensor, dtype: DType): Tensor {
  return castTo(where(gt(first, second), 1, where(eq(first, second), 0.5, 0)), dtype);
}

/**
 * The gradient rules of the binary primitives. Their inputs are already broadcast to one
 * shape by `expand`, whose rule sums the gradient back to the operand's shape.
 */
const BINARY_GRADS: Record<BinaryOp, GradRule | undefined> = {
  add: (dy) => [dy, dy],
  sub: (dy, _n, needs) => [dy, needs[1] ? neg(dy) : null],
  mul: (dy, n, needs) => [needs[0] ? mul(dy, x1(n)) : null, needs[1] ? mul(dy, x0(n)) : null],
  // d(a/b) = da/b − a·db/b²
  div: (dy, n, needs) => [needs[0] ? div(dy, x1(n)) : null, needs[1] ? neg(div(mul(dy, n.output), x1(n))) : null],
  // d(aᵇ) = b·aᵇ⁻¹ da + aᵇ·ln a db   (b = 0 contributes nothing to da, as in PyTorch)
  pow: (dy, n, needs) => {
    const [a, b] = n.inputs;
    return [
      needs[0] ? mul(dy, where(eq(b, 0), 0, mul(b, pow(a, sub(b, 1))))) : null,
      needs[1] ? mul(dy, mul(n.output, where(eq(a, 0), 0, log(a)))) : null,
    ];
  },
  maximum: (dy, n, needs) => [
    needs[0] ? mul(dy, winShare(x0(n), x1(n), dy.dtype)) : null,
    needs[1] ? mul(dy, winShare(x1(n), x0(n), dy.dtype)) : null,
  ],
  minimum: (dy, n, needs) => [
    needs[0] ? mul(dy, winShare(x1(n), x0(n), dy.dtype)) : null,
    needs[1] ? mul(dy, winShare(x0(n), x1(n), dy.dtype)) : null,
  ],
  // comparisons and logic give bool, which is never recorded: no rule
  eq: undefined, ne: undefined, lt: undefined, le: undefined, gt: undefined, ge: undefined, and: undefined, or: undefined,
};

/** One op definition per binary primitive (the backend's `binary(op, a, b)`). */
const binaryOps = Object.fromEntries(
  Object.entries(BINARY_GRADS).map(([name, grad]) => [name, defineOp({ name, grad })]),
) as Record<BinaryOp, OpDef>;

type BinaryRun = (be: Backend, views: View[]) => DataId;
/** The backend call of each binary primitive, by op and result dtype (made once, not per op run). */
const binaryRuns = {} as Record<BinaryOp, Partial<Record<DType, BinaryRun>>>;
function binaryRun(op: BinaryOp, outDtype: DType): BinaryRun {
  const runs = (binaryRuns[op] ??= {});
  return (runs[outDtype] ??= (be, views) => be.binary(op, views[0], views[1], outDtype));
}

/** Broadcast both operands to a common shape and run one binary primitive. */
function binaryPrim(op: BinaryOp, a: TensorLike, b: TensorLike, computeIn: DType, outDtype: DType): Tensor {
  const def = binaryOps[op];
  const run = binaryRun(op, outDtype);
  // The common cases skip the general path's casts, broadcast shape and expand views:
  // two tensors of one shape and the compute dtype (expand would return them as they are),
  if (a instanceof Tensor && a.dtype === computeIn) {
    if (b instanceof Tensor) {
      if (b.dtype === computeIn && shapesEqual(a.shape, b.shape)) return prim(def, [a, b], NO_ATTRS, a.shape, outDtype, run);
    } else if (typeof b === 'number' || typeof b === 'boolean') {
      // and a tensor with a scalar, which becomes one element broadcast to the tensor's shape
      a.assertAlive(op);
      return prim(def, [a, scalarTensor(b, computeIn, a.backend, a.shape)], NO_ATTRS, a.shape, outDtype, run);
    }
  } else if (b instanceof Tensor && b.dtype === computeIn && (typeof a === 'number' || typeof a === 'boolean')) {
    b.assertAlive(op);
    return prim(def, [scalarTensor(a, computeIn, b.backend, b.shape), b], NO_ATTRS, b.shape, outDtype, run);
  }
  const [x, y] = operands(op, [a, b], computeIn);
  const shape = broadcastShared(op, x.shape, y.shape);
  const xe = x.shape === shape ? x : expand(x, shape);
  const ye = y.shape === shape ? y : expand(y, shape);
  return prim(def, [xe, ye], NO_ATTRS, shape, outDtype, run);
}

/** Arithmetic keeps the promoted dtype (bool arithmetic counts in int32). */
function arithmetic(op: BinaryOp) {
  return (a: TensorLike, b: TensorLike): Tensor => {
    let dt = resultType(a, b);
    if (dt === 'bool') dt = 'int32';
    return binaryPrim(op, a, b, dt, dt);
  };
}
function comparison(op: BinaryOp) {
  return (a: TensorLike, b: TensorLike): Tensor => binaryPrim(op, a, b, resultType(a, b), 'bool');
}

export const add = arithmetic('add');
export const sub = arithmetic('sub');
export const mul = arithmetic('mul');
export const maximum = arithmetic('maximum');
export const minimum = arithmetic('minimum');

/** True division: integer inputs give float32. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  let dt = resultType(a, b);
  if (!isFloat(dt)) dt = 'float32';
  return binaryPrim('div', a, b, dt, dt);
}

export function pow(a: TensorLike, b: TensorLike): Tensor {
  let dt = resultType(a, b);
  if (dt === 'bool') dt = 'int32';
  return binaryPrim('pow', a, b, dt, dt);
}

export const eq = comparison('eq');
export const ne = comparison('ne');
export const lt = comparison('lt');
export const le = comparison('le');
export const gt = comparison('gt');
export const ge = comparison('ge');

export function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return binaryPrim('and', a, b, 'bool', 'bool');
}
export function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return binaryPrim('or', a, b, 'bool', 'bool');
}

/** `cond ? a : b`; the condition (broadcast bool) is an attribute: it has no gradient. */
const whereOp = defineOp<{ cond: Tensor }>({
  name: 'where',
  grad: (dy, n, needs) => {
    const c = n.attrs.cond;
    return [needs[0] ? where(c, dy, 0) : null, needs[1] ? where(c, 0, dy) : null];
  },
});

/** Elementwise `cond ? a : b` with broadcasting over all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const dt = resultType(a, b);
  const [x, y] = operands('where', [a, b], dt);
  const c = castTo(cond, 'bool');
  const shape = broadcastShapes('where', broadcastShapes('where', c.shape, x.shape), y.shape);
  const ce = expand(c, shape);
  return prim(whereOp, [expand(x, shape), expand(y, shape)], { cond: ce }, shape, dt, (be, [va, vb]) =>
    be.where(ce.view_(), va, vb),
  );
}

/** Change dtype (float→int truncates toward zero; nonzero→true). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return castTo(x, dtype);
}

/** Limit values to [min, max]; the gradient is 1 inside the closed interval, like PyTorch. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  let out = x;
  if (min !== undefined && min !== null) out = where(lt(out, min), min, out);
  if (max !== undefined && max !== null) out = where(gt(out, max), max, out);
  return out;
}

export function isNaN(x: Tensor): Tensor {
  return ne(x, x);
}
export function isFinite(x: Tensor): Tensor {
  return logicalAnd(eq(x, x), lt(abs(x), Infinity));
}

export function maskedFill(x: Tensor, mask: Tensor, value: Scalar): Tensor {
  return where(mask, value, x);
}

