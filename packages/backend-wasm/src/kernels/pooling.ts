/** Max pooling over windows that tile the image (stride = kernel), forward and gradient; 2×2 with SIMD. */
import { f32, i32, op, v128 } from '../assembler.js';
import { kernel } from './kernel.js';
import { lanes, lastColumnClamp, mulI32 } from './shared.js';

/**
 * maxpool(x, out, planes, H, W, kh, kw, oh, ow): max over non-overlapping kh×kw windows
 * (stride = kernel, no padding) of each H×W plane; NaN wins (f32.max).
 */
export const maxpool = kernel({
  params: { x: i32, out: i32, planes: i32, H: i32, W: i32, kh: i32, kw: i32, oh: i32, ow: i32 },
  locals: { pl: i32, oy: i32, ox: i32, i: i32, j: i32, base: i32, row: i32, m: f32 },
  split: { units: 'planes', pointers: ['x', 'out'] },
  body: (f) => {
    // byte address in the plane of window (oy, ox), row i: base + ((oy·kh + i)·W + ox·kw)·4
    const rowAt = [
      ...f.get('base'),
      ...f.get('oy'), ...f.get('kh'), ...op.i32Mul, ...f.get('i'), ...op.i32Add, ...f.get('W'), ...op.i32Mul,
      ...f.get('ox'), ...f.get('kw'), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
    ];
    return f.forUp('pl', f.get('planes'), [
      ...f.get('x'), ...f.get('pl'), ...f.get('H'), ...op.i32Mul, ...f.get('W'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('base'),
      ...f.forUp('oy', f.get('oh'), f.forUp('ox', f.get('ow'), [
        ...op.i32(0), ...f.set('i'), ...rowAt, ...op.f32Load(0), ...f.set('m'),
        ...f.forUp('i', f.get('kh'), [
          ...rowAt, ...f.set('row'),
          ...f.forUp('j', f.get('kw'), [
            ...f.get('m'), ...f.get('row'), ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.f32Max, ...f.set('m'),
          ]),
        ]),
        ...f.get('out'), ...f.get('m'), ...op.f32Store(0),
        ...f.get('out'), ...op.i32(4), ...op.i32Add, ...f.set('out'),
      ])),
    ]);
  },
});

/**
 * maxpoolBack(x, y, dy, out, planes, H, W, kh, kw, oh, ow): the gradient of maxpool, each
 * window's dy shared among the elements equal to its max: out = (mask·dy) / count, the
 * composite's arithmetic. `out` must be zero where no window reaches.
 */
export const maxpoolBack = kernel({
  params: { x: i32, y: i32, dy: i32, out: i32, planes: i32, H: i32, W: i32, kh: i32, kw: i32, oh: i32, ow: i32 },
  locals: { pl: i32, oy: i32, ox: i32, i: i32, j: i32, rel: i32, row: i32, cnt: i32, off: i32, m: f32, dv: f32, cntf: f32 },
  split: { units: 'planes', pointers: ['x', 'y', 'dy', 'out'] },
  body: (f) => {
    // byte offset in the plane of window (oy, ox), row i
    const relAt = [
      ...f.get('rel'),
      ...f.get('oy'), ...f.get('kh'), ...op.i32Mul, ...f.get('i'), ...op.i32Add, ...f.get('W'), ...op.i32Mul,
      ...f.get('ox'), ...f.get('kw'), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
    ];
    const elem = (base: 'x' | 'out') => [...f.get(base), ...f.get('row'), ...op.i32Add, ...f.get('j'), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
    const isMax = [...elem('x'), ...op.f32Load(0), ...f.get('m'), ...op.f32Eq];
    return f.forUp('pl', f.get('planes'), [
      ...f.get('pl'), ...f.get('H'), ...op.i32Mul, ...f.get('W'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('rel'),
      ...f.forUp('oy', f.get('oh'), f.forUp('ox', f.get('ow'), [
        ...f.get('y'), ...f.get('off'), ...op.i32Add, ...op.f32Load(0), ...f.set('m'),
        ...f.get('dy'), ...f.get('off'), ...op.i32Add, ...op.f32Load(0), ...f.set('dv'),
        ...op.i32(0), ...f.set('cnt'),
        ...f.forUp('i', f.get('kh'), [...relAt, ...f.set('row'), ...f.forUp('j', f.get('kw'), [...f.get('cnt'), ...isMax, ...op.i32Add, ...f.set('cnt')])]),
        ...f.get('cnt'), ...op.f32ConvertI32S, ...f.set('cntf'),
        ...f.forUp('i', f.get('kh'), [
          ...relAt, ...f.set('row'),
          ...f.forUp('j', f.get('kw'), [...elem('out'), ...isMax, ...op.f32ConvertI32S, ...f.get('dv'), ...op.f32Mul, ...f.get('cntf'), ...op.f32Div, ...op.f32Store(0)]),
        ]),
        ...f.get('off'), ...op.i32(4), ...op.i32Add, ...f.set('off'),
      ])),
    ]);
  },
});

/**
 * maxpool2x2(x, out, planes, H, W, oh, ow): the 2×2, stride-2 case with SIMD: four outputs
 * at a time are the max of two rows of eight floats (f32x4.max, NaN-propagating), then of
 * their even and odd lanes, one vector store. With ow ≥ 4 the last four of a row start at
 * ow − 4 (the overlap is written twice with the same values); narrower rows go one output
 * at a time.
 */
export const maxpool2x2 = kernel({
  params: { x: i32, out: i32, planes: i32, H: i32, W: i32, oh: i32, ow: i32 },
  locals: { pl: i32, oy: i32, ox: i32, r0: i32, r1: i32, rowBytes: i32, o0: i32, tx: i32, m: v128, m2: v128 },
  split: { units: 'planes', pointers: ['x', 'out'] },
  body: (f) => {
    const at = (row: 'r0' | 'r1', extra: number) => [...f.get(row), ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.f32Load(extra)];
    // outputs tx … tx + 3: x columns 2tx … 2tx + 7 of both rows
    const window4 = [
      ...f.get('o0'), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
      ...f.get('r0'), ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0),
      ...f.get('r1'), ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0),
      ...op.f32x4Max, ...f.set('m'),
      ...f.get('r0'), ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(16),
      ...f.get('r1'), ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(16),
      ...op.f32x4Max, ...f.set('m2'),
      ...f.get('m'), ...f.get('m2'), ...lanes([0, 2, 4, 6]), ...f.get('m'), ...f.get('m2'), ...lanes([1, 3, 5, 7]), ...op.f32x4Max,
      ...op.v128Store(0),
    ];
    return [
      ...f.get('W'), ...op.i32(4), ...op.i32Mul, ...f.set('rowBytes'),
      ...f.forUp('pl', f.get('planes'), f.forUp('oy', f.get('oh'), [
        // r0 = x + (pl·H + 2·oy)·W·4, r1 the next row; o0 = out + (pl·oh + oy)·ow·4
        ...f.get('x'), ...f.get('pl'), ...f.get('H'), ...op.i32Mul, ...f.get('oy'), ...op.i32(2), ...op.i32Mul, ...op.i32Add, ...f.get('rowBytes'), ...op.i32Mul, ...op.i32Add, ...f.set('r0'),
        ...f.get('r0'), ...f.get('rowBytes'), ...op.i32Add, ...f.set('r1'),
        ...f.get('out'), ...f.get('pl'), ...f.get('oh'), ...op.i32Mul, ...f.get('oy'), ...op.i32Add, ...f.get('ow'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('o0'),
        ...f.get('ow'), ...op.i32(4), ...op.i32GeU, ...op.if,
        ...f.forStep('ox', op.i32(0), f.get('ow'), 4, [...lastColumnClamp(f, 'tx', 'ox', 'ow'), ...window4]),
        ...op.else,
        ...f.forUp('tx', f.get('ow'), [
          ...f.get('o0'), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
          ...at('r0', 0), ...at('r0', 4), ...op.f32Max, ...at('r1', 0), ...at('r1', 4), ...op.f32Max, ...op.f32Max,
          ...op.f32Store(0),
        ]),
        ...op.end,
      ])),
    ];
  },
});

/**
 * maxpoolBack2x2(x, y, dy, out, planes, H, W, oh, ow): maxpoolBack for 2×2 windows of
 * stride 2 with SIMD, four windows (a 2×8 block) at a time: equality masks against the
 * duplicated maxima, counts summed across the mask pairs, mask · (dy / count) per lane (one
 * division for both rows). With ow ≥ 4 the last four of a row start at ow − 4 (the overlap
 * is written twice with the same values); narrower rows go one window at a time. An odd
 * last row or column (no window covers it) is written with zeros.
 */
export const maxpoolBack2x2 = kernel({
  params: { x: i32, y: i32, dy: i32, out: i32, planes: i32, H: i32, W: i32, oh: i32, ow: i32 },
  locals: {
    pl: i32, oy: i32, ox: i32, r0: i32, r1: i32, yo: i32, rowBytes: i32, tx: i32,
    Y4: v128, D4: v128, Q: v128, C: v128, M0: v128, M1: v128, Yd: v128,
    m: f32, d: f32, cnt: f32,
  },
  split: { units: 'planes', pointers: ['x', 'y', 'dy', 'out'] },
  body: (f) => {
    const dupLow = [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7];
    const dupHigh = [8, 9, 10, 11, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15];
    const swapPairs = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];
    type Row = 'r0' | 'r1';
    const col = (base: 'x' | 'out', row: Row) => [...f.get(base), ...f.get(row), ...op.i32Add, ...f.get('tx'), ...op.i32(8), ...op.i32Mul, ...op.i32Add];
    const yAt = (base: 'y' | 'dy') => [...f.get(base), ...f.get('yo'), ...op.i32Add, ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
    const eqM = (row: Row, extra: number) => [...col('x', row), ...op.f32Load(extra), ...f.get('m'), ...op.f32Eq];
    const tail = (row: Row, extra: number) => [...col('out', row), ...eqM(row, extra), ...op.f32ConvertI32S, ...f.get('d'), ...op.f32Mul, ...f.get('cnt'), ...op.f32Div, ...op.f32Store(extra)];
    /** windows tx + 2h, tx + 2h + 1 (h = 0, 1): masks of both rows, the share dy / count, the two stores */
    const half = (h: number, dup: number[]) => [
      ...f.get('Y4'), ...f.get('Y4'), ...op.i8x16Shuffle(dup), ...f.set('Yd'),
      ...col('x', 'r0'), ...op.v128Load(16 * h), ...f.get('Yd'), ...op.f32x4Eq, ...f.set('M0'),
      ...col('x', 'r1'), ...op.v128Load(16 * h), ...f.get('Yd'), ...op.f32x4Eq, ...f.set('M1'),
      // masks are −1 per match: sum the two rows, then each lane with its pair, negate
      ...f.get('M0'), ...f.get('M1'), ...op.i32x4Add, ...f.set('C'),
      ...f.get('C'), ...f.get('C'), ...f.get('C'), ...op.i8x16Shuffle(swapPairs), ...op.i32x4Add, ...op.f32x4ConvertI32x4S, ...op.f32x4Neg, ...f.set('C'),
      ...f.get('D4'), ...f.get('D4'), ...op.i8x16Shuffle(dup), ...f.get('C'), ...op.f32x4Div, ...f.set('Q'),
      ...col('out', 'r0'), ...f.get('M0'), ...op.f32Const1, ...op.f32x4Splat, ...op.v128And, ...f.get('Q'), ...op.f32x4Mul, ...op.v128Store(16 * h),
      ...col('out', 'r1'), ...f.get('M1'), ...op.f32Const1, ...op.f32x4Splat, ...op.v128And, ...f.get('Q'), ...op.f32x4Mul, ...op.v128Store(16 * h),
    ];
    return [
      ...f.get('W'), ...op.i32(4), ...op.i32Mul, ...f.set('rowBytes'),
      ...f.forUp('pl', f.get('planes'), [
        // the parts no window covers get no gradient: an odd last row, an odd last column
        ...f.get('H'), ...f.get('oh'), ...op.i32(2), ...op.i32Mul, ...op.i32GtU, ...op.if,
        ...f.get('out'), ...f.get('pl'), ...f.get('H'), ...op.i32Mul, ...f.get('H'), ...op.i32Add, ...op.i32(1), ...op.i32Sub, ...f.get('rowBytes'), ...op.i32Mul, ...op.i32Add,
        ...op.i32(0), ...f.get('rowBytes'), ...op.memoryFill,
        ...op.end,
        ...f.get('W'), ...f.get('ow'), ...op.i32(2), ...op.i32Mul, ...op.i32GtU, ...op.if,
        ...f.forUp('oy', mulI32(f.get('oh'), op.i32(2)), [
          ...f.get('out'), ...f.get('pl'), ...f.get('H'), ...op.i32Mul, ...f.get('oy'), ...op.i32Add, ...f.get('rowBytes'), ...op.i32Mul, ...op.i32Add,
          ...f.get('W'), ...op.i32(1), ...op.i32Sub, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Const0, ...op.f32Store(0),
        ]),
        ...op.end,
        ...f.forUp('oy', f.get('oh'), [
          // byte offsets: r0 = (pl·H + 2·oy)·W·4 in x and out, yo = (pl·oh + oy)·ow·4 in y and dy
          ...f.get('pl'), ...f.get('H'), ...op.i32Mul, ...f.get('oy'), ...op.i32(2), ...op.i32Mul, ...op.i32Add, ...f.get('rowBytes'), ...op.i32Mul, ...f.set('r0'),
          ...f.get('r0'), ...f.get('rowBytes'), ...op.i32Add, ...f.set('r1'),
          ...f.get('pl'), ...f.get('oh'), ...op.i32Mul, ...f.get('oy'), ...op.i32Add, ...f.get('ow'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...f.set('yo'),
          ...f.get('ow'), ...op.i32(4), ...op.i32GeU, ...op.if,
          ...f.forStep('ox', op.i32(0), f.get('ow'), 4, [
            ...lastColumnClamp(f, 'tx', 'ox', 'ow'),
            ...yAt('y'), ...op.v128Load(0), ...f.set('Y4'),
            ...yAt('dy'), ...op.v128Load(0), ...f.set('D4'),
            ...half(0, dupLow), ...half(1, dupHigh),
          ]),
          ...op.else,
          // one window at a time
          ...f.forUp('tx', f.get('ow'), [
            ...yAt('y'), ...op.f32Load(0), ...f.set('m'),
            ...yAt('dy'), ...op.f32Load(0), ...f.set('d'),
            ...eqM('r0', 0), ...eqM('r0', 4), ...op.i32Add, ...eqM('r1', 0), ...op.i32Add, ...eqM('r1', 4), ...op.i32Add, ...op.f32ConvertI32S, ...f.set('cnt'),
            ...tail('r0', 0), ...tail('r0', 4), ...tail('r1', 0), ...tail('r1', 4),
          ]),
          ...op.end,
        ]),
      ]),
    ];
  },
});
