/**
 * The ONNX operators the importer runs, one entry each: the attributes it reads (with their
 * types, checked when the file is imported) and its evaluation with `@ml/tensor` ops, so a
 * graph runs on every backend and autograd differentiates it.
 *
 * Small integer tensors computed from shapes (`Shape → Gather → Unsqueeze → Concat → Reshape`,
 * as PyTorch exports a flatten with a dynamic batch) stay on the host: an op whose inputs are
 * all host values runs on the host when it has a host rule, so no backend is asked for a
 * synchronous read.
 */
import {
  abs, add, broadcastShapes, ceil, cos, div, elu, eq, erf, exp, floor, gelu, gt, ge, leakyRelu, le, log, logicalAnd, logicalNot,
  logicalOr, logSoftmax, lt, matmul, max, maximum, mean, min, minimum, mul, ne, neg, pow, reciprocal, relu, sigmoid, sin, softmax,
  softplus, sqrt, sub, sum, tanh,
} from '@ml/tensor';
import { RECURRENT_OPS } from './import-recurrent.js';
import { castOp, constantOfShapeOp, constantOp, rangeOp, shapeOp, sizeOp } from './import-ops-constant.js';
import { allSmall, guard, hostMap, type OpDef, shapeOf, type Value } from './import-ops-core.js';
import { gatherOp, sliceOp, triluOp } from './import-ops-index.js';
import { binary, clipOp, gemm, intDiv, reduceOp, softmaxLike, unary, variadic, whereOp } from './import-ops-math.js';
import { averagePool, batchNorm, conv, dropoutOp, globalPool, instanceNorm, layerNorm, maxPool } from './import-ops-nn.js';
import {
  concatOp, expandOp, flattenOp, padOp, reshapeOp, splitOp, squeezeOp, tileOp, transposeOp, unsqueezeOp,
} from './import-ops-shape.js';
export { Attrs, fail, guard, isHost, tensorDType, type OpContext, type OpDef, type Value } from './import-ops-core.js';
export { constantValue } from './import-ops-constant.js';

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

/** Every operator the importer runs, by ONNX op type (default domain). */
export const OPS: Readonly<Record<string, OpDef>> = {
  Add: binary(add, (x, y) => x + y),
  Sub: binary(sub, (x, y) => x - y),
  Mul: binary(mul, (x, y) => x * y),
  Div: binary(intDiv, (x, y) => x / y),
  Pow: binary(pow),
  Equal: binary(eq, (x, y) => (x === y ? 1 : 0), true),
  Less: binary(lt, (x, y) => (x < y ? 1 : 0), true),
  LessOrEqual: binary(le, (x, y) => (x <= y ? 1 : 0), true),
  Greater: binary(gt, (x, y) => (x > y ? 1 : 0), true),
  GreaterOrEqual: binary(ge, (x, y) => (x >= y ? 1 : 0), true),
  And: binary(logicalAnd),
  Or: binary(logicalOr),
  Not: unary(logicalNot),
  Max: variadic(maximum),
  Min: variadic(minimum),
  Sum: variadic(add),
  MatMul: {
    attrs: {},
    minInputs: 2,
    run: (ctx, [x, y]) => {
      const a = shapeOf(x as Value);
      const b = shapeOf(y as Value);
      if (a.length >= 1 && b.length >= 1) {
        const batch = broadcastShapes('MatMul', a.slice(0, -2), b.slice(0, -2));
        guard(ctx, [...batch, a.length > 1 ? a[a.length - 2] : 1, b.length > 1 ? b[b.length - 1] : 1]);
      }
      return [matmul(ctx.tensor(x as Value), ctx.tensor(y as Value))];
    },
  },
  Gemm: gemm,
  Relu: unary(relu),
  LeakyRelu: unary((x, a) => leakyRelu(x, a.float('alpha', 0.01)), { alpha: 'float' }),
  Elu: unary((x, a) => elu(x, a.float('alpha', 1)), { alpha: 'float' }),
  Selu: unary((x, a) => mul(elu(x, a.float('alpha', SELU_ALPHA)), a.float('gamma', SELU_GAMMA)), { alpha: 'float', gamma: 'float' }),
  Sigmoid: unary(sigmoid),
  HardSigmoid: unary((x, a) => minimum(maximum(add(mul(x, a.float('alpha', 0.2)), a.float('beta', 0.5)), 0), 1), { alpha: 'float', beta: 'float' }),
  HardSwish: unary((x) => mul(x, minimum(maximum(add(mul(x, 1 / 6), 0.5), 0), 1))),
  Tanh: unary(tanh),
  Softplus: unary((x) => softplus(x)),
  Softsign: unary((x) => div(x, add(abs(x), 1))),
  Gelu: unary((x, a) => gelu(x, a.string('approximate', 'none') === 'tanh' ? 'tanh' : 'none'), { approximate: 'string' }),
  Softmax: softmaxLike(softmax),
  LogSoftmax: softmaxLike(logSoftmax),
  Erf: unary(erf),
  Exp: unary(exp),
  Log: unary(log),
  Sqrt: unary(sqrt),
  Reciprocal: unary(reciprocal),
  Neg: { ...unary(neg), host: (_ctx, [x]) => (x && allSmall([x]) ? [hostMap([x], x.dtype, (v) => -v)] : null) },
  Abs: unary(abs),
  Floor: unary(floor),
  Ceil: unary(ceil),
  Sin: unary(sin),
  Cos: unary(cos),
  IsInf: unary(
    (x, a) => {
      const pos = a.int('detect_positive', 1) === 1;
      const neg = a.int('detect_negative', 1) === 1;
      const hit = pos && neg ? eq(abs(x), Infinity) : pos ? eq(x, Infinity) : neg ? eq(x, -Infinity) : ne(x, x);
      return pos || neg ? hit : logicalAnd(hit, eq(x, x));
    },
    { detect_positive: 'int', detect_negative: 'int' },
  ),
  IsNaN: unary((x) => ne(x, x)),
  Identity: { attrs: {}, minInputs: 1, host: (_ctx, [x]) => [x], run: (_ctx, [x]) => [x] },
  Dropout: dropoutOp,
  Clip: clipOp,
  Pad: padOp,
  Conv: conv,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalPool((x, dims) => mean(x, dims, true)),
  GlobalMaxPool: globalPool((x, dims) => max(x, dims, true)),
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  InstanceNormalization: instanceNorm,
  Tile: tileOp,
  Trilu: triluOp,
  Flatten: flattenOp,
  Reshape: reshapeOp,
  Transpose: transposeOp,
  Concat: concatOp,
  Gather: gatherOp,
  Squeeze: squeezeOp,
  Unsqueeze: unsqueezeOp,
  Slice: sliceOp,
  Split: splitOp,
  Cast: castOp,
  Shape: shapeOp,
  Size: sizeOp,
  Constant: constantOp,
  ConstantOfShape: constantOfShapeOp,
  Expand: expandOp,
  Range: rangeOp,
  Where: whereOp,
  ReduceMean: reduceOp((x, d, k) => mean(x, d, k), 18),
  ReduceSum: reduceOp((x, d, k) => sum(x, d, k), 13),
  ReduceMax: reduceOp((x, d, k) => max(x, d, k), 18),
  ReduceMin: reduceOp((x, d, k) => min(x, d, k), 18),
  ...RECURRENT_OPS,
};
