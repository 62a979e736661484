/** The matrix product's kernels: the micro-kernel (three variants), B's packing, a batch of small products in one call, and the FMA ceiling probe. */
import { array, i32, op, v128, type Fn } from '../assembler.js';
import { kernel } from './kernel.js';
import { bytesOf, multiplyAdd, transpose4x4 } from './shared.js';

/** rows of C the micro-kernel keeps in registers (A is padded to a multiple of it) */
export const GEMM_ROWS = 4;

const GEMM_PARAMS = { a: i32, b: i32, c: i32, M: i32, K: i32, N: i32, n0: i32, n1: i32 };
const GEMM_LOCALS = {
  p: i32, i: i32, k: i32, bk: i32, cptr: i32, rowA: i32, panelBytes: i32, rowC: i32, bpanel: i32,
  /** A's GEMM_ROWS row pointers */
  pa: array(i32, GEMM_ROWS),
  /** the 4×8 block of C: two vectors a row */
  acc: array(v128, 2 * GEMM_ROWS),
  /** two vectors of B's row, one broadcast value of A */
  b0: v128, b1: v128, x: v128,
};
type GemmName = keyof typeof GEMM_PARAMS | 'ldb' | 'bias' | Exclude<keyof typeof GEMM_LOCALS, 'pa' | 'acc'>;

/**
 * gemm(a, b, c, M, K, N, n0, n1): C[M, N] = A[M, K] · B[K, N] in float32 for the column
 * panels n0 ≤ p < n1 (8 columns each), all addresses in bytes.
 *
 * - A is row-major with M a multiple of 4 (zero rows pad it);
 * - B is packed panel by panel: panel p (columns 8p … 8p+7) is K rows of 8 floats at
 *   b + p·K·32, so the inner loop reads it contiguously;
 * - C is row-major with N a multiple of 8.
 *
 * gemmAcc (`accumulate`): C[M, N] += A·B, the same products added to what C holds.
 * gemmRows (`rowsB`, one more parameter `ldb`): B not packed but row-major, rows ldb bytes
 * apart — for a B small enough to stay in the cache, where packing it would cost more than
 * the strided reads (columns past the last panel's end read whatever follows: their
 * results land in C's padding columns).
 *
 * The micro-kernel keeps a 4×8 block of C in eight f32x4 registers; each step of k loads
 * two vectors of the B panel, broadcasts four values of A and does eight multiply-adds.
 * Splitting the panels [n0, n1) across threads needs no synchronization inside.
 */
function gemmBody(f: Fn<GemmName, 'pa' | 'acc'>, fma: boolean, accumulate: boolean, rowsB: boolean, bias = false): number[] {
  const R = GEMM_ROWS;
  const rows = Array.from({ length: R }, (_, r) => r);
  const madd = (acc: number, b: 'b0' | 'b1'): number[] => multiplyAdd(fma, f.ref('acc', acc), f.get('x'), f.get(b));
  return [
    ...f.get('K'), ...op.i32(4), ...op.i32Mul, ...f.set('rowA'),
    // from one panel to the next: K rows of 32 bytes packed, 32 bytes along B's rows
    ...(rowsB ? op.i32(32) : [...f.get('K'), ...op.i32(32), ...op.i32Mul]), ...f.set('panelBytes'),
    ...f.get('N'), ...op.i32(4), ...op.i32Mul, ...f.set('rowC'),
    // bpanel = b + n0·panelBytes
    ...f.get('b'), ...f.get('n0'), ...f.get('panelBytes'), ...op.i32Mul, ...op.i32Add, ...f.set('bpanel'),
    ...f.get('n0'), ...f.set('p'),
    ...op.block, ...op.loop,
    ...f.get('p'), ...f.get('n1'), ...op.i32GeU, ...op.brIf(1),
    ...op.i32(0), ...f.set('i'),
    ...op.block, ...op.loop,
    ...f.get('i'), ...f.get('M'), ...op.i32GeU, ...op.brIf(1),
    // row pointers of A: a + i·rowA, then + rowA each
    ...f.get('a'), ...f.get('i'), ...f.get('rowA'), ...op.i32Mul, ...op.i32Add, ...f.set('pa', 0),
    ...rows.slice(1).flatMap((r) => [...f.get('pa', r - 1), ...f.get('rowA'), ...op.i32Add, ...f.set('pa', r)]),
    // the accumulators start at zero, or (bias) at the panel's 8 bias values
    ...Array.from({ length: 2 * R }, (_, r) => [...(bias ? [...f.get('bias'), ...f.get('p'), ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...op.v128Load(16 * (r % 2))] : op.v128Zero), ...f.set('acc', r)]).flat(),
    ...f.get('bpanel'), ...f.set('bk'),
    ...f.get('K'), ...f.set('k'),
    ...op.block, ...op.loop,
    ...f.get('k'), ...op.i32Eqz, ...op.brIf(1),
    ...f.get('bk'), ...op.v128Load(0), ...f.set('b0'),
    ...f.get('bk'), ...op.v128Load(16), ...f.set('b1'),
    ...rows.flatMap((r) => [
      ...f.get('pa', r), ...op.v128Load32Splat(0), ...f.set('x'),
      ...madd(2 * r, 'b0'),
      ...madd(2 * r + 1, 'b1'),
      ...f.get('pa', r), ...op.i32(4), ...op.i32Add, ...f.set('pa', r),
    ]),
    ...f.get('bk'), ...(rowsB ? f.get('ldb') : op.i32(32)), ...op.i32Add, ...f.set('bk'),
    ...f.get('k'), ...op.i32(1), ...op.i32Sub, ...f.set('k'),
    ...op.br(0),
    ...op.end, ...op.end,
    // C block: c + i·rowC + p·32, R rows of two vectors
    ...f.get('c'), ...f.get('i'), ...f.get('rowC'), ...op.i32Mul, ...op.i32Add, ...f.get('p'), ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...f.set('cptr'),
    ...rows.flatMap((r) => [
      ...f.get('cptr'), ...f.get('acc', 2 * r), ...(accumulate ? [...f.get('cptr'), ...op.v128Load(0), ...op.f32x4Add] : []), ...op.v128Store(0),
      ...f.get('cptr'), ...f.get('acc', 2 * r + 1), ...(accumulate ? [...f.get('cptr'), ...op.v128Load(16), ...op.f32x4Add] : []), ...op.v128Store(16),
      ...f.get('cptr'), ...f.get('rowC'), ...op.i32Add, ...f.set('cptr'),
    ]),
    ...f.get('i'), ...op.i32(R), ...op.i32Add, ...f.set('i'),
    ...op.br(0),
    ...op.end, ...op.end,
    ...f.get('bpanel'), ...f.get('panelBytes'), ...op.i32Add, ...f.set('bpanel'),
    ...f.get('p'), ...op.i32(1), ...op.i32Add, ...f.set('p'),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

export const gemm = kernel({ params: GEMM_PARAMS, locals: GEMM_LOCALS, body: (f, { fma }) => gemmBody(f, fma, false, false) });
export const gemmAcc = kernel({ params: GEMM_PARAMS, locals: GEMM_LOCALS, body: (f, { fma }) => gemmBody(f, fma, true, false) });
export const gemmRows = kernel({ params: { ...GEMM_PARAMS, ldb: i32 }, locals: GEMM_LOCALS, body: (f, { fma }) => gemmBody(f, fma, false, true) });
/**
 * gemmBias(a, b, c, M, K, N, n0, n1, bias): gemm with a bias row added as C is written —
 * C[i][j] = bias[j] + Σ_k A[i][k]·B[k][j], the sum started from the bias (a Linear layer's
 * x·Wᵀ + b in one pass). `bias` holds N floats (zeros past the layer's columns).
 */
export const gemmBias = kernel({ params: { ...GEMM_PARAMS, bias: i32 }, locals: GEMM_LOCALS, body: (f, { fma }) => gemmBody(f, fma, false, false, true) });

/** `dst` moved to panel p0's start (K rows of 32 bytes per panel), then p = p0 … p1 − 1 over `body`. */
function panels(f: Fn<'dst' | 'K' | 'p' | 'p0' | 'p1'>, body: number[]): number[] {
  return [
    ...f.get('dst'), ...f.get('p0'), ...f.get('K'), ...op.i32Mul, ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...f.set('dst'),
    ...f.forStep('p', f.get('p0'), f.get('p1'), 1, body),
  ];
}

const PACK_PARAMS = { src: i32, dst: i32, K: i32, N: i32, p0: i32, p1: i32 };

/**
 * packB(src, dst, K, N, p0, p1): panels p0 ≤ p < p1 of a row-major K×N matrix into gemm's
 * B layout at dst: panels of 8 columns, each K rows of 8 floats, zeros past column N
 * (whole panels move as two vectors per row).
 */
export const packB = kernel({
  params: PACK_PARAMS,
  locals: { p: i32, k: i32, j: i32, j0: i32, from: i32, width: i32 },
  body: (f) => {
    const rowAt = [...f.get('src'), ...f.get('k'), ...f.get('N'), ...op.i32Mul, ...f.get('j0'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add];
    return panels(f, [
      ...f.get('p'), ...op.i32(8), ...op.i32Mul, ...f.set('j0'),
      ...f.get('N'), ...f.get('j0'), ...op.i32Sub, ...f.set('width'),
      ...f.get('width'), ...op.i32(8), ...op.i32GeU,
      ...op.if,
      ...f.forUp('k', f.get('K'), [
        ...rowAt, ...f.set('from'),
        ...f.get('dst'), ...f.get('from'), ...op.v128Load(0), ...op.v128Store(0),
        ...f.get('dst'), ...f.get('from'), ...op.v128Load(16), ...op.v128Store(16),
        ...f.get('dst'), ...op.i32(32), ...op.i32Add, ...f.set('dst'),
      ]),
      ...op.else,
      ...f.forUp('k', f.get('K'), [
        ...rowAt, ...f.set('from'),
        ...f.forUp('j', op.i32(8), [
          ...f.get('dst'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
          ...f.get('j'), ...f.get('width'), ...op.i32LtS,
          ...op.ifF32, ...f.get('from'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.else, ...op.f32Const0, ...op.end,
          ...op.f32Store(0),
        ]),
        ...f.get('dst'), ...op.i32(32), ...op.i32Add, ...f.set('dst'),
      ]),
      ...op.end,
    ]);
  },
});

/**
 * packBT(src, dst, K, N, p0, p1): like packB for a matrix stored transposed (src is N×K
 * row-major, B[k, j] = src[j·K + k]): each row of 8 gathered from 8 source rows. A whole
 * panel moves four k at a time as two 4×4 transposes (eight vector loads, eight shuffles,
 * eight vector stores); the last K mod 4 rows, and a partial panel, element by element.
 */
export const packBT = kernel({
  params: PACK_PARAMS,
  locals: { p: i32, k: i32, j: i32, j0: i32, width: i32, kv: i32, from: i32, v: array(v128, 8), t: array(v128, 4) },
  body: (f) => {
    const t = [0, 1, 2, 3].map((q) => f.ref('t', q));
    // rows r of v (r < 4 or ≥ 4) transposed: column c of the half to dst + (k + c)·32 + 16·half
    const half = (h: number) =>
      transpose4x4([0, 1, 2, 3].map((q) => f.ref('v', 4 * h + q)), t, (col, column) => [
        ...f.get('dst'), ...f.get('k'), ...op.i32(col), ...op.i32Add, ...op.i32(32), ...op.i32Mul, ...op.i32Add,
        ...column,
        ...op.v128Store(16 * h),
      ]);
    return panels(f, [
      ...f.get('p'), ...op.i32(8), ...op.i32Mul, ...f.set('j0'),
      ...f.get('N'), ...f.get('j0'), ...op.i32Sub, ...f.set('width'),
      // kv: the rows done by vectors (K rounded down to 4 for a whole panel, else none)
      ...op.i32(0), ...f.set('kv'),
      ...f.get('width'), ...op.i32(8), ...op.i32GeU,
      ...op.if, ...f.get('K'), ...op.i32(-4), ...op.i32And, ...f.set('kv'), ...op.end,
      // from = src + j0·K·4: the panel's first source row
      ...f.get('src'), ...f.get('j0'), ...f.get('K'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...f.forStep('k', op.i32(0), f.get('kv'), 4, [
        ...Array.from({ length: 8 }, (_, r) => [
          ...f.get('from'), ...op.i32(r), ...f.get('K'), ...op.i32Mul, ...f.get('k'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
          ...op.v128Load(0), ...f.set('v', r),
        ]).flat(),
        ...half(0),
        ...half(1),
      ]),
      ...f.forStep('k', f.get('kv'), f.get('K'), 1, [
        ...f.forUp('j', op.i32(8), [
          // dst + (k·8 + j)·4
          ...f.get('dst'), ...f.get('k'), ...op.i32(8), ...op.i32Mul, ...f.get('j'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
          ...f.get('j'), ...f.get('width'), ...op.i32LtS,
          // src + ((j0 + j)·K + k)·4
          ...op.ifF32, ...f.get('from'), ...f.get('j'), ...f.get('K'), ...op.i32Mul, ...f.get('k'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0),
          ...op.else, ...op.f32Const0, ...op.end,
          ...op.f32Store(0),
        ]),
      ]),
      ...f.get('dst'), ...f.get('K'), ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...f.set('dst'),
    ]);
  },
});

/** independent accumulators in fmaPeak: more than the FMA units' latency × their count (Zen: 4 × 2) */
export const PEAK_ACCUMULATORS = 12;

/**
 * fmaPeak(units, out, iters): for each unit, `iters` rounds of PEAK_ACCUMULATORS
 * independent f32x4 multiply-adds (fused where `fma`) on registers only, then the sum of
 * the accumulators' first lanes stored at out + 4·unit (so the work is not optimized
 * away). No loads in the loop: it times the machine's WebAssembly SIMD ceiling, what a
 * product's kernel could reach at best.
 */
export const fmaPeak = kernel({
  params: { units: i32, out: i32, iters: i32 },
  locals: { u: i32, i: i32, a: v128, b: v128, acc: array(v128, PEAK_ACCUMULATORS) },
  split: { units: 'units', pointers: ['out'] },
  body: (f, { fma }) => {
    const accs = Array.from({ length: PEAK_ACCUMULATORS }, (_, k) => k);
    const splat = (v: number[]) => [...v, ...op.f32x4Splat];
    return [
      // a = 1, b = 1 − 2⁻²⁴ … the values never overflow or turn denormal
      ...splat(op.f32Const1), ...f.set('a'),
      ...splat([0x43, 0xff, 0xff, 0x7f, 0x3f]), ...f.set('b'),
      ...f.forUp('u', f.get('units'), [
        ...accs.flatMap((k) => [...op.v128Zero, ...f.set('acc', k)]),
        ...f.forUp('i', f.get('iters'), accs.flatMap((k) => multiplyAdd(fma, f.ref('acc', k), f.get('a'), f.get('b')))),
        ...f.get('out'), ...f.get('u'), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...f.get('acc', 0), ...accs.slice(1).flatMap((k) => [...f.get('acc', k), ...op.f32x4Add]), ...op.f32x4ExtractLane(0),
        ...op.f32Store(0),
      ]),
    ];
  },
});

/** How gemmBatch reaches each item's A: read where it lies, its rows copied, or transposed into the slot. */
export const BATCH_A = { inPlace: 0, rows: 1, transposed: 2 } as const;
/** How gemmBatch reaches each item's B: packed already, packed by packB or packBT, or read row-major where it lies (gemmRows). */
export const BATCH_B = { packed: 0, rows: 1, transposed: 2, inPlace: 3 } as const;

/**
 * gemmBatch(a, b, c, sA, sB, sC, batch, M, Mp, K, N, Np, lda, aMode, bMode, aStep, bStep):
 * C_u = A_u · B_u for u < batch, each a small product of gemm's, one call for the whole
 * batch (the thread pool splits it by items). Item u's operands are at a + u·aStep and
 * b + u·bStep (bytes; 0 for one operand shared by every item), its C [M, N] row-major at
 * c + u·M·N·4. P = Np / 8 panels.
 *
 * - A (aMode): 0, row-major [Mp, K] read where it lies; 1, rows lda floats apart, copied
 *   into the slot sA ([Mp, K]); 2, stored transposed (A[i, k] at k·lda + i floats),
 *   transposed into sA. The slot's Mp − M padding rows are zeroed once per call (their
 *   products land only in C's padding rows, but whatever the slot held might be
 *   denormals, which slow the multiply-adds).
 * - B (bMode): 0, already packed; 1, row-major K×N packed by packB into sB (P·K·8 floats);
 *   2, stored transposed (N×K) packed by packBT into sB; 3, row-major K×Np read where it
 *   lies (gemmRows).
 * - C: written where it goes when M = Mp and N = Np, else into the slot sC ([Mp, Np]) and
 *   its M×N block copied out.
 *
 * The slots are reused by every item of a call; a range of items split off to a thread
 * gets its own (the pointers move on by a slot per item).
 */
export const gemmBatch = kernel({
  params: { a: i32, b: i32, c: i32, sA: i32, sB: i32, sC: i32, batch: i32, M: i32, Mp: i32, K: i32, N: i32, Np: i32, lda: i32, aMode: i32, bMode: i32, aStep: i32, bStep: i32 },
  locals: { u: i32, P: i32, at: i32, bp: i32, cp: i32, direct: i32 },
  split: { units: 'batch', pointers: ['a', 'b', 'c', 'sA', 'sB', 'sC'] },
  body: (f, { call }) => {
    const is = (name: 'aMode' | 'bMode', value: number) => [...f.get(name), ...op.i32(value), ...op.i32Xor, ...op.i32Eqz];
    const panels = [...op.i32(0), ...f.get('P')];
    return [
      ...f.get('Np'), ...op.i32(3), ...op.i32ShrU, ...f.set('P'),
      // direct = (M = Mp) and (N = Np): C needs neither padding rows nor columns
      ...f.get('M'), ...f.get('Mp'), ...op.i32Xor, ...op.i32Eqz, ...f.get('N'), ...f.get('Np'), ...op.i32Xor, ...op.i32Eqz, ...op.i32And, ...f.set('direct'),
      ...f.get('aMode'), ...op.if,
      ...f.get('sA'), ...bytesOf(f.get('M'), f.get('K')), ...op.i32Add, ...op.i32(0), ...bytesOf([...f.get('Mp'), ...f.get('M'), ...op.i32Sub], f.get('K')), ...op.memoryFill,
      ...op.end,
      ...f.forUp('u', f.get('batch'), [
        ...f.get('sA'), ...f.get('a'), ...f.get('aMode'), ...op.select, ...f.set('at'),
        ...is('aMode', BATCH_A.rows), ...op.if,
        ...f.get('a'), ...f.get('sA'), ...f.get('M'), ...f.get('K'), ...bytesOf(f.get('lda')), ...bytesOf(f.get('K')), ...call('copyBlock'),
        ...op.end,
        ...is('aMode', BATCH_A.transposed), ...op.if,
        ...f.get('a'), ...f.get('sA'), ...op.i32(1), ...f.get('K'), ...f.get('M'), ...f.get('lda'), ...f.get('K'), ...op.i32(0), ...op.i32(0), ...op.i32(0), ...call('transpose'),
        ...op.end,
        ...f.get('c'), ...f.get('sC'), ...f.get('direct'), ...op.select, ...f.set('cp'),
        ...is('bMode', BATCH_B.inPlace), ...op.if,
        ...f.get('at'), ...f.get('b'), ...f.get('cp'), ...f.get('Mp'), ...f.get('K'), ...f.get('Np'), ...panels, ...bytesOf(f.get('N')), ...call('gemmRows'),
        ...op.else,
        ...is('bMode', BATCH_B.rows), ...op.if, ...f.get('b'), ...f.get('sB'), ...f.get('K'), ...f.get('N'), ...panels, ...call('packB'), ...op.end,
        ...is('bMode', BATCH_B.transposed), ...op.if, ...f.get('b'), ...f.get('sB'), ...f.get('K'), ...f.get('N'), ...panels, ...call('packBT'), ...op.end,
        ...f.get('sB'), ...f.get('b'), ...f.get('bMode'), ...op.select, ...f.set('bp'),
        ...f.get('at'), ...f.get('bp'), ...f.get('cp'), ...f.get('Mp'), ...f.get('K'), ...f.get('Np'), ...panels, ...call('gemm'),
        ...op.end,
        ...f.get('direct'), ...op.i32Eqz, ...op.if,
        ...f.get('sC'), ...f.get('c'), ...f.get('M'), ...f.get('N'), ...bytesOf(f.get('Np')), ...bytesOf(f.get('N')), ...call('copyBlock'),
        ...op.end,
        ...f.get('a'), ...f.get('aStep'), ...op.i32Add, ...f.set('a'),
        ...f.get('b'), ...f.get('bStep'), ...op.i32Add, ...f.set('b'),
        ...f.get('c'), ...bytesOf(f.get('M'), f.get('N')), ...op.i32Add, ...f.set('c'),
      ]),
    ];
  },
});
