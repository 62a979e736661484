/**
 * The gate passes of the recurrent ops (LSTM, GRU, Elman RNN, forward and backward) in
 * f32x4, one step over B rows: what the JavaScript loops of @ml/tensor's host kernels
 * (host-recurrent.ts, host-recurrent-sequence.ts) compute, with a vectorised exp in place
 * of Math.exp. Each row operand is a byte address and a byte row stride (rows contiguous).
 * A row runs four columns at a time (the forward passes two vectors at once), then its
 * last H mod 4 columns one at a time through the same instructions on splatted values
 * (lane 0 stored), so no write leaves a row and in-place operands (a carried gradient read
 * and written) stay right for any H. No branch runs inside a loop: each case (outputs
 * wanted, nonlinearity) has a loop of its own. Rows are independent, so the thread pool
 * splits a pass by rows (its `split`: B counts them, every row operand moves on by its row
 * stride, which the caller gives; a stride of 0, GRU's bias row, stays put).
 */
import { array, i32, op, v128, type Fn, type Ref } from '../assembler.js';
import { kernel } from './kernel.js';
import { bitsOf, flushBelowLanes, flushLanes, simd } from './shared.js';

// ------------------------------------------------------------------ instructions

/** SIMD instructions the assembler's table does not have (codes from the SIMD proposal). */
const x4 = {
  lt: simd(0x43),
  abs: simd(0xe0),
  /** a, b → b < a ? b : a (one minps on x64; f32x4.min's NaN and ±0 rules take about eight instructions) */
  pmin: simd(0xea),
  /** a, b → a < b ? b : a (one maxps) */
  pmax: simd(0xeb),
  or: simd(0x50),
  /** v1, v2, mask → v1 where the mask's bits are set, else v2 */
  bitselect: simd(0x52),
  shl: simd(0xab),
};


/** ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits (355/512), so n·LN2_HI is exact for |n| ≤ 2¹⁵ */
const LN2_HI = 355 / 512;
const LN2_LO = Math.LN2 - LN2_HI;

/**
 * The constants of the math below, by name: each lane's bits. A kernel holds them in v128
 * locals (`k`), set once at its start (`setConstants`): a v128.const inside the loop costs
 * the engine several instructions every time (four 64-bit moves and inserts on x64).
 */
const CONSTANTS = {
  one: bitsOf(1),
  expMin: bitsOf(-87),
  expMax: bitsOf(88),
  log2e: bitsOf(Math.LOG2E),
  ln2Hi: bitsOf(LN2_HI),
  ln2Lo: bitsOf(LN2_LO),
  // e^r's Taylor coefficients 1/7! … 1/2!
  e7: bitsOf(1 / 5040),
  e6: bitsOf(1 / 720),
  e5: bitsOf(1 / 120),
  e4: bitsOf(1 / 24),
  e3: bitsOf(1 / 6),
  e2: bitsOf(1 / 2),
  // tanh's series x + t3·x³ + t5·x⁵ + t7·x⁷ + t9·x⁹
  t9: bitsOf(62 / 2835),
  t7: bitsOf(-17 / 315),
  t5: bitsOf(2 / 15),
  t3: bitsOf(-1 / 3),
  minus2: bitsOf(-2),
  quarter: bitsOf(0.25),
  /** 1.5·2²³: v + magic rounds v (|v| < 2²²) to an integer, half to even, held in the low bits */
  magic: bitsOf(1.5 * 2 ** 23),
  /** the exponent bias less magic's bits, as i32 lanes: bits(n + magic) + magicBias = n + 127 */
  magicBias: 127 - bitsOf(1.5 * 2 ** 23),
  /** the sign bit */
  sign: -0x80000000,
} as const;
type Constant = keyof typeof CONSTANTS;
const CONSTANT_NAMES = Object.keys(CONSTANTS) as Constant[];

/**
 * The locals the math helpers use: the constants (`k`) and five scratch vectors for each
 * of the two vectors a forward pass works on at once (slots 0 and 1; every gate kernel
 * declares them).
 */
export const MATH_LOCALS = {
  k: array(v128, CONSTANT_NAMES.length),
  t0: v128, t1: v128, t2: v128, t3: v128, t4: v128,
  u0: v128, u1: v128, u2: v128, u3: v128, u4: v128,
} as const;
type Scratch = `${'t' | 'u'}${0 | 1 | 2 | 3 | 4}`;
/** A function builder with the math helpers' locals. */
type MathFn<S extends string> = Fn<S | Scratch, 'k'>;
/** Scratch vector k (0 … 4) of slot s (t0 … t4 for slot 0, u0 … u4 for slot 1). */
const scratch = <S extends string>(f: MathFn<S>, s: number, k: number): Ref => f.ref(`${s === 0 ? 't' : 'u'}${k}` as Scratch);

/** The constant `name` (its local). */
const K = <S extends string>(f: MathFn<S>, name: Constant): number[] => f.get('k', CONSTANT_NAMES.indexOf(name));

/** Set the constants' locals (once, at a kernel's start). */
export function setConstants<S extends string>(f: MathFn<S>): number[] {
  return CONSTANT_NAMES.flatMap((name, i) => {
    const b = CONSTANTS[name];
    return [...op.v128ConstI32x4([b, b, b, b]), ...f.set('k', i)];
  });
}

/**
 * e^x of the vector `x` leaves (t0, t1 scratch): x clamped to [−87, 88] (e^x stays a normal
 * float, so 1 + e^x and 1 / that neither overflow nor lose a sigmoid's saturation; NaN goes
 * through), x = n·ln 2 + r with n = round(x·log₂e) and ln 2 in two parts (Cody–Waite:
 * n·LN2_HI is exact), e^r by its Taylor polynomial of degree 7 (|r| ≤ ln2/2: truncation
 * under 4·10⁻⁹ relative), times 2ⁿ built in the exponent bits ((n + 127) << 23). The
 * polynomial goes by Estrin's scheme, 1 + ((r + r²(e2 + e3 r)) + r⁴((e4 + e5 r) + r²(e6 + e7 r))):
 * a chain of about half Horner's latency (t4 scratch), which the gate passes are bound by.
 */
export function exp<S extends string>(f: MathFn<S>, x: number[], s = 0): number[] {
  const [r, n, r2] = [0, 1, 4].map((k) => scratch(f, s, k));
  /** lo + hi·r */
  const pair = (lo: Constant, hi: Constant) => [...K(f, hi), ...r.get, ...op.f32x4Mul, ...K(f, lo), ...op.f32x4Add];
  // 1 + (s = r + r²(e2 + e3 r) + r⁴(…)): the 1 added last, so s's roundings are small next to it
  const polynomial = [
    ...K(f, 'one'),
    ...r.get, ...r.get, ...r.get, ...op.f32x4Mul, ...r2.tee, ...pair('e2', 'e3'), ...op.f32x4Mul, ...op.f32x4Add,
    ...pair('e4', 'e5'), ...r2.get, ...pair('e6', 'e7'), ...op.f32x4Mul, ...op.f32x4Add,
    ...r2.get, ...r2.get, ...op.f32x4Mul, ...op.f32x4Mul, ...op.f32x4Add,
    ...op.f32x4Add,
  ];
  return [
    ...x, ...K(f, 'expMin'), ...x4.pmax, ...K(f, 'expMax'), ...x4.pmin, ...r.tee,
    // n = round(x·log₂e) by adding and taking away 1.5·2²³ (what f32x4.nearest gives: both round half to even)
    ...K(f, 'log2e'), ...op.f32x4Mul, ...K(f, 'magic'), ...op.f32x4Add, ...K(f, 'magic'), ...op.f32x4Sub, ...n.set,
    ...r.get, ...n.get, ...K(f, 'ln2Hi'), ...op.f32x4Mul, ...op.f32x4Sub, ...n.get, ...K(f, 'ln2Lo'), ...op.f32x4Mul, ...op.f32x4Sub, ...r.set,
    ...polynomial,
    // 2ⁿ: n + magic is exact, its bits n + bits(magic); (n + 127) << 23
    ...n.get, ...K(f, 'magic'), ...op.f32x4Add, ...K(f, 'magicBias'), ...op.i32x4Add, ...op.i32(23), ...x4.shl,
    ...op.f32x4Mul,
  ];
}

/** σ(x) = 1 / (1 + e^−x) of the vector `x` leaves (t0, t1 scratch): 0 < σ ≤ 1 for every x, NaN for NaN. */
export function sigmoid<S extends string>(f: MathFn<S>, x: number[], s = 0): number[] {
  return [...K(f, 'one'), ...K(f, 'one'), ...exp(f, [...x, ...op.f32x4Neg], s), ...op.f32x4Add, ...op.f32x4Div];
}

/**
 * tanh of the vector `x` leaves (t0 … t3 scratch). |x| < ¼: x + x³·P(x²), the series to
 * x⁹ (relative error under 10⁻⁸, so tiny arguments keep their relative precision, which
 * 2σ(2x) − 1 would lose); else sign(x)·(1 − e)/(1 + e) with e = e^−2|x| (1 − e is exact for
 * e ≥ ½, i.e. |x| ≤ 0.35; ±1 for large |x|; NaN for NaN).
 */
export function tanh<S extends string>(f: MathFn<S>, x: number[], s = 0): number[] {
  const [x2, e, v, ax] = [0, 0, 2, 3].map((k) => scratch(f, s, k));
  const one = K(f, 'one');
  return [
    ...x, ...v.tee, ...x4.abs, ...ax.set,
    // small = x + (x·x²)·P(x²)
    ...v.get, ...v.get, ...v.get, ...v.get, ...op.f32x4Mul, ...x2.tee, ...op.f32x4Mul,
    ...K(f, 't9'), ...(['t7', 't5', 't3'] as const).flatMap((c) => [...x2.get, ...op.f32x4Mul, ...K(f, c), ...op.f32x4Add]),
    ...op.f32x4Mul, ...op.f32x4Add,
    // large = (1 − e)/(1 + e) with x's sign bit
    ...exp(f, [...ax.get, ...K(f, 'minus2'), ...op.f32x4Mul], s), ...e.set,
    ...one, ...e.get, ...op.f32x4Sub, ...one, ...e.get, ...op.f32x4Add, ...op.f32x4Div,
    ...v.get, ...K(f, 'sign'), ...op.v128And, ...x4.or,
    ...ax.get, ...K(f, 'quarter'), ...x4.lt, ...x4.bitselect,
  ];
}

// ------------------------------------------------------------------ the row loops

/** How the body reaches section k (0 … 4, k·H floats in) of a row operand at its columns. */
interface Access<P extends string> {
  load(p: P, k?: number): number[];
  store(p: P, k: number, value: number[]): number[];
}

/** The locals every gate kernel has: the row loop's counters and H·k in bytes. */
type LoopLocal = 'b' | 'jb' | 'hb4' | 'hb8' | 'h1' | 'h2' | 'h3' | 'h4';
const LOOP = { b: i32, jb: i32, hb4: i32, hb8: i32, h1: i32, h2: i32, h3: i32, h4: i32 } as const;
const SECTION = [null, 'h1', 'h2', 'h3', 'h4'] as const;

/**
 * A gate pass's body for slot s, in phases. With two slots the loop runs two vectors at
 * once, phase by phase (slot 0's phase p, then slot 1's), so that each phase's chain of
 * dependent instructions (an exp) has an independent one beside it for the processor to
 * overlap (the LSTM and GRU passes run 1.2 to 1.3 times as fast as one vector at a time).
 */
type Body<P extends string> = (a: Access<P>, s: number) => number[][];

/**
 * `for b < B`: the body on whole vectors of each row (columns jb = 0, 16, … bytes below H
 * rounded down to 4 floats; with `slots` 2, two at a time while two fit, slot 1 at
 * jb + 16), then on the last H mod 4 columns one at a time (splat loads, lane 0 stored);
 * then every row operand moves on by its row stride (parameter `name + 's'`).
 */
function rowLoop<P extends string, S extends string>(f: Fn<S | LoopLocal | P | `${P}s` | 'B' | 'H'>, operands: readonly P[], body: Body<P>, slots: 1 | 2 = 1): number[] {
  const addr = (p: P, k: number): number[] => {
    const h = SECTION[k];
    return [...f.get(p), ...f.get('jb'), ...op.i32Add, ...(h === null ? [] : [...f.get(h), ...op.i32Add])];
  };
  const vector = (bytes: number): Access<P> => ({
    load: (p, k = 0) => [...addr(p, k), ...op.v128Load(bytes)],
    store: (p, k, value) => [...addr(p, k), ...value, ...op.v128Store(bytes)],
  });
  const lane: Access<P> = {
    load: (p, k = 0) => [...addr(p, k), ...op.v128Load32Splat(0)],
    store: (p, k, value) => [...addr(p, k), ...value, ...op.f32x4ExtractLane(0), ...op.f32Store(0)],
  };
  const two = (): number[] => {
    const [p0, p1] = [body(vector(0), 0), body(vector(16), 1)];
    return p0.flatMap((phase, k) => [...phase, ...p1[k]]);
  };
  return [
    ...f.get('H'), ...op.i32(4), ...op.i32Mul, ...f.set('h1'),
    ...[2, 3, 4].flatMap((k) => [...f.get('h1'), ...op.i32(k), ...op.i32Mul, ...f.set(SECTION[k] as LoopLocal)]),
    ...f.get('h1'), ...op.i32(-16), ...op.i32And, ...f.set('hb4'),
    ...f.get('h1'), ...op.i32(slots === 2 ? -32 : 0), ...op.i32And, ...f.set('hb8'),
    ...f.forUp('b', f.get('B'), [
      ...(slots === 2 ? f.forStep('jb', op.i32(0), f.get('hb8'), 32, two()) : []),
      ...f.forStep('jb', f.get('hb8'), f.get('hb4'), 16, body(vector(0), 0).flat()),
      ...f.forStep('jb', f.get('hb4'), f.get('h1'), 4, body(lane, 0).flat()),
      ...operands.flatMap((p) => [...f.get(p), ...f.get(`${p}s`), ...op.i32Add, ...f.set(p)]),
    ]),
  ];
}

/** All lanes set when bit `bit` of `mode` is, else none (to mask out an absent operand). */
function maskOf<S extends string>(f: Fn<S>, mode: S, bit: number, mask: S): number[] {
  return [...op.i32(0), ...f.get(mode), ...op.i32(bit), ...op.i32And, ...op.i32(0), ...op.i32GtU, ...op.i32Sub, ...op.i32x4Splat, ...f.set(mask)];
}

/** Vector arithmetic on instruction lists, left to right. */
const mul = (...xs: number[][]): number[] => xs.slice(1).reduce((acc, x) => [...acc, ...x, ...op.f32x4Mul], xs[0]);
const add = (a: number[], b: number[]): number[] => [...a, ...b, ...op.f32x4Add];
const sub = (a: number[], b: number[]): number[] => [...a, ...b, ...op.f32x4Sub];
/** 1 − x */
const oneMinus = <S extends string>(f: MathFn<S>, x: number[]): number[] => sub(K(f, 'one'), x);
/** x where the mask is set, else +0 */
const masked = (x: number[], mask: number[]): number[] => [...x, ...mask, ...op.v128And];

/** Set `tiny` to GRADIENT_FLUSH_BELOW (2⁻¹⁰⁰) in every lane, at a backward kernel's start. */
const setTiny = <S extends string>(f: Fn<S>, tiny: S): number[] => [...flushBelowLanes(), ...f.set(tiny)];
/**
 * x with the lanes under 2⁻¹⁰⁰ in magnitude as +0 (NaN kept; t0 scratch): the gradients the
 * backward passes write, as @ml/tensor's JavaScript passes do (`flushTiny`).
 */
const flushed = <S extends string>(f: MathFn<S | 'tiny'>, x: number[]): number[] => flushLanes(x, scratch(f, 0, 0), f.get('tiny'));

/**
 * The loop for each case of a forward pass's outputs (mode bit 0: out, bit 1: acts; 3, 1
 * or 2), built separately: a branch on them inside the loop costs the engine more than
 * the gate math (about 2.5 times the GRU pass's time, measured).
 */
function byOutputs<S extends string>(f: Fn<S | 'mode'>, loop: (writeOut: boolean, writeActs: boolean) => number[]): number[] {
  const is = (m: number) => [...f.get('mode'), ...op.i32(3), ...op.i32And, ...op.i32(m), ...op.i32Sub, ...op.i32Eqz];
  return [
    ...is(3), ...op.if, ...loop(true, true),
    ...op.else, ...is(1), ...op.if, ...loop(true, false),
    ...op.else, ...is(2), ...op.if, ...loop(false, true),
    ...op.end, ...op.end, ...op.end,
  ];
}

/** A vector local per slot. */
const pair = array(v128, 2);

/** A row operand: its byte address and byte row stride. */
const rowsParams = <N extends string>(...names: N[]) => Object.fromEntries(names.flatMap((n) => [[n, i32], [`${n}s`, i32]])) as Record<N | `${N}s`, typeof i32>;

// ------------------------------------------------------------------ LSTM

/**
 * lstmGates(x, xs, hw, hws, c, cs, out, outs, acts, actss, B, H, mode): a = x + hw (gates
 * i f g o, H each); c' = σ(a_f)·c + σ(a_i)·tanh(a_g), h' = σ(a_o)·tanh c'. mode bit 0:
 * write [h' | c'] to out; bit 1: write i, f, g, o, tanh c' to acts (neither: nothing runs).
 */
export const lstmGates = kernel({
  params: { ...rowsParams('x', 'hw', 'c', 'out', 'acts'), B: i32, H: i32, mode: i32 },
  split: { units: 'B', pointers: ['x', 'hw', 'c', 'out', 'acts'] },
  locals: { ...LOOP, ...MATH_LOCALS, i: pair, f: pair, g: pair, o: pair, c1: pair, tc: pair },
  body: (f) => [
    ...setConstants(f),
    ...byOutputs(f, (writeOut, writeActs) => rowLoop(f, ['x', 'hw', 'c', 'out', 'acts'], (a, s) => {
      const pre = (k: number) => add(a.load('x', k), a.load('hw', k));
      const [i, fg, g, o, c1, tc] = (['i', 'f', 'g', 'o', 'c1', 'tc'] as const).map((v) => f.ref(v, s));
      return [
        [...sigmoid(f, pre(0), s), ...i.set],
        [...sigmoid(f, pre(1), s), ...fg.set],
        [...tanh(f, pre(2), s), ...g.set],
        [...sigmoid(f, pre(3), s), ...o.set],
        [...add(mul(fg.get, a.load('c')), mul(i.get, g.get)), ...c1.set, ...tanh(f, c1.get, s), ...tc.set],
        [
          ...(writeOut ? [...a.store('out', 0, mul(o.get, tc.get)), ...a.store('out', 1, c1.get)] : []),
          ...(writeActs ? [i, fg, g, o, tc].flatMap((v, k) => a.store('acts', k, v.get)) : []),
        ],
      ];
    }, 2)),
  ],
});

/**
 * lstmGatesBackward(acts, actss, d, ds, dh, dhs, c, cs, dcIn, dcIns, dcOut, dcOuts, grads,
 * gradss, B, H, mode): ∂h = d_h (+ dh), ∂c = d_c (+ dcIn) + ∂h·o·(1 − tanh²c'); the gate
 * gradients [∂c·g·i(1−i), ∂c·c·f(1−f), ∂c·i(1−g²), ∂h·tanh c'·o(1−o)] to grads and ∂c·f
 * to dcOut. mode bit 0: dh given; bit 1: dcIn given (an absent one is read, masked to 0,
 * so its address must be readable: the caller passes d's).
 */
export const lstmGatesBackward = kernel({
  params: { ...rowsParams('acts', 'd', 'dh', 'c', 'dcIn', 'dcOut', 'grads'), B: i32, H: i32, mode: i32 },
  split: { units: 'B', pointers: ['acts', 'd', 'dh', 'c', 'dcIn', 'dcOut', 'grads'] },
  locals: { ...LOOP, ...MATH_LOCALS, mh: v128, mc: v128, i: v128, f: v128, g: v128, o: v128, tc: v128, dhv: v128, dc: v128, tiny: v128 },
  body: (f) => [
    ...setConstants(f),
    ...setTiny(f, 'tiny'),
    ...maskOf(f, 'mode', 1, 'mh'),
    ...maskOf(f, 'mode', 2, 'mc'),
    ...rowLoop(f, ['acts', 'd', 'dh', 'c', 'dcIn', 'dcOut', 'grads'], (a) => {
      const [i, fg, g, o, tc, dh, dc] = (['i', 'f', 'g', 'o', 'tc', 'dhv', 'dc'] as const).map((v) => f.get(v));
      return [[
        ...(['i', 'f', 'g', 'o', 'tc'] as const).flatMap((v, k) => [...a.load('acts', k), ...f.set(v)]),
        ...add(a.load('d', 0), masked(a.load('dh'), f.get('mh'))), ...f.set('dhv'),
        ...add(add(a.load('d', 1), masked(a.load('dcIn'), f.get('mc'))), mul(dh, o, oneMinus(f, mul(tc, tc)))), ...f.set('dc'),
        ...a.store('grads', 0, flushed(f, mul(dc, g, i, oneMinus(f, i)))),
        ...a.store('grads', 1, flushed(f, mul(dc, a.load('c'), fg, oneMinus(f, fg)))),
        ...a.store('grads', 2, flushed(f, mul(dc, i, oneMinus(f, mul(g, g))))),
        ...a.store('grads', 3, flushed(f, mul(dh, tc, o, oneMinus(f, o)))),
        ...a.store('dcOut', 0, flushed(f, mul(dc, fg))),
      ]];
    }),
  ],
});

// ------------------------------------------------------------------ GRU

/**
 * gruGates(x, xs, hw, hws, bh, bhs, h, hs, out, outs, acts, actss, B, H, mode): r = σ(x_r +
 * hw_r + b_r), z = σ(x_z + hw_z + b_z), hn = hw_n + b_n, n = tanh(x_n + r·hn),
 * h' = n + z·(h − n). The bias bh is one row of 3H (bhs = 0: every row reads it). mode
 * bit 0: write h' to out; bit 1: r, z, n, hn to acts; bit 2: the bias is given (else it is
 * read where bh points, masked to 0).
 */
export const gruGates = kernel({
  params: { ...rowsParams('x', 'hw', 'bh', 'h', 'out', 'acts'), B: i32, H: i32, mode: i32 },
  split: { units: 'B', pointers: ['x', 'hw', 'bh', 'h', 'out', 'acts'] },
  locals: { ...LOOP, ...MATH_LOCALS, mb: v128, r: pair, z: pair, n: pair, hn: pair },
  body: (f) => [
    ...setConstants(f),
    ...maskOf(f, 'mode', 4, 'mb'),
    ...byOutputs(f, (writeOut, writeActs) => rowLoop(f, ['x', 'hw', 'bh', 'h', 'out', 'acts'], (a, s) => {
      const pre = (k: number) => add(add(a.load('x', k), a.load('hw', k)), masked(a.load('bh', k), f.get('mb')));
      const [r, z, n, hn] = (['r', 'z', 'n', 'hn'] as const).map((v) => f.ref(v, s));
      return [
        [...sigmoid(f, pre(0), s), ...r.set],
        [...sigmoid(f, pre(1), s), ...z.set],
        [...add(a.load('hw', 2), masked(a.load('bh', 2), f.get('mb'))), ...hn.set, ...tanh(f, add(a.load('x', 2), mul(r.get, hn.get)), s), ...n.set],
        [
          ...(writeOut ? a.store('out', 0, add(n.get, mul(z.get, sub(a.load('h'), n.get)))) : []),
          ...(writeActs ? [r, z, n, hn].flatMap((v, k) => a.store('acts', k, v.get)) : []),
        ],
      ];
    }, 2)),
  ],
});

/**
 * gruGatesBackward(acts, actss, d, ds, carry, carrys, dh, dhs, h, hs, gx, gxs, gh, ghs, B,
 * H, mode): ∂h = d + carry (+ dh), ∂n = ∂h·(1 − z)(1 − n²), ∂r = ∂n·hn·r(1 − r),
 * ∂z = ∂h·(h − n)·z(1 − z); [∂r, ∂z, ∂n] to gx, [∂r, ∂z, ∂n·r] to gh, ∂h·z back to carry.
 * mode bit 0: dh given (else read at its address, masked to 0).
 */
export const gruGatesBackward = kernel({
  params: { ...rowsParams('acts', 'd', 'carry', 'dh', 'h', 'gx', 'gh'), B: i32, H: i32, mode: i32 },
  split: { units: 'B', pointers: ['acts', 'd', 'carry', 'dh', 'h', 'gx', 'gh'] },
  locals: { ...LOOP, ...MATH_LOCALS, mh: v128, r: v128, z: v128, n: v128, hn: v128, dhv: v128, dn: v128, dr: v128, dz: v128, tiny: v128 },
  body: (f) => [
    ...setConstants(f),
    ...setTiny(f, 'tiny'),
    ...maskOf(f, 'mode', 1, 'mh'),
    ...rowLoop(f, ['acts', 'd', 'carry', 'dh', 'h', 'gx', 'gh'], (a) => {
      const [r, z, n, hn, dh, dn, dr, dz] = (['r', 'z', 'n', 'hn', 'dhv', 'dn', 'dr', 'dz'] as const).map((v) => f.get(v));
      return [[
        ...(['r', 'z', 'n', 'hn'] as const).flatMap((v, k) => [...a.load('acts', k), ...f.set(v)]),
        ...add(add(a.load('d'), a.load('carry')), masked(a.load('dh'), f.get('mh'))), ...f.set('dhv'),
        ...mul(dh, oneMinus(f, z), oneMinus(f, mul(n, n))), ...f.set('dn'),
        ...flushed(f, mul(dn, hn, r, oneMinus(f, r))), ...f.set('dr'),
        ...flushed(f, mul(dh, sub(a.load('h'), n), z, oneMinus(f, z))), ...f.set('dz'),
        ...a.store('gx', 0, dr), ...a.store('gh', 0, dr),
        ...a.store('gx', 1, dz), ...a.store('gh', 1, dz),
        ...a.store('gx', 2, flushed(f, dn)), ...a.store('gh', 2, flushed(f, mul(dn, r))),
        ...a.store('carry', 0, flushed(f, mul(dh, z))),
      ]];
    }),
  ],
});

// ------------------------------------------------------------------ Elman RNN

/** rnnGates(x, xs, hw, hws, out, outs, B, H, mode): out = act(x + hw), tanh when mode bit 0 is set, else relu. */
export const rnnGates = kernel({
  params: { ...rowsParams('x', 'hw', 'out'), B: i32, H: i32, mode: i32 },
  split: { units: 'B', pointers: ['x', 'hw', 'out'] },
  locals: { ...LOOP, ...MATH_LOCALS, v: v128 },
  body: (f) => [
    ...setConstants(f),
    ...f.get('mode'), ...op.i32(1), ...op.i32And, ...op.if,
    ...rowLoop(f, ['x', 'hw', 'out'], (a, s) => [a.store('out', 0, tanh(f, add(a.load('x'), a.load('hw')), s))], 2),
    ...op.else,
    // v where v > 0, else +0 (NaN gives 0, as `a > 0 ? a : 0` does)
    ...rowLoop(f, ['x', 'hw', 'out'], (a) => [a.store('out', 0, [...add(a.load('x'), a.load('hw')), ...f.tee('v'), ...f.get('v'), ...op.v128Zero, ...op.f32x4Gt, ...op.v128And])]),
    ...op.end,
  ],
});

/**
 * rnnGatesBackward(y, ys, d, ds, dh, dhs, out, outs, B, H, mode): ∂h = d (+ dh), out =
 * ∂h·(1 − y²) when mode bit 0 (tanh) is set, else ∂h where y > 0 (relu); mode bit 1: dh
 * given (else read at its address, masked to 0).
 */
export const rnnGatesBackward = kernel({
  params: { ...rowsParams('y', 'd', 'dh', 'out'), B: i32, H: i32, mode: i32 },
  split: { units: 'B', pointers: ['y', 'd', 'dh', 'out'] },
  locals: { ...LOOP, ...MATH_LOCALS, mh: v128, g: v128, v: v128, tiny: v128 },
  body: (f) => {
    // one loop per nonlinearity (a branch inside the loop would cost more than its work)
    const loop = (isTanh: boolean) =>
      rowLoop(f, ['y', 'd', 'dh', 'out'], (a) => [[
        ...add(a.load('d'), masked(a.load('dh'), f.get('mh'))), ...f.set('g'),
        ...a.load('y'), ...f.set('v'),
        ...a.store('out', 0, flushed(f, isTanh ? mul(f.get('g'), oneMinus(f, mul(f.get('v'), f.get('v')))) : [...f.get('g'), ...f.get('v'), ...op.v128Zero, ...op.f32x4Gt, ...op.v128And])),
      ]]);
    return [
      ...setConstants(f),
      ...setTiny(f, 'tiny'),
      ...maskOf(f, 'mode', 2, 'mh'),
      ...f.get('mode'), ...op.i32(1), ...op.i32And, ...op.if, ...loop(true), ...op.else, ...loop(false), ...op.end,
    ];
  },
});
