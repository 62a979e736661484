/** Convolution kernels: patch matrices (im2row) and their adjoint, padding and cropping, the direct 3×3 convolution and its weight gradient. */
import { array, f32, i32, op, v128, type Fn } from '../assembler.js';
import { kernel } from './kernel.js';
import { copyRows2d, lanesFrom, lastColumnClamp, multiplyAdd, planeRow } from './shared.js';

const PATCH_PARAMS = {
  x: i32, rows: i32, N: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  pt: i32, pl: i32, oh: i32, ow: i32, vec: i32, skip: i32, pad: f32,
};
const PATCH_LOCALS = {
  n: i32, y: i32, xx: i32, c: i32, i: i32, j: i32, iy: i32, ix: i32, img: i32, y0: i32, x0: i32, rowp: i32, at: i32,
  /** lanes j < kw all ones (row2im's vector adds) */
  mask: v128,
};
type PatchName = keyof typeof PATCH_PARAMS | keyof typeof PATCH_LOCALS;
/** by images; with vectors, each range's last image runs without them (their last store reaches into the next image) */
const PATCH_SPLIT = { units: 'N', pointers: ['x', 'rows'], last: { arg: 'vec', value: 0 } } as const;

/**
 * im2row(x, rows, N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, vec, skip, pad): the
 * patch matrix of a convolution, row (n, y, x) holding the C·kh·kw values under output
 * (y, x) of image n (`pad` outside the image), `skip` bytes between rows. Windows inside the image copy row by row; with `vec`
 * (dilation 1 along x and kw ≤ 4) each row of the window is one 16-byte load and store,
 * the extra lanes overwritten by the next store (both buffers need 16 bytes of slack).
 *
 * row2im(x, rows, …same…): the adjoint, each row's values added back into the image x
 * (which must start at zero; `pad` is ignored), in the order the JavaScript code adds
 * them, so float32 results agree bit for bit. With `vec` each row of a window inside the
 * image is one vector add, the lanes past kw masked to +0 (adding +0 changes no element:
 * one that starts at +0 never becomes −0); the image needs 16 bytes of slack.
 */
function patches(f: Fn<PatchName>, gather: boolean): number[] {
  const mulAdd = (a: number[], b: number[]) => [...a, ...b, ...op.i32Mul];
  const advance = [...f.get('rows'), ...op.i32(4), ...op.i32Add, ...f.set('rows')];
  // img + ((c·H + row)·W + col)·4
  const addr = (row: number[], col: number[]) => [
    ...f.get('img'), ...f.get('c'), ...f.get('H'), ...op.i32Mul, ...row, ...op.i32Add, ...f.get('W'), ...op.i32Mul, ...col, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
  ];
  /** move one value between the image address on the stack and the rows pointer */
  const move = (address: number[]) =>
    gather
      ? [...f.get('rows'), ...address, ...op.f32Load(0), ...op.f32Store(0)]
      : [...address, ...f.set('at'), ...f.get('at'), ...f.get('at'), ...op.f32Load(0), ...f.get('rows'), ...op.f32Load(0), ...op.f32Add, ...op.f32Store(0)];
  const inRange = (v: 'iy' | 'ix', limit: 'H' | 'W') => [...f.get(v), ...op.i32(0), ...op.i32GeS, ...f.get(v), ...f.get(limit), ...op.i32LtS, ...op.i32And];
  // the window's last row (column): start + (k − 1)·d
  const last = (start: 'y0' | 'x0', k: 'kh' | 'kw', d: 'dh' | 'dw') => [...f.get(start), ...f.get(k), ...op.i32(1), ...op.i32Sub, ...f.get(d), ...op.i32Mul, ...op.i32Add];
  const scalarRow = f.forUp('j', f.get('kw'), [...move([...f.get('rowp'), ...f.get('j'), ...f.get('dw'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add]), ...advance]);
  const interior = f.forUp('c', f.get('C'), f.forUp('i', f.get('kh'), [
    ...addr([...f.get('y0'), ...mulAdd(f.get('i'), f.get('dh')), ...op.i32Add], f.get('x0')), ...f.set('rowp'),
    ...(gather
      ? [
          ...f.get('vec'), ...op.if,
          ...f.get('rows'), ...f.get('rowp'), ...op.v128Load(0), ...op.v128Store(0),
          ...f.get('rows'), ...f.get('kw'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('rows'),
          ...op.else, ...scalarRow, ...op.end,
        ]
      : [
          ...f.get('vec'), ...op.if,
          ...f.get('rowp'), ...f.get('rowp'), ...op.v128Load(0), ...f.get('rows'), ...op.v128Load(0), ...f.get('mask'), ...op.v128And, ...op.f32x4Add, ...op.v128Store(0),
          ...f.get('rows'), ...f.get('kw'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('rows'),
          ...op.else, ...scalarRow, ...op.end,
        ]),
  ]));
  // near the border: only the positions inside the image (gather writes pad for the rest)
  const edge = f.forUp('c', f.get('C'), f.forUp('i', f.get('kh'), [
    ...f.get('y0'), ...mulAdd(f.get('i'), f.get('dh')), ...op.i32Add, ...f.set('iy'),
    ...f.forUp('j', f.get('kw'), [
      ...f.get('x0'), ...mulAdd(f.get('j'), f.get('dw')), ...op.i32Add, ...f.set('ix'),
      ...(gather
        ? [
            ...f.get('rows'),
            ...inRange('iy', 'H'), ...inRange('ix', 'W'), ...op.i32And,
            ...op.ifF32, ...addr(f.get('iy'), f.get('ix')), ...op.f32Load(0), ...op.else, ...f.get('pad'), ...op.end,
            ...op.f32Store(0),
          ]
        : [...inRange('iy', 'H'), ...inRange('ix', 'W'), ...op.i32And, ...op.if, ...move(addr(f.get('iy'), f.get('ix'))), ...op.end]),
      ...advance,
    ]),
  ]));
  const setMask = gather ? [] : [...op.v128ConstI32x4([0, 1, 2, 3]), ...f.get('kw'), ...op.i32x4Splat, ...op.i32x4LtS, ...f.set('mask')];
  return [
    ...setMask,
    ...f.forUp('n', f.get('N'), [
      ...f.get('x'), ...f.get('n'), ...f.get('C'), ...op.i32Mul, ...f.get('H'), ...op.i32Mul, ...f.get('W'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('img'),
      ...f.forUp('y', f.get('oh'), [
        ...f.get('y'), ...f.get('sh'), ...op.i32Mul, ...f.get('pt'), ...op.i32Sub, ...f.set('y0'),
        ...f.forUp('xx', f.get('ow'), [
          ...f.get('xx'), ...f.get('sw'), ...op.i32Mul, ...f.get('pl'), ...op.i32Sub, ...f.set('x0'),
          ...f.get('y0'), ...op.i32(0), ...op.i32GeS, ...last('y0', 'kh', 'dh'), ...f.get('H'), ...op.i32LtS, ...op.i32And,
          ...f.get('x0'), ...op.i32(0), ...op.i32GeS, ...op.i32And, ...last('x0', 'kw', 'dw'), ...f.get('W'), ...op.i32LtS, ...op.i32And,
          ...op.if, ...interior, ...op.else, ...edge, ...op.end,
          ...f.get('rows'), ...f.get('skip'), ...op.i32Add, ...f.set('rows'),
        ]),
      ]),
    ]),
  ];
}

export const im2row = kernel({ params: PATCH_PARAMS, locals: PATCH_LOCALS, split: PATCH_SPLIT, body: (f) => patches(f, true) });
export const row2im = kernel({ params: PATCH_PARAMS, locals: PATCH_LOCALS, split: PATCH_SPLIT, body: (f) => patches(f, false) });

const PLANE_LOCALS = { q: i32, r: i32, from: i32, to: i32, j: i32, w4: i32 };

/**
 * pad2d(src, dst, planes, H, W, Hp, Wp, pt, pl): each H×W plane of src into an Hp×Wp plane
 * of dst, at row pt and column pl, zeros around it (a Winograd convolution's padded input).
 */
export const pad2d = kernel({
  params: { src: i32, dst: i32, planes: i32, H: i32, W: i32, Hp: i32, Wp: i32, pt: i32, pl: i32 },
  locals: PLANE_LOCALS,
  split: { units: 'planes', pointers: ['src', 'dst'] },
  body: (f) => [
    ...f.get('W'), ...op.i32(-4), ...op.i32And, ...f.set('w4'),
    ...f.forUp('q', f.get('planes'), [
      ...f.get('dst'), ...f.get('q'), ...f.get('Hp'), ...op.i32Mul, ...f.get('Wp'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('to'),
      ...f.get('to'), ...op.i32(0), ...f.get('Hp'), ...f.get('Wp'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
      // to: row pt, column pl of the plane; from: the source plane
      ...f.get('to'), ...f.get('pt'), ...f.get('Wp'), ...op.i32Mul, ...f.get('pl'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('to'),
      ...f.get('src'), ...f.get('q'), ...f.get('H'), ...op.i32Mul, ...f.get('W'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...copyRows2d(f, 'to', 'from', 'r', 'j', 'H', 'W', 'w4', [...f.get('Wp'), ...op.i32(4), ...op.i32Mul], [...f.get('W'), ...op.i32(4), ...op.i32Mul]),
    ]),
  ],
});

/**
 * crop2d(src, dst, planes, Hp, Wp, H, W, pt, pl): the inverse of pad2d: the H×W block at
 * row pt, column pl of each Hp×Wp plane of src into an H×W plane of dst.
 */
export const crop2d = kernel({
  params: { src: i32, dst: i32, planes: i32, Hp: i32, Wp: i32, H: i32, W: i32, pt: i32, pl: i32 },
  locals: PLANE_LOCALS,
  body: (f) => [
    ...f.get('W'), ...op.i32(-4), ...op.i32And, ...f.set('w4'),
    ...f.forUp('q', f.get('planes'), [
      // from: src + ((q·Hp + pt)·Wp + pl)·4
      ...f.get('src'), ...f.get('q'), ...f.get('Hp'), ...op.i32Mul, ...f.get('pt'), ...op.i32Add, ...f.get('Wp'), ...op.i32Mul, ...f.get('pl'), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('from'),
      ...f.get('dst'), ...f.get('q'), ...f.get('H'), ...op.i32Mul, ...f.get('W'), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('to'),
      ...copyRows2d(f, 'to', 'from', 'r', 'j', 'H', 'W', 'w4', [...f.get('W'), ...op.i32(4), ...op.i32Mul], [...f.get('Wp'), ...op.i32(4), ...op.i32Mul]),
    ]),
  ],
});

/** The four floats at `at` + a·rowW + 4j bytes: row a of a window's rows, shifted by j columns. */
function shiftedRow(f: Fn<'xat' | 'rowW'>, a: number, j: number): number[] {
  const down = a === 0 ? [] : [...f.get('rowW'), ...(a === 1 ? [] : [...op.i32(a), ...op.i32Mul]), ...op.i32Add];
  return [...f.get('xat'), ...down, ...op.v128Load(4 * j)];
}

/**
 * For `rows` (1 or 2) neighbouring output rows of a 3×3 window: each of the rows + 2 input
 * rows at `xat` (rowW bytes apart) shifted by 0–2 columns, loaded once into `X`, then
 * `use(s, q)` for every output row s it feeds with window position q = 3i + j.
 */
function windowRows(f: Fn<'xat' | 'rowW' | 'X'>, rows: number, use: (s: number, q: number) => number[]): number[] {
  const out: number[] = [];
  for (let a = 0; a < rows + 2; a++) {
    for (let j = 0; j < 3; j++) {
      out.push(...shiftedRow(f, a, j), ...f.set('X'));
      for (let s = 0; s < rows; s++) if (a - s >= 0 && a - s <= 2) out.push(...use(s, 3 * (a - s) + j));
    }
  }
  return out;
}

/** `for (r = 0; r + 1 < oh; r += 2) pair; if (r < oh) single` (oh ≥ 1). */
function rowPairs(f: Fn<'r' | 'oh'>, pair: number[], single: number[]): number[] {
  return [
    ...f.forStep('r', op.i32(0), [...f.get('oh'), ...op.i32(1), ...op.i32Sub], 2, pair),
    ...f.get('r'), ...f.get('oh'), ...op.i32LtS, ...op.if, ...single, ...op.end,
  ];
}

/** oh, ow, rowW (bytes of a padded row) and owB (bytes of an output row) from Hp and Wp. */
function outputSize(f: Fn<'Hp' | 'Wp' | 'oh' | 'ow' | 'rowW' | 'owB'>): number[] {
  return [
    ...f.get('Hp'), ...op.i32(2), ...op.i32Sub, ...f.set('oh'),
    ...f.get('Wp'), ...op.i32(2), ...op.i32Sub, ...f.set('ow'),
    ...f.get('Wp'), ...op.i32(4), ...op.i32Mul, ...f.set('rowW'),
    ...f.get('ow'), ...op.i32(4), ...op.i32Mul, ...f.set('owB'),
  ];
}

/**
 * conv3x3(x, w, bias, y, N, C, Hp, Wp, O): a 3×3, stride-1 convolution computed directly,
 * for few input channels (where a patch matrix would be K = 9·C short and the product's
 * layout change cost more than the products): x [N, C, Hp, Wp] already padded, w [O, C,
 * 3, 3], y [N, O, Hp − 2, Wp − 2] (+ bias[o] when bias ≠ 0). For each image, output
 * channel and input channel the nine weights stay in registers while two output rows of
 * four at a time take their multiply-adds from four input rows, each shifted row loaded
 * once; channels after the first add to y. The last four of a row start at ow − 4 (ow ≥
 * 4): the first channel writes its overlap twice with the same values, the others add
 * only the lanes not done.
 */
export const conv3x3 = kernel({
  params: { x: i32, w: i32, bias: i32, y: i32, N: i32, C: i32, Hp: i32, Wp: i32, O: i32 },
  locals: {
    n: i32, o: i32, c: i32, r: i32, xv: i32, tx: i32, xrow: i32, yrow: i32, rowW: i32, oh: i32, ow: i32, wat: i32, xat: i32, yat: i32, owB: i32, sat: i32,
    /** the nine weights of w[o][c], each in all four lanes */
    k9: array(v128, 9),
    /** two output rows of four */
    acc: array(v128, 2),
    mask: v128, b: v128, X: v128,
  },
  split: { units: 'N', pointers: ['x', 'y'] },
  body: (f, { fma }) => {
    const store = (s: number) => [
      ...f.get('yat'), ...(s === 0 ? [] : [...f.get('owB'), ...op.i32Add]), ...f.set('sat'),
      ...f.get('c'), ...op.i32Eqz, ...op.if,
      ...f.get('sat'), ...f.get('acc', s), ...f.get('b'), ...op.f32x4Add, ...op.v128Store(0),
      ...op.else,
      ...f.get('xv'), ...f.get('tx'), ...op.i32GtU, ...op.if, ...f.get('acc', s), ...f.get('mask'), ...op.v128And, ...f.set('acc', s), ...op.end,
      ...f.get('sat'), ...f.get('sat'), ...op.v128Load(0), ...f.get('acc', s), ...op.f32x4Add, ...op.v128Store(0),
      ...op.end,
    ];
    const rows = (R: number) => [
      ...planeRow(f, 'x', 'n', 'C', 'c', 'Hp', f.get('r'), f.get('rowW')), ...f.set('xrow'),
      ...planeRow(f, 'y', 'n', 'O', 'o', 'oh', f.get('r'), f.get('owB')), ...f.set('yrow'),
      ...f.forStep('xv', op.i32(0), f.get('ow'), 4, [
        ...lastColumnClamp(f, 'tx', 'xv', 'ow'),
        ...f.get('xv'), ...f.get('tx'), ...op.i32GtU, ...op.if, ...lanesFrom(f, 'mask', 'xv', 'tx'), ...op.end,
        ...f.get('xrow'), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('xat'),
        ...f.get('yrow'), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('yat'),
        ...Array.from({ length: R }, (_, s) => [...op.v128Zero, ...f.set('acc', s)]).flat(),
        ...windowRows(f, R, (s, q) => multiplyAdd(fma, f.ref('acc', s), f.get('k9', q), f.get('X'))),
        ...Array.from({ length: R }, (_, s) => store(s)).flat(),
      ]),
    ];
    return [
      ...outputSize(f),
      ...f.forUp('n', f.get('N'), f.forUp('o', f.get('O'), [
        ...op.v128Zero, ...f.set('b'),
        ...f.get('bias'), ...op.if, ...f.get('bias'), ...f.get('o'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(0), ...f.set('b'), ...op.end,
        ...f.forUp('c', f.get('C'), [
          // the filter w[o][c]: w + (o·C + c)·36
          ...f.get('w'), ...f.get('o'), ...f.get('C'), ...op.i32Mul, ...f.get('c'), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...f.set('wat'),
          ...Array.from({ length: 9 }, (_, q) => [...f.get('wat'), ...op.v128Load32Splat(4 * q), ...f.set('k9', q)]).flat(),
          ...rowPairs(f, rows(2), rows(1)),
        ]),
      ])),
    ];
  },
});

/**
 * conv3x3Grad(x, dy, dw, N, C, Hp, Wp, Ostride, O): conv3x3's weight gradient for output
 * channels o < O (dy [N, Ostride, Hp − 2, Wp − 2] from the first of them, dw [O, C, 3, 3]):
 * dw[o][c][i][j] = Σ over images and outputs of dy · x shifted by (i, j), nine vector
 * sums per (o, c) over all images, two rows of dy at a time (each shifted input row loaded
 * once for both), each sum reduced across its lanes at the end. The last four of a row
 * start at ow − 4, the lanes done before masked off; the sums' order does not depend on
 * how output channels are split across threads.
 */
export const conv3x3Grad = kernel({
  params: { x: i32, dy: i32, dw: i32, N: i32, C: i32, Hp: i32, Wp: i32, Ostride: i32, O: i32 },
  locals: {
    n: i32, o: i32, c: i32, r: i32, xv: i32, tx: i32, xrow: i32, drow: i32, rowW: i32, oh: i32, ow: i32, out: i32, xat: i32, owB: i32,
    /** the nine sums of dw[o][c] */
    s9: array(v128, 9),
    /** two rows of dy */
    d: array(v128, 2),
    mask: v128, X: v128,
  },
  split: { units: 'O', pointers: ['dy', 'dw'] },
  body: (f, { fma }) => {
    const rows = (R: number) => [
      ...planeRow(f, 'x', 'n', 'C', 'c', 'Hp', f.get('r'), f.get('rowW')), ...f.set('xrow'),
      ...planeRow(f, 'dy', 'n', 'Ostride', 'o', 'oh', f.get('r'), f.get('owB')), ...f.set('drow'),
      ...f.forStep('xv', op.i32(0), f.get('ow'), 4, [
        ...lastColumnClamp(f, 'tx', 'xv', 'ow'),
        ...Array.from({ length: R }, (_, s) => [...f.get('drow'), ...(s === 0 ? [] : [...f.get('owB'), ...op.i32Add]), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0), ...f.set('d', s)]).flat(),
        ...f.get('xv'), ...f.get('tx'), ...op.i32GtU, ...op.if, ...lanesFrom(f, 'mask', 'xv', 'tx'), ...Array.from({ length: R }, (_, s) => [...f.get('d', s), ...f.get('mask'), ...op.v128And, ...f.set('d', s)]).flat(), ...op.end,
        ...f.get('xrow'), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('xat'),
        ...windowRows(f, R, (s, q) => multiplyAdd(fma, f.ref('s9', q), f.get('d', s), f.get('X'))),
      ]),
    ];
    const laneSum = (q: number) => [
      ...f.get('s9', q), ...op.f32x4ExtractLane(0), ...f.get('s9', q), ...op.f32x4ExtractLane(1), ...op.f32Add,
      ...f.get('s9', q), ...op.f32x4ExtractLane(2), ...f.get('s9', q), ...op.f32x4ExtractLane(3), ...op.f32Add, ...op.f32Add,
    ];
    const nine = Array.from({ length: 9 }, (_, q) => q);
    return [
      ...outputSize(f),
      ...f.forUp('o', f.get('O'), f.forUp('c', f.get('C'), [
        ...nine.flatMap((q) => [...op.v128Zero, ...f.set('s9', q)]),
        ...f.forUp('n', f.get('N'), rowPairs(f, rows(2), rows(1))),
        // dw + (o·C + c)·36
        ...f.get('dw'), ...f.get('o'), ...f.get('C'), ...op.i32Mul, ...f.get('c'), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...f.set('out'),
        ...nine.flatMap((q) => [...f.get('out'), ...laneSum(q), ...op.f32Store(4 * q)]),
      ])),
    ];
  },
});

/**
 * conv3x3Tiles(x, wp, offs, bias, y, N, C, Hp, Wp, O): the same convolution as conv3x3
 * (x [N, C, Hp, Wp] already padded, y [N, O, Hp − 2, Wp − 2]) computed as a product of
 * gemm's shape: for each tile of four output channels × two output rows × four columns,
 * eight f32x4 sums in registers run over the K = 9·C window positions (c, i, j), each
 * step loading the two shifted input rows (offs: K byte offsets c·Hp·Wp·4 + i·rowW + 4j
 * from the window's top-left) and four weights. wp holds the weights packed for it,
 * [⌈O/4⌉, K, 4] (zeros past O), and bias ⌈O/4⌉·4 floats (zeros without one): the sums
 * start from them. Every output is written once, in one piece, with the sum in the order
 * of k; the last four of a row start at ow − 4 (ow ≥ 4) and write again the same values
 * for the columns already done.
 */
export const conv3x3Tiles = kernel({
  params: { x: i32, wp: i32, offs: i32, bias: i32, y: i32, N: i32, C: i32, Hp: i32, Wp: i32, O: i32 },
  locals: {
    n: i32, g: i32, r: i32, xv: i32, tx: i32, k: i32, K: i32, xrow: i32, yrow: i32, rowW: i32, oh: i32, ow: i32, owB: i32, plane: i32,
    at: i32, wk: i32, ok: i32, wg: i32, bg: i32, yat: i32,
    /** four output channels × two rows of four */
    acc: array(v128, 8),
    b0: v128, b1: v128, w: v128,
  },
  split: { units: 'N', pointers: ['x', 'y'] },
  body: (f, { fma }) => {
    const lanes = [0, 1, 2, 3];
    const tile = (R: number) => [
      // xrow: the window's first input row, yrow: output row r of channel 4g
      ...f.get('x'), ...f.get('n'), ...f.get('plane'), ...op.i32Mul, ...f.get('r'), ...f.get('rowW'), ...op.i32Mul, ...op.i32Add, ...op.i32Add, ...f.set('xrow'),
      ...f.get('y'), ...f.get('n'), ...f.get('O'), ...op.i32Mul, ...f.get('g'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.get('oh'), ...op.i32Mul, ...f.get('r'), ...op.i32Add, ...f.get('owB'), ...op.i32Mul, ...op.i32Add, ...f.set('yrow'),
      ...f.forStep('xv', op.i32(0), f.get('ow'), 4, [
        ...lastColumnClamp(f, 'tx', 'xv', 'ow'),
        ...lanes.flatMap((l) => [...f.get('bg'), ...op.v128Load32Splat(4 * l), ...f.set('acc', 2 * l), ...(R === 2 ? [...f.get('acc', 2 * l), ...f.set('acc', 2 * l + 1)] : [])]),
        ...f.get('wg'), ...f.set('wk'),
        ...f.get('offs'), ...f.set('ok'),
        ...f.get('K'), ...f.set('k'),
        ...op.block, ...op.loop,
        ...f.get('k'), ...op.i32Eqz, ...op.brIf(1),
        ...f.get('xrow'), ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.get('ok'), ...op.i32Load(0), ...op.i32Add, ...f.set('at'),
        ...f.get('at'), ...op.v128Load(0), ...f.set('b0'),
        ...(R === 2 ? [...f.get('at'), ...f.get('rowW'), ...op.i32Add, ...op.v128Load(0), ...f.set('b1')] : []),
        ...lanes.flatMap((l) => [
          ...f.get('wk'), ...op.v128Load32Splat(4 * l), ...f.set('w'),
          ...multiplyAdd(fma, f.ref('acc', 2 * l), f.get('w'), f.get('b0')),
          ...(R === 2 ? multiplyAdd(fma, f.ref('acc', 2 * l + 1), f.get('w'), f.get('b1')) : []),
        ]),
        ...f.get('wk'), ...op.i32(16), ...op.i32Add, ...f.set('wk'),
        ...f.get('ok'), ...op.i32(4), ...op.i32Add, ...f.set('ok'),
        ...f.get('k'), ...op.i32(1), ...op.i32Sub, ...f.set('k'),
        ...op.br(0),
        ...op.end, ...op.end,
        // channel 4g + l's rows, where it exists
        ...lanes.flatMap((l) => [
          ...f.get('g'), ...op.i32(4), ...op.i32Mul, ...op.i32(l), ...op.i32Add, ...f.get('O'), ...op.i32LtS, ...op.if,
          ...f.get('yrow'), ...op.i32(l), ...f.get('oh'), ...op.i32Mul, ...f.get('owB'), ...op.i32Mul, ...op.i32Add, ...f.get('tx'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...f.set('yat'),
          ...f.get('yat'), ...f.get('acc', 2 * l), ...op.v128Store(0),
          ...(R === 2 ? [...f.get('yat'), ...f.get('owB'), ...op.i32Add, ...f.get('acc', 2 * l + 1), ...op.v128Store(0)] : []),
          ...op.end,
        ]),
      ]),
    ];
    return [
      ...outputSize(f),
      ...f.get('C'), ...op.i32(9), ...op.i32Mul, ...f.set('K'),
      ...f.get('C'), ...f.get('Hp'), ...op.i32Mul, ...f.get('rowW'), ...op.i32Mul, ...f.set('plane'),
      ...f.forUp('n', f.get('N'), f.forStep('g', op.i32(0), [...f.get('O'), ...op.i32(3), ...op.i32Add, ...op.i32(2), ...op.i32ShrU], 1, [
        // the group's packed weights wp + g·K·16 and bias + g·16
        ...f.get('wp'), ...f.get('g'), ...f.get('K'), ...op.i32Mul, ...op.i32(16), ...op.i32Mul, ...op.i32Add, ...f.set('wg'),
        ...f.get('bias'), ...f.get('g'), ...op.i32(16), ...op.i32Mul, ...op.i32Add, ...f.set('bg'),
        ...rowPairs(f, tile(2), tile(1)),
      ])),
    ];
  },
});
