/**
 * The Winograd drivers: whole convolutions (forward, input gradient, weight gradient) a few
 * images at a time, calling the transforms (winograd.ts) and the products (gemm.ts) inside
 * the module so that each chunk's tiles and products stay in a core's cache.
 */
import { i32, op, type Fn } from '../assembler.js';
import { kernel, type BuildContext } from './kernel.js';
import { bytesOf, mulI32, roundUp4, roundUp8 } from './shared.js';

type GroupName = 'ch' | 'chunks' | 'counts' | 'k' | 'g0' | 'gn' | 'group' | 'T' | 'Tn' | 'Np';

/**
 * The drivers' loop over images: for each of the `chunks` chunks (image counts as int32s
 * at `counts`), its images in groups of up to `group`: gn = images side by side, T = gn·Tn
 * tiles, Np = T rounded up to 8 columns of products, then `body`.
 */
function overImageGroups(f: Fn<GroupName>, body: number[]): number[] {
  return f.forUp('ch', f.get('chunks'), [
    ...f.get('counts'), ...f.get('ch'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...f.set('k'),
    ...f.forStep('g0', op.i32(0), f.get('k'), 1, [
      // gn = min(group, k − g0)
      ...f.get('group'), ...f.get('k'), ...f.get('g0'), ...op.i32Sub, ...f.get('group'), ...f.get('k'), ...f.get('g0'), ...op.i32Sub, ...op.i32LeS, ...op.select, ...f.set('gn'),
      ...mulI32(f.get('gn'), f.get('Tn')), ...f.set('T'),
      ...roundUp8(f.get('T')), ...f.set('Np'),
      ...body,
      ...f.get('g0'), ...f.get('group'), ...op.i32Add, ...op.i32(1), ...op.i32Sub, ...f.set('g0'),
    ]),
  ]);
}

/**
 * The `count` products of a Winograd driver (16 for F(2×2, 3×3), 36 for F(4×4, 3×3)), M_ξ
 * [rows, Np] = A_ξ [rows, K] · B_ξ [K, T] (the matrices one after another from A, B and M,
 * or B's and M's `strides` bytes apart), B_ξ read row-major as it lies (gemmRows), its rows
 * `ldb` floats apart (T or Np).
 */
function winogradProducts<S extends string>(f: Fn<S | 'xi' | 'T' | 'M' | 'Np'>, { call }: BuildContext, A: S, rows: S, K: S, B: S, count = 16, ldb: 'T' | 'Np' = 'T', strides?: { b: S; m: S }): number[] {
  return f.forUp('xi', op.i32(count), [
    ...f.get(A), ...f.get('xi'), ...bytesOf(f.get(rows), f.get(K)), ...op.i32Mul, ...op.i32Add,
    ...f.get(B), ...f.get('xi'), ...(strides ? f.get(strides.b) : bytesOf(f.get(K), f.get(ldb))), ...op.i32Mul, ...op.i32Add,
    ...f.get('M'), ...f.get('xi'), ...(strides ? f.get(strides.m) : bytesOf(f.get(rows), f.get('Np'))), ...op.i32Mul, ...op.i32Add,
    ...f.get(rows), ...f.get(K), ...f.get('Np'), ...op.i32(0), ...f.get('Np'), ...op.i32(3), ...op.i32ShrU, ...bytesOf(f.get(ldb)), ...call('gemmRows'),
  ]);
}

/** The forward drivers' parameters (winogradConv, winograd4Conv). */
const FORWARD_PARAMS = { P: i32, U: i32, y: i32, bias: i32, S: i32, counts: i32, chunks: i32, C: i32, O: i32, th: i32, tw: i32, Hp: i32, Wp: i32, oh: i32, ow: i32, Mp: i32, group: i32 };

/** The image-group loop's locals. */
const GROUP_LOCALS = { k: i32, g0: i32, gn: i32, T: i32 };

/**
 * winogradConv(P, U, y, bias, S, counts, chunks, C, O, th, tw, Hp, Wp, oh, ow, Mp, group): a
 * whole Winograd convolution, a few images at a time so that their transformed tiles and
 * products stay in the cache: for each of `chunks` chunks, counts[chunk] images (int32s
 * at `counts`) in groups of up to `group`: winogradIn of each image of the group side by
 * side into V (T = images·th·tw columns), the 16 products U_ξ·V_ξ into M (gemmRows: V_ξ
 * stays in the cache, so it is read as it lies, not packed), then winogradOut of each
 * image; P (padded images) and y move on by an image each time. S is this call's
 * scratch: V (16·C·group·th·tw floats), 8 floats, M (16·Mp·Np, Np = group·th·tw rounded
 * up to 8).
 */
export const winogradConv = kernel({
  params: FORWARD_PARAMS,
  locals: { ch: i32, i: i32, xi: i32, Tn: i32, Np: i32, V: i32, M: i32, imgP: i32, imgY: i32, ...GROUP_LOCALS },
  split: { units: 'chunks', pointers: ['P', 'y', 'S', 'counts'] },
  body: (f, ctx) => [
    ...mulI32(f.get('th'), f.get('tw')), ...f.set('Tn'),
    ...f.get('S'), ...f.set('V'),
    // M after V and 8 floats that the products' last panel may read past V's end
    ...f.get('V'), ...bytesOf(op.i32(16), f.get('C'), f.get('Tn'), f.get('group')), ...op.i32Add, ...op.i32(32), ...op.i32Add, ...f.set('M'),
    ...bytesOf(f.get('C'), f.get('Hp'), f.get('Wp')), ...f.set('imgP'),
    ...bytesOf(f.get('O'), f.get('oh'), f.get('ow')), ...f.set('imgY'),
    ...overImageGroups(f, [
      ...f.forUp('i', f.get('gn'), [
        ...f.get('P'), ...f.get('V'), ...f.get('i'), ...bytesOf(f.get('Tn')), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...f.get('C'), ...f.get('th'), ...f.get('tw'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('T'), ...ctx.call('winogradIn'),
        ...f.get('P'), ...f.get('imgP'), ...op.i32Add, ...f.set('P'),
      ]),
      ...winogradProducts(f, ctx, 'U', 'Mp', 'C', 'V'),
      ...f.forUp('i', f.get('gn'), [
        ...f.get('M'), ...f.get('i'), ...bytesOf(f.get('Tn')), ...op.i32Mul, ...op.i32Add,
        ...f.get('y'), ...f.get('bias'), ...op.i32(1), ...f.get('O'), ...f.get('th'), ...f.get('tw'), ...f.get('oh'), ...f.get('ow'), ...f.get('Np'), ...bytesOf(f.get('Mp'), f.get('Np')), ...ctx.call('winogradOut'),
        ...f.get('y'), ...f.get('imgY'), ...op.i32Add, ...f.set('y'),
      ]),
    ]),
  ],
});

type UnitName = 'u' | 'units' | 'counts' | 'left' | 'first' | 'per' | 'k' | 'xi' | 'V' | 'Z' | 'pack' | 'dU' | 'C' | 'Cp' | 'Mp';

/**
 * The weight-gradient drivers' loop: for each of the `units` units (image counts as int32s
 * at `counts`), its images `per` at a time — k of them: `chunk` (their transforms into V
 * and Z, the K columns of the products) — then for each ξ < count the product Z_ξ [Mp, K]
 * · V_ξᵀ [K, C] (packBT, gemm for the unit's first images, gemmAcc adding the rest) into
 * the unit's `count` matrices of Mp × Cp at dU, which moves on by a unit's. V's and Z's
 * matrices lie one after another, or `strides` bytes apart.
 */
function overUnits<K extends string>(f: Fn<UnitName | K>, call: BuildContext['call'], count: number, K: K, chunk: number[], strides?: { v: K; z: K }): number[] {
  const products = (product: 'gemm' | 'gemmAcc') =>
    f.forUp('xi', op.i32(count), [
      ...f.get('V'), ...f.get('xi'), ...(strides ? f.get(strides.v) : bytesOf(f.get('C'), f.get(K))), ...op.i32Mul, ...op.i32Add,
      ...f.get('pack'), ...f.get(K), ...f.get('C'), ...op.i32(0), ...f.get('Cp'), ...op.i32(3), ...op.i32ShrU, ...call('packBT'),
      ...f.get('Z'), ...f.get('xi'), ...(strides ? f.get(strides.z) : bytesOf(f.get('Mp'), f.get(K))), ...op.i32Mul, ...op.i32Add,
      ...f.get('pack'),
      ...f.get('dU'), ...f.get('xi'), ...bytesOf(f.get('Mp'), f.get('Cp')), ...op.i32Mul, ...op.i32Add,
      ...f.get('Mp'), ...f.get(K), ...f.get('Cp'), ...op.i32(0), ...f.get('Cp'), ...op.i32(3), ...op.i32ShrU, ...call(product),
    ]);
  return f.forUp('u', f.get('units'), [
    ...f.get('counts'), ...f.get('u'), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...f.set('left'),
    ...op.i32(1), ...f.set('first'),
    ...op.block, ...op.loop,
    ...f.get('left'), ...op.i32Eqz, ...op.brIf(1),
    // k = min(per, left) images
    ...f.get('per'), ...f.get('left'), ...f.get('per'), ...f.get('left'), ...op.i32LeS, ...op.select, ...f.set('k'),
    ...chunk,
    ...f.get('first'), ...op.if, ...products('gemm'), ...op.else, ...products('gemmAcc'), ...op.end,
    ...op.i32(0), ...f.set('first'),
    ...f.get('left'), ...f.get('k'), ...op.i32Sub, ...f.set('left'),
    ...op.br(0),
    ...op.end, ...op.end,
    ...f.get('dU'), ...bytesOf(op.i32(count), f.get('Mp'), f.get('Cp')), ...op.i32Add, ...f.set('dU'),
  ]);
}

/**
 * winogradGradConv(P, D, dU, S, counts, units, C, O, th, tw, Hp, Wp, Mp, Cp, per): the
 * products of a Winograd convolution's weight gradient, unit by unit: unit u has counts[u]
 * images, taken `per` at a time (as many as the cache holds): their input tiles
 * (winogradIn of the padded input P) and output-gradient tiles (winogradGrad of the padded
 * dy D) side by side, T = images·th·tw columns, then for each ξ the product Z_ξ [Mp, T] ·
 * V_ξᵀ [T, C] (packBT, gemm for the unit's first images, gemmAcc adding the rest) into the
 * unit's 16 matrices of Mp × Cp at dU (which moves on by 16·Mp·Cp floats a unit). S: the
 * call's scratch, for per·th·tw tiles: V (16·C·…), Z (16·Mp·…), the packed block (Cp·…).
 */
export const winogradGradConv = kernel({
  params: { P: i32, D: i32, dU: i32, S: i32, counts: i32, units: i32, C: i32, O: i32, th: i32, tw: i32, Hp: i32, Wp: i32, Mp: i32, Cp: i32, per: i32 },
  locals: { u: i32, i: i32, xi: i32, Tn: i32, T: i32, V: i32, Z: i32, pack: i32, imgP: i32, imgD: i32, left: i32, tmax: i32, k: i32, first: i32 },
  split: { units: 'units', pointers: ['P', 'D', 'dU', 'S', 'counts'] },
  body: (f, { call }) => [
    ...mulI32(f.get('th'), f.get('tw')), ...f.set('Tn'),
    ...mulI32(f.get('per'), f.get('Tn')), ...f.set('tmax'),
    ...f.get('S'), ...f.set('V'),
    ...f.get('V'), ...bytesOf(op.i32(16), f.get('C'), f.get('tmax')), ...op.i32Add, ...f.set('Z'),
    ...f.get('Z'), ...bytesOf(op.i32(16), f.get('Mp'), f.get('tmax')), ...op.i32Add, ...f.set('pack'),
    ...bytesOf(f.get('C'), f.get('Hp'), f.get('Wp')), ...f.set('imgP'),
    ...bytesOf(f.get('O'), f.get('th'), f.get('tw'), op.i32(4)), ...f.set('imgD'),
    ...overUnits(f, call, 16, 'T', [
      ...mulI32(f.get('k'), f.get('Tn')), ...f.set('T'),
      ...f.forUp('i', f.get('k'), [
        ...f.get('P'), ...f.get('V'), ...f.get('i'), ...bytesOf(f.get('Tn')), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...f.get('C'), ...f.get('th'), ...f.get('tw'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('T'), ...call('winogradIn'),
        ...f.get('D'), ...f.get('Z'), ...f.get('i'), ...bytesOf(f.get('Tn')), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...f.get('O'), ...f.get('th'), ...f.get('tw'), ...f.get('Mp'), ...f.get('T'), ...call('winogradGrad'),
        ...f.get('P'), ...f.get('imgP'), ...op.i32Add, ...f.set('P'),
        ...f.get('D'), ...f.get('imgD'), ...op.i32Add, ...f.set('D'),
      ]),
    ]),
  ],
});

/**
 * winogradInputGradConv(D, U, dx, S, counts, chunks, C, O, th, tw, Hp, Wp, H, W, oh, ow, pt,
 * pl, Cp, group): the input gradient of winogradConv's convolution in the adjoint form of
 * Winograd's method, a few images at a time: each image's dy [O, oh, ow] padded to whole
 * tiles (pad2d) and transformed, A·dY·Aᵀ (winogradGrad), into Z (T = images·th·tw columns),
 * the 16 products U_ξᵀ [Cp, O] (winogradWeights swapped, at U) · Z_ξ (gemmRows, Z_ξ read
 * as it lies) into M, then per image B·M·Bᵀ added up into a zeroed padded plane block
 * (winogradInT) and its H×W part at row pt, column pl copied out to dx (crop2d). S is this
 * call's scratch: the padded dy (4·O·th·tw floats), Z (16·O·group·th·tw), 8 floats, M
 * (16·Cp·Np, Np = group·th·tw rounded up to 8), the padded planes (C·Hp·Wp).
 */
export const winogradInputGradConv = kernel({
  params: { D: i32, U: i32, dx: i32, S: i32, counts: i32, chunks: i32, C: i32, O: i32, th: i32, tw: i32, Hp: i32, Wp: i32, H: i32, W: i32, oh: i32, ow: i32, pt: i32, pl: i32, Cp: i32, group: i32 },
  locals: { ch: i32, i: i32, xi: i32, Tn: i32, Np: i32, Dp: i32, Z: i32, M: i32, Qp: i32, imgD: i32, imgX: i32, ...GROUP_LOCALS },
  split: { units: 'chunks', pointers: ['D', 'dx', 'S', 'counts'] },
  body: (f, ctx) => {
    const th2 = mulI32(f.get('th'), op.i32(2));
    const tw2 = mulI32(f.get('tw'), op.i32(2));
    return [
      ...mulI32(f.get('th'), f.get('tw')), ...f.set('Tn'),
      ...f.get('S'), ...f.set('Dp'),
      ...f.get('Dp'), ...bytesOf(op.i32(4), f.get('O'), f.get('Tn')), ...op.i32Add, ...f.set('Z'),
      // M after Z and 8 floats that the products' last panel may read past Z's end
      ...f.get('Z'), ...bytesOf(op.i32(16), f.get('O'), f.get('Tn'), f.get('group')), ...op.i32Add, ...op.i32(32), ...op.i32Add, ...f.set('M'),
      ...f.get('M'), ...bytesOf(op.i32(16), f.get('Cp'), roundUp8(mulI32(f.get('Tn'), f.get('group')))), ...op.i32Add, ...f.set('Qp'),
      ...bytesOf(f.get('O'), f.get('oh'), f.get('ow')), ...f.set('imgD'),
      ...bytesOf(f.get('C'), f.get('H'), f.get('W')), ...f.set('imgX'),
      ...overImageGroups(f, [
        ...f.forUp('i', f.get('gn'), [
          ...f.get('D'), ...f.get('Dp'), ...f.get('O'), ...f.get('oh'), ...f.get('ow'), ...th2, ...tw2, ...op.i32(0), ...op.i32(0), ...ctx.call('pad2d'),
          ...f.get('Dp'), ...f.get('Z'), ...f.get('i'), ...bytesOf(f.get('Tn')), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...f.get('O'), ...f.get('th'), ...f.get('tw'), ...f.get('O'), ...f.get('T'), ...ctx.call('winogradGrad'),
          ...f.get('D'), ...f.get('imgD'), ...op.i32Add, ...f.set('D'),
        ]),
        ...winogradProducts(f, ctx, 'U', 'Cp', 'O', 'Z'),
        ...f.forUp('i', f.get('gn'), [
          ...f.get('Qp'), ...op.i32(0), ...bytesOf(f.get('C'), f.get('Hp'), f.get('Wp')), ...op.memoryFill,
          ...f.get('M'), ...f.get('i'), ...bytesOf(f.get('Tn')), ...op.i32Mul, ...op.i32Add,
          ...f.get('Qp'), ...op.i32(1), ...f.get('C'), ...f.get('th'), ...f.get('tw'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('Np'), ...bytesOf(f.get('Cp'), f.get('Np')), ...ctx.call('winogradInT'),
          ...f.get('Qp'), ...f.get('dx'), ...f.get('C'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('H'), ...f.get('W'), ...f.get('pt'), ...f.get('pl'), ...ctx.call('crop2d'),
          ...f.get('dx'), ...f.get('imgX'), ...op.i32Add, ...f.set('dx'),
        ]),
      ]),
    ];
  },
});

/** Floats of a group of `images`' product columns at most: images·Tn rounded up to 8. */
const widest = (f: Fn<'group' | 'Tn'>): number[] => roundUp8(mulI32(f.get('group'), f.get('Tn')));

/**
 * The stride of a set of 36 matrices of `bytes` each: whole cache lines, an odd count of
 * them. A transform reads or writes a tile group's 36 slots (one per matrix) at once, and
 * with a stride of a multiple of 2 KiB they fall in one or two of the cache's sets, which
 * hold 8 lines each: winograd4Out took 2.3× as long. At most 127 bytes over `bytes`.
 */
const spread = (bytes: number[]): number[] => [...bytes, ...op.i32(63), ...op.i32Add, ...op.i32(6), ...op.i32ShrU, ...op.i32(1), ...op.i32Or, ...op.i32(6), ...op.i32Shl];

/** start + 36·spread(rows·cols·4): the end of a set of 36 matrices of rows × cols floats at `start`. */
const setEnd = <S extends string>(f: Fn<S>, start: S, rows: S, cols: number[]): number[] => [...f.get(start), ...mulI32(op.i32(36), spread(bytesOf(f.get(rows), cols))), ...op.i32Add];

/**
 * winograd4Conv(P, U, y, bias, S, counts, chunks, C, O, th, tw, Hp, Wp, oh, ow, Mp, group):
 * winogradConv by F(4×4, 3×3), on the input P padded as the convolution says (Hp = oh + 2,
 * Wp = ow + 2; the last tiles move back to end at the output's edge): for each group of up
 * to `group` images of a chunk, their tiles transformed in one call (winograd4In) into V
 * (36 matrices of C rows of Np floats, Np = the group's T = images·th·tw tiles rounded up
 * to 8), the 36 products U_ξ·V_ξ into M (gemmRows), the outputs written to y in one call
 * (winograd4Out). S is this call's scratch: V (36 matrices of C·Nmax floats, Nmax =
 * group·th·tw rounded up to 8, `spread` apart), M (36 of Mp·Nmax), the transforms' work
 * block (148 + 3·Nmax).
 */
export const winograd4Conv = kernel({
  params: FORWARD_PARAMS,
  locals: { ch: i32, xi: i32, Tn: i32, Np: i32, V: i32, M: i32, vs: i32, ms: i32, work: i32, imgP: i32, imgY: i32, ...GROUP_LOCALS },
  split: { units: 'chunks', pointers: ['P', 'y', 'S', 'counts'] },
  body: (f, ctx) => [
    ...mulI32(f.get('th'), f.get('tw')), ...f.set('Tn'),
    ...f.get('S'), ...f.set('V'),
    ...setEnd(f, 'V', 'C', widest(f)), ...f.set('M'),
    ...setEnd(f, 'M', 'Mp', widest(f)), ...f.set('work'),
    ...bytesOf(f.get('C'), f.get('Hp'), f.get('Wp')), ...f.set('imgP'),
    ...bytesOf(f.get('O'), f.get('oh'), f.get('ow')), ...f.set('imgY'),
    ...overImageGroups(f, [
      ...spread(bytesOf(f.get('C'), f.get('Np'))), ...f.set('vs'),
      ...spread(bytesOf(f.get('Mp'), f.get('Np'))), ...f.set('ms'),
      ...f.get('P'), ...f.get('V'), ...f.get('gn'), ...f.get('C'), ...f.get('th'), ...f.get('tw'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('T'), ...f.get('Np'), ...f.get('vs'), ...f.get('work'), ...ctx.call('winograd4In'),
      ...f.get('P'), ...f.get('gn'), ...f.get('imgP'), ...op.i32Mul, ...op.i32Add, ...f.set('P'),
      ...winogradProducts(f, ctx, 'U', 'Mp', 'C', 'V', 36, 'Np', { b: 'vs', m: 'ms' }),
      ...f.get('M'), ...f.get('y'), ...f.get('bias'), ...f.get('gn'), ...f.get('O'), ...f.get('th'), ...f.get('tw'), ...f.get('oh'), ...f.get('ow'), ...f.get('Np'), ...f.get('ms'), ...f.get('T'), ...f.get('work'), ...ctx.call('winograd4Out'),
      ...f.get('y'), ...f.get('gn'), ...f.get('imgY'), ...op.i32Mul, ...op.i32Add, ...f.set('y'),
    ]),
  ],
});

/**
 * winograd4InputGradConv(D, U, dx, S, counts, chunks, C, O, th, tw, Hp, Wp, H, W, oh, ow,
 * pt, pl, Cp, group): winogradInputGradConv by F(4×4, 3×3), a group of images at a time:
 * their dy transformed (winograd4Grad) into Z (36 matrices of O rows of Np floats), the 36
 * products U_ξᵀ [Cp, O] · Z_ξ into M, B·M·Bᵀ added into zeroed planes (winograd4InT): dx
 * itself when the convolution has no padding (Hp = H, Wp = W), else padded planes whose
 * H×W part at row pt, column pl is copied out to dx (crop2d). S: Z (36 matrices of O·Nmax
 * floats, `spread` apart), M (36 of Cp·Nmax), the padded planes (group·C·Hp·Wp, when there
 * is padding), the transforms' work block (148 + 3·Nmax).
 */
export const winograd4InputGradConv = kernel({
  params: { D: i32, U: i32, dx: i32, S: i32, counts: i32, chunks: i32, C: i32, O: i32, th: i32, tw: i32, Hp: i32, Wp: i32, H: i32, W: i32, oh: i32, ow: i32, pt: i32, pl: i32, Cp: i32, group: i32 },
  locals: { ch: i32, xi: i32, Tn: i32, Np: i32, Z: i32, M: i32, zs: i32, ms: i32, Qp: i32, Q: i32, plain: i32, work: i32, imgD: i32, imgX: i32, ...GROUP_LOCALS },
  split: { units: 'chunks', pointers: ['D', 'dx', 'S', 'counts'] },
  body: (f, ctx) => [
    ...mulI32(f.get('th'), f.get('tw')), ...f.set('Tn'),
    ...f.get('S'), ...f.set('Z'),
    ...setEnd(f, 'Z', 'O', widest(f)), ...f.set('M'),
    ...setEnd(f, 'M', 'Cp', widest(f)), ...f.set('Qp'),
    // plain: no padding, the planes are dx's own
    ...f.get('Hp'), ...f.get('H'), ...op.i32Eq, ...f.get('Wp'), ...f.get('W'), ...op.i32Eq, ...op.i32And, ...f.set('plain'),
    ...f.get('Qp'), ...op.i32(0), ...bytesOf(f.get('group'), f.get('C'), f.get('Hp'), f.get('Wp')), ...f.get('plain'), ...op.select, ...op.i32Add, ...f.set('work'),
    ...bytesOf(f.get('O'), f.get('oh'), f.get('ow')), ...f.set('imgD'),
    ...bytesOf(f.get('C'), f.get('H'), f.get('W')), ...f.set('imgX'),
    ...overImageGroups(f, [
      ...spread(bytesOf(f.get('O'), f.get('Np'))), ...f.set('zs'),
      ...spread(bytesOf(f.get('Cp'), f.get('Np'))), ...f.set('ms'),
      ...f.get('D'), ...f.get('Z'), ...f.get('gn'), ...f.get('O'), ...f.get('th'), ...f.get('tw'), ...f.get('oh'), ...f.get('ow'), ...f.get('O'), ...f.get('T'), ...f.get('Np'), ...f.get('zs'), ...f.get('work'), ...ctx.call('winograd4Grad'),
      ...f.get('D'), ...f.get('gn'), ...f.get('imgD'), ...op.i32Mul, ...op.i32Add, ...f.set('D'),
      ...winogradProducts(f, ctx, 'U', 'Cp', 'O', 'Z', 36, 'Np', { b: 'zs', m: 'ms' }),
      ...f.get('dx'), ...f.get('Qp'), ...f.get('plain'), ...op.select, ...f.set('Q'),
      ...f.get('Q'), ...op.i32(0), ...bytesOf(f.get('gn'), f.get('C'), f.get('Hp'), f.get('Wp')), ...op.memoryFill,
      ...f.get('M'), ...f.get('Q'), ...f.get('gn'), ...f.get('C'), ...f.get('th'), ...f.get('tw'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('Np'), ...f.get('ms'), ...f.get('T'), ...f.get('work'), ...ctx.call('winograd4InT'),
      ...f.get('plain'), ...op.i32Eqz, ...op.if,
      ...f.get('Qp'), ...f.get('dx'), ...mulI32(f.get('gn'), f.get('C')), ...f.get('Hp'), ...f.get('Wp'), ...f.get('H'), ...f.get('W'), ...f.get('pt'), ...f.get('pl'), ...ctx.call('crop2d'),
      ...op.end,
      ...f.get('dx'), ...f.get('gn'), ...f.get('imgX'), ...op.i32Mul, ...op.i32Add, ...f.set('dx'),
    ]),
  ],
});

/**
 * winograd4GradConv(P, D, dU, S, counts, units, C, O, th, tw, Hp, Wp, oh, ow, Mp, Cp, per):
 * winogradGradConv by F(4×4, 3×3): per unit, its images `per` at a time: their input
 * tiles (winograd4In of the input P, padded as the convolution says) and output-gradient
 * tiles (winograd4Grad of dy D [N, O, oh, ow]) in one call each, T = images·th·tw columns
 * rounded up to K = a multiple of 4 (dy's extra columns are zeros), then for each ξ < 36
 * the product Z_ξ [Mp, K] · V_ξᵀ [K, C] (packBT, gemm for the unit's first images, gemmAcc
 * adding the rest) into the unit's 36 matrices of Mp × Cp at dU. S: V (36 matrices of
 * C·Kmax floats, `spread` apart), Z (36 of Mp·Kmax), the packed block (Cp·Kmax), Kmax =
 * per·th·tw rounded up to 4, the transforms' work block (148 + 3·Kmax).
 */
export const winograd4GradConv = kernel({
  params: { P: i32, D: i32, dU: i32, S: i32, counts: i32, units: i32, C: i32, O: i32, th: i32, tw: i32, Hp: i32, Wp: i32, oh: i32, ow: i32, Mp: i32, Cp: i32, per: i32 },
  locals: { u: i32, xi: i32, Tn: i32, T: i32, K: i32, V: i32, Z: i32, vs: i32, zs: i32, pack: i32, work: i32, imgP: i32, imgD: i32, left: i32, kmax: i32, k: i32, first: i32 },
  split: { units: 'units', pointers: ['P', 'D', 'dU', 'S', 'counts'] },
  body: (f, { call }) => [
    ...mulI32(f.get('th'), f.get('tw')), ...f.set('Tn'),
    ...roundUp4(mulI32(f.get('per'), f.get('Tn'))), ...f.set('kmax'),
    ...f.get('S'), ...f.set('V'),
    ...setEnd(f, 'V', 'C', f.get('kmax')), ...f.set('Z'),
    ...setEnd(f, 'Z', 'Mp', f.get('kmax')), ...f.set('pack'),
    ...f.get('pack'), ...bytesOf(f.get('Cp'), f.get('kmax')), ...op.i32Add, ...f.set('work'),
    ...bytesOf(f.get('C'), f.get('Hp'), f.get('Wp')), ...f.set('imgP'),
    ...bytesOf(f.get('O'), f.get('oh'), f.get('ow')), ...f.set('imgD'),
    ...overUnits(f, call, 36, 'K', [
      // T tiles, K columns
      ...mulI32(f.get('k'), f.get('Tn')), ...f.set('T'),
      ...roundUp4(f.get('T')), ...f.set('K'),
      ...spread(bytesOf(f.get('C'), f.get('K'))), ...f.set('vs'),
      ...spread(bytesOf(f.get('Mp'), f.get('K'))), ...f.set('zs'),
      ...f.get('P'), ...f.get('V'), ...f.get('k'), ...f.get('C'), ...f.get('th'), ...f.get('tw'), ...f.get('Hp'), ...f.get('Wp'), ...f.get('T'), ...f.get('K'), ...f.get('vs'), ...f.get('work'), ...call('winograd4In'),
      ...f.get('D'), ...f.get('Z'), ...f.get('k'), ...f.get('O'), ...f.get('th'), ...f.get('tw'), ...f.get('oh'), ...f.get('ow'), ...f.get('Mp'), ...f.get('T'), ...f.get('K'), ...f.get('zs'), ...f.get('work'), ...call('winograd4Grad'),
      ...f.get('P'), ...f.get('k'), ...f.get('imgP'), ...op.i32Mul, ...op.i32Add, ...f.set('P'),
      ...f.get('D'), ...f.get('k'), ...f.get('imgD'), ...op.i32Mul, ...op.i32Add, ...f.set('D'),
    ], { v: 'vs', z: 'zs' }),
  ],
});
