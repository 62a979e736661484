/**
 * The transforms of Winograd's F(2×2, 3×3) convolution: input tiles (Bᵀ·d·B) and their
 * adjoint, output tiles (Aᵀ·m·A), weights (G·g·Gᵀ) and their adjoint, output-gradient
 * tiles (A·dY·Aᵀ). The drivers that run them with the products are in winograd-conv.ts.
 */
import { array, f32, i32, op, v128, type Fn, type Ref } from '../assembler.js';
import { kernel } from './kernel.js';
import { lanes, lanesFrom, lastColumnClamp, planeRow } from './shared.js';

/**
 * The address of tile (n, ty, tx) in row `row` of a matrix of tiles, base + (row·rowLen +
 * t)·4 with t = (n·th + ty)·tw + tx (the Winograd kernels' column index of a tile).
 */
function tileAddress<S extends string>(f: Fn<S | 'n' | 'th' | 'ty' | 'tw' | 'tx'>, base: S, row: S, rowLen: S): number[] {
  return [
    ...f.get(base), ...f.get(row), ...f.get(rowLen), ...op.i32Mul,
    ...f.get('n'), ...f.get('th'), ...op.i32Mul, ...f.get('ty'), ...op.i32Add, ...f.get('tw'), ...op.i32Mul, ...f.get('tx'), ...op.i32Add, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
  ];
}

/** The first row of tile (ty, tx)'s 4×4 block in padded planes [N, C, Hp, Wp] at `base` (rows rowW bytes apart): row 2ty, column 2tx. */
function tileBlock<S extends string>(f: Fn<S | 'n' | 'C' | 'c' | 'Hp' | 'ty' | 'rowW' | 'tx'>, base: S): number[] {
  return [...planeRow(f, base, 'n', 'C', 'c', 'Hp', [...f.get('ty'), ...op.i32(2), ...op.i32Mul], f.get('rowW')), ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add];
}

/** Store the vector `value` leaves at the address in `at`, then move `at` on by `xi` bytes (one matrix on). */
function storeStep(f: Fn<'at' | 'xi'>, value: number[]): number[] {
  return [...f.get('at'), ...value, ...op.v128Store(0), ...f.get('at'), ...f.get('xi'), ...op.i32Add, ...f.set('at')];
}

/** for n < N, for ch < count, for ty < th, for the row's groups of four tiles (xv = 0, 4, …): `group` */
function overTileGroups<S extends string>(f: Fn<S | 'n' | 'N' | 'ty' | 'th' | 'xv' | 'tw'>, ch: S, count: S, group: number[]): number[] {
  return f.forUp('n', f.get('N'), f.forUp(ch, f.get(count), f.forUp('ty', f.get('th'), f.forStep('xv', op.i32(0), f.get('tw'), 4, group))));
}

/** The tile loop's locals: image, channel, tile row, group of four tiles and its (clamped) first tile. */
const TILE_LOOP = { n: i32, c: i32, ty: i32, xv: i32, tx: i32 };

/**
 * winogradIn(P, V, N, C, th, tw, Hp, Wp, T): the input transform of a Winograd F(2×2, 3×3)
 * convolution. Tile (ty, tx) of image n is the 4×4 block of the padded input P [N, C, Hp,
 * Wp] at row 2ty, column 2tx; its transform Bᵀ·d·B goes to V[ξ][c][t] (16 matrices of
 * C rows of T tiles, t = (n·th + ty)·tw + tx). Four neighbouring tiles at a time, one per
 * lane: each row of their blocks is four loads and four shuffles (even and odd columns).
 * The last four of a row of tiles start at tw − 4 (tw ≥ 4), so nothing reads past Wp =
 * 2·tw + 2 columns, and the tiles done twice are written twice with the same values.
 */
export const winogradIn = kernel({
  params: { P: i32, V: i32, N: i32, C: i32, th: i32, tw: i32, Hp: i32, Wp: i32, T: i32 },
  locals: { ...TILE_LOOP, row: i32, rowW: i32, at: i32, xi: i32, e: array(v128, 16), L0: v128, L1: v128, L2: v128, L3: v128 },
  split: { units: 'N', pointers: ['P', 'V'] },
  body: (f) => {
    type Half = 'L0' | 'L1' | 'L2' | 'L3';
    const even = (a: Half, b: Half) => [...f.get(a), ...f.get(b), ...lanes([0, 2, 4, 6])];
    const odd = (a: Half, b: Half) => [...f.get(a), ...f.get(b), ...lanes([1, 3, 5, 7])];
    const sub = (a: number[], b: number[]) => [...a, ...b, ...op.f32x4Sub];
    const add = (a: number[], b: number[]) => [...a, ...b, ...op.f32x4Add];
    // row i of the four blocks: d0…d3 (columns 2tx + j of each tile), then d·B into e[4i…4i+3]
    const blockRow = (i: number) => [
      ...f.get('row'), ...op.v128Load(0), ...f.set('L0'),
      ...f.get('row'), ...op.v128Load(16), ...f.set('L1'),
      ...f.get('row'), ...op.v128Load(8), ...f.set('L2'),
      ...f.get('row'), ...op.v128Load(24), ...f.set('L3'),
      // d0 = even(L0, L1), d1 = odd(L0, L1), d2 = even(L2, L3), d3 = odd(L2, L3)
      ...sub(even('L0', 'L1'), even('L2', 'L3')), ...f.set('e', 4 * i),
      ...add(odd('L0', 'L1'), even('L2', 'L3')), ...f.set('e', 4 * i + 1),
      ...sub(even('L2', 'L3'), odd('L0', 'L1')), ...f.set('e', 4 * i + 2),
      ...sub(odd('L0', 'L1'), odd('L2', 'L3')), ...f.set('e', 4 * i + 3),
      ...f.get('row'), ...f.get('rowW'), ...op.i32Add, ...f.set('row'),
    ];
    const store = (value: number[]) => storeStep(f, value);
    const g = (r: number, k: number) => f.get('e', 4 * r + k);
    const group = [
      ...lastColumnClamp(f, 'tx', 'xv', 'tw'),
      ...tileBlock(f, 'P'), ...f.set('row'),
      ...[0, 1, 2, 3].flatMap(blockRow),
      // V + ((c·T) + t0)·4, then a matrix (C·T floats) apart for each ξ = 4r + k
      ...tileAddress(f, 'V', 'c', 'T'), ...f.set('at'),
      ...[0, 1, 2, 3].flatMap((k) => store(sub(g(0, k), g(2, k)))),
      ...[0, 1, 2, 3].flatMap((k) => store(add(g(1, k), g(2, k)))),
      ...[0, 1, 2, 3].flatMap((k) => store(sub(g(2, k), g(1, k)))),
      ...[0, 1, 2, 3].flatMap((k) => store(sub(g(1, k), g(3, k)))),
    ];
    return [
      ...f.get('Wp'), ...op.i32(4), ...op.i32Mul, ...f.set('rowW'),
      ...f.get('C'), ...f.get('T'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('xi'),
      ...overTileGroups(f, 'c', 'C', group),
    ];
  },
});

/**
 * winogradOut(M, y, bias, N, O, th, tw, oh, ow, Np, mStride): the output transform: tile t
 * of output channel o is Aᵀ·m·A of the 16 values M_ξ[o][t] (matrices mStride bytes apart,
 * rows Np floats long), + bias[o] when bias ≠ 0, written as the 2×2 block of y [N, O, oh, ow]
 * at row 2ty, column 2tx, cropped at an odd last row or column. Four neighbouring tiles at
 * a time (the last four of a row start at tw − 4): two rows of eight outputs, each two
 * shuffles and two stores.
 */
export const winogradOut = kernel({
  params: { M: i32, y: i32, bias: i32, N: i32, O: i32, th: i32, tw: i32, oh: i32, ow: i32, Np: i32, mStride: i32 },
  locals: {
    n: i32, o: i32, ty: i32, xv: i32, tx: i32, at: i32, out: i32,
    /** Aᵀ·m: h[4a + k], rows a = 0, 1 */
    h: array(v128, 8),
    Y0: v128, Y1: v128, b: v128, lo: v128, hi: v128,
    /** the 16 values m[4r + k] of four tiles */
    m: array(v128, 16),
  },
  split: { units: 'N', pointers: ['M', 'y'] },
  body: (f) => {
    const h = Array.from({ length: 8 }, (_, k) => f.ref('h', k));
    const m = Array.from({ length: 16 }, (_, k) => f.ref('m', k));
    const v = (x: Ref) => x.get;
    const load = (xi: number) => [...f.get('at'), ...op.v128Load(0), ...f.set('m', xi), ...f.get('at'), ...f.get('mStride'), ...op.i32Add, ...f.set('at')];
    const outRow = (a: number) => [
      // Y0 = h0 + h1 + h2, Y1 = h1 − h2 − h3 (row a), + bias
      ...v(h[4 * a]), ...v(h[4 * a + 1]), ...op.f32x4Add, ...v(h[4 * a + 2]), ...op.f32x4Add, ...f.set('Y0'),
      ...v(h[4 * a + 1]), ...v(h[4 * a + 2]), ...op.f32x4Sub, ...v(h[4 * a + 3]), ...op.f32x4Sub, ...f.set('Y1'),
      ...f.get('bias'), ...op.if, ...f.get('Y0'), ...f.get('b'), ...op.f32x4Add, ...f.set('Y0'), ...f.get('Y1'), ...f.get('b'), ...op.f32x4Add, ...f.set('Y1'), ...op.end,
      ...f.get('Y0'), ...f.get('Y1'), ...lanes([0, 4, 1, 5]), ...f.set('lo'),
      ...f.get('Y0'), ...f.get('Y1'), ...lanes([2, 6, 3, 7]), ...f.set('hi'),
      ...f.get('out'), ...f.get('lo'), ...op.v128Store(0),
      // columns 2tx + 4 … 2tx + 7: the last one is past the row when ow is odd and this is the last group
      ...f.get('tx'), ...op.i32(2), ...op.i32Mul, ...op.i32(8), ...op.i32Add, ...f.get('ow'), ...op.i32GtU,
      ...op.if,
      ...[0, 1, 2].flatMap((lane) => [...f.get('out'), ...f.get('hi'), ...op.f32x4ExtractLane(lane), ...op.f32Store(16 + 4 * lane)]),
      ...op.else,
      ...f.get('out'), ...f.get('hi'), ...op.v128Store(16),
      ...op.end,
    ];
    const group = [
      ...lastColumnClamp(f, 'tx', 'xv', 'tw'),
      // M + (o·Np + t0)·4
      ...tileAddress(f, 'M', 'o', 'Np'), ...f.set('at'),
      ...Array.from({ length: 16 }, (_, xi) => load(xi)).flat(),
      // h[a][k]: a = 0: m0k + m1k + m2k; a = 1: m1k − m2k − m3k (m[4r + k])
      ...[0, 1, 2, 3].flatMap((k) => [...v(m[k]), ...v(m[4 + k]), ...op.f32x4Add, ...v(m[8 + k]), ...op.f32x4Add, ...h[k].set]),
      ...[0, 1, 2, 3].flatMap((k) => [...v(m[4 + k]), ...v(m[8 + k]), ...op.f32x4Sub, ...v(m[12 + k]), ...op.f32x4Sub, ...h[4 + k].set]),
      // y + (((n·O + o)·oh + 2ty)·ow + 2tx)·4
      ...f.get('y'), ...f.get('n'), ...f.get('O'), ...op.i32Mul, ...f.get('o'), ...op.i32Add, ...f.get('oh'), ...op.i32Mul, ...f.get('ty'), ...op.i32(2), ...op.i32Mul, ...op.i32Add,
      ...f.get('ow'), ...op.i32Mul, ...f.get('tx'), ...op.i32(2), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('out'),
      ...outRow(0),
      // the second row, unless it is past an odd last row
      ...f.get('ty'), ...op.i32(2), ...op.i32Mul, ...op.i32(1), ...op.i32Add, ...f.get('oh'), ...op.i32LtS,
      ...op.if,
      ...f.get('out'), ...f.get('ow'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('out'),
      ...outRow(1),
      ...op.end,
    ];
    return f.forUp('n', f.get('N'), f.forUp('o', f.get('O'), [
      ...f.get('bias'), ...op.if, ...f.get('bias'), ...f.get('o'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(0), ...f.set('b'), ...op.end,
      ...f.forUp('ty', f.get('th'), f.forStep('xv', op.i32(0), f.get('tw'), 4, group)),
    ]));
  },
});

/**
 * winogradInT(M, Q, N, C, th, tw, Hp, Wp, Np, mStride): the adjoint of winogradIn: tile t
 * of channel c gets B·m·Bᵀ of its 16 values M_ξ[c][t] (matrices mStride bytes apart, rows
 * Np floats long), a 4×4 block added into the padded plane Q [N, C, Hp, Wp] at row 2ty,
 * column 2tx; neighbouring blocks overlap by two rows or columns, so each plane gathers the
 * input gradient of a Winograd convolution's padded input. Four neighbouring tiles at a
 * time: a row of their blocks is ten columns, added as two vectors and a pair of floats.
 * The last four of a row of tiles start at tw − 4 (tw ≥ 4); its lanes done by the group
 * before are zeroed, so no tile is added twice.
 */
export const winogradInT = kernel({
  params: { M: i32, Q: i32, N: i32, C: i32, th: i32, tw: i32, Hp: i32, Wp: i32, Np: i32, mStride: i32 },
  locals: {
    ...TILE_LOOP, at: i32, row: i32, rowW: i32,
    /** the 16 values m[4r + k] of four tiles */
    m: array(v128, 16),
    /** rows 1 and 2 of B·m: t[4(i − 1) + k] */
    t: array(v128, 8),
    /** a row of B·m·Bᵀ */
    d: array(v128, 4),
    mask: v128, lo: v128, hi: v128, lo2: v128, hi2: v128,
  },
  body: (f) => {
    const m = Array.from({ length: 16 }, (_, k) => f.ref('m', k));
    const t = Array.from({ length: 8 }, (_, k) => f.ref('t', k));
    const d = Array.from({ length: 4 }, (_, k) => f.ref('d', k));
    const v = (x: Ref) => x.get;
    const sum = (...terms: [Ref, number][]) => terms.slice(1).reduce((acc, [x, sign]) => [...acc, ...v(x), ...(sign > 0 ? op.f32x4Add : op.f32x4Sub)], v(terms[0][0]));
    const neg = (x: number[]) => [...x, ...op.f32x4Neg];
    /** row i of B·m·Bᵀ from the row (a0 … a3) of B·m, negated when `minus` (B·m's last row is −m3) */
    const blockRow = (a: Ref[], minus: boolean) => [
      ...(minus ? neg(v(a[0])) : v(a[0])), ...d[0].set,
      ...(minus ? sum([a[2], 1], [a[1], -1], [a[3], -1]) : sum([a[1], 1], [a[2], -1], [a[3], 1])), ...d[1].set,
      ...(minus ? sum([a[0], 1], [a[1], -1], [a[2], -1]) : sum([a[1], 1], [a[2], 1], [a[0], -1])), ...d[2].set,
      ...(minus ? v(a[3]) : neg(v(a[3]))), ...d[3].set,
    ];
    // the ten columns of a row of four blocks: lo, hi = columns 0–7 from (d0, d1) interleaved,
    // plus (d2, d3) interleaved two columns on; lanes 2, 3 of hi2 go to columns 8, 9
    const addRow = [
      ...v(d[0]), ...v(d[1]), ...lanes([0, 4, 1, 5]), ...f.set('lo'),
      ...v(d[0]), ...v(d[1]), ...lanes([2, 6, 3, 7]), ...f.set('hi'),
      ...v(d[2]), ...v(d[3]), ...lanes([0, 4, 1, 5]), ...f.set('lo2'),
      ...v(d[2]), ...v(d[3]), ...lanes([2, 6, 3, 7]), ...f.set('hi2'),
      ...f.get('row'), ...f.get('row'), ...op.v128Load(0), ...f.get('lo'), ...op.f32x4Add, ...op.v128Zero, ...f.get('lo2'), ...lanes([0, 1, 4, 5]), ...op.f32x4Add, ...op.v128Store(0),
      ...f.get('row'), ...f.get('row'), ...op.v128Load(16), ...f.get('hi'), ...op.f32x4Add, ...f.get('lo2'), ...f.get('hi2'), ...lanes([2, 3, 4, 5]), ...op.f32x4Add, ...op.v128Store(16),
      ...f.get('row'), ...f.get('row'), ...op.v128Load64Splat(32), ...f.get('hi2'), ...op.f32x4Add, ...op.f64x2ExtractLane(1), ...op.f64Store(32),
      ...f.get('row'), ...f.get('rowW'), ...op.i32Add, ...f.set('row'),
    ];
    const group = [
      ...lastColumnClamp(f, 'tx', 'xv', 'tw'),
      ...tileAddress(f, 'M', 'c', 'Np'), ...f.set('at'),
      ...m.flatMap((reg) => [...f.get('at'), ...op.v128Load(0), ...reg.set, ...f.get('at'), ...f.get('mStride'), ...op.i32Add, ...f.set('at')]),
      // a last group moved back: lanes l < xv − tx are the group before's tiles
      ...f.get('xv'), ...f.get('tx'), ...op.i32GtU, ...op.if,
      ...lanesFrom(f, 'mask', 'xv', 'tx'),
      ...m.flatMap((reg) => [...v(reg), ...f.get('mask'), ...op.v128And, ...reg.set]),
      ...op.end,
      // B·m: rows m0, m1 − m2 + m3, m1 + m2 − m0, −m3 (m_r the vectors m[4r + k])
      ...[0, 1, 2, 3].flatMap((k) => [...sum([m[4 + k], 1], [m[8 + k], -1], [m[12 + k], 1]), ...t[k].set, ...sum([m[4 + k], 1], [m[8 + k], 1], [m[k], -1]), ...t[4 + k].set]),
      ...tileBlock(f, 'Q'), ...f.set('row'),
      ...blockRow(m.slice(0, 4), false), ...addRow,
      ...blockRow(t.slice(0, 4), false), ...addRow,
      ...blockRow(t.slice(4, 8), false), ...addRow,
      ...blockRow(m.slice(12, 16), true), ...addRow,
    ];
    return [
      ...f.get('Wp'), ...op.i32(4), ...op.i32Mul, ...f.set('rowW'),
      ...overTileGroups(f, 'c', 'C', group),
    ];
  },
});

/** ½·(the value the instructions leave), in f32 */
const half = (xs: number[]) => [...xs, ...op.f32ConstHalf, ...op.f32Mul];

/**
 * winogradWeights(w, u, Mp, Cout, Cin, swap): U_ξ = G·g·Gᵀ for each 3×3 filter g of a
 * convolution from Cin to Cout channels, into 16 matrices of Mp rows of Cin floats at u
 * (U_ξ[m][k] at u + ((ξ·Mp + m)·Cin + k)·4), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. The weights
 * w are [Cout, Cin, 3, 3]; with `swap`, [Cin, Cout, 3, 3] (U_ξ transposed: the matrices of
 * the adjoint's products).
 */
export const winogradWeights = kernel({
  params: { w: i32, u: i32, Mp: i32, Cout: i32, Cin: i32, swap: i32 },
  locals: { m: i32, k: i32, base: i32, at: i32, plane: i32, g: array(f32, 9), t: array(f32, 12) },
  body: (f) => {
    const g = Array.from({ length: 9 }, (_, q) => f.ref('g', q));
    const t = Array.from({ length: 12 }, (_, q) => f.ref('t', q));
    const v = (x: Ref) => x.get;
    // (a + b + c)·½ and (a − b + c)·½
    const plus = (a: Ref, b: Ref, c: Ref) => half([...v(a), ...v(b), ...op.f32Add, ...v(c), ...op.f32Add]);
    const minus = (a: Ref, b: Ref, c: Ref) => half([...v(a), ...v(b), ...op.f32Sub, ...v(c), ...op.f32Add]);
    const put = (value: number[]) => [...f.get('at'), ...value, ...op.f32Store(0), ...f.get('at'), ...f.get('plane'), ...op.i32Add, ...f.set('at')];
    return [
      ...f.get('Mp'), ...f.get('Cin'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('plane'),
      ...f.forUp('m', f.get('Cout'), f.forUp('k', f.get('Cin'), [
        // base: w + (m·Cin + k)·36, or w + (k·Cout + m)·36 swapped
        ...f.get('k'), ...f.get('Cout'), ...op.i32Mul, ...f.get('m'), ...op.i32Add,
        ...f.get('m'), ...f.get('Cin'), ...op.i32Mul, ...f.get('k'), ...op.i32Add,
        ...f.get('swap'), ...op.select, ...op.i32(36), ...op.i32Mul, ...f.get('w'), ...op.i32Add, ...f.set('base'),
        ...g.flatMap((reg, q) => [...f.get('base'), ...op.f32Load(4 * q), ...reg.set]),
        // t = G·g (4×3)
        ...[0, 1, 2].flatMap((j) => [
          ...v(g[j]), ...t[j].set,
          ...plus(g[j], g[3 + j], g[6 + j]), ...t[3 + j].set,
          ...minus(g[j], g[3 + j], g[6 + j]), ...t[6 + j].set,
          ...v(g[6 + j]), ...t[9 + j].set,
        ]),
        // u = t·Gᵀ (4×4), ξ = 4r + col in order
        ...f.get('u'), ...f.get('m'), ...f.get('Cin'), ...op.i32Mul, ...f.get('k'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
        ...[0, 1, 2, 3].flatMap((r) => [
          ...put(v(t[3 * r])),
          ...put(plus(t[3 * r], t[3 * r + 1], t[3 * r + 2])),
          ...put(minus(t[3 * r], t[3 * r + 1], t[3 * r + 2])),
          ...put(v(t[3 * r + 2])),
        ]),
      ])),
    ];
  },
});

/**
 * winogradGrad(D, Z, N, O, th, tw, Mp, T): the transform of output gradients for a Winograd
 * convolution's weight gradient: the 2×2 block of D [N, O, 2·th, 2·tw] (dy padded with
 * zeros to whole tiles) at row 2ty, column 2tx becomes A·D·Aᵀ (4×4, A = [1 0; 1 1; 1 −1;
 * 0 −1]) in Z[ξ][o][t] (16 matrices of Mp rows of T tiles, t = (n·th + ty)·tw + tx). Four
 * neighbouring tiles at a time, the last four of a row starting at tw − 4.
 */
export const winogradGrad = kernel({
  params: { D: i32, Z: i32, N: i32, O: i32, th: i32, tw: i32, Mp: i32, T: i32 },
  locals: {
    n: i32, o: i32, ty: i32, xv: i32, tx: i32, row: i32, rowW: i32, at: i32, xi: i32,
    lo0: v128, hi0: v128, lo1: v128, hi1: v128, p0: v128, q0: v128, p1: v128, q1: v128,
  },
  body: (f) => {
    const store = (value: number[]) => storeStep(f, value);
    // one row r of A·D (columns p, q on the stack as instruction lists): Z[r][·] = p, p + q, p − q, −q
    const zRow = (p: number[], q: number[]) => [
      ...store(p),
      ...store([...p, ...q, ...op.f32x4Add]),
      ...store([...p, ...q, ...op.f32x4Sub]),
      ...store([...q, ...op.f32x4Neg]),
    ];
    const g = f.get;
    const group = [
      ...lastColumnClamp(f, 'tx', 'xv', 'tw'),
      ...g('D'), ...g('n'), ...g('O'), ...op.i32Mul, ...g('o'), ...op.i32Add, ...g('th'), ...op.i32Mul, ...g('ty'), ...op.i32Add, ...op.i32(2), ...op.i32Mul,
      ...g('rowW'), ...op.i32Mul, ...g('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.i32Add, ...f.set('row'),
      ...g('row'), ...op.v128Load(0), ...f.set('lo0'), ...g('row'), ...op.v128Load(16), ...f.set('hi0'),
      ...g('row'), ...g('rowW'), ...op.i32Add, ...f.set('row'),
      ...g('row'), ...op.v128Load(0), ...f.set('lo1'), ...g('row'), ...op.v128Load(16), ...f.set('hi1'),
      // row 0 of the blocks: p0 (even columns), q0 (odd); row 1: p1, q1
      ...g('lo0'), ...g('hi0'), ...lanes([0, 2, 4, 6]), ...f.set('p0'), ...g('lo0'), ...g('hi0'), ...lanes([1, 3, 5, 7]), ...f.set('q0'),
      ...g('lo1'), ...g('hi1'), ...lanes([0, 2, 4, 6]), ...f.set('p1'), ...g('lo1'), ...g('hi1'), ...lanes([1, 3, 5, 7]), ...f.set('q1'),
      ...tileAddress(f, 'Z', 'o', 'T'), ...f.set('at'),
      // A·D: rows D0, D0 + D1, D0 − D1, −D1
      ...zRow(g('p0'), g('q0')),
      ...zRow([...g('p0'), ...g('p1'), ...op.f32x4Add], [...g('q0'), ...g('q1'), ...op.f32x4Add]),
      ...zRow([...g('p0'), ...g('p1'), ...op.f32x4Sub], [...g('q0'), ...g('q1'), ...op.f32x4Sub]),
      ...zRow([...g('p1'), ...op.f32x4Neg], [...g('q1'), ...op.f32x4Neg]),
    ];
    return [
      ...g('tw'), ...op.i32(8), ...op.i32Mul, ...f.set('rowW'),
      ...g('Mp'), ...g('T'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('xi'),
      ...overTileGroups(f, 'o', 'O', group),
    ];
  },
});

/**
 * winogradWeightsGrad(dU, dw, Mp, Cp, O, C): the weight gradient of a Winograd convolution
 * from its summed products dU_ξ[o][c] (16 matrices of Mp rows of Cp floats): Gᵀ·dU·G (3×3,
 * the adjoint of the weight transform) into dw [O, C, 3, 3].
 */
export const winogradWeightsGrad = kernel({
  params: { dU: i32, dw: i32, Mp: i32, Cp: i32, O: i32, C: i32 },
  locals: { o: i32, c: i32, at: i32, plane: i32, out: i32, u: array(f32, 16), h: array(f32, 12) },
  body: (f) => {
    const u = Array.from({ length: 16 }, (_, k) => f.ref('u', k));
    const h = Array.from({ length: 12 }, (_, k) => f.ref('h', k));
    const v = (x: Ref) => x.get;
    // a + ½(b + c), ½(b − c), ½(b + c) + d
    const first = (a: Ref, b: Ref, c: Ref) => [...v(a), ...half([...v(b), ...v(c), ...op.f32Add]), ...op.f32Add];
    const middle = (b: Ref, c: Ref) => half([...v(b), ...v(c), ...op.f32Sub]);
    const last = (b: Ref, c: Ref, d: Ref) => [...half([...v(b), ...v(c), ...op.f32Add]), ...v(d), ...op.f32Add];
    return [
      ...f.get('Mp'), ...f.get('Cp'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('plane'),
      ...f.forUp('o', f.get('O'), f.forUp('c', f.get('C'), [
        ...f.get('dU'), ...f.get('o'), ...f.get('Cp'), ...op.i32Mul, ...f.get('c'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
        // u_ξ = 0 + dU_ξ[o][c] (a −0 sum reads as +0, as it always has)
        ...u.flatMap((r, x) => [...op.f32Const0, ...f.get('at'), ...f.get('plane'), ...op.i32(x), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.f32Add, ...r.set]),
        // h = Gᵀ·dU (3×4), column s
        ...[0, 1, 2, 3].flatMap((s) => [
          ...first(u[s], u[4 + s], u[8 + s]), ...h[s].set,
          ...middle(u[4 + s], u[8 + s]), ...h[4 + s].set,
          ...last(u[4 + s], u[8 + s], u[12 + s]), ...h[8 + s].set,
        ]),
        // dw = h·G (3×3), row i
        ...f.get('dw'), ...f.get('o'), ...f.get('C'), ...op.i32Mul, ...f.get('c'), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...f.set('out'),
        ...[0, 1, 2].flatMap((i) => [
          ...f.get('out'), ...first(h[4 * i], h[4 * i + 1], h[4 * i + 2]), ...op.f32Store(12 * i),
          ...f.get('out'), ...middle(h[4 * i + 1], h[4 * i + 2]), ...op.f32Store(12 * i + 4),
          ...f.get('out'), ...last(h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]), ...op.f32Store(12 * i + 8),
        ]),
      ])),
    ];
  },
});
