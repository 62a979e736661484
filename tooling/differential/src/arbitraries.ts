/**
 * fast-check arbitraries for the differential test: sizes that sit on both sides of the
 * backends' thresholds, shapes, broadcast partners, layouts (transposed, sliced, stepped,
 * expanded, offset) and whole operands.
 */
import fc from 'fast-check';
import { CONTIGUOUS, isFloatKind, type Layout, type Operand, type ValueKind } from './operand.js';

/**
 * A size: mostly one of `edges` (chosen to sit on both sides of a threshold), else any
 * integer on [min, max] (default: the edges' range). Shrinks towards the first edge and
 * towards `min`.
 */
export function size(edges: readonly number[], min = Math.min(...edges), max = Math.max(...edges)): fc.Arbitrary<number> {
  return fc.oneof({ arbitrary: fc.constantFrom(...edges), weight: 3 }, { arbitrary: fc.integer({ min, max }), weight: 1 });
}

/** Small sizes, 0 and 1 included, around 4 and 8 (vector width, panel width). */
export const SMALL = size([1, 2, 3, 0, 4, 5, 7, 8, 9], 0, 12);

/** A shape of rank in [minRank, maxRank] whose dims come from `dim`, at most `maxSize` elements. */
export function shape(dim: fc.Arbitrary<number>, minRank: number, maxRank: number, maxSize = 1 << 14): fc.Arbitrary<number[]> {
  return fc.array(dim, { minLength: minRank, maxLength: maxRank }).filter((s) => s.reduce((p, d) => p * d, 1) <= maxSize);
}

/**
 * A shape that broadcasts to `out` (NumPy rules): some leading dims dropped, some dims set to 1.
 */
export function broadcastPartner(out: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .record({
      drop: fc.integer({ min: 0, max: out.length }),
      ones: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    })
    .map(({ drop, ones }) => out.map((d, i) => (ones[i] ? 1 : d)).slice(drop));
}

export interface LayoutOptions {
  /** weights of each feature being present, out of 10 (default: perm 3, expand 3, slice 3, step 2, offset 3) */
  perm?: number;
  expand?: number;
  slice?: number;
  step?: number;
  offset?: number;
}

function sometimes<T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | null> {
  if (weight <= 0) return fc.constant(null);
  if (weight >= 10) return arb;
  return fc.oneof({ arbitrary: fc.constant(null), weight: 10 - weight }, { arbitrary: arb, weight });
}

/** How an operand of `shape` lies in storage: each feature present with its weight (see LayoutOptions). */
export function layout(shape: readonly number[], options: LayoutOptions = {}): fc.Arbitrary<Layout> {
  const r = shape.length;
  if (r === 0) return fc.record({ offset: sometimes(fc.integer({ min: 1, max: 5 }), options.offset ?? 3) }).map(({ offset }) => ({ ...CONTIGUOUS, offset: offset ?? 0 }));
  const dims = Array.from({ length: r }, (_, i) => i);
  const expandable = dims.filter((d) => shape[d] >= 2);
  return fc
    .record({
      perm: sometimes(
        r >= 2 ? fc.oneof(fc.constant([...dims.slice(0, r - 2), r - 1, r - 2]), fc.shuffledSubarray(dims, { minLength: r, maxLength: r })) : fc.constant(null),
        options.perm ?? 3,
      ),
      expand: sometimes(expandable.length > 0 ? fc.subarray(expandable, { minLength: 1 }) : fc.constant([] as number[]), options.expand ?? 3),
      slice: sometimes(fc.record({ dim: fc.integer({ min: 0, max: r - 1 }), before: fc.integer({ min: 0, max: 3 }), after: fc.integer({ min: 0, max: 3 }) }), options.slice ?? 3),
      step: sometimes(fc.record({ dim: fc.integer({ min: 0, max: r - 1 }), by: fc.integer({ min: 2, max: 3 }) }), options.step ?? 2),
      offset: sometimes(fc.integer({ min: 1, max: 5 }), options.offset ?? 3),
    })
    .map(({ perm, expand, slice, step, offset }) => {
      const identity = perm !== null && perm.every((p, i) => p === i);
      return { perm: identity ? null : perm, expand: expand === null ? [] : [...expand].sort((a, b) => a - b), slice, step, offset: offset ?? 0 };
    });
}

export interface OperandOptions {
  /** compare gradients for it (default: float kinds) */
  grad?: boolean;
  /** layout weights; `false`: contiguous at offset 0 */
  layout?: LayoutOptions | false;
  /** `index` kind: values on [low, bound) */
  bound?: number;
  low?: number;
}

/** An operand of `shape` holding `kind` values, in a generated layout. */
export function operand(shapeOf: readonly number[], kind: ValueKind = 'float', options: OperandOptions = {}): fc.Arbitrary<Operand> {
  const lay = options.layout === false ? fc.constant(CONTIGUOUS) : layout(shapeOf, options.layout);
  return fc.record({ layout: lay, seed: fc.integer() }).map(({ layout: l, seed }) => {
    const op: Operand = { shape: [...shapeOf], kind, layout: l, seed, grad: options.grad ?? isFloatKind(kind) };
    return options.bound === undefined ? op : { ...op, bound: options.bound, low: options.low ?? 0 };
  });
}

/** One of `choices`, each equally likely (shrinks towards the first). */
export function oneOf<T>(...choices: T[]): fc.Arbitrary<T> {
  return fc.constantFrom(...choices);
}

/** Several generated operands as one array. */
export function operands(...arbs: fc.Arbitrary<Operand>[]): fc.Arbitrary<Operand[]> {
  return fc.tuple(...arbs).map((xs) => [...xs]);
}
