/**
 * One gradient rule per recorded op. Each is the chain rule for that op, written with
 * tensor ops, so gradients are themselves recorded and can be differentiated again.
 * `dy` is ∂L/∂output; a rule returns ∂L/∂input for each input (null: no gradient).
 */
import {
  type LossReduction,
  linalgGradRules,
  add,
  cast,
  col2im,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  cos,
  div,
  eq,
  exp,
  expand,
  gather,
  gt,
  im2col,
  isFloat,
  log,
  matmul,
  maxPool2dBackward,
  mul,
  narrow,
  neg,
  padPrim,
  permute,
  pow,
  reluBackward,
  prod,
  reshape,
  scatterAdd,
  sign,
  sin,
  sliceView,
  softmaxCrossEntropyBackward,
  sub,
  sum,
  sumToShape,
  transpose,
  where,
  zeros,
  type DType,
  type GradNode,
  type Im2ColParams,
  type Tensor,
} from '@ml/tensor';

export type GradRule = (dy: Tensor, node: GradNode, needs: readonly boolean[]) => (Tensor | null)[];

type Shape4 = [number, number, number, number];

const x0 = (n: GradNode): Tensor => n.inputs[0];
const x1 = (n: GradNode): Tensor => n.inputs[1];
const y = (n: GradNode): Tensor => n.output;

/** dy · f'(x) for a unary op. */
const unary = (deriv: (x: Tensor, y: Tensor) => Tensor): GradRule => (dy, n) => [mul(dy, deriv(x0(n), y(n)))];
const zeroGrad: GradRule = () => [null];

/** Dims reduced by a reduction, restored as size-1 dims so dy broadcasts back. */
function keepShape(n: GradNode): number[] {
  const axes = n.attrs.axes as number[];
  return (n.attrs.inShape as number[]).map((d, i) => (axes.includes(i) ? 1 : d));
}
function broadcastBack(t: Tensor, n: GradNode): Tensor {
  return expand(reshape(t, keepShape(n)), n.attrs.inShape as number[]);
}

/** max/min: the gradient goes to the elements equal to the result, shared among ties. */
const extremum: GradRule = (dy, n) => {
  const x = x0(n);
  const mask = cast(eq(x, broadcastBack(y(n), n)), x.dtype);
  const count = sum(mask, n.attrs.axes as number[], true);
  return [div(mul(broadcastBack(dy, n), mask), count)];
};

export const rules: Record<string, GradRule> = {
  // ---- factorizations and solvers: their rules live beside the ops in @ml/tensor
  ...linalgGradRules,
  // ---- unary
  neg: (dy) => [neg(dy)],
  abs: unary((x) => sign(x)),
  sign: zeroGrad,
  floor: zeroGrad,
  ceil: zeroGrad,
  round: zeroGrad,
  exp: unary((_x, out) => out),
  expm1: unary((_x, out) => add(out, 1)),
  log: (dy, n) => [div(dy, x0(n))],
  log1p: (dy, n) => [div(dy, add(x0(n), 1))],
  sqrt: (dy, n) => [div(mul(dy, 0.5), y(n))],
  rsqrt: unary((_x, out) => mul(pow(out, 3), -0.5)),
  sin: unary((x) => cos(x)),
  cos: unary((x) => neg(sin(x))),
  tanh: unary((_x, out) => sub(1, mul(out, out))),
  sigmoid: unary((_x, out) => mul(out, sub(1, out))),
  relu: (dy, n) => [reluBackward(x0(n), dy)],
  // d/dx erf(x) = 2/√π · e^{-x²}
  erf: unary((x) => mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))),
  reciprocal: unary((_x, out) => neg(mul(out, out))),

  // ---- binary (inputs already broadcast to one shape by `expand`, whose rule sums back)
  add: (dy) => [dy, dy],
  sub: (dy, _n, needs) => [dy, needs[1] ? neg(dy) : null],
  mul: (dy, n, needs) => [needs[0] ? mul(dy, x1(n)) : null, needs[1] ? mul(dy, x0(n)) : null],
  // d(a/b) = da/b − a·db/b²
  div: (dy, n, needs) => [needs[0] ? div(dy, x1(n)) : null, needs[1] ? neg(div(mul(dy, y(n)), x1(n))) : null],
  // d(aᵇ) = b·aᵇ⁻¹ da + aᵇ·ln a db   (b = 0 contributes nothing to da, as in PyTorch)
  pow: (dy, n, needs) => {
    const a = x0(n);
    const b = x1(n);
    return [
      needs[0] ? mul(dy, where(eq(b, 0), 0, mul(b, pow(a, sub(b, 1))))) : null,
      needs[1] ? mul(dy, mul(y(n), where(eq(a, 0), 0, log(a)))) : null,
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
  where: (dy, n, needs) => {
    const c = n.attrs.cond as Tensor;
    return [needs[0] ? where(c, dy, 0) : null, needs[1] ? where(c, 0, dy) : null];
  },

  // ---- reductions
  sum: (dy, n) => [broadcastBack(dy, n)],
  max: extremum,
  min: extremum,
  // ∂/∂x_i Π x = Π_{j≠i} x_j, computed without dividing by zero. With one zero x_z,
  // the others' gradient is x_z·Π_{j≠i,z} x_j: zero in value, but written with x_z so
  // that its own derivative (second order) is right.
  prod: (dy, n) => {
    const x = x0(n);
    const axes = n.attrs.axes as number[];
    const isZero = eq(x, 0);
    const zeroCount = broadcastBack(sum(cast(isZero, 'int32'), axes), n);
    const nonZero = where(isZero, 1, x);
    const prodNonZero = broadcastBack(prod(nonZero, axes), n);
    const zeroValue = broadcastBack(sum(where(isZero, x, 0), axes), n);
    const oneZero = where(isZero, prodNonZero, div(mul(zeroValue, prodNonZero), nonZero));
    const others = where(eq(zeroCount, 0), div(prodNonZero, nonZero), where(eq(zeroCount, 1), oneZero, 0));
    return [mul(broadcastBack(dy, n), others)];
  },

  // ---- linear algebra: C = AB ⇒ dA = dC Bᵀ, dB = Aᵀ dC (batched [B,M,K]×[B,K,N]); an
  // operand stored transposed (a Linear layer's weight.T) gets its gradient in that layout,
  // (Bᵀ dCᵀ)ᵀ or (dCᵀ A)ᵀ, so the parameter's gradient needs no transposing copy
  matmul: (dy, n, needs) => [
    needs[0] ? (storedTransposed(x0(n)) ? transpose(matmul(x1(n), transpose(dy, 1, 2)), 1, 2) : matmul(dy, transpose(x1(n), 1, 2))) : null,
    needs[1] ? (storedTransposed(x1(n)) ? transpose(matmul(transpose(dy, 1, 2), x0(n)), 1, 2) : matmul(transpose(x0(n), 1, 2), dy)) : null,
  ],

  // ---- dtype and layout
  cast: (dy, n) => [isFloat(n.attrs.from as DType) ? cast(dy, n.attrs.from as DType) : null],
  contiguous: (dy) => [dy],
  clone: (dy) => [dy],
  reshape: (dy, n) => [reshape(dy, n.attrs.shape as number[])],
  permute: (dy, n) => {
    const dims = n.attrs.dims as number[];
    const inverse = dims.map((_, i) => dims.indexOf(i));
    return [permute(dy, inverse)];
  },
  expand: (dy, n) => [sumToShape(dy, n.attrs.shape as number[])],
  slice: (dy, n) => {
    const begins = n.attrs.begins as number[];
    const sizes = n.attrs.sizes as number[];
    const steps = n.attrs.steps as number[];
    const inShape = n.attrs.inShape as number[];
    if (sizes.some((s) => s === 0)) return [zeros(inShape, { dtype: dy.dtype, backend: dy.backend.name })];
    const high = inShape.map((d, i) => d - begins[i] - ((sizes[i] - 1) * steps[i] + 1));
    return [padPrim(dy, begins, high, steps.map((s) => s - 1), 0)];
  },
  pad: (dy, n) => {
    const low = n.attrs.low as number[];
    const interior = n.attrs.interior as number[];
    return [sliceView(dy, low, x0(n).shape, interior.map((i) => i + 1))];
  },
  concat: (dy, n) => {
    const axis = n.attrs.axis as number;
    let at = 0;
    return (n.attrs.sizes as number[]).map((s) => {
      const part = narrow(dy, axis, at, s);
      at += s;
      return part;
    });
  },

  // ---- indexing: gather and scatterAdd are each other's adjoint
  gather: (dy, n) => {
    const base = zeros(n.attrs.inShape as number[], { dtype: dy.dtype, backend: dy.backend.name });
    return [scatterAdd(base, n.attrs.axis as number, n.attrs.index as Tensor, dy)];
  },
  scatterAdd: (dy, n, needs) => [dy, needs[1] ? gather(dy, n.attrs.axis as number, n.attrs.index as Tensor) : null],

  // ---- convolution: im2col and col2im are each other's adjoint
  im2col: (dy, n) => {
    const [N, C, H, W] = n.attrs.inShape as number[];
    return [col2im(dy, [N, C, H, W], n.attrs.params as Im2ColParams)];
  },
  col2im: (dy, n) => [im2col(dy, n.attrs.params as Im2ColParams)],
  conv2d: (dy, n, needs) => {
    const [x, w] = n.inputs;
    const p = n.attrs.params as Im2ColParams;
    const groups = n.attrs.groups as number;
    const grads = [
      needs[0] ? conv2dBackwardInput(dy, w, x.shape as Shape4, p, groups) : null,
      needs[1] ? conv2dBackwardWeight(dy, x, w.shape as Shape4, p, groups) : null,
    ];
    if (n.inputs.length > 2) grads.push(needs[2] ? sum(sum(dy, [2, 3]), 0) : null);
    return grads;
  },
  maxPool2d: (dy, n) => [maxPool2dBackward(x0(n), y(n), dy, n.attrs.params as Im2ColParams)],

  // ---- fused kernels a backend may register (composites otherwise)
  softmax: (dy, n) => {
    const d = n.attrs.dim as number;
    const s = y(n);
    return [mul(s, sub(dy, sum(mul(dy, s), d, true)))];
  },
  logSoftmax: (dy, n) => {
    const d = n.attrs.dim as number;
    return [sub(dy, mul(exp(y(n)), sum(dy, d, true)))];
  },
  softmaxCrossEntropy: (dy, n) => {
    const [x, target] = n.inputs;
    return [softmaxCrossEntropyBackward(x, target, dy, n.attrs.reduction as LossReduction), null];
  },
};

/** Share of the gradient `first` gets in max(first, second): 1 if larger, ½ on a tie. */
function winShare(first: Tensor, second: Tensor, dtype: DType): Tensor {
  return cast(where(gt(first, second), 1, where(eq(first, second), 0.5, 0)), dtype);
}

/** Whether a [B, R, C] operand is laid out column by column (the transpose of a contiguous matrix). */
function storedTransposed(t: Tensor): boolean {
  return t.shape[1] > 1 && t.shape[2] > 1 && t.strides[1] === 1 && t.strides[2] === t.shape[1];
}
