/**
 * conv2d and its two backward passes as implicit GEMMs: each is one product C[M, N] =
 * Σ_k A[M, k]·B[k, N] whose operands are read straight from the image, the weight and the
 * output gradient (the patch matrix is never written to memory):
 *
 *   forward  y[n, o, l]     = Σ_r  w[o, r]        · patch_x[(n, l), r]      M = O, N = N·L, K = C·kh·kw
 *   ∂x       dx[n, c, h, w] = Σ_q  w[o, c, i, j]  · dy[n, o, (h+pt−i·dh)/sh, (w+pl−j·dw)/sw]
 *                                                                           M = C, N = N·H·W, K = O·kh·kw
 *   ∂w       dw[o, r]       = Σ_q  dy[n, o, l]    · patch_x[(n, l), r]      M = O, N = C·kh·kw, K = N·L
 *
 * (r = (c, i, j) a patch entry, l = (oy, ox) an output position, q the summed index; ∂x
 * skips the (h, w, i, j) whose position is not on the stride grid.) One template makes all
 * three; ∂w, whose K is long and M·N small, splits K over the grid's z and sums the parts.
 */
import { type Im2ColParams } from '@ml/tensor';
import { patchOutputSize, type View } from '@ml/tensor/backend';
import { kernel, Params, type Binding } from '../wgsl.js';
import { patchParams, type KernelCall } from '../kernels.js';

/** The k-step: how many k each workgroup stages in workgroup memory at a time. */
const KS = 16;
/** Workgroups along one grid dimension (WebGPU's guaranteed limit). */
const MAX_GROUPS = 65535;

/**
 * One operand of the product as an invocation reads it. Each invocation stages four
 * consecutive indices j = 0…3 of its operand's free dimension (rows of A, columns of B),
 * fixed for the whole kernel, at a k that moves on by KS every step. k is read as three
 * digits, k = d0·R1·R2 + d1·R2 + d2 (a channel and a kernel tap, or an image and an output
 * position), kept as counters that step without dividing: integer division is the
 * costliest thing in these loops (a software GPU does it one lane at a time).
 */
interface Operand {
  /** WGSL run once per invocation for its fixed index `idx` (j = 0…3): `let`s named with the suffix `_${j}` */
  fixed(j: number, idx: string): string;
  /** R1 and R2 */
  radix: readonly [number, number];
  /** WGSL run once per staged k, given its digits: `let`s shared by the four loads */
  perK(d: readonly [string, string, string]): string;
  /** WGSL that sets `v[j]` to the element at (fixed index j, k) when it is not zero padding */
  load(j: number): string;
}

interface Gemm {
  M: number;
  N: number;
  K: number;
  a: Operand;
  b: Operand;
  /** WGSL statement storing `acc` (an f32) at row `row`, column `col` (in range); `split` is the z index */
  store: string;
  /** K per split (a multiple of KS), or K for one */
  kChunk: number;
  splits: number;
}

/**
 * The product's tile shape: 4 × 4 outputs per invocation in a WX × WY grid of them, so a
 * workgroup makes a (4·WY) × (4·WX) tile. Few rows (M ≤ 32, e.g. a first conv layer's
 * channels) take a 32 × 128 tile, which wastes less than the square 64 × 64 one; few rows
 * and few columns too (a first layer's weight gradient, [32, 1·3·3]) a 32 × 16 tile of 32
 * invocations, with K split over many workgroups instead.
 */
export function tileFor(M: number, N: number): { WX: number; WY: number } {
  if (M <= 32) return N <= 16 ? { WX: 4, WY: 8 } : { WX: 32, WY: 8 };
  return { WX: 16, WY: 16 };
}

/** Products with fewer rows than this are declined: most of a 32-row tile would be idle. */
export const MIN_ROWS = 4;

/**
 * The staging of one operand: `width` vec4s along its free dimension times KS values of k,
 * in rounds of the workgroup's invocations (unrolled: their number, at most 256 on the
 * OpenGL ES adapter, is a multiple of `width`, so each invocation's free index stays put
 * and each round's k is a counter of its own).
 */
function staging(params: Params, name: string, op: Operand, width: number, idx: string, limit: string, invocations: number) {
  const count = KS * width;
  const [R1, R2] = op.radix.map((r) => params.int(r));
  // KS in the same digits: the counters' step
  const st = [Math.floor(KS / (op.radix[0] * op.radix[1])), Math.floor(KS / op.radix[1]) % op.radix[0], KS % op.radix[1]].map((v) => params.int(v));
  const rounds = Math.ceil(count / invocations);
  let init = '';
  let stage = '';
  let step = '';
  for (let u = 0; u < rounds; u++) {
    const c = `${name}${u}`;
    const e = `t + ${u * invocations}`;
    init += `  var ${c}k = kBegin + (${e}) / ${width};
  var ${c}d0 = ${c}k / (${R1} * ${R2});
  var ${c}d1 = (${c}k / ${R2}) % ${R1};
  var ${c}d2 = ${c}k % ${R2};
`;
    const guard = (u + 1) * invocations > count ? `if (${e} < ${count}) ` : '';
    stage += `    ${guard}{
      var v = vec4<f32>(0.0);
      if (${c}k < kEnd) {
${op.perK([`${c}d0`, `${c}d1`, `${c}d2`])}
${[0, 1, 2, 3].map((j) => `        if (${idx} + ${j} < ${limit}) {\n${op.load(j)}\n        }`).join('\n')}
      }
      ${name}s[${e}] = v;
    }
`;
    step += `    ${c}k += ${KS};
    ${c}d2 += ${st[2]};
    if (${c}d2 >= ${R2}) { ${c}d2 -= ${R2}; ${c}d1 += 1; }
    ${c}d1 += ${st[1]};
    if (${c}d1 >= ${R1}) { ${c}d1 -= ${R1}; ${c}d0 += 1; }
    ${c}d0 += ${st[0]};
`;
  }
  return { init, stage, step };
}

/** The shared GEMM kernel body (see the file comment). */
function gemmSource(params: Params, g: Gemm): { body: string; groups: [number, number, number] } {
  const { WX, WY } = tileFor(g.M, g.N);
  const [TM, TN] = [4 * WY, 4 * WX];
  const [M, N, K, KC] = [params.int(g.M), params.int(g.N), params.int(g.K), params.int(g.kChunk)];
  const J = [0, 1, 2, 3];
  const sa = staging(params, 'A', g.a, WY, 'ra', M, WX * WY);
  const sb = staging(params, 'B', g.b, WX, 'cb', N, WX * WY);
  const body = `var<workgroup> As: array<vec4<f32>, ${KS * WY}>;
var<workgroup> Bs: array<vec4<f32>, ${KS * WX}>;
@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = i32(li);
  let split = i32(wg.z);
  let kBegin = split * ${KC};
  let kEnd = min(${K}, kBegin + ${KC});
  // what this invocation stages: A's rows ra…ra+3 and B's columns cb…cb+3
  let ra = i32(wg.y) * ${TM} + (t % ${WY}) * 4;
  let cb = i32(wg.x) * ${TN} + (t % ${WX}) * 4;
${J.map((j) => g.a.fixed(j, `ra + ${j}`)).join('\n')}
${J.map((j) => g.b.fixed(j, `cb + ${j}`)).join('\n')}
${sa.init}${sb.init}  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = kBegin; k0 < kEnd; k0 += ${KS}) {
${sa.stage}${sb.stage}    workgroupBarrier();
    for (var kk = 0; kk < ${KS}; kk++) {
      let av = As[kk * ${WY} + i32(lid.y)];
      let bv = Bs[kk * ${WX} + i32(lid.x)];
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier();
${sa.step}${sb.step}  }
  let row0 = i32(wg.y) * ${TM} + i32(lid.y) * 4;
  let col0 = i32(wg.x) * ${TN} + i32(lid.x) * 4;
  var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0; r < 4; r++) {
    let row = row0 + r;
    if (row >= ${M}) { break; }
    for (var c = 0; c < 4; c++) {
      let col = col0 + c;
      if (col < ${N}) {
        let acc = accs[r][c];
${g.store}
      }
    }
  }
}`;
  return { body, groups: [Math.ceil(g.N / TN), Math.ceil(g.M / TM), g.splits] };
}

/** The geometry's words, named for the kernels (the patch geometry's, and L = oh·ow). */
function geometry(params: Params, p: Im2ColParams, H: number, W: number, oh: number, ow: number) {
  return { ...patchParams(params, p, { H, W, oh, ow }), L: params.int(oh * ow) };
}

type Geo = ReturnType<typeof geometry>;

/** A strided view's words: its offset and four strides. */
function strides(params: Params, v: View): { off: string; s: string[] } {
  return { off: params.int(v.offset), s: v.strides.map((s) => params.int(s)) };
}

/** Sets `v[j]` to x at row `iy`, column `ix` of the plane at `at` (left 0 in the zero padding): the patch matrix read in place. */
function patchRead(xs: { off: string; s: string[] }, q: Geo, iy: string, ix: string, at: string, j: number): string {
  return `          let iy = ${iy};
          let ix = ${ix};
          if (iy >= 0 && iy < ${q.H} && ix >= 0 && ix < ${q.W}) { v[${j}] = X[${at} + iy * ${xs.s[2]} + ix * ${xs.s[3]}]; }`;
}

export interface ConvShapes {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  oh: number;
  ow: number;
}

/** A convolution's sizes: x [N, C, H, W] and O output channels. */
export function convShapes(xShape: readonly number[], O: number, p: Im2ColParams): ConvShapes {
  const [N, C, H, W] = xShape;
  const [oh, ow] = patchOutputSize(xShape, p);
  return { N, C, H, W, O, oh, ow };
}

/** The three products' [M, N, K] (see the file comment). */
export function convProducts(s: ConvShapes, p: Im2ColParams) {
  const taps = p.kernel[0] * p.kernel[1];
  const L = s.oh * s.ow;
  return {
    forward: { M: s.O, N: s.N * L, K: s.C * taps },
    input: { M: s.C, N: s.N * s.H * s.W, K: s.O * taps },
    weight: { M: s.O, N: s.C * taps, K: s.N * L },
  };
}

/** Whether the fused kernel takes a product of this size (else the caller declines, and the composite runs). */
export function gemmFits(g: { N: number; M: number }): boolean {
  const { WX, WY } = tileFor(g.M, g.N);
  return g.M >= MIN_ROWS && Math.ceil(g.N / (4 * WX)) <= MAX_GROUPS && Math.ceil(g.M / (4 * WY)) <= MAX_GROUPS;
}

/** y [N, O, oh, ow] = x ⋆ w (+ bias[o]); x [N, C, H, W], w [O, C, kh, kw], any strides. */
export function conv2dKernel(x: View, w: View, bias: View | null, p: Im2ColParams, s: ConvShapes): KernelCall {
  const params = new Params();
  const q = geometry(params, p, s.H, s.W, s.oh, s.ow);
  const g0 = convProducts(s, p).forward;
  const [xs, ws] = [strides(params, x), strides(params, w)];
  const bs = bias === null ? null : strides(params, bias);
  const O = params.int(s.O);
  const a: Operand = {
    fixed: (j, idx) => `  let wo_${j} = ${ws.off} + (${idx}) * ${ws.s[0]};`,
    radix: p.kernel,
    perK: ([c, i, j]) => `        let wk = ${c} * ${ws.s[1]} + ${i} * ${ws.s[2]} + ${j} * ${ws.s[3]};`,
    load: (j) => `          v[${j}] = WT[wo_${j} + wk];`,
  };
  const b: Operand = {
    fixed: (j, idx) => `  let bn_${j} = (${idx}) / ${q.L};
  let bl_${j} = (${idx}) % ${q.L};
  let by_${j} = (bl_${j} / ${q.ow}) * ${q.sh} - ${q.pt};
  let bx_${j} = (bl_${j} % ${q.ow}) * ${q.sw} - ${q.pl};
  let bat_${j} = ${xs.off} + bn_${j} * ${xs.s[0]};`,
    radix: p.kernel,
    perK: ([c, i, j]) => `        let bc = ${c};
        let bdy = ${i} * ${q.dh};
        let bdx = ${j} * ${q.dw};`,
    load: (j) => patchRead(xs, q, `by_${j} + bdy`, `bx_${j} + bdx`, `bat_${j} + bc * ${xs.s[1]}`, j),
  };
  const withBias = bs === null ? 'acc' : `acc + BIAS[${bs.off} + row * ${bs.s[0]}]`;
  const store = `        O[((col / ${q.L}) * ${O} + row) * ${q.L} + col % ${q.L}] = ${withBias};`;
  const { body, groups } = gemmSource(params, { ...g0, a, b, store, kChunk: g0.K, splits: 1 });
  const bindings: Binding[] = [{ name: 'X', elem: 'f32' }, { name: 'WT', elem: 'f32' }];
  if (bias !== null) bindings.push({ name: 'BIAS', elem: 'f32' });
  bindings.push({ name: 'O', elem: 'f32', write: true });
  return { source: kernel(params, bindings, body), params, groups };
}

/** dx [N, C, H, W] of conv2d from dy [N, O, oh, ow] and w [O, C, kh, kw] (any strides). */
export function conv2dBackwardInputKernel(dy: View, w: View, p: Im2ColParams, s: ConvShapes): KernelCall {
  const params = new Params();
  const q = geometry(params, p, s.H, s.W, s.oh, s.ow);
  const g0 = convProducts(s, p).input;
  const [ds, ws] = [strides(params, dy), strides(params, w)];
  const C = params.int(s.C);
  const unit = p.stride[0] === 1 && p.stride[1] === 1;
  const a: Operand = {
    fixed: (j, idx) => `  let wc_${j} = ${ws.off} + (${idx}) * ${ws.s[1]};`,
    radix: p.kernel,
    perK: ([o, i, j]) => `        let wk = ${o} * ${ws.s[0]} + ${i} * ${ws.s[2]} + ${j} * ${ws.s[3]};`,
    load: (j) => `          v[${j}] = WT[wc_${j} + wk];`,
  };
  const b: Operand = {
    fixed: (j, idx) => `  let bn_${j} = (${idx}) / (${q.H} * ${q.W});
  let by_${j} = ((${idx}) / ${q.W}) % ${q.H} + ${q.pt};
  let bx_${j} = (${idx}) % ${q.W} + ${q.pl};
  let bat_${j} = ${ds.off} + bn_${j} * ${ds.s[0]};`,
    radix: p.kernel,
    perK: ([o, i, j]) => `        let bo = ${o} * ${ds.s[1]};
        let bdy = ${i} * ${q.dh};
        let bdx = ${j} * ${q.dw};`,
    // output position (oy, ox) that read x at (h, w) through kernel tap (i, j), when on the stride grid
    // (stride 1, the common case, is a kernel of its own: no division at all)
    load: (j) => `          let ty = by_${j} - bdy;
          let tx = bx_${j} - bdx;
          let oy = ${unit ? 'ty' : `ty / ${q.sh}`};
          let ox = ${unit ? 'tx' : `tx / ${q.sw}`};
          if (ty >= 0 && tx >= 0 && ${unit ? '' : `oy * ${q.sh} == ty && ox * ${q.sw} == tx && `}oy < ${q.oh} && ox < ${q.ow}) {
            v[${j}] = DY[bat_${j} + bo + oy * ${ds.s[2]} + ox * ${ds.s[3]}];
          }`,
  };
  const HW = `(${q.H} * ${q.W})`;
  const store = `        O[((col / ${HW}) * ${C} + row) * ${HW} + col % ${HW}] = acc;`;
  const { body, groups } = gemmSource(params, { ...g0, a, b, store, kChunk: g0.K, splits: 1 });
  const bindings: Binding[] = [{ name: 'DY', elem: 'f32' }, { name: 'WT', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }];
  return { source: kernel(params, bindings, body), params, groups };
}

/** Workgroups the weight gradient aims for before it splits K no further. */
const TARGET_GROUPS = 64;
/** The least K one split sums. */
const MIN_CHUNK = 256;

/** How the weight gradient's K = N·L is split: `splits` parts of `kChunk` (a multiple of KS). */
export function splitK(M: number, N: number, K: number): { splits: number; kChunk: number } {
  if (K === 0) return { splits: 1, kChunk: KS }; // an empty batch: one part of zeros
  const { WX, WY } = tileFor(M, N);
  const tiles = Math.ceil(M / (4 * WY)) * Math.ceil(N / (4 * WX));
  const want = Math.max(1, Math.min(Math.ceil(TARGET_GROUPS / tiles), Math.floor(K / MIN_CHUNK), MAX_GROUPS));
  const kChunk = Math.ceil(K / want / KS) * KS;
  return { splits: Math.max(1, Math.ceil(K / kChunk)), kChunk };
}

/**
 * dw [O, C·kh·kw] of conv2d from dy [N, O, oh, ow] and x [N, C, H, W] (any strides); with
 * `splits` > 1 the output is [splits, O, C·kh·kw], partial sums over consecutive ranges of
 * K = (n, l) that the caller adds up.
 */
export function conv2dBackwardWeightKernel(dy: View, x: View, p: Im2ColParams, s: ConvShapes, split: { splits: number; kChunk: number }): KernelCall {
  const params = new Params();
  const q = geometry(params, p, s.H, s.W, s.oh, s.ow);
  const g0 = convProducts(s, p).weight;
  const [ds, xs] = [strides(params, dy), strides(params, x)];
  const [M, N] = [params.int(g0.M), params.int(g0.N)];
  const a: Operand = {
    fixed: (j, idx) => `  let ao_${j} = ${ds.off} + (${idx}) * ${ds.s[1]};`,
    radix: [s.oh, s.ow],
    perK: ([n, y, x]) => `        let ak = ${n} * ${ds.s[0]} + ${y} * ${ds.s[2]} + ${x} * ${ds.s[3]};`,
    load: (j) => `          v[${j}] = DY[ao_${j} + ak];`,
  };
  const b: Operand = {
    fixed: (j, idx) => `  let bc_${j} = ((${idx}) / (${q.kh} * ${q.kw})) * ${xs.s[1]};
  let bdy_${j} = (((${idx}) / ${q.kw}) % ${q.kh}) * ${q.dh};
  let bdx_${j} = ((${idx}) % ${q.kw}) * ${q.dw};`,
    radix: [s.oh, s.ow],
    perK: ([n, y, x]) => `        let by = ${y} * ${q.sh} - ${q.pt};
        let bx = ${x} * ${q.sw} - ${q.pl};
        let bat = ${xs.off} + ${n} * ${xs.s[0]};`,
    load: (j) => patchRead(xs, q, `by + bdy_${j}`, `bx + bdx_${j}`, `bat + bc_${j}`, j),
  };
  const store = `        O[(split * ${M} + row) * ${N} + col] = acc;`;
  const { body, groups } = gemmSource(params, { ...g0, a, b, store, ...split });
  const bindings: Binding[] = [{ name: 'DY', elem: 'f32' }, { name: 'X', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }];
  return { source: kernel(params, bindings, body), params, groups };
}
