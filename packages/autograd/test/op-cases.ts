/**
 * One gradcheck case per differentiable op: the README's gradient table is checked
 * against this list, and every rule in `rules` must be exercised by some case.
 */
import * as T from '@ml/tensor';
import type { Tensor } from '@ml/tensor';

export interface OpCase {
  /** the op as users call it */
  op: string;
  /** what is checked (shapes, options) */
  what: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: () => Tensor[];
  /** also differentiate the gradient (gradgradcheck); default true */
  second?: boolean;
  atol?: number;
  eps?: number;
}

const f64 = { dtype: 'float64' as const };
const randn = (...shape: number[]) => T.randn(shape, f64);
/** values in [0.5, 1.5): keeps log/sqrt/div/pow away from singularities */
const pos = (...shape: number[]) => T.uniform(shape, 0.5, 1.5, f64);
/** well-separated values so max/min/relu are not at a kink */
const spread = (...shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const perm = T.randperm(n).dataSync();
  return T.fromArray(Float64Array.from(perm, (p) => (p - n / 2) * 0.37 + 0.11), shape, f64);
};
const idx = (values: number[], shape = [values.length]) => T.fromArray(Int32Array.from(values), shape, { dtype: 'int32' });

export const opCases: OpCase[] = [
  // ---- binary, with broadcasting
  { op: 'add', what: '[3,1] + [1,4]', fn: (a, b) => T.add(a, b), inputs: () => [randn(3, 1), randn(1, 4)] },
  { op: 'sub', what: '[2,3] − [3]', fn: (a, b) => T.sub(a, b), inputs: () => [randn(2, 3), randn(3)] },
  { op: 'mul', what: '[2,1,3] · [4,1]', fn: (a, b) => T.mul(a, b), inputs: () => [randn(2, 1, 3), randn(4, 1)] },
  { op: 'mul', what: 'x · x (input used twice)', fn: (a) => T.mul(a, a), inputs: () => [randn(3)] },
  { op: 'div', what: '[2,3] / [2,1]', fn: (a, b) => T.div(a, b), inputs: () => [randn(2, 3), pos(2, 1)] },
  { op: 'pow', what: 'tensor ^ tensor [3] ^ [2,3]', fn: (a, b) => T.pow(a, b), inputs: () => [pos(3), randn(2, 3)] },
  { op: 'pow', what: 'x ^ 3 (scalar exponent)', fn: (a) => T.pow(a, 3), inputs: () => [randn(4)] },
  { op: 'maximum', what: '[2,3] vs [3]', fn: (a, b) => T.maximum(a, b), inputs: () => [spread(2, 3), T.add(spread(3), 0.05)] },
  { op: 'minimum', what: '[2,3] vs [2,1]', fn: (a, b) => T.minimum(a, b), inputs: () => [spread(2, 3), T.add(spread(2, 1), 0.05)] },
  { op: 'where', what: 'cond [2,1] picks [2,3] / [3]', fn: (a, b) => T.where(T.tensor([[true], [false]]), a, b), inputs: () => [randn(2, 3), randn(3)] },
  { op: 'clamp', what: 'to [-0.5, 0.5]', fn: (a) => T.clamp(a, -0.5, 0.5), inputs: () => [spread(5)] },
  // ---- unary
  ...(
    [
      ['neg', T.neg, randn],
      ['abs', T.abs, spread],
      ['exp', T.exp, randn],
      ['expm1', T.expm1, randn],
      ['log', T.log, pos],
      ['log1p', T.log1p, pos],
      ['sqrt', T.sqrt, pos],
      ['rsqrt', T.rsqrt, pos],
      ['sin', T.sin, randn],
      ['cos', T.cos, randn],
      ['tanh', T.tanh, randn],
      ['sigmoid', T.sigmoid, randn],
      ['relu', T.relu, spread],
      ['erf', T.erf, randn],
      ['reciprocal', T.reciprocal, pos],
      ['square', T.square, randn],
      ['leakyRelu', (x: Tensor) => T.leakyRelu(x, 0.1), spread],
      ['elu', T.elu, spread],
      ['gelu', (x: Tensor) => T.gelu(x), randn],
      ['gelu', (x: Tensor) => T.gelu(x, 'tanh'), randn],
      ['softplus', (x: Tensor) => T.softplus(x), randn],
      ['silu', T.silu, randn],
      ['logSigmoid', T.logSigmoid, randn],
    ] as const
  ).map(([op, f, gen], i): OpCase => ({
    op,
    what: i === 19 ? "approximate: 'tanh', [2,3]" : '[2,3]',
    fn: (x) => f(x),
    inputs: () => [gen(2, 3)],
  })),
  // ---- reductions
  { op: 'sum', what: 'dim 1 of [2,3,4]', fn: (a) => T.sum(a, 1), inputs: () => [randn(2, 3, 4)] },
  { op: 'sum', what: 'all elements', fn: (a) => T.sum(a), inputs: () => [randn(2, 3)] },
  { op: 'mean', what: 'dims [0,2], keepdim', fn: (a) => T.mean(a, [0, 2], true), inputs: () => [randn(2, 3, 2)] },
  { op: 'max', what: 'dim -1', fn: (a) => T.max(a, -1), inputs: () => [spread(3, 4)] },
  { op: 'min', what: 'dim 0, keepdim', fn: (a) => T.min(a, 0, true), inputs: () => [spread(3, 4)] },
  { op: 'prod', what: 'dim 1', fn: (a) => T.prod(a, 1), inputs: () => [randn(2, 4)] },
  { op: 'prod', what: 'with one zero in a row', fn: (a) => T.prod(a, 1), inputs: () => [T.mul(randn(2, 3), T.tensor([[1, 0, 1], [1, 1, 1]], f64))] },
  { op: 'var', what: 'dim 1 (unbiased)', fn: (a) => T.variance(a, 1), inputs: () => [randn(2, 5)] },
  { op: 'std', what: 'all, correction 0', fn: (a) => T.std(a, undefined, { correction: 0 }), inputs: () => [randn(2, 3)] },
  { op: 'logsumexp', what: 'dim 1', fn: (a) => T.logsumexp(a, 1), inputs: () => [randn(2, 4)] },
  { op: 'softmax', what: 'dim -1 of [2,4]', fn: (a) => T.softmax(a, -1), inputs: () => [randn(2, 4)] },
  { op: 'logSoftmax', what: 'dim 0 of [3,2]', fn: (a) => T.logSoftmax(a, 0), inputs: () => [randn(3, 2)] },
  { op: 'softmaxCrossEntropy', what: '[3,4] against classes [2,0,3], mean', fn: (a) => T.softmaxCrossEntropy(a, idx([2, 0, 3])), inputs: () => [randn(3, 4)] },
  { op: 'softmaxCrossEntropy', what: "[2,3] against classes [1,1], 'none'", fn: (a) => T.softmaxCrossEntropy(a, idx([1, 1]), 'none'), inputs: () => [randn(2, 3)] },
  // ---- recurrent cells (the forward on the host kernel: one lstmCell node, its rule checked)
  { op: 'lstmCell', what: 'B=3, H=2', fn: (xw, h, c, w) => T.lstmCell(xw, h, c, w), inputs: () => [randn(3, 8), randn(3, 2), randn(3, 2), randn(8, 2)] },
  { op: 'lstmCell', what: 'B=1, H=1, h and c narrowed from one [1,2]', fn: (xw, hc, w) => T.lstmCell(xw, T.narrow(hc, 1, 0, 1), T.narrow(hc, 1, 1, 1), w), inputs: () => [randn(1, 4), randn(1, 2), randn(4, 1)] },
  // ---- whole-sequence recurrent ops (the forward and backward through time on the host kernels; second derivatives through the composites)
  { op: 'lstmSequence', what: 'L=3, B=2, H=2', fn: (x, h, c, w) => T.lstmSequence(x, h, c, w), inputs: () => [randn(3, 2, 8), randn(2, 2), randn(2, 2), randn(8, 2)] },
  { op: 'lstmSequence', what: 'reverse, L=2, B=1, H=1', fn: (x, h, c, w) => T.lstmSequence(x, h, c, w, { reverse: true }), inputs: () => [randn(2, 1, 4), randn(1, 1), randn(1, 1), randn(4, 1)] },
  { op: 'gruSequence', what: 'L=3, B=2, H=2, with bhh', fn: (x, h, w, b) => T.gruSequence(x, h, w, b), inputs: () => [randn(3, 2, 6), randn(2, 2), randn(6, 2), randn(6)] },
  { op: 'gruSequence', what: 'reverse, L=2, B=1, H=3, no bhh', fn: (x, h, w) => T.gruSequence(x, h, w, null, { reverse: true }), inputs: () => [randn(2, 1, 9), randn(1, 3), randn(9, 3)] },
  { op: 'rnnSequence', what: 'tanh, L=3, B=2, H=3', fn: (x, h, w) => T.rnnSequence(x, h, w), inputs: () => [randn(3, 2, 3), randn(2, 3), randn(3, 3)] },
  { op: 'rnnSequence', what: 'tanh, reverse, L=1, B=1, H=2', fn: (x, h, w) => T.rnnSequence(x, h, w, { reverse: true }), inputs: () => [randn(1, 1, 2), randn(1, 2), randn(2, 2)] },
  // ---- transformer ops (the forward on the host kernels: one node each, their rules checked)
  { op: 'layerNorm', what: '[2,3,4] over [4], weight and bias', fn: (x, w, b) => T.layerNorm(x, [4], w, b), inputs: () => [randn(2, 3, 4), randn(4), randn(4)] },
  { op: 'layerNorm', what: '[3,2,2] over [2,2], no affine', fn: (x) => T.layerNorm(x, [2, 2]), inputs: () => [randn(3, 2, 2)] },
  { op: 'scaledDotProductAttention', what: 'q [2,3,4], k [2,5,4], v [2,5,2]', fn: (q, k, v) => T.scaledDotProductAttention(q, k, v), inputs: () => [randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 2)] },
  { op: 'scaledDotProductAttention', what: 'causal, bool mask with a fully masked row, scale 0.5', fn: (q, k, v) => T.scaledDotProductAttention(q, k, v, { attnMask: T.tensor([[false, false, false], [true, true, true], [false, true, false]], { dtype: 'bool' }), isCausal: true, scale: 0.5 }), inputs: () => [randn(2, 3, 2), randn(2, 3, 2), randn(2, 3, 3)] },
  // ---- linear algebra
  { op: 'matmul', what: '[2,3] × [3,4]', fn: (a, b) => T.matmul(a, b), inputs: () => [randn(2, 3), randn(3, 4)] },
  { op: 'matmul', what: 'batched broadcast [2,1,2,3] × [3,3,2]', fn: (a, b) => T.matmul(a, b), inputs: () => [randn(2, 1, 2, 3), randn(3, 3, 2)] },
  { op: 'matmul', what: '[2,2,3] × [3,2] (shared right operand)', fn: (a, b) => T.matmul(a, b), inputs: () => [randn(2, 2, 3), randn(3, 2)] },
  { op: 'matmul', what: '1-D × 2-D and 2-D × 1-D', fn: (a, b) => T.matmul(T.matmul(a, b), a.index([0, 2])), inputs: () => [randn(3), randn(3, 2)] },
  { op: 'matmul', what: 'operands stored transposed: [3,4]ᵀ × [2,3]ᵀ (gradients keep their layout)', fn: (a, b) => T.matmul(a.T, b.T), inputs: () => [randn(3, 4), randn(2, 3)] },
  { op: 'matmul', what: 'x · wᵀ, a Linear layer', fn: (a, b) => T.matmul(a, b.T).tanh(), inputs: () => [randn(5, 3), randn(4, 3)] },
  { op: 'linear', what: 'x · wᵀ + b, x [2,3,4], w [5,4], b [5]', fn: (x, w, b) => T.linear(x, w, b).tanh(), inputs: () => [randn(2, 3, 4), randn(5, 4), randn(5)] },
  { op: 'linear', what: 'without a bias, 1-D x [4]', fn: (x, w) => T.linear(x, w).tanh(), inputs: () => [randn(4), randn(3, 4)] },
  { op: 'eigvalsh', what: 'eigenvalues of (X + Xᵀ)/2, 4×4', fn: (a) => T.eigvalsh(T.mul(T.add(a, a.T), 0.5)), inputs: () => [randn(4, 4)], atol: 1e-5 },
  { op: 'eigh', what: 'eigenvectors of (X + Xᵀ)/2, 3×3', fn: (a) => T.eigh(T.mul(T.add(a, a.T), 0.5)).eigenvectors, inputs: () => [randn(3, 3)], atol: 1e-5 },
  { op: 'cholesky', what: 'L of X Xᵀ + 2I, 3×3', fn: (a) => T.cholesky(T.add(T.matmul(a, a.T), T.mul(T.eye(3, 3, f64), 2))), inputs: () => [randn(3, 3)], atol: 1e-5 },
  { op: 'solve', what: '(A + 3I) x = B, B [3,2]', fn: (a, b) => T.solve(T.add(a, T.mul(T.eye(3, 3, f64), 3)), b), inputs: () => [randn(3, 3), randn(3, 2)], atol: 1e-5 },
  { op: 'lstsq', what: 'A [5,3], B [5,2]', fn: (a, b) => T.lstsq(a, b), inputs: () => [randn(5, 3), randn(5, 2)], atol: 1e-5 },
  { op: 'dot', what: '[4] · [4]', fn: (a, b) => T.dot(a, b), inputs: () => [randn(4), randn(4)] },
  { op: 'outer', what: '[3] ⊗ [2]', fn: (a, b) => T.outer(a, b), inputs: () => [randn(3), randn(2)] },
  // ---- layout
  { op: 'reshape', what: '[2,3] → [3,-1] of a transposed view', fn: (a) => T.reshape(T.transpose(a, 0, 1), [3, -1]).mul(T.arange(6, undefined, 1, f64).reshape(3, 2)), inputs: () => [randn(2, 3)] },
  { op: 'permute', what: '[2,3,4] → dims [2,0,1]', fn: (a) => T.permute(a, [2, 0, 1]).mul(T.arange(24, undefined, 1, f64).reshape(4, 2, 3)), inputs: () => [randn(2, 3, 4)] },
  { op: 'expand', what: '[3,1] → [2,3,4]', fn: (a) => T.expand(a, [2, 3, 4]).mul(T.arange(24, undefined, 1, f64).reshape(2, 3, 4)), inputs: () => [randn(3, 1)] },
  { op: 'squeeze', what: 'unsqueeze then squeeze', fn: (a) => T.squeeze(T.unsqueeze(a, 1)).mul(2), inputs: () => [randn(3)] },
  { op: 'narrow', what: 'dim 1, start 1, length 2', fn: (a) => T.narrow(a, 1, 1, 2), inputs: () => [randn(2, 4)] },
  { op: 'select', what: 'dim 0, index -1', fn: (a) => T.select(a, 0, -1), inputs: () => [randn(3, 2)] },
  { op: 'index', what: 'x[1:, ::2] (strided slice)', fn: (a) => a.index([1], [0, undefined, 2]), inputs: () => [randn(3, 5)] },
  { op: 'flatten', what: 'dims 1..2', fn: (a) => T.flatten(a, 1).mul(T.arange(6, undefined, 1, f64)), inputs: () => [randn(2, 3, 2)] },
  { op: 'concat', what: '[2,1] ++ [2,3] on dim 1', fn: (a, b) => T.concat([a, b], 1), inputs: () => [randn(2, 1), randn(2, 3)] },
  { op: 'stack', what: 'two [3] on dim 1', fn: (a, b) => T.stack([a, b], 1), inputs: () => [randn(3), randn(3)] },
  { op: 'split', what: 'sizes [1,2], weighted', fn: (a) => { const [p, q] = T.split(a, [1, 2], 1); return T.add(T.mul(p, 3), T.sum(q, 1, true)); }, inputs: () => [randn(2, 3)] },
  { op: 'chunk', what: '3 chunks, product', fn: (a) => { const [p, q, r] = T.chunk(a, 3); return T.mul(T.mul(p, q), r); }, inputs: () => [randn(3, 2)] },
  { op: 'pad', what: '[1,2] on last dim, crop -1 on first', fn: (a) => T.pad(a, [1, 2, -1, 0], 0.5), inputs: () => [randn(3, 2)] },
  { op: 'contiguous', what: 'of a transposed view', fn: (a) => T.contiguous(T.transpose(a, 0, 1)).mul(T.arange(6, undefined, 1, f64).reshape(3, 2)), inputs: () => [randn(2, 3)] },
  { op: 'clone', what: 'of a contiguous tensor, weighted', fn: (a) => T.clone(a).mul(T.arange(6, undefined, 1, f64).reshape(2, 3)), inputs: () => [randn(2, 3)] },
  { op: 'cast', what: 'float64 → float32 → float64', fn: (a) => T.cast(T.cast(a, 'float32'), 'float64').mul(3), inputs: () => [randn(3)], eps: 1e-2, atol: 1e-4, second: false },
  // ---- indexing
  { op: 'gather', what: 'dim 1 with repeated indices', fn: (a) => T.gather(a, 1, idx([0, 0, 2, 1], [2, 2])), inputs: () => [randn(2, 3)] },
  { op: 'scatterAdd', what: 'dim 0, both base and src', fn: (a, b) => T.scatterAdd(a, 0, idx([2, 0, 2], [3, 1]), b), inputs: () => [randn(3, 1), randn(3, 1)] },
  { op: 'indexSelect', what: 'rows [2,0,2]', fn: (a) => T.indexSelect(a, 0, idx([2, 0, 2])), inputs: () => [randn(3, 2)] },
  { op: 'maskedFill', what: 'mask broadcast [1,3]', fn: (a) => T.maskedFill(a, T.tensor([[true, false, true]]), 7), inputs: () => [randn(2, 3)] },
  // ---- convolution and pooling (im2col / col2im underneath)
  { op: 'conv2d', what: "stride 2, padding 'same', with bias", fn: (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 'same' }), inputs: () => [randn(1, 2, 5, 5), randn(3, 2, 3, 3), randn(3)] },
  { op: 'conv2d', what: 'dilation 2, padding 1, groups 2', fn: (x, w) => T.conv2d(x, w, null, { dilation: 2, padding: 1, groups: 2 }), inputs: () => [randn(2, 2, 4, 4), randn(4, 1, 2, 2)], second: false },
  { op: 'conv1d', what: "padding 'same', kernel 3", fn: (x, w) => T.conv1d(x, w, null, { padding: 'same' }), inputs: () => [randn(1, 2, 5), randn(2, 2, 3)] },
  { op: 'maxPool2d', what: 'kernel 2, stride 1, padding 1', fn: (x) => T.maxPool2d(x, { kernelSize: 2, stride: 1, padding: 1 }), inputs: () => [spread(1, 2, 3, 3)] },
  { op: 'avgPool2d', what: 'kernel 3, stride 2, padding 1, countIncludePad false', fn: (x) => T.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), inputs: () => [randn(1, 1, 5, 5)] },
  { op: 'maxPool1d', what: 'kernel 2', fn: (x) => T.maxPool1d(x, { kernelSize: 2 }), inputs: () => [spread(1, 2, 6)] },
  { op: 'avgPool1d', what: 'kernel 3, stride 1', fn: (x) => T.avgPool1d(x, { kernelSize: 3, stride: 1 }), inputs: () => [randn(2, 1, 5)] },
];
