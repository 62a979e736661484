/** Sums: over rows and columns (accumulated in float64), and of per-chunk partial sums. */
import { array, f64, i32, op, v128, type Fn } from '../assembler.js';
import { kernel } from './kernel.js';
import { HIGH_HALF } from './shared.js';

/**
 * rowSum(x, out, rows, n): out[r] = Σ_i x[r·n + i] for float32 rows, accumulated in
 * float64 (two f64x2 accumulators over four floats at a time, then the last n mod 4 one
 * by one) and rounded once: a convolution bias's gradient, summed over positions.
 * rowSum64 (`wide`): the float64 sums themselves (8 bytes each), parts of a whole sum.
 */
function rowSumBody(f: Fn<'x' | 'out' | 'rows' | 'n' | 'r' | 'i' | 'at' | 'n4' | 'v' | 'a0' | 'a1' | 'tail'>, wide: boolean): number[] {
  return [
    ...f.get('n'), ...op.i32(-4), ...op.i32And, ...f.set('n4'),
    ...f.forUp('r', f.get('rows'), [
      ...f.get('x'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
      ...op.v128Zero, ...f.set('a0'), ...op.v128Zero, ...f.set('a1'),
      ...op.f64Const0, ...f.set('tail'),
      ...f.forStep('i', op.i32(0), f.get('n4'), 4, [
        ...f.get('at'), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0), ...f.set('v'),
        ...f.get('a0'), ...f.get('v'), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...f.set('a0'),
        ...f.get('a1'), ...f.get('v'), ...f.get('v'), ...HIGH_HALF, ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...f.set('a1'),
      ]),
      ...f.forStep('i', f.get('n4'), f.get('n'), 1, [
        ...f.get('tail'), ...f.get('at'), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.f64PromoteF32, ...op.f64Add, ...f.set('tail'),
      ]),
      ...f.get('out'), ...f.get('r'), ...op.i32(wide ? 8 : 4), ...op.i32Mul, ...op.i32Add,
      ...f.get('a0'), ...op.f64x2ExtractLane(0), ...f.get('a1'), ...op.f64x2ExtractLane(0), ...op.f64Add,
      ...f.get('a0'), ...op.f64x2ExtractLane(1), ...f.get('a1'), ...op.f64x2ExtractLane(1), ...op.f64Add, ...op.f64Add,
      ...f.get('tail'), ...op.f64Add,
      ...(wide ? op.f64Store(0) : [...op.f32DemoteF64, ...op.f32Store(0)]),
    ]),
  ];
}

const ROW_SUM = {
  params: { x: i32, out: i32, rows: i32, n: i32 },
  locals: { r: i32, i: i32, at: i32, n4: i32, v: v128, a0: v128, a1: v128, tail: f64 },
  split: { units: 'rows', pointers: ['x', 'out'] },
} as const;

export const rowSum = kernel({ ...ROW_SUM, body: (f) => rowSumBody(f, false) });
export const rowSum64 = kernel({ ...ROW_SUM, body: (f) => rowSumBody(f, true) });

type ColSumNames = 'x' | 'out' | 'rows' | 'n' | 'j' | 'r' | 'at' | 'rowBytes' | 'n4' | 'v' | 'lo' | 'hi' | 'one';

/** Columns a wide pass of colSums sums at once: eight float64 pairs, each its own chain of adds. */
const WIDE_COLUMNS = 16;

/**
 * colSums' first pass: columns 0 … n16 − 1 (n rounded down to 16) sixteen at a time, each
 * row's four vectors added into eight f64x2 accumulators. Each accumulator is a chain of
 * dependent adds; with four columns a pass (two chains) the adds' latency bounds the pass,
 * with sixteen (eight chains) the loads do. Each column still adds its rows in order.
 */
function wideColumns(f: Fn<ColSumNames | 'n16', 'acc' | 'vs'>): number[] {
  const vs = [0, 1, 2, 3];
  return [
    ...f.get('n'), ...op.i32(-WIDE_COLUMNS), ...op.i32And, ...f.set('n16'),
    ...f.forStep('j', op.i32(0), f.get('n16'), WIDE_COLUMNS, [
      ...Array.from({ length: 8 }, (_, k) => [...op.v128Zero, ...f.set('acc', k)]).flat(),
      ...f.get('x'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
      ...f.forUp('r', f.get('rows'), [
        ...vs.flatMap((q) => [...f.get('at'), ...op.v128Load(16 * q), ...f.set('vs', q)]),
        ...vs.flatMap((q) => [
          ...f.get('acc', 2 * q), ...f.get('vs', q), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...f.set('acc', 2 * q),
          ...f.get('acc', 2 * q + 1), ...f.get('vs', q), ...f.get('vs', q), ...HIGH_HALF, ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...f.set('acc', 2 * q + 1),
        ]),
        ...f.get('at'), ...f.get('rowBytes'), ...op.i32Add, ...f.set('at'),
      ]),
      ...Array.from({ length: WIDE_COLUMNS }, (_, c) => [
        ...f.get('out'), ...f.get('j'), ...op.i32(c), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...f.get('acc', c >> 1), ...op.f64x2ExtractLane(c & 1), ...op.f32DemoteF64,
        ...op.f32Store(0),
      ]).flat(),
    ]),
  ];
}

/**
 * out[j] = Σ_r x[r·row + j] for j < n, float32 rows `rowBytes` bytes apart (set from the
 * instructions `rowBytes`), accumulated in float64 (two f64x2 per four columns, the last
 * n mod 4 columns one by one) and rounded once. Each column's sum runs over the rows in
 * order, so a column's bits do not depend on which columns a call sums. `wide`: the
 * columns below n rounded down to 16 go first, sixteen at a time (wideColumns).
 */
function colSumBody(f: Fn<ColSumNames>, rowBytes: number[], wide?: Fn<ColSumNames | 'n16', 'acc' | 'vs'>): number[] {
  return [
    ...rowBytes, ...f.set('rowBytes'),
    ...f.get('n'), ...op.i32(-4), ...op.i32And, ...f.set('n4'),
    ...(wide === undefined ? [] : wideColumns(wide)),
    ...f.forStep('j', wide === undefined ? op.i32(0) : wide.get('n16'), f.get('n4'), 4, [
      ...op.v128Zero, ...f.set('lo'), ...op.v128Zero, ...f.set('hi'),
      ...f.get('x'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
      ...f.forUp('r', f.get('rows'), [
        ...f.get('at'), ...op.v128Load(0), ...f.set('v'),
        ...f.get('lo'), ...f.get('v'), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...f.set('lo'),
        ...f.get('hi'), ...f.get('v'), ...f.get('v'), ...HIGH_HALF, ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...f.set('hi'),
        ...f.get('at'), ...f.get('rowBytes'), ...op.i32Add, ...f.set('at'),
      ]),
      ...([['lo', 0], ['lo', 1], ['hi', 0], ['hi', 1]] as const).flatMap(([acc, lane], k) => [
        ...f.get('out'), ...f.get('j'), ...op.i32(k), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...f.get(acc), ...op.f64x2ExtractLane(lane), ...op.f32DemoteF64,
        ...op.f32Store(0),
      ]),
    ]),
    ...f.forStep('j', f.get('n4'), f.get('n'), 1, [
      ...op.f64Const0, ...f.set('one'),
      ...f.get('x'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
      ...f.forUp('r', f.get('rows'), [
        ...f.get('one'), ...f.get('at'), ...op.f32Load(0), ...op.f64PromoteF32, ...op.f64Add, ...f.set('one'),
        ...f.get('at'), ...f.get('rowBytes'), ...op.i32Add, ...f.set('at'),
      ]),
      ...f.get('out'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
      ...f.get('one'), ...op.f32DemoteF64,
      ...op.f32Store(0),
    ]),
  ];
}

const COL_SUM_LOCALS = { j: i32, r: i32, at: i32, rowBytes: i32, n4: i32, v: v128, lo: v128, hi: v128, one: f64 };

/**
 * colSum(x, out, rows, n): out[j] = Σ_r x[r·n + j] for float32 rows (a bias's gradient
 * summed over a batch), accumulated in float64 (two f64x2 per four columns, the last
 * n mod 4 columns one by one) and rounded once.
 */
export const colSum = kernel({
  params: { x: i32, out: i32, rows: i32, n: i32 },
  locals: COL_SUM_LOCALS,
  body: (f) => colSumBody(f, [...f.get('n'), ...op.i32(4), ...op.i32Mul]),
});

/**
 * colSums(x, out, rows, n, width): colSum's sums of the first n columns of rows `width`
 * floats long: the same bits column by column, so the thread pool splits it by columns
 * (x and out move on by a column's 4 bytes). Sixteen columns a pass where they fit, four
 * after them, then one by one.
 */
export const colSums = kernel({
  params: { x: i32, out: i32, rows: i32, n: i32, width: i32 },
  locals: { ...COL_SUM_LOCALS, n16: i32, acc: array(v128, 8), vs: array(v128, 4) },
  split: { units: 'n', pointers: ['x', 'out'] },
  body: (f) => colSumBody(f, [...f.get('width'), ...op.i32(4), ...op.i32Mul], f),
});

/**
 * sumBlocks(dst, n4, blocks, stride): dst[i] += Σ over 1 ≤ k < blocks of dst[i + k·stride]
 * (stride in bytes) for n4 groups of four floats: per-chunk partial sums added into the
 * first block, one block after another (each streamed once).
 */
export const sumBlocks = kernel({
  params: { dst: i32, n4: i32, blocks: i32, stride: i32 },
  locals: { k: i32, i: i32, from: i32, to: i32 },
  split: { units: 'n4', pointers: ['dst'] },
  body: (f) =>
    f.forStep('k', op.i32(1), f.get('blocks'), 1, [
      ...f.get('dst'), ...f.get('k'), ...f.get('stride'), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...f.get('dst'), ...f.set('to'),
      ...f.forUp('i', f.get('n4'), [
        ...f.get('to'), ...f.get('to'), ...op.v128Load(0), ...f.get('from'), ...op.v128Load(0), ...op.f32x4Add, ...op.v128Store(0),
        ...f.get('to'), ...op.i32(16), ...op.i32Add, ...f.set('to'),
        ...f.get('from'), ...op.i32(16), ...op.i32Add, ...f.set('from'),
      ]),
    ]),
});
