/** Layout kernels: blocked transposes, block swaps, fills, and row gathers. */
import { array, i32, op, v128, type Fn } from '../assembler.js';
import { kernel } from './kernel.js';
import { transpose4x4 } from './shared.js';

const TRANSPOSE_PARAMS = { src: i32, dst: i32, N: i32, R: i32, C: i32, ss: i32, ds: i32, sb: i32, db: i32, bias: i32 };
const TRANSPOSE_LOCALS = { n: i32, r: i32, c: i32, r4: i32, c4: i32, from: i32, to: i32, k: i32, v: array(v128, 4), t: array(v128, 4) };
type TransposeName = keyof typeof TRANSPOSE_PARAMS | Exclude<keyof typeof TRANSPOSE_LOCALS, 'v' | 't'>;
/** The moves a transpose is made of: one 4×4 tile at (r, c), one element at (r, c); with or without the bias. */
interface TransposeParts {
  tile(withBias: boolean): number[];
  one(withBias: boolean): number[];
}

/**
 * transpose's and transposeTiled's instructions: for each of the N blocks, `blockBody`
 * (the kernel's own order of the tile and element moves over one block, with and without
 * the bias).
 */
function transposeBody(f: Fn<TransposeName, 'v' | 't'>, blockBody: (parts: TransposeParts, withBias: boolean) => number[]): number[] {
  const v = [0, 1, 2, 3].map((q) => f.ref('v', q));
  const t = [0, 1, 2, 3].map((q) => f.ref('t', q));
  // base + (row·stride + col)·4
  const addr = (base: 'from' | 'to', row: number[], stride: 'ss' | 'ds', col: number[]) => [...f.get(base), ...row, ...f.get(stride), ...op.i32Mul, ...col, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const biasOf = (col: number[]) => [...f.get('bias'), ...col, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0)];
  const tile = (withBias: boolean) => [
    ...v.flatMap((reg, j) => [...addr('from', [...f.get('r'), ...op.i32(j), ...op.i32Add], 'ss', f.get('c')), ...op.v128Load(0), ...reg.set]),
    ...transpose4x4(v, t, (j, column) => [
      ...addr('to', [...f.get('c'), ...op.i32(j), ...op.i32Add], 'ds', f.get('r')),
      ...column,
      ...(withBias ? [...biasOf([...f.get('c'), ...op.i32(j), ...op.i32Add]), ...op.f32x4Splat, ...op.f32x4Add] : []),
      ...op.v128Store(0),
    ]),
  ];
  const one = (withBias: boolean) => [
    ...addr('to', f.get('c'), 'ds', f.get('r')),
    ...addr('from', f.get('r'), 'ss', f.get('c')), ...op.f32Load(0),
    ...(withBias ? [...biasOf(f.get('c')), ...op.f32Add] : []),
    ...op.f32Store(0),
  ];
  const parts: TransposeParts = { tile, one };
  return [
    ...f.get('R'), ...op.i32(-4), ...op.i32And, ...f.set('r4'),
    ...f.get('C'), ...op.i32(-4), ...op.i32And, ...f.set('c4'),
    ...f.forUp('n', f.get('N'), [
      ...f.get('src'), ...f.get('n'), ...f.get('sb'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...f.get('dst'), ...f.get('n'), ...f.get('db'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('to'),
      ...f.get('bias'), ...op.if, ...blockBody(parts, true), ...op.else, ...blockBody(parts, false), ...op.end,
    ]),
  ];
}

/** Rows r0 … r1 − 1 (r1 − r0 a multiple of 4) by 4×4 tiles along the row, each row's columns past c4 element by element. */
function tileRows(f: Fn<TransposeName, 'v' | 't'>, { tile, one }: TransposeParts, withBias: boolean, r0: number[], r1: number[]): number[] {
  return f.forStep('r', r0, r1, 4, [
    ...f.forStep('c', op.i32(0), f.get('c4'), 4, tile(withBias)),
    ...f.forStep('k', op.i32(0), op.i32(4), 1, [
      ...f.get('r'), ...f.get('k'), ...op.i32Add, ...f.set('r'),
      ...f.forStep('c', f.get('c4'), f.get('C'), 1, one(withBias)),
      ...f.get('r'), ...f.get('k'), ...op.i32Sub, ...f.set('r'),
    ]),
  ]);
}

/**
 * transpose(src, dst, N, R, C, ss, ds, sb, db, bias): N blocks, dst[c·ds + r] = src[r·ss +
 * c] (+ bias[c] when bias ≠ 0) for r < R, c < C, strides in floats, block n at src + n·sb
 * and dst + n·db. 4×4 tiles move as four vector loads, eight shuffles and four vector
 * stores; the ragged edges element by element. A convolution's product rows to [N, O, L]
 * with its bias, and [N, O, L] to position-major rows, are both this.
 */
export const transpose = kernel({
  params: TRANSPOSE_PARAMS,
  locals: TRANSPOSE_LOCALS,
  split: { units: 'N', pointers: ['src', 'dst'] },
  body: (f) =>
    transposeBody(f, (parts, withBias) => [
      // 4×4 tiles, then the columns past the last whole tile for those rows, then the last rows
      ...tileRows(f, parts, withBias, op.i32(0), f.get('r4')),
      ...f.forStep('r', f.get('r4'), f.get('R'), 1, f.forStep('c', op.i32(0), f.get('C'), 1, parts.one(withBias))),
    ]),
});

/**
 * transposeTiled(…transpose's parameters…): transpose's result, its tiles taken sixteen
 * rows at a time — for each four columns, the four tiles down the sixteen rows — so each
 * destination row receives 64 bytes in a row (a whole cache line) instead of 16 bytes per
 * sweep along the source rows, which evicted it before its next 16; the rows past the
 * last sixteen as transpose takes them. Matrices of thousands of rows (a weight
 * gradient's Aᵀ over the tokens) move about 3× faster.
 */
export const transposeTiled = kernel({
  params: TRANSPOSE_PARAMS,
  locals: { ...TRANSPOSE_LOCALS, r16: i32, r0: i32 },
  split: { units: 'N', pointers: ['src', 'dst'] },
  body: (f) =>
    transposeBody(f, (parts, withBias) => [
      ...f.get('R'), ...op.i32(-16), ...op.i32And, ...f.set('r16'),
      ...f.forStep('r0', op.i32(0), f.get('r16'), 16, [
        ...f.forStep('c', op.i32(0), f.get('c4'), 4, f.forStep('r', f.get('r0'), [...f.get('r0'), ...op.i32(16), ...op.i32Add], 4, parts.tile(withBias))),
        ...f.forStep('r', f.get('r0'), [...f.get('r0'), ...op.i32(16), ...op.i32Add], 1, f.forStep('c', f.get('c4'), f.get('C'), 1, parts.one(withBias))),
      ]),
      ...tileRows(f, parts, withBias, f.get('r16'), f.get('r4')),
      ...f.forStep('r', f.get('r4'), f.get('R'), 1, f.forStep('c', op.i32(0), f.get('C'), 1, parts.one(withBias))),
    ]),
});

/**
 * swapBlocks(src, dst, A, B, L, rowA): [A, B, L] to [B, A, L], blocks of L floats moving
 * whole (memory.copy); dst's rows (b) are rowA ≥ A·L floats apart, so a range of a can run
 * on its own (dst moved on by a·L).
 */
export const swapBlocks = kernel({
  params: { src: i32, dst: i32, A: i32, B: i32, L: i32, rowA: i32 },
  locals: { a: i32, b: i32, from: i32, to: i32 },
  split: { units: 'A', pointers: ['src', 'dst'] },
  body: (f) =>
    f.forUp('a', f.get('A'), f.forUp('b', f.get('B'), [
      ...f.get('src'), ...f.get('a'), ...f.get('B'), ...op.i32Mul, ...f.get('b'), ...op.i32Add, ...f.get('L'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...f.get('dst'), ...f.get('b'), ...f.get('rowA'), ...op.i32Mul, ...f.get('a'), ...f.get('L'), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('to'),
      ...f.get('to'), ...f.get('from'), ...f.get('L'), ...op.i32(4), ...op.i32Mul, ...op.memoryCopy,
    ])),
});

/**
 * fill32(dst, n, value): n copies of the 32-bit pattern `value` (an f32's or an i32's bits)
 * from dst, four at a time; all-zero bits go through memory.fill. (TypedArray.fill on a
 * shared memory's view takes a slow path in V8: ten times slower here.)
 */
export const fill32 = kernel({
  params: { dst: i32, n: i32, value: i32 },
  locals: { i: i32, n4: i32, v: v128 },
  body: (f) => [
    ...f.get('value'), ...op.i32Eqz, ...op.if,
    ...f.get('dst'), ...op.i32(0), ...f.get('n'), ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
    ...op.else,
    ...f.get('value'), ...op.i32x4Splat, ...f.set('v'),
    ...f.get('n'), ...op.i32(-4), ...op.i32And, ...f.set('n4'),
    ...f.forStep('i', op.i32(0), f.get('n4'), 4, [...f.get('dst'), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.get('v'), ...op.v128Store(0)]),
    ...f.forStep('i', f.get('n4'), f.get('n'), 1, [...f.get('dst'), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.get('value'), ...op.i32Store(0)]),
    ...op.end,
  ],
});

/**
 * copyRows(src, dst, index, k, rowBytes): dst row i = src row index[i] for i < k (int32
 * indices, already checked to be in range), each row one memory.copy: a batch of samples
 * gathered from a dataset (indexSelect along the first axis).
 */
export const copyRows = kernel({
  params: { src: i32, dst: i32, index: i32, k: i32, rowBytes: i32 },
  locals: { i: i32 },
  body: (f) =>
    f.forUp('i', f.get('k'), [
      ...f.get('dst'), ...f.get('i'), ...f.get('rowBytes'), ...op.i32Mul, ...op.i32Add,
      ...f.get('src'), ...f.get('index'), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...f.get('rowBytes'), ...op.i32Mul, ...op.i32Add,
      ...f.get('rowBytes'), ...op.memoryCopy,
    ]),
});
