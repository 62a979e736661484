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
import { patchOutputSize, type Im2ColParams, type View } from '@ml/tensor';
import { kernel, Params, type Binding } from '../wgsl.js';
import type { KernelCall } from '../kernels.js';

/** The k-step: how many k each workgroup stages in workgroup memory at a time. */
const KS = 16;
/** Invocations per workgroup (the OpenGL ES adapter allows no more than 256). */
const INVOCATIONS = 256;
/** Workgroups along one grid dimension (WebGPU's guaranteed limit). */
const MAX_GROUPS = 65535;

/**
 * One operand of the product as an invocation reads it. Each invocation stages four
 * consecutive indices j = 0…3 of its operand's free dimension (rows of A, columns of B),
 * fixed for the whole kernel, at a k that changes every step.
 */
interface Operand {
  /** WGSL run once per invocation for its fixed index `idx` (j = 0…3): `let`s named with the suffix `_${j}` */
  fixed(j: number, idx: string): string;
  /** WGSL run once per staged k (in `k`): `let`s shared by the four loads */
  perK: string;
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
 * workgroup makes a (4·WY) × (4·WX) tile. With few rows (M ≤ 32, e.g. a first conv layer's
 * channels) a 32 × 128 tile wastes less than the square 64 × 64 one.
 */
export function tileFor(M: number): { WX: number; WY: number } {
  return M <= 32 ? { WX: 32, WY: 8 } : { WX: 16, WY: 16 };
}

/** The shared GEMM kernel body (see the file comment). */
function gemmSource(params: Params, g: Gemm): { body: string; groups: [number, number, number] } {
  const { WX, WY } = tileFor(g.M);
  const [TM, TN] = [4 * WY, 4 * WX];
  const [M, N, K, KC] = [params.int(g.M), params.int(g.N), params.int(g.K), params.int(g.kChunk)];
  const J = [0, 1, 2, 3];
  const stage = (name: string, count: number, width: number, idx: string, limit: string, op: Operand) => `    for (var e = t; e < ${count}; e += ${INVOCATIONS}) {
      let k = k0 + e / ${width};
      var v = vec4<f32>(0.0);
      if (k < kEnd) {
${op.perK}
${J.map((j) => `        if (${idx} + ${j} < ${limit}) {\n${op.load(j)}\n        }`).join('\n')}
      }
      ${name}[e] = v;
    }`;
  const body = `var<workgroup> As: array<vec4<f32>, ${KS * WY}>;
var<workgroup> Bs: array<vec4<f32>, ${KS * WX}>;
@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = i32(li);
  let split = i32(wg.z);
  let kBegin = split * ${KC};
  let kEnd = min(${K}, kBegin + ${KC});
  // what this invocation stages: A's rows ra…ra+3 and B's columns cb…cb+3 (the same at every k:
  // ${INVOCATIONS} is a multiple of ${WY} and ${WX})
  let ra = i32(wg.y) * ${TM} + (t % ${WY}) * 4;
  let cb = i32(wg.x) * ${TN} + (t % ${WX}) * 4;
${J.map((j) => g.a.fixed(j, `ra + ${j}`)).join('\n')}
${J.map((j) => g.b.fixed(j, `cb + ${j}`)).join('\n')}
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = kBegin; k0 < kEnd; k0 += ${KS}) {
${stage('As', KS * WY, WY, 'ra', M, g.a)}
${stage('Bs', KS * WX, WX, 'cb', N, g.b)}
    workgroupBarrier();
    for (var kk = 0; kk < ${KS}; kk++) {
      let av = As[kk * ${WY} + i32(lid.y)];
      let bv = Bs[kk * ${WX} + i32(lid.x)];
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier();
  }
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

/** The geometry's words, named for the kernels. */
function geometry(params: Params, p: Im2ColParams, H: number, W: number, oh: number, ow: number) {
  return {
    H: params.int(H),
    W: params.int(W),
    kh: params.int(p.kernel[0]),
    kw: params.int(p.kernel[1]),
    sh: params.int(p.stride[0]),
    sw: params.int(p.stride[1]),
    dh: params.int(p.dilation[0]),
    dw: params.int(p.dilation[1]),
    pt: params.int(p.pad[0]),
    pl: params.int(p.pad[2]),
    oh: params.int(oh),
    ow: params.int(ow),
    L: params.int(oh * ow),
  };
}

type Geo = ReturnType<typeof geometry>;

/** A strided view's words: its offset and four strides. */
function strides(params: Params, v: View): { off: string; s: string[] } {
  return { off: params.int(v.offset), s: v.strides.map((s) => params.int(s)) };
}

/** The patch matrix of x read in place: element (k or j index as (n, l), r = (c, i, j)) with zero padding. */
function patchRead(xs: { off: string; s: string[] }, q: Geo, iy: string, ix: string, at: string): string {
  return `          let iy = ${iy};
          let ix = ${ix};
          if (iy >= 0 && iy < ${q.H} && ix >= 0 && ix < ${q.W}) { v[J] = X[${at} + iy * ${xs.s[2]} + ix * ${xs.s[3]}]; }`;
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

/** Whether a product of this size fits the grid (else the caller declines, and the composite runs). */
export function gemmFits(g: { N: number; M: number }): boolean {
  const { WX, WY } = tileFor(g.M);
  return Math.ceil(g.N / (4 * WX)) <= MAX_GROUPS && Math.ceil(g.M / (4 * WY)) <= MAX_GROUPS;
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
    perK: `        let wk = (k / (${q.kh} * ${q.kw})) * ${ws.s[1]} + ((k / ${q.kw}) % ${q.kh}) * ${ws.s[2]} + (k % ${q.kw}) * ${ws.s[3]};`,
    load: (j) => `          v[${j}] = WT[wo_${j} + wk];`,
  };
  const b: Operand = {
    fixed: (j, idx) => `  let bn_${j} = (${idx}) / ${q.L};
  let bl_${j} = (${idx}) % ${q.L};
  let by_${j} = (bl_${j} / ${q.ow}) * ${q.sh} - ${q.pt};
  let bx_${j} = (bl_${j} % ${q.ow}) * ${q.sw} - ${q.pl};
  let bat_${j} = ${xs.off} + bn_${j} * ${xs.s[0]};`,
    perK: `        let bc = k / (${q.kh} * ${q.kw});
        let bdy = ((k / ${q.kw}) % ${q.kh}) * ${q.dh};
        let bdx = (k % ${q.kw}) * ${q.dw};`,
    load: (j) => patchRead(xs, q, `by_${j} + bdy`, `bx_${j} + bdx`, `bat_${j} + bc * ${xs.s[1]}`).replace('v[J]', `v[${j}]`),
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
  const a: Operand = {
    fixed: (j, idx) => `  let wc_${j} = ${ws.off} + (${idx}) * ${ws.s[1]};`,
    perK: `        let wk = (k / (${q.kh} * ${q.kw})) * ${ws.s[0]} + ((k / ${q.kw}) % ${q.kh}) * ${ws.s[2]} + (k % ${q.kw}) * ${ws.s[3]};`,
    load: (j) => `          v[${j}] = WT[wc_${j} + wk];`,
  };
  const b: Operand = {
    fixed: (j, idx) => `  let bn_${j} = (${idx}) / (${q.H} * ${q.W});
  let by_${j} = ((${idx}) / ${q.W}) % ${q.H} + ${q.pt};
  let bx_${j} = (${idx}) % ${q.W} + ${q.pl};
  let bat_${j} = ${ds.off} + bn_${j} * ${ds.s[0]};`,
    perK: `        let bo = (k / (${q.kh} * ${q.kw})) * ${ds.s[1]};
        let bdy = ((k / ${q.kw}) % ${q.kh}) * ${q.dh};
        let bdx = (k % ${q.kw}) * ${q.dw};`,
    // output position (oy, ox) that read x at (h, w) through kernel tap (i, j), when on the stride grid
    load: (j) => `          let ty = by_${j} - bdy;
          let tx = bx_${j} - bdx;
          let oy = ty / ${q.sh};
          let ox = tx / ${q.sw};
          if (ty >= 0 && tx >= 0 && oy * ${q.sh} == ty && ox * ${q.sw} == tx && oy < ${q.oh} && ox < ${q.ow}) {
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
  const { WX, WY } = tileFor(M);
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
    perK: `        let l = k % ${q.L};
        let ak = (k / ${q.L}) * ${ds.s[0]} + (l / ${q.ow}) * ${ds.s[2]} + (l % ${q.ow}) * ${ds.s[3]};`,
    load: (j) => `          v[${j}] = DY[ao_${j} + ak];`,
  };
  const b: Operand = {
    fixed: (j, idx) => `  let bc_${j} = ((${idx}) / (${q.kh} * ${q.kw})) * ${xs.s[1]};
  let bdy_${j} = (((${idx}) / ${q.kw}) % ${q.kh}) * ${q.dh};
  let bdx_${j} = ((${idx}) % ${q.kw}) * ${q.dw};`,
    perK: `        let l = k % ${q.L};
        let by = (l / ${q.ow}) * ${q.sh} - ${q.pt};
        let bx = (l % ${q.ow}) * ${q.sw} - ${q.pl};
        let bat = ${xs.off} + (k / ${q.L}) * ${xs.s[0]};`,
    load: (j) => patchRead(xs, q, `by + bdy_${j}`, `bx + bdx_${j}`, `bat + bc_${j}`).replace('v[J]', `v[${j}]`),
  };
  const store = `        O[(split * ${M} + row) * ${N} + col] = acc;`;
  const { body, groups } = gemmSource(params, { ...g0, a, b, store, ...split });
  const bindings: Binding[] = [{ name: 'DY', elem: 'f32' }, { name: 'X', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }];
  return { source: kernel(params, bindings, body), params, groups };
}
