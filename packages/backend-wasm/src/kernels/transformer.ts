/**
 * The row passes of the transformer's ops in f32x4: attention's masks and softmax over
 * each score row (forward, and ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P))·scale), layer normalization
 * forward and backward, and GELU forward and backward (both forms): what @ml/tensor's host
 * kernels (cpu/attention.ts, cpu/transformer.ts) compute in JavaScript, here with the
 * recurrent kernels' vectorised exp and tanh (kernels/recurrent.ts); and the row copies
 * that split attention's heads out of [N, L, H·D] and join gradients. Addresses are in bytes.
 *
 * A row runs four columns at a time, then its last n mod 4 columns one at a time through
 * the same instructions on splatted values (lane 0 stored; sums take lane 0 only), so no
 * write leaves its row.
 */
import { f32, i32, op, v128, type ArrayNames, type Fn } from '../assembler.js';
import { kernel } from './kernel.js';
import { across as acrossLanes, bitsOf, copyRows2d, simd } from './shared.js';
import { exp, MATH_LOCALS, setConstants, tanh } from './recurrent.js';

/** Instructions the assembler's table does not have (codes from the SIMD proposal and the core set). */
const x4 = {
  lt: simd(0x43),
  abs: simd(0xe0),
  /** v1, v2, mask → v1 where the mask's bits are set, else v2 */
  bitselect: simd(0x52),
  f32Sqrt: [0x91],
  i32RemU: [0x70],
  i32Load8U: [0x2d, 0, 0],
  /** four bytes into the low lanes, the rest zero */
  v128Load32Zero: [...simd(0x5c), 2, 0],
  i16x8ExtendLowI8x16U: simd(0x89),
  i32x4ExtendLowI16x8U: simd(0xa9),
  i32x4Ne: simd(0x38),
  /** an `if` whose arms leave one v128 */
  ifV128: [0x04, 0x7b],
};


/**
 * erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2), z ≥ 0: the Chebyshev-fitted form of
 * Numerical Recipes' erfcc (fractional error under 1.2·10⁻⁷ for every z). P's
 * coefficients, constant first.
 */
const ERFC = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];

/** This family's constants (beyond the recurrent math's), each in a v128 local set once per call. */
const CONSTANTS = {
  half: bitsOf(0.5),
  one: bitsOf(1),
  negInf: bitsOf(-Infinity),
  sqrtHalf: bitsOf(Math.SQRT1_2),
  invSqrt2Pi: bitsOf(1 / Math.sqrt(2 * Math.PI)),
  sqrt2OverPi: bitsOf(Math.sqrt(2 / Math.PI)),
  tanhC: bitsOf(0.044715),
  tanhC3: bitsOf(3 * 0.044715),
  /** lane 0's bits set: a tail column counts once in a sum */
  lane0: -1,
  erfc0: bitsOf(ERFC[0]),
  erfc1: bitsOf(ERFC[1]),
  erfc2: bitsOf(ERFC[2]),
  erfc3: bitsOf(ERFC[3]),
  erfc4: bitsOf(ERFC[4]),
  erfc5: bitsOf(ERFC[5]),
  erfc6: bitsOf(ERFC[6]),
  erfc7: bitsOf(ERFC[7]),
  erfc8: bitsOf(ERFC[8]),
  erfc9: bitsOf(ERFC[9]),
} as const;
type Constant = keyof typeof CONSTANTS;
const NAMES = Object.keys(CONSTANTS) as Constant[];
const ERFC_NAMES = NAMES.filter((n) => n.startsWith('erfc'));

/** The locals every kernel here declares: the recurrent math's, this family's constants, scratch. */
const LOCALS = { ...MATH_LOCALS, ...(Object.fromEntries(NAMES.map((n) => [n, v128])) as Record<Constant, typeof v128>), px: v128, pz: v128, pt: v128, pp: v128 } as const;
type MathArrays = ArrayNames<typeof MATH_LOCALS>;
type MathScalars = Exclude<keyof typeof MATH_LOCALS & string, MathArrays>;
type RowFn<S extends string> = Fn<S | MathScalars | Constant | 'px' | 'pz' | 'pt' | 'pp', MathArrays>;

const C = <S extends string>(f: RowFn<S>, name: Constant): number[] => f.get(name);

/** Set the constants' locals (once, at a kernel's start). */
function setAll<S extends string>(f: RowFn<S>): number[] {
  const lanes = (n: Constant): [number, number, number, number] => (n === 'lane0' ? [-1, 0, 0, 0] : [CONSTANTS[n], CONSTANTS[n], CONSTANTS[n], CONSTANTS[n]]);
  return [...setConstants(f), ...NAMES.flatMap((n) => [...op.v128ConstI32x4(lanes(n)), ...f.set(n)])];
}

const mul = (...xs: number[][]): number[] => xs.slice(1).reduce((acc, x) => [...acc, ...x, ...op.f32x4Mul], xs[0]);
const add = (...xs: number[][]): number[] => xs.slice(1).reduce((acc, x) => [...acc, ...x, ...op.f32x4Add], xs[0]);
const sub = (a: number[], b: number[]): number[] => [...a, ...b, ...op.f32x4Sub];

/**
 * Φ(x), the standard normal CDF, of the vector `x` leaves: with h = ½·erfc(|x|/√2), 1 − h
 * for x ≥ 0 and h for x < 0 (so the left tail keeps its relative precision). Scratch px,
 * pz, pt, pp and the exp's.
 */
function phi<S extends string>(f: RowFn<S>, x: number[]): number[] {
  const [xv, z, t, p] = [f.ref('px'), f.ref('pz'), f.ref('pt'), f.ref('pp')];
  const horner = ERFC_NAMES.slice(0, -1).reverse().flatMap((c) => [...t.get, ...op.f32x4Mul, ...C(f, c), ...op.f32x4Add]);
  return [
    ...x, ...xv.tee, ...x4.abs, ...C(f, 'sqrtHalf'), ...op.f32x4Mul, ...z.set,
    ...C(f, 'one'), ...C(f, 'one'), ...z.get, ...C(f, 'half'), ...op.f32x4Mul, ...op.f32x4Add, ...op.f32x4Div, ...t.set,
    ...C(f, ERFC_NAMES[ERFC_NAMES.length - 1]), ...horner, ...z.get, ...z.get, ...op.f32x4Mul, ...op.f32x4Sub, ...p.set,
    // h = ½·t·e^p
    ...exp(f, p.get), ...t.get, ...op.f32x4Mul, ...C(f, 'half'), ...op.f32x4Mul, ...p.set,
    ...p.get, ...C(f, 'one'), ...p.get, ...op.f32x4Sub, ...xv.get, ...op.v128Zero, ...x4.lt, ...x4.bitselect,
  ];
}

/** tanh(√(2/π)(x + 0.044715x³)) of the vector `x` leaves (scratch px and tanh's). */
function tanhArg<S extends string>(f: RowFn<S>, x: number[]): number[] {
  const xv = f.ref('px');
  return tanh(f, [...x, ...xv.tee, ...mul(xv.get, xv.get, xv.get, C(f, 'tanhC')), ...op.f32x4Add, ...C(f, 'sqrt2OverPi'), ...op.f32x4Mul]);
}

/** How a loop body reaches element `j` (bytes) of an operand: whole vectors, or one column splatted. */
interface Access {
  load(base: number[]): number[];
  store(base: number[], value: number[]): number[];
  /** a value summed into a vector accumulator (a tail column's lane 0 only) */
  counted(value: number[]): number[];
}

/**
 * `for j < n` columns (bytes, from 0): the body on whole vectors below n rounded down to
 * four floats (`n4`), then on the rest one column at a time.
 */
function columns<S extends string>(f: RowFn<S | 'j'>, n: S, n4: S, body: (a: Access) => number[]): number[] {
  return [
    ...f.get(n), ...op.i32(-16), ...op.i32And, ...f.set(n4),
    ...f.forStep('j' as S | 'j', op.i32(0), f.get(n4), 16, body(vectorAccess(f))),
    ...f.forStep('j' as S | 'j', f.get(n4), f.get(n), 4, body(laneAccess(f))),
  ];
}

/** Whole vectors at byte j of a row. */
function vectorAccess<S extends string>(f: RowFn<S | 'j'>): Access {
  const at = (base: number[]) => [...base, ...f.get('j'), ...op.i32Add];
  return {
    load: (base) => [...at(base), ...op.v128Load(0)],
    store: (base, value) => [...at(base), ...value, ...op.v128Store(0)],
    counted: (value) => value,
  };
}

/** The one column at byte j, splatted (lane 0 stored, and counted in sums). */
function laneAccess<S extends string>(f: RowFn<S | 'j'>): Access {
  const at = (base: number[]) => [...base, ...f.get('j'), ...op.i32Add];
  return {
    load: (base) => [...at(base), ...op.v128Load32Splat(0)],
    store: (base, value) => [...at(base), ...value, ...op.f32x4ExtractLane(0), ...op.f32Store(0)],
    counted: (value) => [...value, ...C(f, 'lane0'), ...op.v128And],
  };
}

/** The four lanes' sum (or max, with `max`) of the vector in `v`, in every lane. */
function across<S extends string>(f: RowFn<S>, v: S, max = false): number[] {
  return acrossLanes(f.ref(v), max ? op.f32x4Max : op.f32x4Add);
}

// ------------------------------------------------------------------ attention's softmax

/**
 * softmaxRows(s, rows, L, S, scale, causal, masked): each row of S scores (rows·S floats
 * from s, rows of L queries per batch·head) becomes softmax(row·scale) in place, for
 * scale > 0: the row's max m, e = exp((x − m)·scale), e / Σe. With `causal`, row r sees
 * its first (r mod L) + 1 keys; the rest are set to 0. With `masked` (the masks already
 * applied by maskRows), a row whose keys are all hidden (max −∞) becomes zeros.
 */
export const softmaxRows = kernel({
  params: { s: i32, rows: i32, L: i32, S: i32, scale: f32, causal: i32, masked: i32 },
  // by rows (callers split only calls without `causal`: it counts rows from the start)
  split: { units: 'rows', pointers: ['s'] },
  locals: { ...LOCALS, r: i32, j: i32, row: i32, n: i32, n4: i32, rowBytes: i32, sc: v128, mx: v128, sum: v128, e: v128 },
  body: (f) => {
    const row = f.get('row');
    return [
      ...setAll(f),
      ...f.get('scale'), ...op.f32x4Splat, ...f.set('sc'),
      ...f.get('S'), ...op.i32(4), ...op.i32Mul, ...f.set('rowBytes'),
      ...f.forUp('r', f.get('rows'), [
        ...f.get('s'), ...f.get('r'), ...f.get('rowBytes'), ...op.i32Mul, ...op.i32Add, ...f.set('row'),
        // n: the keys this row sees, in bytes
        ...f.get('r'), ...f.get('L'), ...x4.i32RemU, ...op.i32(1), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...f.tee('n'),
        ...f.get('rowBytes'),
        ...f.get('n'), ...f.get('rowBytes'), ...op.i32LtS, ...f.get('causal'), ...op.i32And,
        ...op.select, ...f.set('n'),
        ...C(f, 'negInf'), ...f.set('mx'),
        ...columns(f, 'n', 'n4', (a) => [...f.get('mx'), ...a.load(row), ...op.f32x4Max, ...f.set('mx')]),
        ...across(f, 'mx', true),
        ...f.get('masked'), ...f.get('mx'), ...op.f32x4ExtractLane(0), ...C(f, 'negInf'), ...op.f32x4ExtractLane(0), ...op.f32Eq, ...op.i32And,
        ...op.if,
        // every key hidden: zero weights
        ...row, ...op.i32(0), ...f.get('rowBytes'), ...op.memoryFill,
        ...op.else,
        ...op.v128Zero, ...f.set('sum'),
        ...columns(f, 'n', 'n4', (a) => [
          ...exp(f, mul(sub(a.load(row), f.get('mx')), f.get('sc'))), ...f.set('e'),
          ...a.store(row, f.get('e')),
          ...f.get('sum'), ...a.counted(f.get('e')), ...op.f32x4Add, ...f.set('sum'),
        ]),
        ...across(f, 'sum'),
        ...C(f, 'one'), ...f.get('sum'), ...op.f32x4Div, ...f.set('sum'),
        ...columns(f, 'n', 'n4', (a) => a.store(row, mul(a.load(row), f.get('sum')))),
        // the hidden keys' weights
        ...row, ...f.get('n'), ...op.i32Add, ...op.i32(0), ...f.get('rowBytes'), ...f.get('n'), ...op.i32Sub, ...op.memoryFill,
        ...op.end,
      ]),
    ];
  },
});

/**
 * maskRows(s, rows, S, scale, m, table, bool): each row of S scores times `scale`, then one
 * mask applied: row r's mask row starts at byte m + table[r] (int32s) and runs along the
 * keys with stride 1; a bool mask (bytes) hides a key (−∞) where it is non-zero, a float32
 * mask is added. Attention's masks, one call each, in order, before softmaxRows.
 */
export const maskRows = kernel({
  params: { s: i32, rows: i32, S: i32, scale: f32, m: i32, table: i32, bool: i32 },
  locals: { ...LOCALS, r: i32, j: i32, row: i32, mrow: i32, n: i32, n4: i32, sc: v128, v: v128 },
  body: (f) => {
    const row = f.get('row');
    // the mask's bytes at column j (4 bytes a float, 1 a bool)
    const boolAt = [...f.get('mrow'), ...f.get('j'), ...op.i32(2), ...op.i32ShrU, ...op.i32Add];
    const floatAt = [...f.get('mrow'), ...f.get('j'), ...op.i32Add];
    const apply = (a: Access, vector: boolean) => [
      ...mul(a.load(row), f.get('sc')), ...f.set('v'),
      ...f.get('bool'), ...x4.ifV128,
      ...C(f, 'negInf'), ...f.get('v'),
      ...(vector ? [...boolAt, ...x4.v128Load32Zero, ...x4.i16x8ExtendLowI8x16U, ...x4.i32x4ExtendLowI16x8U] : [...boolAt, ...x4.i32Load8U, ...op.i32x4Splat]),
      ...op.v128Zero, ...x4.i32x4Ne, ...x4.bitselect,
      ...op.else,
      ...f.get('v'), ...(vector ? [...floatAt, ...op.v128Load(0)] : [...floatAt, ...op.v128Load32Splat(0)]), ...op.f32x4Add,
      ...op.end,
      ...f.set('v'), ...a.store(row, f.get('v')),
    ];
    return [
      ...setAll(f),
      ...f.get('scale'), ...op.f32x4Splat, ...f.set('sc'),
      ...f.get('S'), ...op.i32(4), ...op.i32Mul, ...f.set('n'),
      ...f.forUp('r', f.get('rows'), [
        ...f.get('s'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32Add, ...f.set('row'),
        ...f.get('m'), ...f.get('table'), ...f.get('r'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...op.i32Add, ...f.set('mrow'),
        ...f.get('n'), ...op.i32(-16), ...op.i32And, ...f.set('n4'),
        ...f.forStep('j', op.i32(0), f.get('n4'), 16, apply(vectorAccess(f), true)),
        ...f.forStep('j', f.get('n4'), f.get('n'), 4, apply(laneAccess(f), false)),
      ]),
    ];
  },
});

/**
 * softmaxRowsBackward(p, dp, rows, S, scale): dp ← p ⊙ (dp − Σ dp ⊙ p)·scale per row of S
 * (the gradient of the scores from that of the probabilities), in place.
 */
export const softmaxRowsBackward = kernel({
  params: { p: i32, dp: i32, rows: i32, S: i32, scale: f32 },
  split: { units: 'rows', pointers: ['p', 'dp'] },
  locals: { ...LOCALS, r: i32, j: i32, n: i32, n4: i32, pr: i32, dr: i32, sc: v128, dot: v128 },
  body: (f) => {
    const [pr, dr] = [f.get('pr'), f.get('dr')];
    return [
      ...setAll(f),
      ...f.get('scale'), ...op.f32x4Splat, ...f.set('sc'),
      ...f.get('S'), ...op.i32(4), ...op.i32Mul, ...f.set('n'),
      ...f.forUp('r', f.get('rows'), [
        ...f.get('p'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32Add, ...f.set('pr'),
        ...f.get('dp'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32Add, ...f.set('dr'),
        ...op.v128Zero, ...f.set('dot'),
        ...columns(f, 'n', 'n4', (a) => [...f.get('dot'), ...a.counted(mul(a.load(pr), a.load(dr))), ...op.f32x4Add, ...f.set('dot')]),
        ...across(f, 'dot'),
        ...columns(f, 'n', 'n4', (a) => a.store(dr, mul(a.load(pr), sub(a.load(dr), f.get('dot')), f.get('sc')))),
      ]),
    ];
  },
});

// ------------------------------------------------------------------ layer normalization

/**
 * layerNormRows(x, out, w, b, stats, R, D, eps, save): per row of D, μ = mean, rstd =
 * 1/√(mean((x − μ)²) + ε), out = (x − μ)·rstd·w + b (w, b: one row of D each); with `save`,
 * [μ, rstd] to stats (two floats a row).
 */
export const layerNormRows = kernel({
  params: { x: i32, out: i32, w: i32, b: i32, stats: i32, R: i32, D: i32, eps: f32, save: i32 },
  split: { units: 'R', pointers: ['x', 'out', 'stats'] },
  locals: { ...LOCALS, r: i32, j: i32, n: i32, n4: i32, xr: i32, or: i32, inv: v128, mu: v128, acc: v128, d: v128 },
  body: (f) => {
    const [xr, or, w, b] = [f.get('xr'), f.get('or'), f.get('w'), f.get('b')];
    return [
      ...setAll(f),
      ...C(f, 'one'), ...f.get('D'), ...op.f32ConvertI32S, ...op.f32x4Splat, ...op.f32x4Div, ...f.set('inv'),
      ...f.get('D'), ...op.i32(4), ...op.i32Mul, ...f.set('n'),
      ...f.forUp('r', f.get('R'), [
        ...f.get('x'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32Add, ...f.set('xr'),
        ...f.get('out'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32Add, ...f.set('or'),
        ...op.v128Zero, ...f.set('acc'),
        ...columns(f, 'n', 'n4', (a) => [...f.get('acc'), ...a.counted(a.load(xr)), ...op.f32x4Add, ...f.set('acc')]),
        ...across(f, 'acc'),
        ...mul(f.get('acc'), f.get('inv')), ...f.set('mu'),
        ...op.v128Zero, ...f.set('acc'),
        ...columns(f, 'n', 'n4', (a) => [
          ...sub(a.load(xr), f.get('mu')), ...f.tee('d'), ...f.get('d'), ...op.f32x4Mul, ...f.set('d'),
          ...f.get('acc'), ...a.counted(f.get('d')), ...op.f32x4Add, ...f.set('acc'),
        ]),
        ...across(f, 'acc'),
        // rstd in every lane of acc
        ...C(f, 'one'), ...mul(f.get('acc'), f.get('inv')), ...f.get('eps'), ...op.f32x4Splat, ...op.f32x4Add, ...op.f32x4Sqrt, ...op.f32x4Div, ...f.set('acc'),
        ...columns(f, 'n', 'n4', (a) => a.store(or, add(mul(sub(a.load(xr), f.get('mu')), f.get('acc'), a.load(w)), a.load(b)))),
        ...f.get('save'), ...op.if,
        ...f.get('stats'), ...f.get('r'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...f.get('mu'), ...op.f32x4ExtractLane(0), ...op.f32Store(0),
        ...f.get('stats'), ...f.get('r'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...f.get('acc'), ...op.f32x4ExtractLane(0), ...op.f32Store(4),
        ...op.end,
      ]),
    ];
  },
});

/**
 * layerNormRowsBackward(x, dy, w, stats, dx, dw, db, R, D): with x̂ = (x − μ)·rstd and
 * g = dy·w per row, dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); dw += dy·x̂ and db += dy over
 * the rows (dw, db: D floats each, zeroed by the caller). stats: [μ, rstd] a row.
 */
export const layerNormRowsBackward = kernel({
  params: { x: i32, dy: i32, w: i32, stats: i32, dx: i32, dw: i32, db: i32, R: i32, D: i32 },
  locals: { ...LOCALS, r: i32, j: i32, n: i32, n4: i32, xr: i32, yr: i32, or: i32, inv: v128, mu: v128, rstd: v128, sg: v128, sgx: v128, xh: v128, g: v128, dyv: v128 },
  body: (f) => {
    const [xr, yr, or, w, dw, db] = [f.get('xr'), f.get('yr'), f.get('or'), f.get('w'), f.get('dw'), f.get('db')];
    const [xh, g, dyv] = [f.get('xh'), f.get('g'), f.get('dyv')];
    const rowAt = (base: 'x' | 'dy' | 'dx', to: 'xr' | 'yr' | 'or') => [...f.get(base), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32Add, ...f.set(to)];
    const terms = (a: Access) => [
      ...mul(sub(a.load(xr), f.get('mu')), f.get('rstd')), ...f.set('xh'),
      ...a.load(yr), ...f.set('dyv'),
      ...mul(dyv, a.load(w)), ...f.set('g'),
    ];
    return [
      ...setAll(f),
      ...C(f, 'one'), ...f.get('D'), ...op.f32ConvertI32S, ...op.f32x4Splat, ...op.f32x4Div, ...f.set('inv'),
      ...f.get('D'), ...op.i32(4), ...op.i32Mul, ...f.set('n'),
      ...f.forUp('r', f.get('R'), [
        ...rowAt('x', 'xr'), ...rowAt('dy', 'yr'), ...rowAt('dx', 'or'),
        ...f.get('stats'), ...f.get('r'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(0), ...f.set('mu'),
        ...f.get('stats'), ...f.get('r'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(4), ...f.set('rstd'),
        ...op.v128Zero, ...f.set('sg'), ...op.v128Zero, ...f.set('sgx'),
        ...columns(f, 'n', 'n4', (a) => [
          ...terms(a),
          ...f.get('sg'), ...a.counted(g), ...op.f32x4Add, ...f.set('sg'),
          ...f.get('sgx'), ...a.counted(mul(g, xh)), ...op.f32x4Add, ...f.set('sgx'),
          ...a.store(dw, add(a.load(dw), mul(dyv, xh))),
          ...a.store(db, add(a.load(db), dyv)),
        ]),
        ...across(f, 'sg'), ...across(f, 'sgx'),
        ...mul(f.get('sg'), f.get('inv')), ...f.set('sg'),
        ...mul(f.get('sgx'), f.get('inv')), ...f.set('sgx'),
        ...columns(f, 'n', 'n4', (a) => [...terms(a), ...a.store(or, mul(f.get('rstd'), sub(sub(g, f.get('sg')), mul(xh, f.get('sgx')))))]),
      ]),
    ];
  },
});

// ------------------------------------------------------------------ GELU

/** The elementwise loop of the GELU kernels: `n` floats, byte index j. */
function elementwise<S extends string>(f: RowFn<S | 'j' | 'nb' | 'n4'>, n: S, body: (a: Access) => number[]): number[] {
  return [...f.get(n), ...op.i32(4), ...op.i32Mul, ...f.set('nb'), ...columns(f, 'nb', 'n4', body)];
}

/**
 * gelu(x, out, kept, n, mode): mode bit 0: the tanh form ½x(1 + t), t = tanh(√(2/π)(x +
 * 0.044715x³)), else x·Φ(x); bit 1: keep c (t or Φ(x)) in `kept` for the backward pass.
 */
export const gelu = kernel({
  params: { x: i32, out: i32, kept: i32, n: i32, mode: i32 },
  split: { units: 'n', pointers: ['x', 'out', 'kept'] },
  locals: { ...LOCALS, j: i32, nb: i32, n4: i32, useTanh: i32, keep: i32, xv: v128, cv: v128, res: v128 },
  body: (f) => {
    const [x, out, kept, xv, cv] = [f.get('x'), f.get('out'), f.get('kept'), f.get('xv'), f.get('cv')];
    return [
      ...setAll(f),
      ...f.get('mode'), ...op.i32(1), ...op.i32And, ...f.set('useTanh'),
      ...f.get('mode'), ...op.i32(2), ...op.i32And, ...f.set('keep'),
      ...elementwise(f, 'n', (a) => [
        ...a.load(x), ...f.set('xv'),
        ...f.get('useTanh'), ...x4.ifV128, ...tanhArg(f, xv), ...op.else, ...phi(f, xv), ...op.end, ...f.set('cv'),
        ...f.get('useTanh'), ...x4.ifV128, ...mul(C(f, 'half'), xv, add(C(f, 'one'), cv)), ...op.else, ...mul(xv, cv), ...op.end,
        ...f.set('res'), ...a.store(out, f.get('res')),
        ...f.get('keep'), ...op.if, ...a.store(kept, cv), ...op.end,
      ]),
    ];
  },
});

/**
 * geluBackward(x, dy, kept, out, n, mode): out = dy·gelu′(x): Φ(x) + x·φ(x), or with bit
 * 0 (the tanh form) ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²); bit 1: c (Φ(x) or t)
 * read from `kept`, else recomputed.
 */
export const geluBackward = kernel({
  params: { x: i32, dy: i32, kept: i32, out: i32, n: i32, mode: i32 },
  split: { units: 'n', pointers: ['x', 'dy', 'kept', 'out'] },
  locals: { ...LOCALS, j: i32, nb: i32, n4: i32, useTanh: i32, fromKept: i32, xv: v128, cv: v128, res: v128 },
  body: (f) => {
    const [x, dy, kept, out, xv, cv] = [f.get('x'), f.get('dy'), f.get('kept'), f.get('out'), f.get('xv'), f.get('cv')];
    const one = C(f, 'one');
    const tanhSlope = mul(C(f, 'half'), xv, sub(one, mul(cv, cv)), C(f, 'sqrt2OverPi'), add(one, mul(C(f, 'tanhC3'), xv, xv)));
    const pdf = mul(exp(f, [...mul(C(f, 'half'), xv, xv), ...op.f32x4Neg]), C(f, 'invSqrt2Pi'));
    return [
      ...setAll(f),
      ...f.get('mode'), ...op.i32(1), ...op.i32And, ...f.set('useTanh'),
      ...f.get('mode'), ...op.i32(2), ...op.i32And, ...f.set('fromKept'),
      ...elementwise(f, 'n', (a) => [
        ...a.load(x), ...f.set('xv'),
        ...f.get('fromKept'), ...x4.ifV128, ...a.load(kept), ...op.else,
        ...f.get('useTanh'), ...x4.ifV128, ...tanhArg(f, xv), ...op.else, ...phi(f, xv), ...op.end,
        ...op.end, ...f.set('cv'),
        ...f.get('useTanh'), ...x4.ifV128, ...add(mul(C(f, 'half'), add(one, cv)), tanhSlope), ...op.else, ...add(cv, mul(xv, pdf)), ...op.end,
        ...a.load(dy), ...op.f32x4Mul, ...f.set('res'), ...a.store(out, f.get('res')),
      ]),
    ];
  },
});

// ------------------------------------------------------------------ moving heads

/**
 * copyBlock(src, dst, rows, W, srcRow, dstRow): `rows` rows of W floats (or int32s) from
 * src to dst, the rows srcRow and dstRow bytes apart: a block of a strided view made
 * contiguous (attention's heads split out of [N, L, H·D] and merged back), or one input's
 * rows placed among the others' in a concatenation.
 */
export const copyBlock = kernel({
  params: { src: i32, dst: i32, rows: i32, W: i32, srcRow: i32, dstRow: i32 },
  split: { units: 'rows', pointers: ['src', 'dst'] },
  locals: { r: i32, j: i32, w4: i32 },
  body: (f) => [
    ...f.get('W'), ...op.i32(-4), ...op.i32And, ...f.set('w4'),
    ...copyRows2d(f, 'dst', 'src', 'r', 'j', 'rows', 'W', 'w4', f.get('dstRow'), f.get('srcRow')),
  ],
});

/**
 * copyBlocks(src, dst, outer, inner, rows, W, srcOuter, srcInner, srcRow): a strided view
 * with two leading axes made contiguous in one call: block (o, i) — `rows` rows of W
 * floats srcRow bytes apart at src + o·srcOuter + i·srcInner — goes to dst as the
 * (o·inner + i)th block of rows·W floats (copyBlock each). Heads split out of [N, L, H·D]
 * as [N, H, L, D] are N × H blocks of L rows; the thread pool splits by the outer axis.
 */
export const copyBlocks = kernel({
  params: { src: i32, dst: i32, outer: i32, inner: i32, rows: i32, W: i32, srcOuter: i32, srcInner: i32, srcRow: i32 },
  split: { units: 'outer', pointers: ['src', 'dst'] },
  locals: { o: i32, i: i32, from: i32, block: i32 },
  body: (f, { call }) => [
    ...f.get('rows'), ...f.get('W'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('block'),
    ...f.forUp('o', f.get('outer'), [
      ...f.get('src'), ...f.get('o'), ...f.get('srcOuter'), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...f.forUp('i', f.get('inner'), [
        ...f.get('from'), ...f.get('dst'), ...f.get('rows'), ...f.get('W'), ...f.get('srcRow'), ...f.get('W'), ...op.i32(4), ...op.i32Mul, ...call('copyBlock'),
        ...f.get('from'), ...f.get('srcInner'), ...op.i32Add, ...f.set('from'),
        ...f.get('dst'), ...f.get('block'), ...op.i32Add, ...f.set('dst'),
      ]),
    ]),
  ],
});
