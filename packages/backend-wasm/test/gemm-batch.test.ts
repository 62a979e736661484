import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypedArray } from '@ml/tensor';
import { WasmGemm, type Strided } from '../src/gemm.js';
import { moduleBytes, op } from '../src/assembler.js';
import { KERNELS, MAX_PAGES, enableRelaxedSimd, kernelOf, type KernelName } from '../src/kernels/index.js';
import { memoryFloats, seededFloats } from './gemm-fixtures.js';

// Batches of small products run as one gemmBatch call (split across the threads by items)
// where the operands allow, and through the product-by-product loop where they do not.
// Both are compared here with a float64 loop over the operands' strides.
enableRelaxedSimd();

/** How an operand is stored: its strides (elements) for batch, row and column, and where. */
type Layout = 'rows' | 'paddedRows' | 'transposed' | 'shared' | 'sharedTransposed' | 'strided' | 'outside';

const rand = seededFloats;

const block = memoryFloats;

/** A [batch, R, C] operand stored as `layout` says, its values random (seeded). */
function operand(g: WasmGemm, layout: Layout, batch: number, R: number, C: number, seed: number): Strided {
  const [sb, si, sj, items] = (() => {
    switch (layout) {
      case 'rows':
      case 'outside':
        return [R * C, C, 1, batch];
      case 'paddedRows':
        return [R * (C + 3) + 5, C + 3, 1, batch];
      case 'transposed':
        return [R * C, 1, R, batch];
      case 'shared':
        return [0, C, 1, 1];
      case 'sharedTransposed':
        return [0, 1, R, 1];
      case 'strided':
        return [2 * R * C + 1, 2 * C, 2, batch];
    }
  })();
  const offset = 3;
  const n = offset + Math.max(1, items) * Math.max(sb, 2 * R * C + 1);
  const values = rand(n, seed);
  if (layout === 'outside') return { data: values, offset, sb, si, sj };
  const data = block(g, n);
  data.set(values);
  return { data, offset, sb, si, sj };
}

/** out[b] = A[b]·B[b] in float64, reading each operand through its strides. */
function reference(A: Strided, B: Strided, batch: number, M: number, K: number, N: number): Float64Array {
  const C = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A.data[A.offset + b * A.sb + i * A.si + k * A.sj] * B.data[B.offset + b * B.sb + k * B.si + j * B.sj];
        C[(b * M + i) * N + j] = s;
      }
  return C;
}

/** The product through `g.matmul`, with how many per-product calls (`run`) and split calls it made. */
function product(g: WasmGemm, A: Strided, B: Strided, batch: number, M: number, K: number, N: number, inMemory: boolean): { out: Float32Array; runs: number; splits: number } {
  const out = inMemory ? block(g, batch * M * N) : new Float32Array(batch * M * N);
  out.fill(Number.NaN); // every element must be written
  const run = g.run.bind(g);
  let runs = 0;
  g.run = (...args: Parameters<WasmGemm['run']>) => {
    runs++;
    run(...args);
  };
  const splits = g.splitCalls;
  try {
    g.matmul(A, B, batch, M, K, N, out);
  } finally {
    g.run = run;
  }
  return { out, runs, splits: g.splitCalls - splits };
}

/** Give back the blocks of arrays in the memory (the others are left alone). */
function release(g: WasmGemm, ...arrays: TypedArray[]): void {
  for (const a of arrays) if (g.heap.owns(a)) g.heap.freeArray(a);
}

function expectClose(out: Float32Array, ref: Float64Array, K: number): void {
  const bad = ref.findIndex((v, i) => !(Math.abs(out[i] - v) <= 1e-5 * Math.max(1, Math.abs(v), K)));
  expect(bad, `element ${bad}: ${out[bad]} vs ${ref[bad]}`).toBe(-1);
}

// [batch, M, K, N]: M not a multiple of 4, N not a multiple of 8, K = 1, one item, an
// attention head's products (with more than 256 KiB moved: split across the threads)
const SHAPES = [
  [3, 5, 7, 9],
  [4, 8, 16, 16],
  [2, 6, 1, 13],
  [1, 4, 32, 8],
  [1, 3, 5, 2],
  [5, 1, 12, 1],
  [64, 21, 33, 19],
  [32, 64, 32, 64],
  [32, 64, 64, 32],
] as const;

const A_LAYOUTS: readonly Layout[] = ['rows', 'paddedRows', 'transposed', 'shared', 'strided', 'outside'];
// 'strided' and 'outside' B (not shared) leave the batch to the product-by-product loop
const B_LAYOUTS: readonly Layout[] = ['rows', 'transposed', 'shared', 'sharedTransposed', 'strided', 'outside'];
const batchedB = (layout: Layout) => layout !== 'strided' && layout !== 'outside';

for (const threads of [1, 2]) {
  describe(`WasmGemm.matmul on batches of small products, ${threads} thread(s)`, () => {
    const g = new WasmGemm({ threads });
    beforeAll(async () => {
      await g.whenReady();
      expect(g.threads).toBe(threads);
    });
    afterAll(async () => {
      await g.close();
    });
    let seed = 1;
    for (const [batch, M, K, N] of SHAPES) {
      it(`${batch} × (${M}×${K} · ${K}×${N}), A and B in every layout, match a float64 loop`, () => {
        for (const aLayout of A_LAYOUTS) {
          for (const bLayout of B_LAYOUTS) {
            const A = operand(g, aLayout, batch, M, K, seed++);
            const B = operand(g, bLayout, batch, K, N, seed++);
            const ref = reference(A, B, batch, M, K, N);
            for (const inMemory of [true, false]) {
              const { out, runs } = product(g, A, B, batch, M, K, N, inMemory);
              expectClose(out, ref, K);
              // one gemmBatch call and no product-by-product loop wherever B and C allow it
              const batched = inMemory && batchedB(bLayout);
              expect(runs === 0, `${aLayout} A, ${bLayout} B, C ${inMemory ? 'in' : 'outside'} the memory: ${runs} products run one by one`).toBe(batched);
              release(g, out);
            }
            release(g, A.data, B.data);
          }
        }
      });
    }
    it('splits a batch moving 256 KiB or more across the threads, by items', () => {
      const [batch, M, K, N] = [128, 64, 32, 64];
      const A = operand(g, 'rows', batch, M, K, 11);
      const B = operand(g, 'transposed', batch, K, N, 12);
      const { out, runs, splits } = product(g, A, B, batch, M, K, N, true);
      expectClose(out, reference(A, B, batch, M, K, N), K);
      expect(runs).toBe(0);
      expect(splits).toBe(threads > 1 ? 1 : 0);
    });
    it('leaves items too large for one thread to the product-by-product loop (each split by panels)', () => {
      const [batch, M, K, N] = [2, 128, 128, 64];
      const A = operand(g, 'rows', batch, M, K, 13);
      const B = operand(g, 'rows', batch, K, N, 14);
      const { out, runs } = product(g, A, B, batch, M, K, N, true);
      expectClose(out, reference(A, B, batch, M, K, N), K);
      expect(runs).toBe(batch);
    });
  });
}

describe('the kernels module with gemmBatch', () => {
  // SHA-256 of the kernels before gemmBatch, built into a module of their own, recorded when
  // gemmBatch was appended, again when exp's instructions last changed, and again when the
  // backward gate passes and then the Adam step began flushing values under 2⁻¹⁰⁰
  // (kernels.test.ts records the same module with gemmBatch): adding it changed no other kernel
  const BEFORE = [
    { shared: false, fma: false, bytes: 67851, sha256: 'ba0bae6046015ce572debf01f20188339797b5cfd60074a68ac45cff7538036c' },
    { shared: false, fma: true, bytes: 67581, sha256: '96b7c69fe49c55f9eed3bf1c8e3407c6dfd84c7ce6aedb80e123dcb04412a481' },
    { shared: true, fma: false, bytes: 67851, sha256: 'e6e94d74da0ad6de3dd54eef9f26e16e186dc93531f4cfbcfc4a366ddb575a0b' },
    { shared: true, fma: true, bytes: 67581, sha256: '0ea1cbc71205d5ba3e9da84e95938788f1e86174e33592b65a33e45a8f23a1d3' },
  ];
  const names = Object.keys(KERNELS) as KernelName[];
  const earlier = names.slice(0, names.indexOf('gemmBatch'));
  for (const want of BEFORE) {
    it(`leaves the kernels before it byte for byte as they were (shared ${want.shared}, fma ${want.fma})`, () => {
      const bytes = moduleBytes(
        earlier.map((n) => kernelOf(n).build(n, { fma: want.fma, call: (k) => op.call(earlier.indexOf(k as KernelName)) })),
        { initialPages: 16, maximumPages: want.shared ? 16384 : MAX_PAGES, shared: want.shared },
      );
      expect(bytes.length).toBe(want.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(want.sha256);
    });
  }
});
