/** Differential ops: matmul, over sizes on both sides of the kernels' tile and threading thresholds. */
import fc from 'fast-check';
import { abs, matmul } from '@ml/tensor';
import { operand, size, type LayoutOptions } from './arbitraries.js';
import { defineOp } from './runner.js';
import { cases, prodOf, SUMS } from './ops-common.js';

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

export const matmulOp = defineOp({
  name: 'matmul (batched, broadcast, expanded, transposed, sliced)',
  runs: 200,
  cases: cases(matmulSpec, (s) => {
    const [a, b] = matmulShapes(s);
    return { operands: [operand(a, 'float', { layout: MATMUL_LAYOUT }), operand(b, 'float', { layout: MATMUL_LAYOUT })], attrs: s };
  }),
  run: ([a, b]) => matmul(a, b),
  // when every output shares one factor that cancels (A constant along M, say), max|want|
  // is no measure of the terms: bound each element by √K·(|A|·|B|) instead
  terms: ([a, b], { K }) => matmul(abs(a), abs(b)).mul(Math.sqrt(K)),
  tol: SUMS,
});
