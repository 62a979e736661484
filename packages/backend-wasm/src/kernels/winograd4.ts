/**
 * The transforms of Winograd's F(4×4, 3×3) convolution (Lavin and Gray's interpolation
 * points 0, ±1, ±2 and ∞): a 6×6 input tile d becomes Bᵀ·d·B, a 3×3 filter g becomes
 * G·g·Gᵀ, and the 36 products of a tile come back as the 4×4 outputs Aᵀ·m·A —
 *
 *   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
 *   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
 *
 * — and their adjoints for the two gradients (A·dY·Aᵀ, B·m·Bᵀ, Gᵀ·dU·G). 2.25 outputs per
 * multiplication of the products where F(2×2, 3×3) has 1.78: 36 products of [O, C] ·
 * [C, tiles] for every 16 outputs instead of 16 for every 4.
 *
 * The vector kernels take four tiles at a time, one per lane, in the order of their flat
 * index t = (n·th + ty)·tw + tx over a block of images: each lane has its own address, so
 * a row of tiles need not hold four (an 11×11 output has three), and the images of a
 * group go through in one call. Each tile row is loaded per lane and turned across the
 * lanes (a 4×4 transpose); the last group's lanes past the T tiles repeat the last tile
 * (inputs) or are skipped (outputs, and the added input gradient).
 */
import { array, i32, op, v128, type Fn, type Ref } from '../assembler.js';
import { kernel } from './kernel.js';
import { lanes, minI32, roundUp4, transpose4x4 } from './shared.js';

/** Instructions leaving one v128. */
type Vec = number[];
/** Where a transform puts its k-th result (the instructions leaving it). */
type Put = (k: number, value: Vec) => number[];

const add = (a: Vec, b: Vec): Vec => [...a, ...b, ...op.f32x4Add];
const sub = (a: Vec, b: Vec): Vec => [...a, ...b, ...op.f32x4Sub];
const times = (a: Vec, c: number): Vec => [...a, ...op.f32x4Const(c), ...op.f32x4Mul];

/**
 * Bᵀ·d for six vectors d (a column of a tile, or a row as d·B), into put(0…5): 19 vector
 * operations through the shared terms d4 − 4d2, d3 − 4d1, d4 − d2 and 2(d3 − d1).
 */
function inputTransform(d: readonly Vec[], s: readonly Ref[], put: Put): number[] {
  return [
    ...sub(d[4], times(d[2], 4)), ...s[0].set,
    ...sub(d[3], times(d[1], 4)), ...s[1].set,
    ...put(1, add(s[0].get, s[1].get)),
    ...put(2, sub(s[0].get, s[1].get)),
    ...sub(d[4], d[2]), ...s[2].set,
    ...times(sub(d[3], d[1]), 2), ...s[3].set,
    ...put(3, add(s[2].get, s[3].get)),
    ...put(4, sub(s[2].get, s[3].get)),
    ...put(0, sub(add(times(d[0], 4), d[4]), times(d[2], 5))),
    ...put(5, sub(add(times(d[1], 4), d[5]), times(d[3], 5))),
  ];
}

/** The shared terms of inputTransformT and outputTransform: s0 = m1 + m2, s1 = m1 − m2, s2 = m3 + m4, s3 = m3 − m4. */
function sumsAndDifferences(m: readonly Vec[], s: readonly Ref[]): number[] {
  return [
    ...add(m[1], m[2]), ...s[0].set,
    ...sub(m[1], m[2]), ...s[1].set,
    ...add(m[3], m[4]), ...s[2].set,
    ...sub(m[3], m[4]), ...s[3].set,
  ];
}

/** B·m for six vectors m (the adjoint of inputTransform), into put(0…5). */
function inputTransformT(m: readonly Vec[], s: readonly Ref[], put: Put): number[] {
  return [
    ...sumsAndDifferences(m, s),
    ...put(0, times(m[0], 4)),
    ...put(1, sub(times(sub(m[5], s[1].get), 4), times(s[3].get, 2))),
    ...put(2, sub(sub(times(m[0], -5), times(s[0].get, 4)), s[2].get)),
    ...put(3, sub(add(s[1].get, times(s[3].get, 2)), times(m[5], 5))),
    ...put(4, add(add(m[0], s[0].get), s[2].get)),
    ...put(5, m[5]),
  ];
}

/** Aᵀ·m for six vectors m, into put(0…3). */
function outputTransform(m: readonly Vec[], s: readonly Ref[], put: Put): number[] {
  return [
    ...sumsAndDifferences(m, s),
    ...put(0, add(add(m[0], s[0].get), s[2].get)),
    ...put(1, add(s[1].get, times(s[3].get, 2))),
    ...put(2, add(s[0].get, times(s[2].get, 4))),
    ...put(3, add(add(s[1].get, times(s[3].get, 8)), m[5])),
  ];
}

/** A·g for four vectors g (the adjoint of outputTransform), into put(0…5). */
function outputTransformT(g: readonly Vec[], s: readonly Ref[], put: Put): number[] {
  return [
    ...add(g[0], g[2]), ...s[0].set,
    ...add(g[1], g[3]), ...s[1].set,
    ...put(1, add(s[0].get, s[1].get)),
    ...put(2, sub(s[0].get, s[1].get)),
    ...add(g[0], times(g[2], 4)), ...s[2].set,
    ...add(times(g[1], 2), times(g[3], 8)), ...s[3].set,
    ...put(3, add(s[2].get, s[3].get)),
    ...put(4, sub(s[2].get, s[3].get)),
    ...put(0, g[0]),
    ...put(5, g[3]),
  ];
}

type LaneName = 't0' | 'T' | 'tt' | 'n' | 'Tn' | 'ty' | 'tx' | 'th' | 'tw';

/** The locals of the four-tile loop: group start, a tile's flat index and place. */
const LANE_LOCALS = { t0: i32, tt: i32, n: i32, Tn: i32, ty: i32, tx: i32, cb: i32, corners: v128 };

/** n, ty, tx of tile min(t0, T − 1) (the table's entries past the tiles repeat the last one). */
function tileOf(f: Fn<LaneName>): number[] {
  const g = f.get;
  return [
    ...minI32(g('t0'), [...g('T'), ...op.i32(1), ...op.i32Sub]), ...f.set('tt'),
    ...g('tt'), ...g('Tn'), ...op.i32DivU, ...f.set('n'),
    ...g('tt'), ...g('n'), ...g('Tn'), ...op.i32Mul, ...op.i32Sub, ...f.set('tx'),
    ...g('tx'), ...g('tw'), ...op.i32DivU, ...f.set('ty'),
    ...g('tx'), ...g('ty'), ...g('tw'), ...op.i32Mul, ...op.i32Sub, ...f.set('tx'),
  ];
}

/** min(4·(tile row or column), limit − 4): a tile's first output row or column (the last tiles move back to end at the output's edge). */
function origin<S extends string>(f: Fn<S>, t: S, limit: number[]): number[] {
  return minI32([...f.get(t), ...op.i32(4), ...op.i32Mul], [...limit, ...op.i32(4), ...op.i32Sub]);
}

/**
 * ((n·planes·rows + oy)·rowLen + ox)·4: the byte offset of the tile (after tileOf) in its
 * image's first plane of [images, planes, rows, rowLen], at its first output row oy and
 * column ox (`origin` of ty and tx in an output of outRows × outCols).
 */
function tileOffset<S extends string>(f: Fn<S | LaneName>, planes: S, rows: number[], rowLen: number[], outRows: number[], outCols: number[]): number[] {
  return [
    ...f.get('n'), ...f.get(planes), ...op.i32Mul, ...rows, ...op.i32Mul, ...origin(f, 'ty', outRows), ...op.i32Add,
    ...rowLen, ...op.i32Mul, ...origin(f, 'tx', outCols), ...op.i32Add, ...op.i32(4), ...op.i32Mul,
  ];
}

/** Where the tile table starts in the work block: after its 36 vectors and a spare. */
const TABLE = 592;

/**
 * The tile table, once per call: for t < T rounded up to 4, the int32 at W + TABLE + 4t is
 * `offset` of tile min(t, T − 1) (its tileOffset); `extra` runs after each (the tile's
 * index in t0, its place in n, ty, tx).
 */
function tileTable<S extends string>(f: Fn<S | LaneName | 'W'>, offset: number[], extra: number[] = []): number[] {
  return [
    ...f.get('th'), ...f.get('tw'), ...op.i32Mul, ...f.set('Tn'),
    ...f.forStep('t0', op.i32(0), roundUp4(f.get('T')), 1, [
      ...tileOf(f),
      ...f.get('W'), ...f.get('t0'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...offset, ...op.i32Store(TABLE),
      ...extra,
    ]),
  ];
}

/**
 * for ch < count, for t0 = 0, 4, … < T: a[l] = `chBase` (channel ch's plane of the first
 * image) + the tile table's offset of tile t0 + l, then `body` — a channel's tiles one
 * group after another, so that the rows of the matrices a group reads or writes (16 bytes
 * of each) are in the cache for the next group.
 */
function overChannelQuads<S extends string>(f: Fn<S | 't0' | 'T' | 'W' | 'cb' | 'corners', 'a'>, ch: S, count: S, chBase: number[], body: number[]): number[] {
  return f.forUp(ch, f.get(count), [
    ...chBase, ...f.set('cb'),
    ...f.forStep('t0', op.i32(0), f.get('T'), 4, [
      ...f.get('W'), ...f.get('t0'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load(TABLE), ...f.get('cb'), ...op.i32x4Splat, ...op.i32x4Add, ...f.set('corners'),
      ...[0, 1, 2, 3].flatMap((l) => [...f.get('corners'), ...op.i32x4ExtractLane(l), ...f.set('a', l)]),
      ...body,
    ]),
  ]);
}

/** base + ch·rows·rowLen·4: plane ch of the first image. */
const planeOf = <S extends string>(f: Fn<S>, base: S, ch: S, rows: number[], rowLen: number[]): number[] => [
  ...f.get(base), ...f.get(ch), ...rows, ...op.i32Mul, ...rowLen, ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
];

/** base + (ch·rowLen + t0)·4: a group's first column in row ch of a matrix of tiles. */
function groupColumn<S extends string>(f: Fn<S | 't0'>, base: S, ch: S, rowLen: S): number[] {
  return [...f.get(base), ...f.get(ch), ...f.get(rowLen), ...op.i32Mul, ...f.get('t0'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add];
}

/**
 * The 36 slots of a group's four tiles, at + ξ·stride (one matrix of tiles per ξ). Each
 * transform's first pass goes between them (or the tiles) and the work block W (36
 * vectors), its second pass from W onwards, so that no more than a pass's vectors are
 * live at once (V8 keeps a block's vectors in registers only up to about 14, and moves the
 * rest to the stack and back).
 */
function slotOf<S extends string>(f: Fn<S | 'at'>, stride: S) {
  const at = (xi: number) => (xi === 0 ? f.get('at') : [...f.get('at'), ...op.i32(xi), ...f.get(stride), ...op.i32Mul, ...op.i32Add]);
  return {
    load: (xi: number): Vec => [...at(xi), ...op.v128Load(0)],
    store: (xi: number, value: Vec): number[] => [...at(xi), ...value, ...op.v128Store(0)],
  };
}

/** The work block W's k-th vector (W + 16k, 36 of them and a spare): a pass's results, read by the next pass. */
function workOf(f: Fn<'W'>) {
  return {
    load: (k: number): Vec => [...f.get('W'), ...op.v128Load(16 * k)],
    store: (k: number, value: Vec): number[] => [...f.get('W'), ...value, ...op.v128Store(16 * k)],
  };
}

/** Whether lane l holds a tile (t0 + l < T). */
const inTiles = (f: Fn<'t0' | 'T'>, l: number): number[] => [...f.get('t0'), ...op.i32(l), ...op.i32Add, ...f.get('T'), ...op.i32LtS];

/** The first n locals of the array `name` as refs. */
const refsOf = <A extends string>(f: Fn<never, A>, name: A, n = 4): Ref[] => Array.from({ length: n }, (_, k) => f.ref(name, k));

/**
 * winograd4In(P, V, N, C, th, tw, Hp, Wp, T, Vs, xs, W): the input transform of a Winograd
 * F(4×4, 3×3) convolution over N images: tile t (flat index over the images) is the 6×6
 * block of the (padded) input P [N, C, Hp, Wp] at its first output row and column (see
 * `origin`; the output is (Hp − 2) × (Wp − 2), both ≥ 4);
 * its Bᵀ·d·B goes to V_ξ[c][t] at V + ξ·xs + (c·Vs + t)·4 (36 matrices xs ≥ C·Vs·4 bytes
 * apart, of C rows Vs ≥ T rounded up to 4 floats apart; columns T … past the last group
 * repeat the last tile).
 */
export const winograd4In = kernel({
  params: { P: i32, V: i32, N: i32, C: i32, th: i32, tw: i32, Hp: i32, Wp: i32, T: i32, Vs: i32, xs: i32, W: i32 },
  locals: {
    ...LANE_LOCALS, c: i32, at: i32, rowW: i32,
    /** each lane's row pointer */
    a: array(i32, 4),
    L: array(v128, 4), H: array(v128, 4), d: array(v128, 6), s: array(v128, 4),
  },
  body: (f) => {
    const g = f.get;
    const a = refsOf(f, 'a');
    const L = refsOf(f, 'L');
    const H = refsOf(f, 'H');
    const s = refsOf(f, 's');
    const d = Array.from({ length: 6 }, (_, k) => f.get('d', k));
    const slot = slotOf(f, 'xs');
    const work = workOf(f);
    // row r of the four tiles, d·B, into the work block's 6r + k
    const tileRow = (r: number) => [
      ...a.flatMap((al, l) => [...al.get, ...op.v128Load(0), ...L[l].set, ...al.get, ...op.v128Load64Splat(16), ...H[l].set, ...al.get, ...g('rowW'), ...op.i32Add, ...al.set]),
      // columns 0–3 turned across the lanes; columns 4 and 5 picked from the pairs
      ...transpose4x4(L, s, (j, column) => [...column, ...f.set('d', j)]),
      ...H[0].get, ...H[1].get, ...lanes([0, 1, 4, 5]), ...s[0].set,
      ...H[2].get, ...H[3].get, ...lanes([0, 1, 4, 5]), ...s[1].set,
      ...s[0].get, ...s[1].get, ...lanes([0, 2, 4, 6]), ...f.set('d', 4),
      ...s[0].get, ...s[1].get, ...lanes([1, 3, 5, 7]), ...f.set('d', 5),
      ...inputTransform(d, s, (k, value) => work.store(6 * r + k, value)),
    ];
    // column j: Bᵀ·(d·B) from the work block's 6r + j into the slots of V_6i+j
    const column = (j: number) => [
      ...[0, 1, 2, 3, 4, 5].flatMap((r) => [...work.load(6 * r + j), ...f.set('d', r)]),
      ...inputTransform(d, s, (i, value) => slot.store(6 * i + j, value)),
    ];
    return [
      ...g('Wp'), ...op.i32(4), ...op.i32Mul, ...f.set('rowW'),
      ...tileTable(f, tileOffset(f, 'C', g('Hp'), g('Wp'), [...g('Hp'), ...op.i32(2), ...op.i32Sub], [...g('Wp'), ...op.i32(2), ...op.i32Sub])),
      ...overChannelQuads(f, 'c', 'C', planeOf(f, 'P', 'c', g('Hp'), g('Wp')), [
        ...groupColumn(f, 'V', 'c', 'Vs'), ...f.set('at'),
        ...[0, 1, 2, 3, 4, 5].flatMap(tileRow),
        ...[0, 1, 2, 3, 4, 5].flatMap(column),
      ]),
    ];
  },
});

/**
 * winograd4Out(M, y, bias, N, O, th, tw, oh, ow, Np, mStride, T, W): the output transform:
 * tile t of output channel o is Aᵀ·m·A of the 36 values M_ξ[o][t] (at M + (o·Np + t)·4 +
 * ξ·mStride), + bias[o] when bias ≠ 0, written as the 4×4 block of y [N, O, oh, ow] (oh,
 * ow ≥ 4) at its first output row and column (see `origin`: a last tile moved back writes
 * again what the one before wrote, the same outputs). Lanes past the T tiles write the
 * work block's spare vector.
 */
export const winograd4Out = kernel({
  params: { M: i32, y: i32, bias: i32, N: i32, O: i32, th: i32, tw: i32, oh: i32, ow: i32, Np: i32, mStride: i32, T: i32, W: i32 },
  locals: {
    ...LANE_LOCALS, o: i32, at: i32, rowY: i32,
    /** each lane's output row, and what moves it to the next (0 for a lane past the tiles: it writes the work block's spare vector) */
    a: array(i32, 4), inc: array(i32, 4),
    b: v128, s: array(v128, 4), Y: array(v128, 4), m: array(v128, 6),
  },
  body: (f) => {
    const g = f.get;
    const a = refsOf(f, 'a');
    const s = refsOf(f, 's');
    const Y = refsOf(f, 'Y');
    const m = Array.from({ length: 6 }, (_, k) => f.get('m', k));
    const slot = slotOf(f, 'mStride');
    const work = workOf(f);
    // column j: Aᵀ·m from the slots of M_6i+j into the work block's 6r + j, r < 4
    const column = (j: number) => [
      ...[0, 1, 2, 3, 4, 5].flatMap((i) => [...slot.load(6 * i + j), ...f.set('m', i)]),
      ...outputTransform(m, s, (r, value) => work.store(6 * r + j, value)),
    ];
    // row r: (Aᵀ·m)·A + bias, each lane's four columns turned back from across the lanes
    const row = (r: number) => [
      ...[0, 1, 2, 3, 4, 5].flatMap((j) => [...work.load(6 * r + j), ...f.set('m', j)]),
      ...outputTransform(m, s, (k, value) => [...value, ...g('b'), ...op.f32x4Add, ...Y[k].set]),
      ...transpose4x4(Y, s, (l, column) => [...a[l].get, ...column, ...op.v128Store(0)]),
      ...a.flatMap((al, l) => [...al.get, ...f.get('inc', l), ...op.i32Add, ...al.set]),
    ];
    // lane l's corner and step, or the spare vector W + 576 and 0 past the tiles
    const lane = (l: number) => [
      ...a[l].get, ...g('W'), ...op.i32(576), ...op.i32Add, ...inTiles(f, l), ...op.select, ...a[l].set,
      ...g('rowY'), ...op.i32(0), ...inTiles(f, l), ...op.select, ...f.set('inc', l),
    ];
    return [
      ...g('ow'), ...op.i32(4), ...op.i32Mul, ...f.set('rowY'),
      ...op.v128Zero, ...f.set('b'),
      ...tileTable(f, tileOffset(f, 'O', g('oh'), g('ow'), g('oh'), g('ow'))),
      ...overChannelQuads(f, 'o', 'O', planeOf(f, 'y', 'o', g('oh'), g('ow')), [
        ...[0, 1, 2, 3].flatMap(lane),
        ...g('bias'), ...op.if, ...g('bias'), ...g('o'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(0), ...f.set('b'), ...op.end,
        ...groupColumn(f, 'M', 'o', 'Np'), ...f.set('at'),
        ...[0, 1, 2, 3, 4, 5].flatMap(column),
        ...[0, 1, 2, 3].flatMap(row),
      ]),
    ];
  },
});

/**
 * winograd4Grad(D, Z, N, O, th, tw, oh, ow, Zr, T, Zs, xs, W): the output-gradient
 * transform, for both gradients: tile t's 4×4 block of dy D [N, O, oh, ow] (oh, ow ≥ 4) at
 * its first output row and column (see `origin`) becomes A·dY·Aᵀ (6×6) in Z_ξ[o][t] at Z +
 * ξ·xs + (o·Zs + t)·4 (36 matrices xs ≥ Zr·Zs·4 bytes apart, of Zr ≥ O rows Zs ≥ T rounded
 * up to 4 floats apart). A last tile moved back over the one before it takes zeros for
 * the rows and columns that one wrote (each output's gradient goes through one tile), and
 * a last group's columns past the T tiles get zeros, so a product may run over Zs columns.
 */
export const winograd4Grad = kernel({
  params: { D: i32, Z: i32, N: i32, O: i32, th: i32, tw: i32, oh: i32, ow: i32, Zr: i32, T: i32, Zs: i32, xs: i32, W: i32 },
  locals: {
    ...LANE_LOCALS, o: i32, at: i32, rowD: i32, skipR: i32, skipC: i32, rows: v128, cols: v128, owned: v128,
    a: array(i32, 4), mask: array(v128, 4), L: array(v128, 4), s: array(v128, 4), c: array(v128, 4),
  },
  body: (f) => {
    const g = f.get;
    const a = refsOf(f, 'a');
    const L = refsOf(f, 'L');
    const s = refsOf(f, 's');
    const c = [0, 1, 2, 3].map((k) => f.get('c', k));
    const slot = slotOf(f, 'xs');
    const work = workOf(f);
    // row r of the four blocks (zeros in the lanes whose tile's row r another tile owns,
    // rows > r), dY·Aᵀ, into the work block's 6r + k
    const tileRow = (r: number) => [
      ...a.flatMap((al, l) => [...al.get, ...op.v128Load(0), ...L[l].set, ...al.get, ...g('rowD'), ...op.i32Add, ...al.set]),
      ...g('rows'), ...op.i32(r + 1), ...op.i32x4Splat, ...op.i32x4LtS, ...f.set('owned'),
      ...transpose4x4(L, s, (j, column) => [...column, ...f.get('mask', j), ...op.v128And, ...g('owned'), ...op.v128And, ...f.set('c', j)]),
      ...outputTransformT(c, s, (k, value) => work.store(6 * r + k, value)),
    ];
    // column j: A·(dY·Aᵀ) from the work block's 6r + j, r < 4, into the slots of Z_6i+j
    const column = (j: number) => [
      ...[0, 1, 2, 3].flatMap((r) => [...work.load(6 * r + j), ...f.set('c', r)]),
      ...outputTransformT(c, s, (i, value) => slot.store(6 * i + j, value)),
    ];
    // the tile table's two more columns (at W + skipR + 4t and W + skipC + 4t): the
    // rows the tile above owns (4ty − oy), and the columns the tile before owns (4tx − ox,
    // or 4 past the T tiles: all)
    const skipped = (t: 'ty' | 'tx', size: 'oh' | 'ow') => [...g(t), ...op.i32(4), ...op.i32Mul, ...origin(f, t, g(size)), ...op.i32Sub];
    const skipAt = (at: 'skipR' | 'skipC') => [...g('W'), ...g('t0'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...g(at), ...op.i32Add];
    const skips = [
      ...skipAt('skipR'), ...skipped('ty', 'oh'), ...op.i32Store(0),
      ...skipAt('skipC'), ...skipped('tx', 'ow'), ...op.i32(4), ...g('t0'), ...g('T'), ...op.i32LtS, ...op.select, ...op.i32Store(0),
    ];
    return [
      ...g('ow'), ...op.i32(4), ...op.i32Mul, ...f.set('rowD'),
      ...op.i32(TABLE), ...roundUp4(g('T')), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('skipR'),
      ...g('skipR'), ...roundUp4(g('T')), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('skipC'),
      ...tileTable(f, tileOffset(f, 'O', g('oh'), g('ow'), g('oh'), g('ow')), skips),
      ...overChannelQuads(f, 'o', 'O', planeOf(f, 'D', 'o', g('oh'), g('ow')), [
        ...skipAt('skipR'), ...op.v128Load(0), ...f.set('rows'),
        ...skipAt('skipC'), ...op.v128Load(0), ...f.set('cols'),
        // column j of the blocks: the lanes whose tile owns it (cols ≤ j)
        ...[0, 1, 2, 3].flatMap((j) => [...g('cols'), ...op.i32(j + 1), ...op.i32x4Splat, ...op.i32x4LtS, ...f.set('mask', j)]),
        ...groupColumn(f, 'Z', 'o', 'Zs'), ...f.set('at'),
        ...[0, 1, 2, 3].flatMap(tileRow),
        ...[0, 1, 2, 3, 4, 5].flatMap(column),
      ]),
    ];
  },
});

/**
 * winograd4InT(M, Q, N, C, th, tw, Hp, Wp, Np, mStride, T, W): the adjoint of
 * winograd4In: tile t of channel c gets B·m·Bᵀ of its 36 values M_ξ[c][t] (at M + (c·Np +
 * t)·4 + ξ·mStride), a 6×6 block added into the (padded) planes Q [N, C, Hp, Wp] where
 * winograd4In read it. Neighbouring blocks overlap by two or more rows or columns; the lanes add their
 * blocks one after another, so each plane gathers the padded input's gradient. Lanes past
 * the T tiles add zeros (to the last tile's block).
 */
export const winograd4InT = kernel({
  params: { M: i32, Q: i32, N: i32, C: i32, th: i32, tw: i32, Hp: i32, Wp: i32, Np: i32, mStride: i32, T: i32, W: i32 },
  locals: {
    ...LANE_LOCALS, c: i32, at: i32, rowW: i32, mask: v128,
    a: array(i32, 4),
    s: array(v128, 4), x: array(v128, 6), k: array(v128, 6), R: array(v128, 4), lo: v128, hi: v128,
  },
  body: (f) => {
    const g = f.get;
    const a = refsOf(f, 'a');
    const s = refsOf(f, 's');
    const K = refsOf(f, 'k', 6);
    const x6 = Array.from({ length: 6 }, (_, k) => f.get('x', k));
    const slot = slotOf(f, 'mStride');
    const work = workOf(f);
    // column j: B·m from the slots of M_6i+j (lanes past the tiles zeroed) into the work block's 6r + j
    const column = (j: number) => [
      ...[0, 1, 2, 3, 4, 5].flatMap((i) => [...slot.load(6 * i + j), ...g('mask'), ...op.v128And, ...f.set('x', i)]),
      ...inputTransformT(x6, s, (r, value) => work.store(6 * r + j, value)),
    ];
    // each lane's row: columns 0–3 from R[l], 4–5 from the pair in lo (lanes 0, 1) or hi
    // (2, 3); every lane's first four columns, then every lane's last two (a lane's last two are
    // the next lane's first two when their tiles are neighbours, and a load overlapping part
    // of a store just before it waits for the store to reach the cache)
    const addRow = [
      ...a.flatMap((al, l) => [...al.get, ...al.get, ...op.v128Load(0), ...f.get('R', l), ...op.f32x4Add, ...op.v128Store(0)]),
      ...a.flatMap((al, l) => [...al.get, ...al.get, ...op.v128Load64Splat(16), ...g(l < 2 ? 'lo' : 'hi'), ...op.f32x4Add, ...op.f64x2ExtractLane(l % 2), ...op.f64Store(16)]),
      ...a.flatMap((al) => [...al.get, ...g('rowW'), ...op.i32Add, ...al.set]),
    ];
    // row r: (B·m)·Bᵀ, turned back to each lane's six columns and added into its block
    const blockRow = (r: number) => [
      ...[0, 1, 2, 3, 4, 5].flatMap((j) => [...work.load(6 * r + j), ...f.set('x', j)]),
      ...inputTransformT(x6, s, (k, value) => [...value, ...K[k].set]),
      ...transpose4x4(K.slice(0, 4), s, (l, column) => [...column, ...f.set('R', l)]),
      ...K[4].get, ...K[5].get, ...lanes([0, 4, 1, 5]), ...f.set('lo'),
      ...K[4].get, ...K[5].get, ...lanes([2, 6, 3, 7]), ...f.set('hi'),
      ...addRow,
    ];
    return [
      ...g('Wp'), ...op.i32(4), ...op.i32Mul, ...f.set('rowW'),
      ...tileTable(f, tileOffset(f, 'C', g('Hp'), g('Wp'), [...g('Hp'), ...op.i32(2), ...op.i32Sub], [...g('Wp'), ...op.i32(2), ...op.i32Sub])),
      ...overChannelQuads(f, 'c', 'C', planeOf(f, 'Q', 'c', g('Hp'), g('Wp')), [
        // a last group's lanes past the tiles add zeros (to the last tile's block)
        ...op.v128ConstI32x4([0, 1, 2, 3]), ...g('T'), ...g('t0'), ...op.i32Sub, ...op.i32x4Splat, ...op.i32x4LtS, ...f.set('mask'),
        ...groupColumn(f, 'M', 'c', 'Np'), ...f.set('at'),
        ...[0, 1, 2, 3, 4, 5].flatMap(column),
        ...[0, 1, 2, 3, 4, 5].flatMap(blockRow),
      ]),
    ];
  },
});

/** G of F(4×4, 3×3), 6×3. */
const G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]];

/**
 * Σ_k coef[k]·x_k for locals x (coefficients 0 skipped, ±1 without a multiplication), in
 * f32 or (`vector`) f32x4.
 */
function linearSum(coef: readonly number[], x: readonly Ref[], vector = false): number[] {
  const [mul, add, subtract] = vector ? [op.f32x4Mul, op.f32x4Add, op.f32x4Sub] : [op.f32Mul, op.f32Add, op.f32Sub];
  const constant = (c: number) => (vector ? op.f32x4Const(c) : op.f32Const(c));
  const terms = coef.flatMap((c, k) => (c === 0 ? [] : [{ c, k }]));
  return terms.flatMap(({ c, k }, i) => {
    const value = Math.abs(c) === 1 ? x[k].get : [...x[k].get, ...constant(Math.abs(c)), ...mul];
    if (i === 0) return c < 0 ? [...(vector ? op.v128Zero : op.f32Const0), ...value, ...subtract] : value;
    return [...value, ...(c < 0 ? subtract : add)];
  });
}

/**
 * winograd4Weights(w, u, Mp, Cout, Cin, swap): U_ξ = G·g·Gᵀ (6×6, ξ = 6i + j) for each 3×3
 * filter g of a convolution from Cin to Cout channels, into 36 matrices of Mp rows of Cin
 * floats at u (U_ξ[m][k] at u + ((ξ·Mp + m)·Cin + k)·4). The weights w are [Cout, Cin, 3,
 * 3]; with `swap`, [Cin, Cout, 3, 3] (U_ξ transposed: the matrices of the adjoint's
 * products). Four filters (m, k … k + 3) at a time, one per lane, their nine weights
 * gathered from each filter's address; a row's last group, when Cin is not a multiple of
 * 4, repeats its last filter and stores only its own lanes.
 */
export const winograd4Weights = kernel({
  params: { w: i32, u: i32, Mp: i32, Cout: i32, Cin: i32, swap: i32 },
  locals: { m: i32, k: i32, kk: i32, at: i32, plane: i32, full: i32, b: array(i32, 4), g: array(v128, 9), t: array(v128, 3), U: v128 },
  body: (f) => {
    const gw = refsOf(f, 'g', 9);
    const t = refsOf(f, 't', 3);
    const lane = (l: number) => [
      // kk = min(k + l, Cin − 1); b[l] = w + 36·(swap ? kk·Cout + m : m·Cin + kk)
      ...minI32([...f.get('k'), ...op.i32(l), ...op.i32Add], [...f.get('Cin'), ...op.i32(1), ...op.i32Sub]), ...f.set('kk'),
      ...f.get('kk'), ...f.get('Cout'), ...op.i32Mul, ...f.get('m'), ...op.i32Add,
      ...f.get('m'), ...f.get('Cin'), ...op.i32Mul, ...f.get('kk'), ...op.i32Add,
      ...f.get('swap'), ...op.select, ...op.i32(36), ...op.i32Mul, ...f.get('w'), ...op.i32Add, ...f.set('b', l),
    ];
    const gather = (q: number) => [
      ...f.get('b', 0), ...op.v128Load32Splat(4 * q),
      ...[1, 2, 3].flatMap((l) => [...f.get('b', l), ...op.f32Load(4 * q), ...op.f32x4ReplaceLane(l)]),
      ...gw[q].set,
    ];
    // U (in the local U) to the group's four columns of row m of U_ξ: a whole vector, or the lanes k + l < Cin
    const store = (xi: number) => [
      ...f.get('at'), ...op.i32(xi), ...f.get('plane'), ...op.i32Mul, ...op.i32Add, ...f.set('kk'),
      ...f.get('full'), ...op.if,
      ...f.get('kk'), ...f.get('U'), ...op.v128Store(0),
      ...op.else,
      ...[0, 1, 2].flatMap((l) => [
        ...f.get('k'), ...op.i32(l), ...op.i32Add, ...f.get('Cin'), ...op.i32LtS, ...op.if,
        ...f.get('kk'), ...f.get('U'), ...op.f32x4ExtractLane(l), ...op.f32Store(4 * l),
        ...op.end,
      ]),
      ...op.end,
    ];
    return [
      ...f.get('Mp'), ...f.get('Cin'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('plane'),
      ...f.forUp('m', f.get('Cout'), f.forStep('k', op.i32(0), f.get('Cin'), 4, [
        ...[0, 1, 2, 3].flatMap(lane),
        ...gw.flatMap((_, q) => gather(q)),
        ...f.get('k'), ...op.i32(4), ...op.i32Add, ...f.get('Cin'), ...op.i32LeS, ...f.set('full'),
        ...f.get('u'), ...f.get('m'), ...f.get('Cin'), ...op.i32Mul, ...f.get('k'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
        // row i of G·g (three vectors), then its six products with Gᵀ
        ...G.flatMap((row, i) => [
          ...[0, 1, 2].flatMap((q) => [...linearSum(row, [gw[q], gw[3 + q], gw[6 + q]], true), ...t[q].set]),
          ...G.flatMap((rowJ, j) => [...linearSum(rowJ, t, true), ...f.set('U'), ...store(6 * i + j)]),
        ]),
      ])),
    ];
  },
});

/**
 * winograd4WeightsGrad(dU, dw, Mp, Cp, O, C): the weight gradient of a Winograd F(4×4, 3×3)
 * convolution from its summed products dU_ξ[o][c] (36 matrices of Mp rows of Cp ≥ C
 * rounded up to 4 floats): Gᵀ·dU·G (3×3, the adjoint of the weight transform) into dw
 * [O, C, 3, 3]. Four input channels at a time, one per lane: for each row p of the result,
 * Gᵀ's row p over the six columns of dU (read again for each p), then the row's three
 * values, each lane's stored to its own filter.
 */
export const winograd4WeightsGrad = kernel({
  params: { dU: i32, dw: i32, Mp: i32, Cp: i32, O: i32, C: i32 },
  locals: { o: i32, c: i32, at: i32, plane: i32, out: i32, x: array(v128, 6), h: array(v128, 6), v: v128 },
  body: (f) => {
    const x = refsOf(f, 'x', 6);
    const h = refsOf(f, 'h', 6);
    const column = (q: number) => G.map((row) => row[q]);
    // dw[o][c + l][p][q] for the lanes c + l < C
    const store = (p: number, q: number) => [
      ...linearSum(column(q), h, true), ...f.set('v'),
      ...[0, 1, 2, 3].flatMap((l) => [
        ...f.get('c'), ...op.i32(l), ...op.i32Add, ...f.get('C'), ...op.i32LtS, ...op.if,
        ...f.get('out'), ...f.get('v'), ...op.f32x4ExtractLane(l), ...op.f32Store(4 * (9 * l + 3 * p + q)),
        ...op.end,
      ]),
    ];
    return [
      ...f.get('Mp'), ...f.get('Cp'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('plane'),
      ...f.forUp('o', f.get('O'), f.forStep('c', op.i32(0), f.get('C'), 4, [
        ...f.get('dU'), ...f.get('o'), ...f.get('Cp'), ...op.i32Mul, ...f.get('c'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('at'),
        ...f.get('dw'), ...f.get('o'), ...f.get('C'), ...op.i32Mul, ...f.get('c'), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...f.set('out'),
        ...[0, 1, 2].flatMap((p) => [
          // h_j = Σ_i G[i][p]·dU_6i+j
          ...[0, 1, 2, 3, 4, 5].flatMap((j) => [
            ...[0, 1, 2, 3, 4, 5].flatMap((i) => [...f.get('at'), ...op.i32(6 * i + j), ...f.get('plane'), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0), ...x[i].set]),
            ...linearSum(column(p), x, true), ...h[j].set,
          ]),
          ...[0, 1, 2].flatMap((q) => store(p, q)),
        ]),
      ])),
    ];
  },
});
