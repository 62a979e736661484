/** Elementwise kernels: ReLU and its gradient, the four float32 binary ops, dropout's mask. */
import { f32, f64, i32, op, v128, type Fn } from '../assembler.js';
import { kernel } from './kernel.js';

/**
 * relu(x, out, n4): max(x, 0) over n4 groups of four floats (f32x4.max: NaN propagates,
 * −0 becomes +0). reluGrad(x, dy, out, n4): dy where x > 0, else +0.
 */
function reluBody(f: Fn<'x' | 'dy' | 'out' | 'n4' | 'i'>, grad: boolean): number[] {
  const at = (base: 'x' | 'dy' | 'out') => [...f.get(base), ...f.get('i'), ...op.i32(4), ...op.i32Shl, ...op.i32Add];
  const value = grad
    ? [...at('dy'), ...op.v128Load(0), ...at('x'), ...op.v128Load(0), ...op.v128Zero, ...op.f32x4Gt, ...op.v128And]
    : [...at('x'), ...op.v128Load(0), ...op.v128Zero, ...op.f32x4Max];
  return f.forUp('i', f.get('n4'), [...at('out'), ...value, ...op.v128Store(0)]);
}

export const relu = kernel({
  params: { x: i32, out: i32, n4: i32 },
  locals: { i: i32 },
  split: { units: 'n4', pointers: ['x', 'out'] },
  body: (f) => reluBody(f, false),
});

export const reluGrad = kernel({
  params: { x: i32, dy: i32, out: i32, n4: i32 },
  locals: { i: i32 },
  split: { units: 'n4', pointers: ['x', 'dy', 'out'] },
  body: (f) => reluBody(f, true),
});

/** The float32 binary ops with a SIMD kernel, and their instructions. */
export const BINARY_KERNELS = { add: op.f32x4Add, sub: op.f32x4Sub, mul: op.f32x4Mul, div: op.f32x4Div } as const;

/**
 * add|sub|mul|div(a, b, out, rows, n, ra, rb, mode): out row r (n floats at out + r·n·4)
 * = a's row r ⊙ b's row r, rows starting at a + r·ra and b + r·rb (bytes; 0 repeats one
 * row). mode 0: both rows are n contiguous floats; 1: b's row is one value for the whole
 * row; 2: a's is. Whole vectors only: a row's last vector may spill into the next row of
 * out (written again right after) or the block's slack, and reads may pass a row's end.
 * Each lane is the IEEE single-precision result, as JavaScript's double arithmetic
 * rounded to float32 gives for these four ops.
 */
function binary(name: keyof typeof BINARY_KERNELS) {
  return kernel({
    params: { a: i32, b: i32, out: i32, rows: i32, n: i32, ra: i32, rb: i32, mode: i32 },
    // by rows, for rows of whole vectors only (n mod 4 = 0): a shorter row's last vector
    // spills into the next row, which another thread may have written already
    split: { units: 'rows', pointers: ['a', 'b', 'out'] },
    locals: { r: i32, i: i32, pa: i32, pb: i32, po: i32, va: v128, vb: v128 },
    body: (f) => {
      const at = (base: 'pa' | 'pb' | 'po') => [...f.get(base), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
      const row = (vecA: boolean, vecB: boolean) => [
        ...(vecA ? [] : [...f.get('pa'), ...op.v128Load32Splat(0), ...f.set('va')]),
        ...(vecB ? [] : [...f.get('pb'), ...op.v128Load32Splat(0), ...f.set('vb')]),
        ...f.forStep('i', op.i32(0), f.get('n'), 4, [
          ...at('po'),
          ...(vecA ? [...at('pa'), ...op.v128Load(0)] : f.get('va')),
          ...(vecB ? [...at('pb'), ...op.v128Load(0)] : f.get('vb')),
          ...BINARY_KERNELS[name],
          ...op.v128Store(0),
        ]),
      ];
      return f.forUp('r', f.get('rows'), [
        ...f.get('a'), ...f.get('r'), ...f.get('ra'), ...op.i32Mul, ...op.i32Add, ...f.set('pa'),
        ...f.get('b'), ...f.get('r'), ...f.get('rb'), ...op.i32Mul, ...op.i32Add, ...f.set('pb'),
        ...f.get('out'), ...f.get('r'), ...f.get('n'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('po'),
        ...f.get('mode'), ...op.i32Eqz,
        ...op.if, ...row(true, true),
        ...op.else, ...f.get('mode'), ...op.i32(1), ...op.i32Sub, ...op.i32Eqz,
        ...op.if, ...row(true, false),
        ...op.else, ...row(false, true),
        ...op.end, ...op.end,
      ]);
    },
  });
}

export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');

/**
 * dropoutMask(out, n, st, cut, scale): n float32 values of an inverted-dropout mask at out —
 * scale where a uniform draw on [0, 1), rounded to float32, is ≥ cut (a float64 on [0, 1]),
 * else 0 — from the xoshiro128** state of four uint32s at st, advanced in place: each draw
 * is @ml/tensor's (27 high bits of one output, 26 of the next, a float64 over 2⁵³), redrawn
 * when it rounds up to 1 in float32, so the mask and the state after it equal the
 * JavaScript generator's bit for bit.
 */
export const dropoutMask = kernel({
  params: { out: i32, n: i32, st: i32, cut: f64, scale: f32 },
  locals: { i: i32, s0: i32, s1: i32, s2: i32, s3: i32, r: i32, t: i32, hi: i32, bits: i32, u: f32 },
  body: (f) => {
    type Word = 's0' | 's1' | 's2' | 's3' | 't';
    const state = ['s0', 's1', 's2', 's3'] as const;
    const xorInto = (a: Word, b: Word) => [...f.get(a), ...f.get(b), ...op.i32Xor, ...f.set(a)];
    // r = rotl(s1·5, 7)·9, then the state moves on one step
    const step = [
      ...f.get('s1'), ...op.i32(5), ...op.i32Mul, ...op.i32(7), ...op.i32Rotl, ...op.i32(9), ...op.i32Mul, ...f.set('r'),
      ...f.get('s1'), ...op.i32(9), ...op.i32Shl, ...f.set('t'),
      ...xorInto('s2', 's0'), ...xorInto('s3', 's1'), ...xorInto('s1', 's2'), ...xorInto('s0', 's3'), ...xorInto('s2', 't'),
      ...f.get('s3'), ...op.i32(11), ...op.i32Rotl, ...f.set('s3'),
    ];
    const draw = [
      ...op.block, ...op.loop,
      ...step, ...f.get('r'), ...op.i32(5), ...op.i32ShrU, ...f.set('hi'),
      ...step,
      // u = float32((hi·2²⁶ + (r >>> 6)) / 2⁵³); again while it rounds up to 1
      ...f.get('hi'), ...op.f64ConvertI32U, ...op.f64Const(2 ** 26), ...op.f64Mul, ...f.get('r'), ...op.i32(6), ...op.i32ShrU, ...op.f64ConvertI32U, ...op.f64Add,
      ...op.f64Const(2 ** -53), ...op.f64Mul, ...op.f32DemoteF64, ...f.set('u'),
      ...f.get('u'), ...op.f32Const1, ...op.f32Ge, ...op.brIf(0),
      ...op.end, ...op.end,
    ];
    return [
      ...f.get('scale'), ...op.i32ReinterpretF32, ...f.set('bits'),
      ...state.flatMap((s, k) => [...f.get('st'), ...op.i32Load(4 * k), ...f.set(s)]),
      ...f.forUp('i', f.get('n'), [
        ...draw,
        // scale's bits where u ≥ cut, else 0, without a branch (a float select would be one,
        // taken at random): the bits and −(u ≥ cut)
        ...f.get('out'), ...f.get('i'), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...f.get('bits'), ...op.i32(0), ...f.get('u'), ...op.f64PromoteF32, ...f.get('cut'), ...op.f64Ge, ...op.i32Sub, ...op.i32And, ...op.i32Store(0),
      ]),
      ...state.flatMap((s, k) => [...f.get('st'), ...f.get(s), ...op.i32Store(4 * k)]),
    ];
  },
});
