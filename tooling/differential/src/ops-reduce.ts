/** Differential ops: reductions, arg-reductions, softmax, cross-entropy and the norms. */
import fc from 'fast-check';
import {
  add, argmax, argmin, div, logSoftmax, logsumexp, max, mean, min, mul, prod, rsqrt, softmax, softmaxCrossEntropy, std, sub, sum,
  variance, sqrt as sqrtOp, type LossReduction, type Tensor,
} from '@ml/tensor';
import { operand, shape, size, SMALL } from './arbitraries.js';
import type { ValueKind } from './operand.js';
import { defineOp, type AnyOp } from './runner.js';
import { cases, dims, perBackend, prodOf, REDUCE_SHAPE, SUMS } from './ops-common.js';

type Reduce = (x: Tensor, dim: number | number[] | undefined, keepdim: boolean) => Tensor;
const REDUCTIONS: [string, Reduce, ValueKind, fc.Arbitrary<number[]>][] = [
  ['sum', (x, d, k) => sum(x, d, k), 'float', REDUCE_SHAPE],
  ['mean', (x, d, k) => mean(x, d, k), 'float', REDUCE_SHAPE],
  ['max', (x, d, k) => max(x, d, k), 'float', REDUCE_SHAPE],
  ['min', (x, d, k) => min(x, d, k), 'float', REDUCE_SHAPE],
  // products of a few values only: float32 overflows where float64 does not
  ['prod', (x, d, k) => prod(x, d, k), 'nonzero', shape(SMALL, 0, 3, 24)],
  ['var', (x, d, k) => variance(x, d, { keepdim: k, correction: 1 }), 'float', REDUCE_SHAPE],
  // (its gradient at a zero spread is NaN in float64 but finite after float32 rounding: not broadcast)
  ['std', (x, d, k) => std(x, d, { keepdim: k, correction: 0 }), 'positive', REDUCE_SHAPE],
  ['logsumexp', (x, d, k) => logsumexp(x, d ?? x.shape.map((_, i) => i), k), 'float', REDUCE_SHAPE],
];

export const reduceOps: AnyOp[] = REDUCTIONS.map(([name, fn, kind, shapes]) =>
  defineOp({
    name: `reduce ${name} (dims, keepdim)`,
    runs: 30,
    cases: cases(shapes.chain((s) => fc.record({ s: fc.constant(s), dim: dims(s.length), keepdim: fc.boolean() })), ({ s, dim, keepdim }) => ({
      operands: [operand(s, kind, { layout: { expand: name === 'std' ? 0 : 2 } })],
      attrs: { dim, keepdim },
    })),
    run: ([x], { dim, keepdim }) => fn(x, dim, keepdim),
    tol: SUMS,
  }),
);

export const intReduceOp = defineOp({
  name: 'reduce sum/max/min/prod of int32',
  runs: 20,
  cases: cases(shape(SMALL, 0, 3, 64).chain((s) => fc.record({ s: fc.constant(s), dim: dims(s.length), keepdim: fc.boolean(), fn: fc.constantFrom('sum', 'max', 'min', 'prod') })), ({ s, dim, keepdim, fn }) => ({
    operands: [operand(s, 'int')],
    attrs: { dim, keepdim, fn },
  })),
  run: ([x], { dim, keepdim, fn }) => (fn === 'sum' ? sum(x, dim, keepdim) : fn === 'max' ? max(x, dim, keepdim) : fn === 'min' ? min(x, dim, keepdim) : prod(x, dim, keepdim)),
});

export const argOps: AnyOp[] = (
  [
    ['argmax', argmax],
    ['argmin', argmin],
  ] as const
).map(([name, fn]) =>
  defineOp({
    name: `reduce ${name}`,
    runs: 25,
    cases: cases(
      REDUCE_SHAPE.chain((s) => fc.record({ s: fc.constant(s), dim: s.length === 0 ? fc.constant(undefined) : fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined }), keepdim: fc.boolean(), int: fc.boolean() })),
      ({ s, dim, keepdim, int }) => ({ operands: [operand(s, int ? 'int' : 'float', { layout: { expand: 2 } })], attrs: { dim, keepdim } }),
    ),
    run: ([x], { dim, keepdim }) => fn(x, dim, keepdim),
  }),
);

// ---------------------------------------------------------------- softmax and losses

const softmaxShapes = fc.oneof(
  { weight: 4, arbitrary: shape(SMALL, 1, 4, 4096) },
  { weight: 1, arbitrary: fc.constantFrom<number[]>([3, 65], [2, 1000], [70, 5], [4, 4097], [33, 3, 16]) },
);

export const softmaxOps: AnyOp[] = (
  [
    ['softmax', softmax],
    ['logSoftmax', logSoftmax],
  ] as const
).map(([name, fn]) =>
  defineOp({
    name: `${name} (any dim)`,
    runs: 30,
    cases: cases(softmaxShapes.chain((s) => fc.record({ s: fc.constant(s), dim: fc.oneof(fc.constant(-1), fc.integer({ min: -s.length, max: s.length - 1 })) })), ({ s, dim }) => ({
      operands: [operand(s, 'float', { layout: { perm: 2, expand: 2, slice: 2, step: 1, offset: 2 } })],
      attrs: { dim },
    })),
    run: ([x], { dim }) => fn(x, dim),
    tol: perBackend({ scale: 4e-6 }, { rtol: 2e-5, scale: 1e-5 }),
  }),
);

export const crossEntropyOp = defineOp({
  name: 'softmaxCrossEntropy (fused, and its backward)',
  runs: 30,
  cases: cases(
    fc.record({ N: size([1, 2, 3, 0, 4, 5, 8, 9, 17, 64]), C: size([1, 2, 3, 4, 5, 8, 9, 10, 100, 1000], 1, 20), reduction: fc.constantFrom<LossReduction>('mean', 'sum', 'none') }),
    ({ N, C, reduction }) => ({
      operands: [operand([N, C], 'float', { layout: { perm: 2, expand: 1, slice: 2, step: 1, offset: 2 } }), operand([N], 'index', { bound: C, layout: { perm: 0, expand: 2 } })],
      attrs: { reduction },
    }),
  ),
  run: ([x, t], { reduction }) => softmaxCrossEntropy(x, t, reduction),
  tol: { rtol: 1e-5, atol: 1e-5, scale: 1e-5 },
});

/**
 * Fewest values a normalization runs over: the variance of a few values can be tiny, and
 * dividing by its root amplifies float32 rounding past any fixed tolerance.
 */
const NORM_MIN = 8;

/** Layer normalization over the last dims (a composite: mean, variance, rsqrt), with weight and bias. */
export const layerNormOp = defineOp({
  name: 'layerNorm (composite)',
  runs: 20,
  cases: cases(fc.record({ s: shape(SMALL.filter((d) => d > 0), 2, 4, 4096), last: fc.integer({ min: 1, max: 2 }) }).filter(({ s, last }) => prodOf(s.slice(s.length - Math.min(last, s.length - 1))) >= NORM_MIN), ({ s, last }) => {
    const norm = s.slice(s.length - Math.min(last, s.length - 1));
    // x not broadcast: a constant row has no variance, and its normalization only amplifies rounding
    return { operands: [operand(s, 'float', { layout: { expand: 0 } }), operand(norm), operand(norm)], attrs: { axes: norm.map((_, i) => s.length - norm.length + i) } };
  }),
  run: ([x, w, b], { axes }) => {
    const m = mean(x, axes, true);
    const c = sub(x, m);
    return add(mul(mul(c, rsqrt(add(mean(mul(c, c), axes, true), 1e-5))), w), b);
  },
  tol: SUMS,
});

/** Batch normalization in training mode over [N, C, ...] (a composite), with weight and bias per channel. */
export const batchNormOp = defineOp({
  name: 'batchNorm (composite, training)',
  runs: 20,
  cases: cases(shape(SMALL.filter((d) => d > 0), 2, 4, 4096).filter((s) => prodOf(s) / s[1] >= NORM_MIN), (s) => {
    const ch = s.map((d, i) => (i === 1 ? d : 1));
    return { operands: [operand(s, 'float', { layout: { expand: 0 } }), operand(ch.slice(1)), operand(ch.slice(1))], attrs: { axes: s.map((_, i) => i).filter((i) => i !== 1) } };
  }),
  run: ([x, w, b], { axes }) => {
    const m = mean(x, axes, true);
    const v = variance(x, axes, { keepdim: true, correction: 0 });
    return add(mul(div(sub(x, m), sqrtOp(add(v, 1e-5))), w), b);
  },
  tol: SUMS,
});
