/** Differential ops: indexing (gather, indexSelect, scatterAdd) and layout (concat, pad). */
import fc from 'fast-check';
import { concat, gather, indexSelect, pad, padPrim, scatterAdd } from '@ml/tensor';
import { operand, shape, size, SMALL } from './arbitraries.js';
import type { ValueKind } from './operand.js';
import { defineOp } from './runner.js';
import { cases } from './ops-common.js';

export const gatherOp = defineOp({
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

export const indexSelectOp = defineOp({
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

export const scatterAddOp = defineOp({
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

export const concatOp = defineOp({
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

export const padOp = defineOp({
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
