/** Differential ops: unary, activations, binary, comparisons, logical, where, cast and contiguous copies. */
import fc from 'fast-check';
import {
  abs, add, cast, ceil, clamp, cos, div, elu, eq, erf, exp, expm1, floor, ge, gelu, gt, le, leakyRelu, log, log1p, logicalAnd,
  logicalNot, logicalOr, logSigmoid, lt, maximum, minimum, mul, ne, neg, pow, reciprocal, relu, round, rsqrt, sigmoid, sign, silu,
  sin, softplus, sqrt, square, sub, tanh, where, contiguous, type Tensor,
} from '@ml/tensor';
import { broadcastPartner, operand, shape, SMALL } from './arbitraries.js';
import type { ValueKind } from './operand.js';
import { defineOp, type AnyOp, type Case } from './runner.js';
import { cases, ELEMENTWISE_SHAPE, perBackend } from './ops-common.js';

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

export const unaryOps: AnyOp[] = UNARY.map(([name, fn, kind, ints]) =>
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

export const logicalNotOp = defineOp({
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

export const activationOp = defineOp({
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

export const binaryOps: AnyOp[] = BINARY.map(([name, fn, ka, kb, ints]) =>
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

export const comparisonOps: AnyOp[] = COMPARISONS.map(([name, fn]) =>
  defineOp({
    name: `compare ${name} (broadcast)`,
    runs: 15,
    // int32 half the time, so that equal values are common
    cases: binaryCases('float', 'float', true),
    run: (xs, attrs) => applyBinary(fn, xs, attrs),
  }),
);

export const logicalOps: AnyOp[] = (
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

export const whereOp = defineOp({
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

export const castOp = defineOp({
  name: 'cast (float, int32, bool)',
  runs: 30,
  cases: cases(fc.record({ s: ELEMENTWISE_SHAPE, from: fc.constantFrom<ValueKind>('float', 'int', 'bool'), to: fc.constantFrom('float', 'int32', 'bool') }), ({ s, from, to }) => ({
    operands: [operand(s, from)],
    attrs: { to },
  })),
  run: ([x], { to }, ctx) => cast(x, to === 'float' ? ctx.float : to),
});

export const contiguousOp = defineOp({
  name: 'contiguous copy of a view',
  runs: 40,
  cases: cases(fc.oneof(ELEMENTWISE_SHAPE, shape(SMALL, 1, 5, 4096)), (s) => ({ operands: [operand(s, 'float', { layout: { perm: 5, expand: 4, slice: 4, step: 3, offset: 3 } })], attrs: {} })),
  run: ([x]) => contiguous(x),
});
