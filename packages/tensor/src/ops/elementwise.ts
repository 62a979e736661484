import type { BinaryOp, UnaryOp } from '../backend.js';
import { type DType, isFloat } from '../dtype.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { expand } from './layout.js';
import { castTo, operands, prim, resultType, type Scalar, type TensorLike } from './prim.js';

// ------------------------------------------------------------ unary

function unaryPrim(op: UnaryOp, x: Tensor): Tensor {
  return prim(op, [x], {}, x.shape, x.dtype, (b, [v]) => b.unary(op, v));
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

/** Broadcast both operands to a common shape and run one binary primitive. */
function binaryPrim(op: BinaryOp, a: TensorLike, b: TensorLike, computeIn: DType, outDtype: DType): Tensor {
  const [x, y] = operands(op, [a, b], computeIn);
  const shape = broadcastShapes(op, x.shape, y.shape);
  const xe = expand(x, shape);
  const ye = expand(y, shape);
  return prim(op, [xe, ye], {}, shape, outDtype, (be, [va, vb]) => be.binary(op, va, vb, outDtype));
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

/** Elementwise `cond ? a : b` with broadcasting over all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const dt = resultType(a, b);
  const [x, y] = operands('where', [a, b], dt);
  const c = castTo(cond, 'bool');
  const shape = broadcastShapes('where', broadcastShapes('where', c.shape, x.shape), y.shape);
  const ce = expand(c, shape);
  return prim('where', [expand(x, shape), expand(y, shape)], { cond: ce }, shape, dt, (be, [va, vb]) =>
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

