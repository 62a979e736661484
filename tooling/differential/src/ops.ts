/**
 * The table of ops the differential test runs: every primitive of the Backend contract
 * (through the public op that reaches it), every fused kernel (convolutions and their
 * gradients, pooling, relu's gradient, log-softmax, cross-entropy, the Adam step) and the
 * composites built on them, each with a generator of cases whose sizes sit on both sides
 * of the backends' thresholds:
 *
 * - wasm: products of fewer than 4096 multiply-adds stay on the CPU code (MIN_WORK); A
 *   padded to rows of 4 (GEMM_ROWS), B to panels of 8 columns; a row-major B of at most
 *   512 KiB read where it lies (IN_PLACE_B_BYTES); products of 2^20 multiply-adds split
 *   across threads (THREADED_MIN_WORK), other kernels from 256 KiB moved
 *   (PARALLEL_MIN_BYTES); 3×3 stride-1 convolutions direct up to 4 input channels with 4
 *   or more output columns, by Winograd from 8 channels in and out and 7 columns; tiled
 *   max pooling (2×2 its own kernel); binary kernels on rows of 4 or more; sums over
 *   trailing axes of 16 or more, leading axes with 4 or more columns, whole tensors from
 *   16384 values; row gathers of 16 or more values; the Adam step in place for multiples of 4.
 * - webgpu: 64 × 64 product tiles with k-steps of 32, workgroups of 64, reductions by
 *   workgroup above 64 values when fewer than 4096 outputs, fills above 1024 on the GPU.
 */
import fc from 'fast-check';
import {
  abs, add, argmax, argmin, avgPool1d, avgPool2d, cast, ceil, clamp, col2im, concat, conv1d, conv2d, cos, div, elu, eq, erf, exp,
  expm1, floor, gather, ge, gelu, getKernel, gt, im2col, indexSelect, le, leakyRelu, log, log1p, logicalAnd, logicalNot, logicalOr,
  logSigmoid, logSoftmax, logsumexp, lt, matmul, max, maximum, maxPool1d, maxPool2d, mean, min, minimum, mul, ne, neg, pad,
  padPrim, patchOutputSize, pow, prod, reciprocal, relu, round, rsqrt, scatterAdd, sigmoid, sign, silu, sin, softmax,
  softmaxCrossEntropy, softplus, sqrt, square, std, sub, sum, tanh, variance, where, contiguous, sqrt as sqrtOp,
  type Im2ColParams, type LossReduction, type Tensor,
} from '@ml/tensor';
import { broadcastPartner, operand, shape, size, SMALL, type LayoutOptions } from './arbitraries.js';
import type { Operand, ValueKind } from './operand.js';
import { defineOp, type AnyOp, type Case, type Tolerance } from './runner.js';

// ---------------------------------------------------------------- helpers

/** A case from a spec: its operands' arbitraries and its attributes. */
function cases<S, A>(spec: fc.Arbitrary<S>, make: (s: S) => { operands: fc.Arbitrary<Operand>[]; attrs: A }): fc.Arbitrary<Case<A>> {
  return spec.chain((s) => {
    const { operands, attrs } = make(s);
    return fc.record({ operands: fc.tuple(...operands).map((xs) => [...xs]), attrs: fc.constant(attrs), seed: fc.integer() });
  });
}

const prodOf = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/**
 * Shapes for elementwise ops: small ones of rank 0–4 (0 and 1 sizes, around 4 and 8), or
 * larger ones whose kernels split across threads (2^15 floats = 256 KiB in and out).
 */
const ELEMENTWISE_SHAPE = fc.oneof(
  { weight: 6, arbitrary: shape(SMALL, 0, 4, 4096) },
  { weight: 1, arbitrary: fc.constantFrom<number[]>([32768], [32769], [4, 8193], [3, 129, 65], [257, 128]) },
);

/** Shapes for reductions: small ones, and long rows around 16, 64, 4096 and 16384. */
const REDUCE_SHAPE = fc.oneof(
  { weight: 5, arbitrary: shape(SMALL, 0, 4, 4096) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.tuple(size([1, 2, 3, 5]), size([15, 16, 17, 63, 64, 65, 100, 129])).map(([a, b]) => [a, b]),
      fc.tuple(size([4095, 4096, 4097, 5000]), size([1, 2, 3, 4, 5])).map(([a, b]) => [a, b]),
      fc.constantFrom<number[]>([16383], [16384], [16385], [20000], [2, 70, 3], [4, 4, 1025], [128, 129]),
    ),
  },
);

/** `dim` arguments over a tensor of rank r: all dims, one (possibly negative) or a few. */
function dims(r: number): fc.Arbitrary<number | number[] | undefined> {
  if (r === 0) return fc.constantFrom<number | number[] | undefined>(undefined, 0, -1);
  return fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: -r, max: r - 1 }),
    fc.subarray(Array.from({ length: r }, (_, i) => i), { minLength: 1 }),
  );
}

/** Tolerance per backend: `webgpu` entries where the GPU's own functions are less exact. */
function perBackend(base: Partial<Tolerance>, gpu: Partial<Tolerance>): (backend: string) => Partial<Tolerance> {
  return (backend) => (backend.startsWith('webgpu') ? { ...base, ...gpu } : base);
}

/** Tolerance of ops that sum many terms (products, convolutions, reductions). */
const SUMS: Partial<Tolerance> = { rtol: 1e-5, atol: 1e-5, scale: 2e-5 };

// ---------------------------------------------------------------- elementwise

type Unary = (x: Tensor) => Tensor;
const UNARY: [string, Unary, ValueKind, boolean][] = [
  // name, op, input values, also on int32
  ['neg', neg, 'float', true],
  ['abs', abs, 'float', true],
  ['sign', sign, 'float', true],
  ['exp', exp, 'float', false],
  ['expm1', expm1, 'float', false],
  ['log', log, 'positive', false],
  ['log1p', log1p, 'unit', false],
  ['sqrt', sqrt, 'positive', false],
  ['rsqrt', rsqrt, 'positive', false],
  ['sin', sin, 'float', false],
  ['cos', cos, 'float', false],
  ['tanh', tanh, 'float', false],
  ['sigmoid', sigmoid, 'float', false],
  ['relu', relu, 'float', true],
  ['erf', erf, 'float', false],
  ['floor', floor, 'float', true],
  ['ceil', ceil, 'float', true],
  ['round', round, 'float', true],
  ['reciprocal', reciprocal, 'nonzero', false],
];

const unaryOps: AnyOp[] = UNARY.map(([name, fn, kind, ints]) =>
  defineOp({
    name: `unary ${name}`,
    runs: 25,
    cases: cases(fc.record({ s: ELEMENTWISE_SHAPE, int: ints ? fc.boolean() : fc.constant(false) }), ({ s, int }) => ({
      operands: [operand(s, int ? 'int' : kind)],
      attrs: { int },
    })),
    run: ([x]) => fn(x),
    tol: perBackend({}, { rtol: 2e-5, atol: 2e-6 }),
  }),
);

const logicalNotOp = defineOp({
  name: 'unary not (logicalNot)',
  runs: 15,
  cases: cases(ELEMENTWISE_SHAPE, (s) => ({ operands: [operand(s, 'bool')], attrs: {} })),
  run: ([x]) => logicalNot(x),
});

const ACTIVATIONS: Record<string, Unary> = {
  square,
  gelu: (x) => gelu(x),
  geluTanh: (x) => gelu(x, 'tanh'),
  silu,
  softplus: (x) => softplus(x, 1.5, 2),
  elu: (x) => elu(x, 0.7),
  leakyRelu: (x) => leakyRelu(x, 0.1),
  logSigmoid,
  clamp: (x) => clamp(x, -0.5, 1.25),
};

const activationOp = defineOp({
  name: 'activations (composites: gelu, silu, softplus, elu, leakyRelu, logSigmoid, clamp, square)',
  runs: 40,
  cases: cases(fc.record({ s: ELEMENTWISE_SHAPE, fn: fc.constantFrom(...Object.keys(ACTIVATIONS)) }), ({ s, fn }) => ({ operands: [operand(s)], attrs: { fn } })),
  run: ([x], { fn }) => ACTIVATIONS[fn](x),
  tol: perBackend({}, { rtol: 2e-5, atol: 5e-6 }),
});

type Binary = (a: Tensor | number, b: Tensor | number) => Tensor;
const BINARY: [string, Binary, ValueKind, ValueKind, boolean][] = [
  ['add', add, 'float', 'float', true],
  ['sub', sub, 'float', 'float', true],
  ['mul', mul, 'float', 'float', true],
  ['div', div, 'float', 'nonzero', false],
  ['pow', pow, 'positive', 'float', false],
  ['maximum', maximum, 'float', 'float', true],
  ['minimum', minimum, 'float', 'float', true],
];

/** Two operands that broadcast together (either may be the larger, or a scalar number). */
function binaryCases(ka: ValueKind, kb: ValueKind, ints: boolean, scalars = true): fc.Arbitrary<Case<{ scalar: number | null; side: 'a' | 'b' }>> {
  const spec = fc.record({
    out: ELEMENTWISE_SHAPE,
    int: ints ? fc.boolean() : fc.constant(false),
    scalar: scalars ? fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(2, 0.5, -1.25, 3) }) : fc.constant(null),
    side: fc.constantFrom<'a' | 'b'>('a', 'b'),
  }).chain((s) => fc.record({ s: fc.constant(s), pa: broadcastPartner(s.out), pb: broadcastPartner(s.out), full: fc.constantFrom('a', 'b') }));
  return cases(spec, ({ s, pa, pb, full }) => {
    const [sa, sb] = full === 'a' ? [s.out, pb] : [pa, s.out];
    const ops = s.scalar === null ? [operand(sa, s.int ? 'int' : ka), operand(sb, s.int ? 'int' : kb)] : [operand(s.out, s.int ? 'int' : s.side === 'a' ? kb : ka)];
    return { operands: ops, attrs: { scalar: s.scalar === null ? null : s.int ? Math.round(s.scalar) : s.scalar, side: s.side } };
  });
}

function applyBinary(fn: Binary, xs: Tensor[], { scalar, side }: { scalar: number | null; side: 'a' | 'b' }): Tensor {
  if (scalar === null) return fn(xs[0], xs[1]);
  return side === 'a' ? fn(scalar, xs[0]) : fn(xs[0], scalar);
}

const binaryOps: AnyOp[] = BINARY.map(([name, fn, ka, kb, ints]) =>
  defineOp({
    name: `binary ${name} (broadcast)`,
    runs: 30,
    cases: binaryCases(ka, kb, ints),
    run: (xs, attrs) => applyBinary(fn, xs, attrs),
    tol: name === 'pow' ? perBackend({ rtol: 1e-5 }, { rtol: 4e-5 }) : perBackend({}, { rtol: 1e-5 }),
  }),
);

const COMPARISONS: [string, Binary][] = [
  ['eq', eq], ['ne', ne], ['lt', lt], ['le', le], ['gt', gt], ['ge', ge],
];

const comparisonOps: AnyOp[] = COMPARISONS.map(([name, fn]) =>
  defineOp({
    name: `compare ${name} (broadcast)`,
    runs: 15,
    // int32 half the time, so that equal values are common
    cases: binaryCases('float', 'float', true),
    run: (xs, attrs) => applyBinary(fn, xs, attrs),
  }),
);

const logicalOps: AnyOp[] = (
  [
    ['and', logicalAnd],
    ['or', logicalOr],
  ] as const
).map(([name, fn]) =>
  defineOp({
    name: `logical ${name} (broadcast)`,
    runs: 15,
    cases: binaryCases('bool', 'bool', false, false),
    run: ([a, b]) => fn(a, b),
  }),
);

const whereOp = defineOp({
  name: 'where (broadcast)',
  runs: 30,
  cases: cases(
    ELEMENTWISE_SHAPE.chain((out) => fc.tuple(fc.constant(out), broadcastPartner(out), broadcastPartner(out), broadcastPartner(out), fc.nat(2))),
    ([out, pc, pa, pb, full]) => {
      const s = [pc, pa, pb];
      s[full] = out;
      return { operands: [operand(s[0], 'bool'), operand(s[1]), operand(s[2])], attrs: {} };
    },
  ),
  run: ([c, a, b]) => where(c, a, b),
});

const castOp = defineOp({
  name: 'cast (float, int32, bool)',
  runs: 30,
  cases: cases(fc.record({ s: ELEMENTWISE_SHAPE, from: fc.constantFrom<ValueKind>('float', 'int', 'bool'), to: fc.constantFrom('float', 'int32', 'bool') }), ({ s, from, to }) => ({
    operands: [operand(s, from)],
    attrs: { to },
  })),
  run: ([x], { to }, ctx) => cast(x, to === 'float' ? ctx.float : to),
});

const contiguousOp = defineOp({
  name: 'contiguous copy of a view',
  runs: 40,
  cases: cases(fc.oneof(ELEMENTWISE_SHAPE, shape(SMALL, 1, 5, 4096)), (s) => ({ operands: [operand(s, 'float', { layout: { perm: 5, expand: 4, slice: 4, step: 3, offset: 3 } })], attrs: {} })),
  run: ([x]) => contiguous(x),
});

// ---------------------------------------------------------------- reductions

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

const reduceOps: AnyOp[] = REDUCTIONS.map(([name, fn, kind, shapes]) =>
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

const intReduceOp = defineOp({
  name: 'reduce sum/max/min/prod of int32',
  runs: 20,
  cases: cases(shape(SMALL, 0, 3, 64).chain((s) => fc.record({ s: fc.constant(s), dim: dims(s.length), keepdim: fc.boolean(), fn: fc.constantFrom('sum', 'max', 'min', 'prod') })), ({ s, dim, keepdim, fn }) => ({
    operands: [operand(s, 'int')],
    attrs: { dim, keepdim, fn },
  })),
  run: ([x], { dim, keepdim, fn }) => (fn === 'sum' ? sum(x, dim, keepdim) : fn === 'max' ? max(x, dim, keepdim) : fn === 'min' ? min(x, dim, keepdim) : prod(x, dim, keepdim)),
});

const argOps: AnyOp[] = (
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

const softmaxOps: AnyOp[] = (
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

const crossEntropyOp = defineOp({
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
const layerNormOp = defineOp({
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
const batchNormOp = defineOp({
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

// ---------------------------------------------------------------- matmul

/** Sizes of a product: tiny (the CPU code), around the kernel's rows of 4 and panels of 8, or large (threads, B read in place or packed). */
const MATMUL_SIZES = fc.oneof(
  { weight: 3, arbitrary: fc.record({ M: size([1, 2, 3, 0, 4, 5, 7, 8, 9]), K: size([1, 2, 3, 0, 4, 5, 8, 9, 16]), N: size([1, 2, 3, 0, 4, 7, 8, 9, 16]) }) },
  { weight: 5, arbitrary: fc.record({ M: size([4, 5, 1, 3, 7, 8, 9, 16, 17, 31, 33]), K: size([64, 16, 17, 31, 33, 100, 128, 130], 1, 140), N: size([8, 16, 24, 9, 13, 1, 7, 32, 64, 65], 1, 72) }) },
  { weight: 2, arbitrary: fc.record({ M: size([64, 65, 128, 127, 4, 5]), K: size([256, 64, 128, 512, 513, 1024]), N: size([128, 64, 256, 257, 120, 8]) }) },
);

/** most multiply-adds of a generated product (K shrinks to fit): the float64 reference stays quick */
const MATMUL_MAX_WORK = 9_000_000;

interface MatmulSpec {
  M: number;
  K: number;
  N: number;
  batch: number[];
  /** which operand's batch dims are broadcast (size 1 or absent) */
  bcast: 'none' | 'a' | 'b' | 'mixed';
  /** drop the broadcast operand's batch dims instead of keeping them as 1s */
  drop: boolean;
  vector: 'none' | 'a' | 'b';
}

const matmulSpec: fc.Arbitrary<MatmulSpec> = fc
  .record({
    sizes: MATMUL_SIZES,
    batch: fc.oneof({ weight: 2, arbitrary: fc.constant<number[]>([]) }, { weight: 4, arbitrary: fc.tuple(size([2, 3, 5, 1, 0])).map((b) => [...b]) }, { weight: 1, arbitrary: fc.tuple(size([2, 1, 3]), size([3, 1, 2, 0])).map((b) => [...b]) }),
    bcast: fc.constantFrom<MatmulSpec['bcast']>('none', 'b', 'a', 'mixed', 'b'),
    drop: fc.boolean(),
    vector: fc.oneof({ weight: 10, arbitrary: fc.constant<MatmulSpec['vector']>('none') }, { weight: 1, arbitrary: fc.constant<MatmulSpec['vector']>('a') }, { weight: 1, arbitrary: fc.constant<MatmulSpec['vector']>('b') }),
  })
  .map(({ sizes, batch, bcast, drop, vector }) => {
    let { K } = sizes;
    const work = () => Math.max(1, prodOf(batch)) * sizes.M * K * sizes.N;
    while (K > 1 && work() > MATMUL_MAX_WORK) K = Math.ceil(K / 2);
    return { ...sizes, K, batch, bcast, drop, vector };
  });

/** The operands' shapes of a matmul spec (NumPy rules: 1-D operands, broadcast batch dims). */
export function matmulShapes(s: MatmulSpec): [number[], number[]] {
  const batchOf = (which: 'a' | 'b'): number[] => {
    const broadcast = s.bcast === which || (s.bcast === 'mixed' && which === 'a');
    if (s.bcast === 'mixed') return s.batch.map((d, i) => ((i % 2 === 0) === (which === 'a') ? 1 : d));
    if (!broadcast) return s.batch;
    return s.drop ? [] : s.batch.map(() => 1);
  };
  const a = s.vector === 'a' ? [s.K] : [...batchOf('a'), s.M, s.K];
  const b = s.vector === 'b' ? [s.K] : [...batchOf('b'), s.K, s.N];
  return [a, b];
}

const MATMUL_LAYOUT: LayoutOptions = { perm: 3, expand: 4, slice: 3, step: 2, offset: 2 };

const matmulOp = defineOp({
  name: 'matmul (batched, broadcast, expanded, transposed, sliced)',
  runs: 200,
  cases: cases(matmulSpec, (s) => {
    const [a, b] = matmulShapes(s);
    return { operands: [operand(a, 'float', { layout: MATMUL_LAYOUT }), operand(b, 'float', { layout: MATMUL_LAYOUT })], attrs: s };
  }),
  run: ([a, b]) => matmul(a, b),
  tol: SUMS,
});

// ---------------------------------------------------------------- indexing and layout

const gatherOp = defineOp({
  name: 'gather (any dim, negative indices)',
  runs: 30,
  cases: cases(
    shape(SMALL, 1, 3, 2048).chain((s) =>
      fc.record({
        s: fc.constant(s),
        dim: fc.integer({ min: 0, max: s.length - 1 }),
        idx: fc.array(fc.nat(), { minLength: s.length, maxLength: s.length }),
        along: size([1, 2, 3, 0, 5, 8]),
        negative: fc.boolean(),
      }),
    ),
    ({ s, dim, idx, along, negative }) => {
      const n = s[dim];
      const ishape = s.map((d, i) => (i === dim ? (n === 0 ? 0 : along) : idx[i] % (d + 1)));
      return {
        operands: [operand(s), operand(ishape, 'index', { bound: Math.max(n, 1), low: negative ? -n : 0, layout: { expand: 2 } })],
        attrs: { dim },
      };
    },
  ),
  run: ([x, i], { dim }) => gather(x, dim, i),
});

const indexSelectOp = defineOp({
  name: 'indexSelect (rows of 16 and more: the wasm row copy)',
  runs: 30,
  cases: cases(
    fc.record({ s: fc.oneof(shape(SMALL, 1, 3, 2048), fc.tuple(size([1, 2, 5, 9, 0]), size([16, 15, 17, 32, 64, 100])).map(([a, b]) => [a, b])), k: size([1, 2, 3, 0, 5, 9]), first: fc.boolean() }).chain((r) =>
      fc.record({ r: fc.constant(r), dim: r.first ? fc.constant(0) : fc.integer({ min: 0, max: r.s.length - 1 }) }),
    ),
    ({ r, dim }) => {
      const n = r.s[dim];
      return { operands: [operand(r.s, 'float', { layout: { perm: 1, expand: 1, slice: 1, step: 1, offset: 2 } }), operand([n === 0 ? 0 : r.k], 'index', { bound: Math.max(n, 1), layout: false })], attrs: { dim } };
    },
  ),
  run: ([x, i], { dim }) => indexSelect(x, dim, i),
});

const scatterAddOp = defineOp({
  name: 'scatterAdd (any dim, repeated indices)',
  runs: 30,
  cases: cases(
    shape(SMALL, 1, 3, 2048).chain((s) =>
      fc.record({ s: fc.constant(s), dim: fc.integer({ min: 0, max: s.length - 1 }), idx: fc.array(fc.nat(), { minLength: s.length, maxLength: s.length }), along: size([1, 2, 3, 0, 5, 8]) }),
    ),
    ({ s, dim, idx, along }) => {
      const n = s[dim];
      const ishape = s.map((d, i) => (i === dim ? (n === 0 ? 0 : along) : idx[i] % (d + 1)));
      return { operands: [operand(s), operand(ishape, 'index', { bound: Math.max(n, 1), layout: { expand: 2 } }), operand(ishape)], attrs: { dim } };
    },
  ),
  run: ([base, i, src], { dim }) => scatterAdd(base, dim, i, src),
});

const concatOp = defineOp({
  name: 'concat (1 to 4 views)',
  runs: 30,
  cases: cases(
    shape(SMALL, 1, 3, 1024).chain((s) =>
      fc.record({ s: fc.constant(s), dim: fc.integer({ min: 0, max: s.length - 1 }), sizes: fc.array(size([1, 2, 3, 0, 4, 7]), { minLength: 1, maxLength: 4 }), kind: fc.constantFrom<ValueKind>('float', 'float', 'int', 'bool') }),
    ),
    ({ s, dim, sizes, kind }) => ({ operands: sizes.map((n) => operand(s.map((d, i) => (i === dim ? n : d)), kind)), attrs: { dim } }),
  ),
  run: (xs, { dim }) => concat(xs, dim),
});

const padOp = defineOp({
  name: 'pad (edges, crops and interior)',
  runs: 30,
  cases: cases(
    shape(SMALL, 1, 3, 1024).chain((s) =>
      fc.record({
        s: fc.constant(s),
        low: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: s.length, maxLength: s.length }),
        high: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: s.length, maxLength: s.length }),
        interior: fc.oneof(fc.constant(null), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length })),
        value: fc.constantFrom(0, 1.5, -2),
      }),
    ),
    ({ s, low, high, interior, value }) => {
      // crops (negative pads) only where the dim is long enough
      const fix = (p: number[]) => p.map((v, i) => (v < 0 && s[i] < 2 ? 0 : v));
      const [lo, hi] = interior === null ? [fix(low), fix(high)] : [low.map((v) => Math.max(0, v)), high.map((v) => Math.max(0, v))];
      return { operands: [operand(s)], attrs: { low: lo, high: hi, interior, value } };
    },
  ),
  run: ([x], { low, high, interior, value }) => {
    if (interior !== null) return padPrim(x, low, high, interior, value);
    const pads: number[] = [];
    for (let d = x.ndim - 1; d >= 0; d--) pads.push(low[d], high[d]);
    return pad(x, pads, value);
  },
});

// ---------------------------------------------------------------- convolution and pooling

type Padding = number | [number, number] | 'same' | 'valid';

interface ConvSpec {
  N: number;
  C: number;
  O: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  stride: [number, number];
  dilation: [number, number];
  padding: Padding;
  groups: number;
  bias: boolean;
}

const pair = (a: fc.Arbitrary<number>) => fc.tuple(a, a);
const plain3x3 = { kh: fc.constant(3), kw: fc.constant(3), stride: fc.constant<[number, number]>([1, 1]), dilation: fc.constant<[number, number]>([1, 1]), groups: fc.constant(1) };

/**
 * Convolutions: 3×3 stride-1 ones of few input channels (wasm: direct), of 8 or more
 * channels in and out (wasm: Winograd), any other geometry (wasm: patch matrices; groups:
 * the composite), and large ones whose kernels split across threads.
 */
const CONV_SPEC: fc.Arbitrary<ConvSpec> = fc
  .oneof(
    {
      weight: 3,
      arbitrary: fc.record({ ...plain3x3, N: size([1, 2, 3, 0]), C: size([1, 2, 3, 4, 0]), O: size([1, 2, 3, 5, 8, 9, 0]), H: size([1, 2, 3, 4, 5, 8], 1, 10), W: size([4, 5, 6, 7, 8, 9, 16], 2, 16), padding: fc.constantFrom<Padding>(1, 0, 2, 'same', [0, 1], [2, 1]), bias: fc.boolean() }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ ...plain3x3, N: size([1, 2, 3, 0]), C: size([8, 9, 12, 7]), O: size([8, 9, 16, 7]), H: size([2, 3, 4, 5, 8], 1, 10), W: size([6, 7, 8, 9, 13, 16], 3, 16), padding: fc.constantFrom<Padding>(1, 0, 'same', 2, [1, 0]), bias: fc.boolean() }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        N: size([1, 2, 0, 3]),
        C: size([1, 2, 3, 4, 6, 0]),
        O: size([1, 2, 3, 4, 6, 0]),
        H: size([1, 2, 3, 5, 8], 1, 10),
        W: size([1, 2, 3, 5, 8], 1, 10),
        kh: size([1, 2, 3, 5], 1, 5),
        kw: size([1, 2, 3, 5], 1, 5),
        stride: pair(size([1, 2, 3])),
        dilation: pair(size([1, 1, 2])),
        padding: fc.oneof(fc.integer({ min: 0, max: 2 }), pair(fc.integer({ min: 0, max: 2 })), fc.constantFrom<Padding>('same', 'valid')),
        groups: size([1, 2, 3]),
        bias: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ N: size([2, 3, 4]), C: size([3, 8, 16]), O: size([8, 16]), H: size([32, 40]), W: size([32, 40]), kh: fc.constantFrom(3, 1, 5), kw: fc.constantFrom(3, 1), stride: fc.constantFrom<[number, number]>([1, 1], [2, 2]), dilation: fc.constant<[number, number]>([1, 1]), padding: fc.constantFrom<Padding>(1, 'same', 0), groups: fc.constant(1), bias: fc.boolean() }),
    },
  )
  .map((s) => ({ ...s, C: s.C * s.groups, O: s.O * s.groups }))
  .filter((s) => {
    const [oh, ow] = convOut(s);
    return oh > 0 && ow > 0 && s.N * s.C * s.O * s.kh * s.kw * oh * ow <= 6_000_000;
  });

function convPad(s: ConvSpec): [number, number, number, number] {
  if (s.padding === 'valid') return [0, 0, 0, 0];
  if (s.padding === 'same') {
    const one = (n: number, k: number, st: number, d: number) => {
      const total = Math.max(0, (Math.ceil(n / st) - 1) * st + d * (k - 1) + 1 - n);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    return [...one(s.H, s.kh, s.stride[0], s.dilation[0]), ...one(s.W, s.kw, s.stride[1], s.dilation[1])] as [number, number, number, number];
  }
  const [ph, pw] = typeof s.padding === 'number' ? [s.padding, s.padding] : s.padding;
  return [ph, ph, pw, pw];
}

function convOut(s: ConvSpec): [number, number] {
  const pad = convPad(s);
  const p: Im2ColParams = { kernel: [s.kh, s.kw], stride: s.stride, dilation: s.dilation, pad, padValue: 0 };
  return patchOutputSize([s.N, s.C, s.H, s.W], p);
}

const CONV_LAYOUT: LayoutOptions = { perm: 2, expand: 1, slice: 2, step: 1, offset: 2 };

const conv2dOp = defineOp({
  name: 'conv2d (direct, Winograd, patch matrices, groups; input and weight gradients)',
  runs: 80,
  cases: cases(CONV_SPEC, (s) => ({
    operands: [
      operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT }),
      operand([s.O, s.C / s.groups, s.kh, s.kw], 'float', { layout: CONV_LAYOUT }),
      ...(s.bias ? [operand([s.O], 'float', { layout: { offset: 3 } })] : []),
    ],
    attrs: s,
  })),
  run: ([x, w, b], s) => conv2d(x, w, b ?? null, { stride: s.stride, dilation: s.dilation, padding: s.padding, groups: s.groups }),
  tol: SUMS,
});

const conv1dOp = defineOp({
  name: 'conv1d (stride, padding, dilation, groups)',
  runs: 30,
  cases: cases(
    fc
      .record({ N: size([1, 2, 3]), C: size([1, 2, 3, 4]), O: size([1, 2, 3, 4]), L: size([1, 2, 5, 8, 16, 33], 1, 40), k: size([1, 2, 3, 5]), stride: size([1, 2, 3]), dilation: size([1, 2]), padding: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom<'same' | 'valid'>('same', 'valid')), groups: size([1, 2]), bias: fc.boolean() })
      .map((s) => ({ ...s, C: s.C * s.groups, O: s.O * s.groups }))
      .filter((s) => {
        const pad = s.padding === 'valid' ? 0 : s.padding === 'same' ? s.dilation * (s.k - 1) : 2 * s.padding;
        return s.L + pad - s.dilation * (s.k - 1) - 1 >= 0;
      }),
    (s) => ({
      operands: [operand([s.N, s.C, s.L], 'float', { layout: CONV_LAYOUT }), operand([s.O, s.C / s.groups, s.k], 'float', { layout: CONV_LAYOUT }), ...(s.bias ? [operand([s.O])] : [])],
      attrs: s,
    }),
  ),
  run: ([x, w, b], s) => conv1d(x, w, b ?? null, { stride: s.stride, dilation: s.dilation, padding: s.padding, groups: s.groups }),
  tol: SUMS,
});

interface PoolSpec {
  N: number;
  C: number;
  H: number;
  W: number;
  kernel: [number, number];
  stride: [number, number] | null;
  padding: [number, number];
  dilation: [number, number];
  countIncludePad: boolean;
}

/** Pooling: windows that tile the image (wasm's kernels; 2×2 its own), any other geometry, and large ones split across threads. */
const POOL_SPEC: fc.Arbitrary<PoolSpec> = fc
  .record({
    base: fc.oneof(
      { weight: 6, arbitrary: fc.record({ N: size([1, 2, 3, 0]), C: size([1, 2, 3, 4]), H: size([1, 2, 3, 4, 5, 7, 8], 1, 12), W: size([1, 2, 3, 4, 5, 7, 8], 1, 12) }) },
      { weight: 1, arbitrary: fc.record({ N: size([2, 4]), C: size([8, 4]), H: size([64, 65]), W: size([64, 63]) }) },
    ),
    kernel: pair(size([2, 1, 3, 4])),
    stride: fc.oneof(fc.constant(null), pair(size([1, 2, 3]))),
    pad: pair(fc.integer({ min: 0, max: 2 })),
    dilation: fc.oneof({ weight: 3, arbitrary: fc.constant<[number, number]>([1, 1]) }, { weight: 1, arbitrary: pair(size([1, 2])) }),
    countIncludePad: fc.boolean(),
  })
  .map(({ base, kernel, stride, pad, dilation, countIncludePad }) => ({
    ...base,
    kernel,
    stride,
    padding: [Math.min(pad[0], Math.floor(kernel[0] / 2)), Math.min(pad[1], Math.floor(kernel[1] / 2))] as [number, number],
    dilation,
    countIncludePad,
  }))
  .filter((s) => [0, 1].every((i) => [s.H, s.W][i] + 2 * s.padding[i] - s.dilation[i] * (s.kernel[i] - 1) - 1 >= 0));

const maxPoolOp = defineOp({
  name: 'maxPool2d (tiled and general windows, ties; and its backward)',
  runs: 50,
  cases: cases(POOL_SPEC, (s) => ({ operands: [operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT })], attrs: s })),
  run: ([x], s) => maxPool2d(x, { kernelSize: s.kernel, stride: s.stride ?? undefined, padding: s.padding, dilation: s.dilation }),
});

const avgPoolOp = defineOp({
  name: 'avgPool2d (countIncludePad)',
  runs: 30,
  cases: cases(POOL_SPEC, (s) => ({ operands: [operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT })], attrs: { ...s, dilation: [1, 1] } })),
  run: ([x], s) => avgPool2d(x, { kernelSize: s.kernel, stride: s.stride ?? undefined, padding: s.padding, countIncludePad: s.countIncludePad }),
  tol: SUMS,
});

const pool1dOp = defineOp({
  name: 'maxPool1d and avgPool1d',
  runs: 25,
  cases: cases(
    fc
      .record({ N: size([1, 2]), C: size([1, 3]), L: size([1, 2, 5, 8, 9, 16], 1, 20), k: size([2, 1, 3, 4]), stride: fc.option(size([1, 2, 3]), { nil: undefined }), padding: fc.integer({ min: 0, max: 2 }), max: fc.boolean() })
      .map((s) => ({ ...s, padding: Math.min(s.padding, Math.floor(s.k / 2)) }))
      .filter((s) => s.L + 2 * s.padding - s.k >= 0),
    (s) => ({ operands: [operand([s.N, s.C, s.L], 'float', { layout: CONV_LAYOUT })], attrs: s }),
  ),
  run: ([x], s) => (s.max ? maxPool1d(x, { kernelSize: s.k, stride: s.stride, padding: s.padding }) : avgPool1d(x, { kernelSize: s.k, stride: s.stride, padding: s.padding })),
  tol: SUMS,
});

/** Patch geometry for the im2col and col2im primitives. */
const PATCH_SPEC = fc
  .record({
    N: size([1, 2, 0]),
    C: size([1, 2, 3]),
    H: size([1, 2, 3, 5, 8], 1, 9),
    W: size([1, 2, 3, 5, 8], 1, 9),
    kernel: pair(size([1, 2, 3])),
    stride: pair(size([1, 2])),
    dilation: pair(size([1, 2])),
    pad: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
    padValue: fc.constantFrom(0, 0, -1.5),
  })
  .filter((s) => patchOutputSize([s.N, s.C, s.H, s.W], s).every((d) => d > 0));

const im2colOp = defineOp({
  name: 'im2col (patch matrices)',
  runs: 30,
  cases: cases(PATCH_SPEC, (s) => ({ operands: [operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT })], attrs: s })),
  run: ([x], s) => im2col(x, s),
});

const col2imOp = defineOp({
  name: 'col2im (patch matrices summed back)',
  runs: 30,
  cases: cases(PATCH_SPEC, (s) => {
    const [oh, ow] = patchOutputSize([s.N, s.C, s.H, s.W], s);
    return { operands: [operand([s.N, s.C * s.kernel[0] * s.kernel[1], oh * ow], 'float', { layout: CONV_LAYOUT })], attrs: s };
  }),
  run: ([cols], s) => col2im(cols, [s.N, s.C, s.H, s.W], s),
  tol: SUMS,
});

// ---------------------------------------------------------------- the fused Adam step

interface AdamAttrs {
  b1: number;
  b2: number;
  sbc2: number;
  eps: number;
  stepSize: number;
  decay: number;
  l2: number;
  sign: number;
}

/** The 'adamUpdate' kernel a backend registers (wasm, webgpu): p, and m and v updated in place, against the formula in float64. */
const adamOp = defineOp({
  name: 'adamUpdate (the fused Adam kernel; p, m and v)',
  runs: 25,
  grad: false,
  available: (backend) => getKernel('adamUpdate', backend) !== undefined,
  cases: cases(
    fc.record({
      n: size([1, 3, 4, 5, 8, 1023, 1024, 1025, 9363, 9364, 40000], 0, 64),
      b1: fc.constantFrom(0.9, 0.8, 0.99),
      b2: fc.constantFrom(0.999, 0.9, 0.9999),
      t: fc.integer({ min: 1, max: 1000 }),
      eps: fc.constantFrom(1e-8, 1e-6, 1e-3),
      lr: fc.constantFrom(1e-3, 0.1),
      wd: fc.constantFrom(0, 0.01),
      decoupled: fc.boolean(),
      maximize: fc.boolean(),
    }),
    (s) => {
      const attrs: AdamAttrs = {
        b1: s.b1,
        b2: s.b2,
        sbc2: Math.sqrt(1 - s.b2 ** s.t),
        eps: s.eps,
        stepSize: s.lr / (1 - s.b1 ** s.t),
        decay: s.decoupled ? 1 - s.lr * s.wd : 1,
        l2: s.decoupled ? 0 : s.wd,
        sign: s.maximize ? -1 : 1,
      };
      const flat = { perm: 0, expand: 0, slice: 0, step: 0, offset: 3 };
      return { operands: [operand([s.n], 'float', { layout: flat }), operand([s.n], 'float', { layout: flat }), operand([s.n], 'float', { layout: flat }), operand([s.n], 'positive', { layout: flat })], attrs };
    },
  ),
  run: ([p, g, m, v], attrs, ctx) => {
    const kernel = getKernel('adamUpdate', ctx.backend);
    const next = kernel?.([p, g, m, v], attrs as unknown as Record<string, unknown>) ?? null;
    return next === null ? null : [next, m, v];
  },
  reference: ([p, g, m, v], a) => {
    const d = a.l2 === 0 ? mul(g, a.sign) : add(mul(g, a.sign), mul(p, a.l2));
    const m2 = add(mul(m, a.b1), mul(d, 1 - a.b1));
    const v2 = add(mul(v, a.b2), mul(mul(d, d), 1 - a.b2));
    const out = sub(mul(p, a.decay), mul(div(m2, add(div(sqrtOp(v2), a.sbc2), a.eps)), a.stepSize));
    return [out, m2, v2];
  },
  tol: { rtol: 1e-5, atol: 1e-6, scale: 1e-6 },
});

/** Every op of the differential test, in the order the tests are registered. */
export const DIFFERENTIAL_OPS: readonly AnyOp[] = [
  matmulOp,
  conv2dOp,
  conv1dOp,
  maxPoolOp,
  avgPoolOp,
  pool1dOp,
  im2colOp,
  col2imOp,
  softmaxOps[0],
  softmaxOps[1],
  crossEntropyOp,
  layerNormOp,
  batchNormOp,
  adamOp,
  ...reduceOps,
  intReduceOp,
  ...argOps,
  gatherOp,
  indexSelectOp,
  scatterAddOp,
  concatOp,
  padOp,
  contiguousOp,
  castOp,
  whereOp,
  ...unaryOps,
  logicalNotOp,
  activationOp,
  ...binaryOps,
  ...comparisonOps,
  ...logicalOps,
];
