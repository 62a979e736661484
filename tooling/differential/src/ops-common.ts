/** What the op families share: the case builder, shape and `dim` generators, tolerances. */
import fc from 'fast-check';
import { shape, size, SMALL } from './arbitraries.js';
import type { Operand } from './operand.js';
import type { Case, Tolerance } from './runner.js';

/** A case from a spec: its operands' arbitraries and its attributes. */
export function cases<S, A>(spec: fc.Arbitrary<S>, make: (s: S) => { operands: fc.Arbitrary<Operand>[]; attrs: A }): fc.Arbitrary<Case<A>> {
  return spec.chain((s) => {
    const { operands, attrs } = make(s);
    return fc.record({ operands: fc.tuple(...operands).map((xs) => [...xs]), attrs: fc.constant(attrs), seed: fc.integer() });
  });
}

export const prodOf = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/**
 * Shapes for elementwise ops: small ones of rank 0–4 (0 and 1 sizes, around 4 and 8), or
 * larger ones whose kernels split across threads (2^15 floats = 256 KiB in and out).
 */
export const ELEMENTWISE_SHAPE = fc.oneof(
  { weight: 6, arbitrary: shape(SMALL, 0, 4, 4096) },
  { weight: 1, arbitrary: fc.constantFrom<number[]>([32768], [32769], [4, 8193], [3, 129, 65], [257, 128]) },
);

/** Shapes for reductions: small ones, and long rows around 16, 64, 4096 and 16384. */
export const REDUCE_SHAPE = fc.oneof(
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
export function dims(r: number): fc.Arbitrary<number | number[] | undefined> {
  if (r === 0) return fc.constantFrom<number | number[] | undefined>(undefined, 0, -1);
  return fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: -r, max: r - 1 }),
    fc.subarray(Array.from({ length: r }, (_, i) => i), { minLength: 1 }),
  );
}

/** Tolerance per backend: `webgpu` entries where the GPU's own functions are less exact. */
export function perBackend(base: Partial<Tolerance>, gpu: Partial<Tolerance>): (backend: string) => Partial<Tolerance> {
  return (backend) => (backend.startsWith('webgpu') ? { ...base, ...gpu } : base);
}

/**
 * Tolerance of ops that sum many terms (products, convolutions, reductions); `terms` is two
 * units of float32 rounding (2·2⁻²⁴) of an op's `terms` bound, for ops that give one.
 */
export const SUMS: Partial<Tolerance> = { rtol: 1e-5, atol: 1e-5, scale: 2e-5, terms: 2 ** -23 };
