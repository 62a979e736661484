/**
 * Scaled dot-product attention in one kernel per pass, forward and backward, for float32
 * with feature sizes a multiple of 4, causal or not, with at most one mask (mKind 1: bool,
 * a byte a key, non-zero hides it; 2: float32, added to the scaled scores; its rows mRow
 * bytes apart from each batch·head's first, in the table; a row with every key hidden gets
 * zero weights, [0, 0] kept for it): per batch·head, blocks of four query rows against
 * every key, the scores of a block (4 × S floats) the only thing held besides Kᵀ (and
 * Vᵀ), so memory grows with S, not L·S. The forward keeps two floats a
 * query row, m (the largest scaled score) and 1/Σe, and with `kept` the weights themselves
 * (each batch·head's ⌈L/4⌉·4 rows of Sp floats); without them the backward recomputes each
 * block's weights from the two floats, bit for bit the forward's:
 *   P = exp(s·scale − m)/Σ,  ∂P = ∂O·Vᵀ,  ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P))·scale,
 *   ∂Q = ∂S·K,  ∂K += ∂Sᵀ·Q,  ∂V += Pᵀ·∂O.
 * q, k, v and ∂O are read where they lie (rows of features with a stride, a table of each
 * batch·head's first row), so heads split out of [N, L, H·D] need no copies. Addresses are
 * in bytes; `Sp` is S rounded up to 8.
 */
import { array, f32, i32, op, v128, type Fn, type Ref } from '../assembler.js';
import { kernel } from './kernel.js';
import { exp, MATH_LOCALS, setConstants } from './recurrent.js';
import { across, minI32, multiplyAdd, roundUp4, roundUp8, simd, transpose4x4 } from './shared.js';

/** v1, v2, mask → v1 where the mask's bits are set, else v2 */
const bitselect = simd(0x52);
/** a & ~b */
const v128AndNot = simd(0x4f);
const i32x4Ne = simd(0x38);
/** four bytes into the low lanes, the rest zero */
const v128Load32Zero = [...simd(0x5c), 2, 0];
/** the low four bytes widened to four i32 lanes (unsigned) */
const u8ToI32x4 = [...simd(0x89), ...simd(0xa9)];
/** bytes of a batch·head's table entry: its first rows of q, k, v and ∂O, its mask's first row, padding */
export const TABLE = 32;
const i32Load = (at: number[], offset = 0): number[] => [...at, ...op.i32Load(offset)];

/**
 * attentionStageT(src, srcRow, dst, S, K, Sp): S rows of K floats (srcRow bytes apart)
 * transposed into dst as Sp/8 panels of K rows of 8 floats (panel p: keys 8p … 8p + 7, as
 * the products' packed B), four rows by four features at a time; the keys from S to Sp
 * repeat the last row (their scores are never read).
 */
export const attentionStageT = kernel({
  params: { src: i32, srcRow: i32, dst: i32, S: i32, K: i32, Sp: i32 },
  locals: { j: i32, e: i32, panel: i32, to: i32, rp: array(i32, 4), v: array(v128, 4), t: array(v128, 4) },
  body: (f) => [
    ...f.forStep('j', op.i32(0), f.get('Sp'), 4, [
      ...[0, 1, 2, 3].flatMap((i) => [
        ...f.get('src'), ...minI32([...f.get('j'), ...op.i32(i), ...op.i32Add], [...f.get('S'), ...op.i32(1), ...op.i32Sub]), ...f.get('srcRow'), ...op.i32Mul, ...op.i32Add, ...f.set('rp', i),
      ]),
      // dst + (j div 8)·K·32 + (j mod 8)·4
      ...f.get('dst'), ...f.get('j'), ...op.i32(3), ...op.i32ShrU, ...f.get('K'), ...op.i32Mul, ...op.i32(5), ...op.i32Shl, ...op.i32Add,
      ...f.get('j'), ...op.i32(4), ...op.i32And, ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...f.set('panel'),
      ...f.forStep('e', op.i32(0), [...f.get('K'), ...op.i32(4), ...op.i32Mul], 16, [
        ...[0, 1, 2, 3].flatMap((i) => [...f.get('rp', i), ...f.get('e'), ...op.i32Add, ...op.v128Load(0), ...f.set('v', i)]),
        ...f.get('panel'), ...f.get('e'), ...op.i32(3), ...op.i32Shl, ...op.i32Add, ...f.set('to'),
        ...transpose4x4(
          [0, 1, 2, 3].map((i) => f.ref('v', i)),
          [0, 1, 2, 3].map((i) => f.ref('t', i)),
          (c, column) => [...f.get('to'), ...column, ...op.v128Store(32 * c)],
        ),
      ]),
    ]),
  ],
});

/**
 * attentionScores(a, aRow, rows, bt, K, cols, out, outRow): out [4, cols] (rows outRow
 * bytes apart; cols a multiple of 8) = A·Bt for the four rows of K floats from a (aRow
 * bytes apart; rows past `rows` repeat the last) and bt, K × Sp packed in panels of 8
 * columns (attentionStageT): the scores Q·Kᵀ of a block of queries, or ∂O·Vᵀ. The
 * products' micro-kernel: eight accumulators, four rows by two vectors of columns.
 */
export const attentionScores = kernel({
  params: { a: i32, aRow: i32, rows: i32, bt: i32, K: i32, cols: i32, out: i32, outRow: i32 },
  locals: { j: i32, e: i32, from: i32, ar: array(i32, 4), acc: array(v128, 8), b0: v128, b1: v128, s: v128 },
  body: (f, { fma }) => [
    ...f.get('bt'), ...f.set('from'),
    ...f.forStep('j', op.i32(0), [...f.get('cols'), ...op.i32(4), ...op.i32Mul], 32, [
      ...rowPointers(f.get('a'), f.get('aRow'), f.get('rows'), (i) => f.set('ar', i)),
      ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [...op.v128Zero, ...f.set('acc', i)]),
      ...f.get('K'), ...f.set('e'),
      ...op.block, ...op.loop,
      ...f.get('e'), ...op.i32Eqz, ...op.brIf(1),
      ...f.get('from'), ...op.v128Load(0), ...f.set('b0'),
      ...f.get('from'), ...op.v128Load(16), ...f.set('b1'),
      ...[0, 1, 2, 3].flatMap((r) => [
        ...f.get('ar', r), ...op.v128Load32Splat(0), ...f.set('s'),
        ...multiplyAdd(fma, f.ref('acc', 2 * r), f.get('s'), f.get('b0')),
        ...multiplyAdd(fma, f.ref('acc', 2 * r + 1), f.get('s'), f.get('b1')),
        ...f.get('ar', r), ...op.i32(4), ...op.i32Add, ...f.set('ar', r),
      ]),
      ...f.get('from'), ...op.i32(32), ...op.i32Add, ...f.set('from'),
      ...f.get('e'), ...op.i32(1), ...op.i32Sub, ...f.set('e'),
      ...op.br(0),
      ...op.end, ...op.end,
      ...[0, 1, 2, 3].flatMap((r) => [
        ...f.get('out'), ...op.i32(r), ...f.get('outRow'), ...op.i32Mul, ...op.i32Add, ...f.get('j'), ...op.i32Add, ...f.set('e'),
        ...f.get('e'), ...f.get('acc', 2 * r), ...op.v128Store(0),
        ...f.get('e'), ...f.get('acc', 2 * r + 1), ...op.v128Store(16),
      ]),
    ]),
  ],
});

/** `set(i)` of row i's address for i < 4: base + min(i, rows − 1)·stride (rows past `rows` repeat the last). */
function rowPointers(base: number[], stride: number[], rows: number[], set: (i: number) => number[]): number[] {
  return [0, 1, 2, 3].flatMap((i) => [...base, ...minI32(op.i32(i), [...rows, ...op.i32(1), ...op.i32Sub]), ...stride, ...op.i32Mul, ...op.i32Add, ...set(i)]);
}

/**
 * attentionTimes(p, Sp, n, b, bRow, W, out, outRow, rows): out [rows, W] (rows outRow bytes
 * apart) = P·B over the first n columns of the four rows of P [4, Sp] and n rows of W
 * floats from b (bRow bytes apart): the block's output P·V, or ∂Q = ∂S·K. Eight columns at
 * a time (four rows by two vectors), then four.
 */
export const attentionTimes = kernel({
  params: { p: i32, Sp: i32, n: i32, b: i32, bRow: i32, W: i32, out: i32, outRow: i32, rows: i32 },
  locals: { c: i32, j: i32, from: i32, w8: i32, pr: array(i32, 4), acc: array(v128, 8), b0: v128, b1: v128, s: v128 },
  body: (f, { fma }) => {
    const chunk = (two: boolean): number[] => {
      const vs = two ? [0, 1] : [0];
      return [
        ...[0, 1, 2, 3].flatMap((r) => vs.flatMap((h) => [...op.v128Zero, ...f.set('acc', 2 * r + h)])),
        ...f.get('b'), ...f.get('c'), ...op.i32Add, ...f.set('from'),
        ...f.forStep('j', op.i32(0), [...f.get('n'), ...op.i32(4), ...op.i32Mul], 4, [
          ...f.get('from'), ...op.v128Load(0), ...f.set('b0'),
          ...(two ? [...f.get('from'), ...op.v128Load(16), ...f.set('b1')] : []),
          ...[0, 1, 2, 3].flatMap((r) => [
            ...f.get('pr', r), ...f.get('j'), ...op.i32Add, ...op.v128Load32Splat(0), ...f.set('s'),
            ...vs.flatMap((h) => multiplyAdd(fma, f.ref('acc', 2 * r + h), f.get('s'), f.get(h === 0 ? 'b0' : 'b1'))),
          ]),
          ...f.get('from'), ...f.get('bRow'), ...op.i32Add, ...f.set('from'),
        ]),
        ...[0, 1, 2, 3].flatMap((r) => [
          ...op.i32(r), ...f.get('rows'), ...op.i32LtS, ...op.if,
          ...f.get('out'), ...op.i32(r), ...f.get('outRow'), ...op.i32Mul, ...op.i32Add, ...f.get('c'), ...op.i32Add, ...f.set('from'),
          ...vs.flatMap((h) => [...f.get('from'), ...f.get('acc', 2 * r + h), ...op.v128Store(16 * h)]),
          ...op.end,
        ]),
      ];
    };
    return [
      ...weightRows(f),
      ...f.get('W'), ...op.i32(-8), ...op.i32And, ...op.i32(4), ...op.i32Mul, ...f.set('w8'),
      ...f.forStep('c', op.i32(0), f.get('w8'), 32, chunk(true)),
      ...f.forStep('c', f.get('w8'), [...f.get('W'), ...op.i32(4), ...op.i32Mul], 16, chunk(false)),
    ];
  },
});

/**
 * attentionAddT(p, Sp, n, x, xRow, rows, W, dst, dstRow): dst [n, W] += Pᵀ·X for the four
 * rows of P [4, Sp] (its first n columns; rows past `rows` are zero) and the four rows of W
 * floats from x (xRow bytes apart; rows past `rows` repeat the last): ∂V += Pᵀ·∂O and
 * ∂K += ∂Sᵀ·Q for a block of queries. X's eight columns of the four rows stay in
 * registers while dst's rows go by; then four.
 */
export const attentionAddT = kernel({
  params: { p: i32, Sp: i32, n: i32, x: i32, xRow: i32, rows: i32, W: i32, dst: i32, dstRow: i32 },
  locals: { c: i32, j: i32, to: i32, w8: i32, pr: array(i32, 4), xr: array(i32, 4), xv: array(v128, 8), d0: v128, d1: v128, s: v128 },
  body: (f, { fma }) => {
    const chunk = (two: boolean): number[] => {
      const vs = two ? [0, 1] : [0];
      const d = (h: number): Ref => f.ref(h === 0 ? 'd0' : 'd1');
      return [
        ...[0, 1, 2, 3].flatMap((r) => vs.flatMap((h) => [...f.get('xr', r), ...f.get('c'), ...op.i32Add, ...op.v128Load(16 * h), ...f.set('xv', 2 * r + h)])),
        ...f.get('dst'), ...f.get('c'), ...op.i32Add, ...f.set('to'),
        ...f.forStep('j', op.i32(0), [...f.get('n'), ...op.i32(4), ...op.i32Mul], 4, [
          ...vs.flatMap((h) => [...f.get('to'), ...op.v128Load(16 * h), ...d(h).set]),
          ...[0, 1, 2, 3].flatMap((r) => [
            ...f.get('pr', r), ...f.get('j'), ...op.i32Add, ...op.v128Load32Splat(0), ...f.set('s'),
            ...vs.flatMap((h) => multiplyAdd(fma, d(h), f.get('s'), f.get('xv', 2 * r + h))),
          ]),
          ...vs.flatMap((h) => [...f.get('to'), ...d(h).get, ...op.v128Store(16 * h)]),
          ...f.get('to'), ...f.get('dstRow'), ...op.i32Add, ...f.set('to'),
        ]),
      ];
    };
    return [
      ...weightRows(f),
      ...rowPointers(f.get('x'), f.get('xRow'), f.get('rows'), (i) => f.set('xr', i)),
      ...f.get('W'), ...op.i32(-8), ...op.i32And, ...op.i32(4), ...op.i32Mul, ...f.set('w8'),
      ...f.forStep('c', op.i32(0), f.get('w8'), 32, chunk(true)),
      ...f.forStep('c', f.get('w8'), [...f.get('W'), ...op.i32(4), ...op.i32Mul], 16, chunk(false)),
    ];
  },
});

/** The parameters both passes share: the table of each batch·head's first rows, the chunks, the sizes and strides. */
const SHARED = {
  table: i32, work: i32, counts: i32, chunks: i32,
  L: i32, S: i32, E: i32, Ev: i32, qRow: i32, kRow: i32, vRow: i32, scale: f32, causal: i32, mRow: i32, mKind: i32, kept: i32,
} as const;

/** The locals both passes share (the weights' math, the loops, a block's sizes). */
const LOCALS = {
  ...MATH_LOCALS,
  ch: i32, u: i32, i0: i32, r: i32, j: i32, rows: i32, nmax: i32, cols: i32, w: i32, Sp: i32, rb: i32, nr: i32, row: i32,
  qb: i32, kb: i32, vb: i32, mb: i32, mrow: i32, kt: i32, sc: i32, sb: i32, keep: i32,
  scv: v128, m: v128, sum: v128, x: v128, valid: v128, negInf: v128, iota: v128,
} as const;

/**
 * attention(table, work, counts, chunks, L, S, E, Ev, qRow, kRow, vRow, scale, causal, mRow,
 * mKind, kept, o, stats): the forward pass for `counts[c]` batch·heads in each of `chunks`
 * chunks (table entries of TABLE bytes, one per batch·head, in order): o [L, Ev] each,
 * contiguous, [m, 1/Σ] per query row to stats, and with `kept` (0: none) the weights there,
 * ⌈L/4⌉·4 rows of Sp floats a batch·head. `work`: Kᵀ (E·Sp floats) then a block's scores
 * (4·Sp), reused by every batch·head of the call (the thread pool gives each part its own).
 */
export const attention = kernel({
  params: { ...SHARED, o: i32, stats: i32 },
  split: { units: 'chunks', pointers: ['table', 'o', 'stats', 'work', 'counts', 'kept'] },
  locals: LOCALS,
  body: (f, { call }) => [
    ...prologue(f),
    ...f.forUp('ch', f.get('chunks'), [
      ...f.forUp('u', i32Load([...f.get('counts'), ...f.get('ch'), ...op.i32(4), ...op.i32Mul, ...op.i32Add]), [
        ...unitStart(f),
        ...f.get('kb'), ...f.get('kRow'), ...f.get('kt'), ...f.get('S'), ...f.get('E'), ...f.get('Sp'), ...call('attentionStageT'),
        ...overBlocks(f, [
          ...scores(f, call, 'qb', 'qRow', 'kt', 'E', 'sb'),
          // each row: m = max of s·scale over its keys, e = exp(s·scale − m), P = e/Σe
          ...f.forUp('r', op.i32(4), [
            ...rowOf(f, 'sb'),
            ...f.get('r'), ...f.get('rows'), ...op.i32LtS, ...op.if,
            ...keysOf(f),
            ...f.get('negInf'), ...f.set('m'),
            ...overColumns(f, [
              ...scaled(f),
              ...f.get('row'), ...f.get('j'), ...op.i32Add,
              ...f.get('x'), ...f.get('negInf'), ...f.get('valid'), ...bitselect, ...f.tee('x'),
              ...op.v128Store(0),
              ...f.get('m'), ...f.get('x'), ...op.f32x4Max, ...f.set('m'),
            ]),
            ...across(f.ref('m'), op.f32x4Max),
            // every key hidden (by the masks): zero weights, and [0, 0] for the backward
            ...f.get('m'), ...op.f32x4ExtractLane(0), ...f.get('negInf'), ...op.f32x4ExtractLane(0), ...op.f32Eq, ...op.if,
            ...zeroRow(f),
            ...op.v128Zero, ...f.set('m'),
            ...op.v128Zero, ...f.set('sum'),
            ...op.else,
            ...op.v128Zero, ...f.set('sum'),
            ...overColumns(f, [
              ...f.get('row'), ...f.get('j'), ...op.i32Add,
              ...exp(f, [...f.get('row'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...f.get('m'), ...op.f32x4Sub]), ...f.get('valid'), ...op.v128And, ...f.set('x'),
              ...f.get('x'), ...op.v128Store(0),
              ...f.get('sum'), ...f.get('x'), ...op.f32x4Add, ...f.set('sum'),
            ]),
            ...across(f.ref('sum'), op.f32x4Add),
            ...op.f32x4Const(1), ...f.get('sum'), ...op.f32x4Div, ...f.set('sum'),
            ...overColumns(f, [...f.get('row'), ...f.get('j'), ...op.i32Add, ...f.get('row'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...f.get('sum'), ...op.f32x4Mul, ...op.v128Store(0)]),
            ...op.end,
            // [m, 1/Σ] for the backward pass
            ...f.get('stats'), ...f.get('i0'), ...f.get('r'), ...op.i32Add, ...op.i32(8), ...op.i32Mul, ...op.i32Add,
            ...f.get('m'), ...op.f32x4ExtractLane(0), ...op.f32Store(0),
            ...f.get('stats'), ...f.get('i0'), ...f.get('r'), ...op.i32Add, ...op.i32(8), ...op.i32Mul, ...op.i32Add,
            ...f.get('sum'), ...op.f32x4ExtractLane(0), ...op.f32Store(4),
            ...op.else,
            ...zeroRow(f),
            ...op.end,
          ]),
          ...f.get('sb'), ...f.get('Sp'), ...f.get('nmax'), ...f.get('vb'), ...f.get('vRow'), ...f.get('Ev'),
          ...f.get('o'), ...f.get('i0'), ...f.get('Ev'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
          ...f.get('Ev'), ...op.i32(4), ...op.i32Mul, ...f.get('rows'), ...call('attentionTimes'),
        ]),
        ...onBy(f, 'o', 'L', 'Ev'),
        ...nextUnit(f),
      ]),
    ]),
  ],
});

/**
 * attentionBackward(…the forward's, dRow, stats, dq, dk, dv): the backward pass from ∂O (the
 * table's fourth column, rows dRow bytes apart) and the forward's [m, 1/Σ] rows (with `kept`,
 * its weights, read instead of computed again): ∂Q [L, E], ∂K [S, E] and ∂V [S, Ev] for
 * each batch·head, contiguous. `work`: Kᵀ, Vᵀ (Ev·Sp floats), a block's weights and its ∂P,
 * then ∂S (4·Sp each).
 */
export const attentionBackward = kernel({
  params: { ...SHARED, dRow: i32, stats: i32, dq: i32, dk: i32, dv: i32 },
  split: { units: 'chunks', pointers: ['table', 'stats', 'dq', 'dk', 'dv', 'work', 'counts', 'kept'] },
  locals: { ...LOCALS, db: i32, vt: i32, dp: i32, st: i32, drow: i32, inv: v128, dot: v128 },
  body: (f, { call }) => [
    ...prologue(f),
    ...f.get('kt'), ...f.get('E'), ...f.get('Sp'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('vt'),
    ...f.get('vt'), ...f.get('Ev'), ...f.get('Sp'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('sc'),
    ...f.get('sc'), ...f.get('rb'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('dp'),
    ...f.forUp('ch', f.get('chunks'), [
      ...f.forUp('u', i32Load([...f.get('counts'), ...f.get('ch'), ...op.i32(4), ...op.i32Mul, ...op.i32Add]), [
        ...unitStart(f),
        ...f.get('table'), ...op.i32Load(12), ...f.set('db'),
        // Kᵀ for the scores, when the weights are computed again
        ...f.get('keep'), ...op.i32Eqz, ...op.if,
        ...f.get('kb'), ...f.get('kRow'), ...f.get('kt'), ...f.get('S'), ...f.get('E'), ...f.get('Sp'), ...call('attentionStageT'),
        ...op.end,
        ...f.get('vb'), ...f.get('vRow'), ...f.get('vt'), ...f.get('S'), ...f.get('Ev'), ...f.get('Sp'), ...call('attentionStageT'),
        ...f.get('dk'), ...op.i32(0), ...f.get('S'), ...f.get('E'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
        ...f.get('dv'), ...op.i32(0), ...f.get('S'), ...f.get('Ev'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
        ...overBlocks(f, [
          ...f.get('keep'), ...op.i32Eqz, ...op.if, ...scores(f, call, 'qb', 'qRow', 'kt', 'E', 'sb'), ...op.end,
          ...scores(f, call, 'db', 'dRow', 'vt', 'Ev', 'dp'),
          ...f.forUp('r', op.i32(4), [
            ...rowOf(f, 'sb'),
            ...f.get('r'), ...f.get('rows'), ...op.i32LtS, ...op.if,
            ...keysOf(f),
            // the forward's weights again: P = exp(s·scale − m)·(1/Σ)
            ...f.get('stats'), ...f.get('i0'), ...f.get('r'), ...op.i32Add, ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...f.set('st'),
            ...f.get('st'), ...op.v128Load32Splat(0), ...f.set('m'),
            ...f.get('st'), ...op.v128Load32Splat(4), ...f.set('inv'),
            ...f.get('dp'), ...f.get('r'), ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...f.set('drow'),
            ...op.v128Zero, ...f.set('dot'),
            ...f.get('keep'), ...op.if,
            // the forward's weights, kept: rowsum(P ⊙ ∂P)
            ...overColumns(f, [
              ...f.get('dot'), ...f.get('row'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...f.get('drow'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...op.f32x4Mul, ...op.f32x4Add, ...f.set('dot'),
            ]),
            ...op.else,
            ...overColumns(f, [
              ...f.get('row'), ...f.get('j'), ...op.i32Add,
              ...scaled(f),
              ...f.get('row'), ...f.get('j'), ...op.i32Add,
              ...exp(f, [...f.get('x'), ...f.get('m'), ...op.f32x4Sub]),
              ...f.get('valid'), ...op.v128And, ...f.get('inv'), ...op.f32x4Mul, ...f.tee('x'),
              ...op.v128Store(0),
              ...f.get('dot'), ...f.get('x'), ...f.get('drow'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...op.f32x4Mul, ...op.f32x4Add, ...f.set('dot'),
            ]),
            ...op.end,
            ...across(f.ref('dot'), op.f32x4Add),
            // ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P))·scale, in place of ∂P
            ...overColumns(f, [
              ...f.get('drow'), ...f.get('j'), ...op.i32Add,
              ...f.get('row'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0),
              ...f.get('drow'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...f.get('dot'), ...op.f32x4Sub, ...op.f32x4Mul, ...f.get('scv'), ...op.f32x4Mul,
              ...op.v128Store(0),
            ]),
            ...op.else,
            ...zeroRow(f),
            ...f.get('dp'), ...f.get('r'), ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...op.i32(0), ...f.get('w'), ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
            ...op.end,
          ]),
          // ∂Q's rows = ∂S·K
          ...f.get('dp'), ...f.get('Sp'), ...f.get('nmax'), ...f.get('kb'), ...f.get('kRow'), ...f.get('E'),
          ...f.get('dq'), ...f.get('i0'), ...f.get('E'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
          ...f.get('E'), ...op.i32(4), ...op.i32Mul, ...f.get('rows'), ...call('attentionTimes'),
          // ∂V += Pᵀ·∂O, ∂K += ∂Sᵀ·Q
          ...f.get('sb'), ...f.get('Sp'), ...f.get('nmax'), ...offsetRows(f, 'db', 'dRow'), ...f.get('dRow'), ...f.get('rows'), ...f.get('Ev'),
          ...f.get('dv'), ...f.get('Ev'), ...op.i32(4), ...op.i32Mul, ...call('attentionAddT'),
          ...f.get('dp'), ...f.get('Sp'), ...f.get('nmax'), ...offsetRows(f, 'qb', 'qRow'), ...f.get('qRow'), ...f.get('rows'), ...f.get('E'),
          ...f.get('dk'), ...f.get('E'), ...op.i32(4), ...op.i32Mul, ...call('attentionAddT'),
        ]),
        ...onBy(f, 'dq', 'L', 'E'),
        ...onBy(f, 'dk', 'S', 'E'),
        ...onBy(f, 'dv', 'S', 'Ev'),
        ...nextUnit(f),
      ]),
    ]),
  ],
});

// ------------------------------------------------------------------ the passes' shared steps

/** The builder both passes' bodies get, seen by the helpers below (which use only names both declare). */
type Body = Fn<string, string>;
type Call = (name: string) => number[];

/** Constants, Sp and the scratch: Kᵀ (E·Sp floats) then the block's scores (4·Sp). */
function prologue(f: Body): number[] {
  return [
    ...setConstants(f),
    ...op.f32x4Const(-Infinity), ...f.set('negInf'),
    ...op.v128ConstI32x4([0, 1, 2, 3]), ...f.set('iota'),
    ...f.get('scale'), ...op.f32x4Splat, ...f.set('scv'),
    ...roundUp8(f.get('S')), ...f.set('Sp'),
    ...f.get('Sp'), ...op.i32(4), ...op.i32Mul, ...f.set('rb'),
    ...f.get('work'), ...f.set('kt'),
    ...f.get('kt'), ...f.get('E'), ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...f.set('sc'),
    ...f.get('kept'), ...op.i32Eqz, ...op.i32Eqz, ...f.set('keep'),
  ];
}

/** `ptr` on by a batch·head's a × b floats (an output block). */
function onBy(f: Body, ptr: string, a: string, b: string): number[] {
  return [...f.get(ptr), ...f.get(a), ...f.get(b), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set(ptr)];
}

/** The next batch·head: its [m, 1/Σ] rows, its table entry, and (with `keep`) its kept weights, roundUp4(L) rows of Sp floats on. */
function nextUnit(f: Body): number[] {
  return [
    ...f.get('stats'), ...f.get('L'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...f.set('stats'),
    ...f.get('table'), ...op.i32(TABLE), ...op.i32Add, ...f.set('table'),
    ...f.get('kept'), ...f.get('keep'), ...roundUp4(f.get('L')), ...op.i32Mul, ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...f.set('kept'),
  ];
}

/** `pr` = the four rows of the block's weights (or ∂S) at p, Sp floats apart. */
function weightRows(f: Fn<string, string>): number[] {
  return [0, 1, 2, 3].flatMap((r) => [...f.get('p'), ...op.i32(4 * r), ...f.get('Sp'), ...op.i32Mul, ...op.i32Add, ...f.set('pr', r)]);
}

/** A unit's first rows of q, k and v from its table entry. */
function unitStart(f: Body): number[] {
  return [
    ...f.get('table'), ...op.i32Load(0), ...f.set('qb'),
    ...f.get('table'), ...op.i32Load(4), ...f.set('kb'),
    ...f.get('table'), ...op.i32Load(8), ...f.set('vb'),
    ...f.get('table'), ...op.i32Load(16), ...f.set('mb'),
  ];
}

/**
 * `body` for each block of four queries from i0: `rows` of them (fewer at the end), the
 * keys the block sees (nmax: S, or with `causal` i0 + rows at most), `cols` (nmax rounded
 * up to 8: the scores computed) and `w` (nmax rounded up to 4: the columns the row passes go over).
 */
function overBlocks(f: Body, body: number[]): number[] {
  return f.forStep('i0', op.i32(0), f.get('L'), 4, [
    ...minI32(op.i32(4), [...f.get('L'), ...f.get('i0'), ...op.i32Sub]), ...f.set('rows'),
    ...minI32(f.get('S'), [...f.get('i0'), ...f.get('rows'), ...op.i32Add]), ...f.get('S'), ...f.get('causal'), ...op.select, ...f.set('nmax'),
    ...roundUp8(f.get('nmax')), ...f.set('cols'),
    ...roundUp4(f.get('nmax')), ...f.set('w'),
    // the block's weights: rows i0 … of the kept ones, or the work block's
    ...f.get('kept'), ...f.get('i0'), ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...f.get('sc'), ...f.get('keep'), ...op.select, ...f.set('sb'),
    ...body,
  ]);
}

/** attentionScores of the block's rows of `a` (from its unit's first row `base`) against `bt` [K, Sp], into `out`. */
function scores(f: Body, call: Call, base: 'qb' | 'db', row: 'qRow' | 'dRow', bt: 'kt' | 'vt', K: 'E' | 'Ev', out: 'sb' | 'dp'): number[] {
  return [...offsetRows(f, base, row), ...f.get(row), ...f.get('rows'), ...f.get(bt), ...f.get(K), ...f.get('cols'), ...f.get(out), ...f.get('rb'), ...call('attentionScores')];
}

/** The address of the block's first row of a unit's operand: base + i0·row. */
function offsetRows(f: Body, base: 'qb' | 'db', row: 'qRow' | 'dRow'): number[] {
  return [...f.get(base), ...f.get('i0'), ...f.get(row), ...op.i32Mul, ...op.i32Add];
}

/** `row` = the address of row r of the block's scores at `at`. */
function rowOf(f: Body, at: string): number[] {
  return [...f.get(at), ...f.get('r'), ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...f.set('row')];
}

/** `nr` = the keys row r sees (S, or with `causal` min(S, i0 + r + 1)). */
function keysOf(f: Body): number[] {
  return [
    ...minI32(f.get('S'), [...f.get('i0'), ...f.get('r'), ...op.i32Add, ...op.i32(1), ...op.i32Add]), ...f.get('S'), ...f.get('causal'), ...op.select, ...f.set('nr'),
    ...f.get('mb'), ...f.get('i0'), ...f.get('r'), ...op.i32Add, ...f.get('mRow'), ...op.i32Mul, ...op.i32Add, ...f.set('mrow'),
  ];
}

/** `x` = the scores at column j (bytes) of `row` times the scale, plus the float mask's row there (mKind 2). */
function scaled(f: Body): number[] {
  return [
    ...f.get('row'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...f.get('scv'), ...op.f32x4Mul, ...f.set('x'),
    ...f.get('mKind'), ...op.i32(2), ...op.i32Eq, ...op.if,
    ...f.get('x'), ...f.get('mrow'), ...f.get('j'), ...op.i32Add, ...op.v128Load(0), ...op.f32x4Add, ...f.set('x'),
    ...op.end,
  ];
}

/** `body` for j = 0, 16, … (bytes) below 4·w, with `valid` the lanes of keys below nr. */
function overColumns(f: Body, body: number[]): number[] {
  return f.forStep('j', op.i32(0), [...f.get('w'), ...op.i32(4), ...op.i32Mul], 16, [
    ...f.get('j'), ...op.i32(2), ...op.i32ShrU, ...op.i32x4Splat, ...f.get('iota'), ...op.i32x4Add, ...f.get('nr'), ...op.i32x4Splat, ...op.i32x4LtS, ...f.set('valid'),
    // a bool mask's keys (a byte each, non-zero: hidden) leave the lanes too
    ...f.get('mKind'), ...op.i32(1), ...op.i32Eq, ...op.if,
    ...f.get('valid'), ...f.get('mrow'), ...f.get('j'), ...op.i32(2), ...op.i32ShrU, ...op.i32Add, ...v128Load32Zero, ...u8ToI32x4, ...op.v128Zero, ...i32x4Ne, ...v128AndNot, ...f.set('valid'),
    ...op.end,
    ...body,
  ]);
}

/** The scores row `row` (a query past L) set to zero weights over the block's columns. */
function zeroRow(f: Body): number[] {
  return [...f.get('row'), ...op.i32(0), ...f.get('w'), ...op.i32(4), ...op.i32Mul, ...op.memoryFill];
}
