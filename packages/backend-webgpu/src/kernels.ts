/**
 * The primitives as WGSL kernels. Each builder returns the module's source, its parameter
 * block and the workgroup grid; the backend compiles (once per source), binds and queues it.
 */
import { contiguousStrides, sizeOf, type DType, type Im2ColParams } from '@ml/tensor';
import { GRADIENT_FLUSH_BELOW, type AdamStep, type ArgReduceOp, type BinaryOp, type ReduceOp, type UnaryOp, type View } from '@ml/tensor/backend';
import { convert, decode, elemOf, elementwise, GROUP, kernel, linearMain, Params, position, viewPosition, type Binding, type Elem } from './wgsl.js';

export interface KernelCall {
  source: string;
  params: Params;
  groups: readonly [number, number, number];
}

/** Most workgroups along one grid dimension (WebGPU's guaranteed limit). */
const MAX_GROUPS = 65535;

/** A grid of at least `count` workgroups, folded into two dimensions past the per-dimension limit. */
export function grid(count: number): [number, number, number] {
  if (count <= MAX_GROUPS) return [Math.max(1, count), 1, 1];
  return [MAX_GROUPS, Math.ceil(count / MAX_GROUPS), 1];
}

const linearGrid = (n: number) => grid(Math.ceil(n / GROUP));

export function fillKernel(n: number, dtype: DType, value: number): KernelCall {
  const params = new Params();
  const v = dtype === 'float32' ? params.float(value) : params.int(dtype === 'bool' ? +(value !== 0) : value);
  const source = kernel(params, [{ name: 'O', elem: elemOf(dtype), write: true }], linearMain(params, n, `  O[i] = ${v};`));
  return { source, params, groups: linearGrid(n) };
}

export function castKernel(x: View, dtype: DType): KernelCall {
  const params = new Params();
  const source = elementwise(params, [x], x.shape, elemOf(dtype), convert('a', x.dtype, dtype));
  return { source, params, groups: linearGrid(sizeOf(x.shape)) };
}

function unaryExpr(op: UnaryOp, elem: Elem): string {
  if (op === 'neg') return '-a';
  if (op === 'abs') return 'abs(a)';
  if (elem === 'i32') {
    switch (op) {
      case 'sign':
        return 'sign(a)';
      case 'relu':
        return 'max(a, 0)';
      case 'floor':
      case 'ceil':
      case 'round':
        return 'a';
      case 'not':
        return 'select(1, 0, a != 0)';
      default:
        throw new TypeError(`webgpu: unary '${op}' takes a float tensor, got int32`);
    }
  }
  switch (op) {
    case 'sign':
      return 'select(select(0.0, -1.0, a < 0.0), 1.0, a > 0.0)';
    case 'exp':
      return 'exp(a)';
    case 'expm1':
      return 'expm1_(a)';
    case 'log':
      return 'log_(a)';
    case 'log1p':
      return 'log1p_(a)';
    case 'sqrt':
      return 'sqrt_(a)';
    case 'rsqrt':
      return '1.0 / sqrt_(a)';
    case 'sin':
      return 'sin(a)';
    case 'cos':
      return 'cos(a)';
    case 'tanh':
      return 'tanh_(a)';
    case 'sigmoid':
      return 'sigmoid_(a)';
    case 'relu':
      return 'select(0.0, a, a > 0.0 || is_nan(a))'; // NaN propagates; −0 becomes +0
    case 'erf':
      return 'erf_(a)';
    case 'floor':
      return 'floor(a)';
    case 'ceil':
      return 'ceil(a)';
    case 'round':
      return 'round(a)'; // WGSL rounds halves to even, as PyTorch and NumPy do
    case 'reciprocal':
      return '1.0 / a';
    case 'not':
      return 'select(1.0, 0.0, a != 0.0)';
  }
}

export function unaryKernel(op: UnaryOp, x: View): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const source = elementwise(params, [x], x.shape, elem, unaryExpr(op, elem));
  return { source, params, groups: linearGrid(sizeOf(x.shape)) };
}

function binaryExpr(op: BinaryOp, elem: Elem): string {
  const f = elem === 'f32';
  switch (op) {
    case 'add':
      return 'a + b';
    case 'sub':
      return 'a - b';
    case 'mul':
      return 'a * b';
    case 'div':
      return 'a / b';
    case 'pow':
      return f ? 'pow_f(a, b)' : 'pow_i(a, b)';
    case 'maximum':
      return f ? 'select(select(b, a, a > b), nan_like(a), is_nan(a) || is_nan(b))' : 'select(b, a, a > b)';
    case 'minimum':
      return f ? 'select(select(b, a, a < b), nan_like(a), is_nan(a) || is_nan(b))' : 'select(b, a, a < b)';
    case 'eq':
      return 'select(0, 1, a == b)';
    case 'ne':
      return 'select(0, 1, a != b)';
    case 'lt':
      return 'select(0, 1, a < b)';
    case 'le':
      return 'select(0, 1, a <= b)';
    case 'gt':
      return 'select(0, 1, a > b)';
    case 'ge':
      return 'select(0, 1, a >= b)';
    case 'and':
      return f ? 'select(0, 1, a != 0.0 && b != 0.0)' : 'select(0, 1, a != 0 && b != 0)';
    case 'or':
      return f ? 'select(0, 1, a != 0.0 || b != 0.0)' : 'select(0, 1, a != 0 || b != 0)';
  }
}

const LOGICAL = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or']);

export function binaryKernel(op: BinaryOp, a: View, b: View, outDtype: DType): KernelCall {
  const params = new Params();
  const elem = elemOf(a.dtype);
  if (elemOf(b.dtype) !== elem) throw new TypeError(`webgpu: binary '${op}' got ${a.dtype} and ${b.dtype} operands`);
  const expr = binaryExpr(op, elem);
  // comparisons give i32 0/1 (bool); arithmetic keeps the operands' type
  const value = LOGICAL.has(op) ? (outDtype === 'bool' ? expr : convert(expr, 'int32', outDtype)) : convert(expr, a.dtype, outDtype);
  const source = elementwise(params, [a, b], a.shape, elemOf(outDtype), value);
  return { source, params, groups: linearGrid(sizeOf(a.shape)) };
}

export function whereKernel(cond: View, a: View, b: View): KernelCall {
  const params = new Params();
  // inputs are bound as a, b, c in order: the condition first
  const source = elementwise(params, [cond, a, b], a.shape, elemOf(a.dtype), 'select(c, b, a != 0)');
  return { source, params, groups: linearGrid(sizeOf(a.shape)) };
}

/** Splits a view into its kept axes (the output's) and its reduced ones. */
function splitAxes(x: View, axes: readonly number[]) {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  return {
    keptShape: kept.map((i) => x.shape[i]),
    keptStrides: kept.map((i) => x.strides[i]),
    redShape: axes.map((i) => x.shape[i]),
    redStrides: axes.map((i) => x.strides[i]),
  };
}

/** Combines two partial reductions; NaN wins max and min, as on the cpu backend. */
function combine(op: ReduceOp, elem: Elem, a: string, b: string): string {
  switch (op) {
    case 'sum':
      return `${a} + ${b}`;
    case 'prod':
      return `${a} * ${b}`;
    case 'max':
      return elem === 'f32' ? `select(select(${a}, ${b}, ${b} > ${a}), ${b}, is_nan(${b}))` : `max(${a}, ${b})`;
    case 'min':
      return elem === 'f32' ? `select(select(${a}, ${b}, ${b} < ${a}), ${b}, is_nan(${b}))` : `min(${a}, ${b})`;
  }
}

function identity(op: ReduceOp, elem: Elem, params: Params): string {
  if (elem === 'i32') return params.int({ sum: 0, prod: 1, max: -2147483648, min: 2147483647 }[op]);
  return params.float({ sum: 0, prod: 1, max: -Infinity, min: Infinity }[op]);
}

/**
 * Reductions with many outputs or few elements each (pooling windows, a bias gradient's
 * rows) give each output one invocation that loops; otherwise a workgroup shares each.
 */
export function reduceKernel(op: ReduceOp, x: View, axes: readonly number[]): KernelCall {
  const { keptShape, redShape } = splitAxes(x, axes);
  const outN = sizeOf(keptShape);
  const inner = sizeOf(redShape);
  return inner <= GROUP || outN >= 4096 ? reduceLoopKernel(op, x, axes) : reduceGroupKernel(op, x, axes);
}

/** The value an empty reduction gives: the identity; 0 for an integer max/min, as the cpu backend's int32 store of ∓∞. */
function emptyValue(op: ReduceOp, elem: Elem, start: string): string {
  return elem === 'i32' && (op === 'max' || op === 'min') ? '0' : start;
}

/** One invocation per output, looping over its reduced elements in order. */
function reduceLoopKernel(op: ReduceOp, x: View, axes: readonly number[]): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const { keptShape, keptStrides, redShape, redStrides } = splitAxes(x, axes);
  const outN = sizeOf(keptShape);
  const INNER = params.int(sizeOf(redShape));
  const start = identity(op, elem, params);
  const k = decode(params, 'i', keptShape, 'k');
  const base = position(params, x.offset, keptStrides, k.coords);
  const r = decode(params, 'j', redShape, 'r');
  const at = position(params, 0, redStrides, r.coords);
  const body = linearMain(
    params,
    outN,
    `${k.code}  let base = ${base};
  var acc: ${elem} = ${start};
  for (var j = 0; j < ${INNER}; j++) {
${r.code}    let v = X0[base + ${at}];
    acc = ${combine(op, elem, 'acc', 'v')};
  }
  O[i] = select(acc, ${emptyValue(op, elem, start)}, ${INNER} == 0);`,
  );
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem, write: true }], body);
  return { source, params, groups: linearGrid(outN) };
}

/** One workgroup per output: its invocations stride over the reduced elements, then a tree in workgroup memory. */
function reduceGroupKernel(op: ReduceOp, x: View, axes: readonly number[]): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const { keptShape, keptStrides, redShape, redStrides } = splitAxes(x, axes);
  const outN = sizeOf(keptShape);
  const inner = sizeOf(redShape);
  const OUTN = params.int(outN);
  const INNER = params.int(inner);
  const start = identity(op, elem, params);
  const empty = emptyValue(op, elem, start);
  const k = decode(params, 'o', keptShape, 'k');
  const base = position(params, x.offset, keptStrides, k.coords);
  const r = decode(params, 'j', redShape, 'r');
  const at = position(params, 0, redStrides, r.coords);
  const body = `var<workgroup> part: array<${elem}, ${GROUP}>;
@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let o = i32(wg.y * nw.x + wg.x);
  if (o >= ${OUTN}) { return; }
${k.code}  let base = ${base};
  var acc: ${elem} = ${start};
  for (var j = i32(li); j < ${INNER}; j += ${GROUP}) {
${r.code}    let v = X0[base + ${at}];
    acc = ${combine(op, elem, 'acc', 'v')};
  }
  part[li] = acc;
  workgroupBarrier();
  for (var s = ${GROUP / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { part[li] = ${combine(op, elem, 'part[li]', 'part[li + s]')}; }
    workgroupBarrier();
  }
  if (li == 0u) { O[o] = select(part[0], ${empty}, ${INNER} == 0); }
}`;
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem, write: true }], body);
  return { source, params, groups: grid(outN) };
}

export function argReduceKernel(op: ArgReduceOp, x: View, axis: number): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const { keptShape, keptStrides } = splitAxes(x, [axis]);
  const n = sizeOf(keptShape);
  const k = decode(params, 'i', keptShape, 'k');
  const base = position(params, x.offset, keptStrides, k.coords);
  const len = params.int(x.shape[axis]);
  const step = params.int(x.strides[axis]);
  const better = op === 'argmax' ? 'v > bv' : 'v < bv';
  const nan = (e: string) => (elem === 'f32' ? `is_nan(${e})` : 'false');
  const body = linearMain(
    params,
    n,
    `${k.code}  let base = ${base};
  var best = 0;
  var bv = X0[base];
  for (var j = 1; j < ${len}; j++) {
    if (${nan('bv')}) { break; }
    let v = X0[base + j * ${step}];
    if (${better} || ${nan('v')}) { bv = v; best = j; }
  }
  O[i] = best;`,
  );
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem: 'i32', write: true }], body);
  return { source, params, groups: linearGrid(n) };
}

/** Output tile of one workgroup (TILE × TILE), and its k-step. */
const TILE = 64;
const KSTEP = 32;

/**
 * a [B, M, K] · b [B, K, N] for any strides (transposed and broadcast operands are read in
 * place): 16 × 16 invocations, each accumulating a 4 × 4 block of a 64 × 64 tile in four
 * vec4 registers; the operands pass through workgroup memory 16 values of k at a time,
 * as vec4s along the tile's rows (a) and columns (b), so a step of k is two loads and four
 * vector multiply-adds. Consecutive invocations load consecutive k of a and columns of b
 * (row-major operands read contiguously).
 */
export function matmulKernel(a: View, b: View): KernelCall {
  const params = new Params();
  const elem = elemOf(a.dtype);
  const [B, M, K] = a.shape;
  const N = b.shape[2];
  const [pM, pN, pK] = [params.int(M), params.int(N), params.int(K)];
  const aAt = (m: string) => position(params, a.offset, a.strides, ['bi', `min(${m}, ${pM} - 1)`, `min(ka, ${pK} - 1)`]);
  const bAt = (n: string) => position(params, b.offset, b.strides, ['bi', `min(kb, ${pK} - 1)`, `min(${n}, ${pN} - 1)`]);
  const v4 = `vec4<${elem}>`;
  const zero = elem === 'f32' ? '0.0' : '0';
  const rows = [0, 1, 2, 3];
  const aLoads = rows.map((r) => `select(${zero}, XA[${aAt(`m0 + ${r}`)}], m0 + ${r} < ${pM} && ka < ${pK})`);
  const bLoads = rows.map((c) => `select(${zero}, XB[${bAt(`n0 + ${c}`)}], n0 + ${c} < ${pN} && kb < ${pK})`);
  const writes = rows
    .map(
      (r) => `  if (row + ${r} < ${pM}) {
    let o = (bi * ${pM} + row + ${r}) * ${pN} + col;
    for (var c = 0; c < 4; c++) { if (col + c < ${pN}) { O[o + c] = acc${r}[c]; } }
  }`,
    )
    .join('\n');
  const body = `var<workgroup> As: array<${v4}, ${(TILE / 4) * KSTEP}>;
var<workgroup> Bs: array<${v4}, ${(TILE / 4) * KSTEP}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let bi = i32(wg.z);
  let row0 = i32(wg.y) * ${TILE};
  let col0 = i32(wg.x) * ${TILE};
  let t = i32(li);
  // what this invocation stages: a's rows m0…m0+3 at k ka, b's columns n0…n0+3 at k kb
  let m0 = row0 + (t / 16) * 4;
  let n0 = col0 + (t % 16) * 4;
  ${rows.map((r) => `var acc${r} = ${v4}(${zero});`).join('\n  ')}
  for (var k0 = 0; k0 < ${pK}; k0 += ${KSTEP}) {
    for (var h = 0; h < ${KSTEP}; h += 16) {
      let ka = k0 + h + t % 16;
      As[(h + t % 16) * 16 + t / 16] = ${v4}(${aLoads.join(', ')});
      let kb = k0 + h + t / 16;
      Bs[(h + t / 16) * 16 + t % 16] = ${v4}(${bLoads.join(', ')});
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${KSTEP}; kk++) {
      let av = As[kk * 16 + i32(lid.y)];
      let bv = Bs[kk * 16 + i32(lid.x)];
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier();
  }
  let row = row0 + i32(lid.y) * 4;
  let col = col0 + i32(lid.x) * 4;
${writes}
}`;
  const source = kernel(params, [{ name: 'XA', elem }, { name: 'XB', elem }, { name: 'O', elem, write: true }], body);
  return { source, params, groups: [Math.max(1, Math.ceil(N / TILE)), Math.max(1, Math.ceil(M / TILE)), Math.max(1, B)] };
}

/** Error codes an index kernel leaves in the backend's error buffer (word 0; word 1 the index, word 2 the size). */
export const INDEX_ERRORS: Record<number, string> = { 1: 'gather', 2: 'scatterAdd', 3: 'softmaxCrossEntropy (a target class)' };

const ERRORS: Binding = { name: 'E', elem: 'i32', write: true };

/** An index checked against `size` (negative ones count from the end); a bad one is reported and read as 0. */
function checkedIndex(raw: string, size: string, code: number): string {
  return `  var j = ${raw};
  if (j < 0) { j += ${size}; }
  if (j < 0 || j >= ${size}) { E[0] = ${code}; E[1] = ${raw}; E[2] = ${size}; j = 0; }
`;
}

export function gatherKernel(x: View, axis: number, index: View): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const n = sizeOf(index.shape);
  const c = decode(params, 'i', index.shape, 'c');
  const size = params.int(x.shape[axis]);
  const at = position(params, index.offset, index.strides, c.coords);
  const coords = c.coords.map((v, d) => (d === axis ? 'j' : v));
  const body = linearMain(params, n, `${c.code}${checkedIndex(`XI[${at}]`, size, 1)}  O[i] = X0[${position(params, x.offset, x.strides, coords)}];`);
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'XI', elem: 'i32' }, { name: 'O', elem, write: true }, ERRORS], body);
  return { source, params, groups: linearGrid(n) };
}

/**
 * Adds src at `index` along `axis` into `out` (a contiguous copy of base, [base.shape]):
 * one invocation per line along `axis` of the index, looping over it, so no two
 * invocations add into the same element (no float atomics needed; the order is fixed).
 */
export function scatterAddKernel(outShape: readonly number[], axis: number, index: View, src: View): KernelCall {
  const params = new Params();
  const elem = elemOf(src.dtype);
  const lineShape = index.shape.map((d, i) => (i === axis ? 1 : d));
  const lines = sizeOf(lineShape);
  const c = decode(params, 'i', lineShape, 'c');
  const len = params.int(index.shape[axis]);
  const size = params.int(outShape[axis]);
  const outStrides = contiguousStrides(outShape);
  const withT = c.coords.map((v, d) => (d === axis ? 't' : v));
  const withJ = c.coords.map((v, d) => (d === axis ? 'j' : v));
  const body = linearMain(
    params,
    lines,
    `${c.code}  for (var t = 0; t < ${len}; t++) {
  ${checkedIndex(`XI[${position(params, index.offset, index.strides, withT)}]`, size, 2)}
    let p = ${position(params, 0, outStrides, withJ)};
    O[p] = O[p] + XS[${position(params, src.offset, src.strides, withT)}];
  }`,
  );
  const source = kernel(params, [{ name: 'XI', elem: 'i32' }, { name: 'XS', elem }, { name: 'O', elem, write: true }, ERRORS], body);
  return { source, params, groups: linearGrid(lines) };
}

/** XLA-style pad, one invocation per output element (negative edges crop). */
export function padKernel(x: View, low: readonly number[], interior: readonly number[], outShape: readonly number[], value: number): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const n = sizeOf(outShape);
  const c = decode(params, 'i', outShape, 'c');
  const fill = elem === 'f32' ? params.float(value) : params.int(x.dtype === 'bool' ? +(value !== 0) : value);
  let code = `${c.code}  var inside = true;\n`;
  const src: string[] = [];
  for (let d = 0; d < outShape.length; d++) {
    const q = `q${d}`;
    const step = params.int(interior[d] + 1);
    code += `  let ${q} = ${c.coords[d]} - ${params.int(low[d])};
  inside = inside && ${q} >= 0 && ${q} % ${step} == 0 && ${q} / ${step} < ${params.int(x.shape[d])};\n`;
    src.push(`(${q} / ${step})`);
  }
  const at = position(params, x.offset, x.strides, src);
  code += `  O[i] = ${fill};\n  if (inside) { O[i] = X0[${at}]; }`;
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem, write: true }], linearMain(params, n, code));
  return { source, params, groups: linearGrid(n) };
}

/** Writes x's elements into the contiguous `outShape` buffer from `start` along `axis` (one input of a concat). */
export function placeKernel(x: View, outShape: readonly number[], axis: number, start: number): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const n = sizeOf(x.shape);
  const c = decode(params, 'i', x.shape, 'c');
  const outStrides = contiguousStrides(outShape);
  const to = position(params, start * outStrides[axis], outStrides, c.coords);
  const from = viewPosition(params, x, () => c.coords);
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem, write: true }], linearMain(params, n, `${c.code}  O[${to}] = X0[${from}];`));
  return { source, params, groups: linearGrid(n) };
}

interface Geometry {
  N: number;
  C: number;
  H: number;
  W: number;
  oh: number;
  ow: number;
}

/**
 * The patch geometry's words, named for the kernels: image size, window, stride, dilation,
 * top/left padding and output size (im2col, col2im, and the fused conv and pooling kernels).
 */
export function patchParams(params: Params, p: Im2ColParams, g: Pick<Geometry, 'H' | 'W' | 'oh' | 'ow'>) {
  return {
    H: params.int(g.H),
    W: params.int(g.W),
    kh: params.int(p.kernel[0]),
    kw: params.int(p.kernel[1]),
    sh: params.int(p.stride[0]),
    sw: params.int(p.stride[1]),
    dh: params.int(p.dilation[0]),
    dw: params.int(p.dilation[1]),
    pt: params.int(p.pad[0]),
    pl: params.int(p.pad[2]),
    oh: params.int(g.oh),
    ow: params.int(g.ow),
  };
}

/** x [N, C, H, W] → [N, C·kh·kw, oh·ow], one invocation per output element. */
export function im2colKernel(x: View, p: Im2ColParams, g: Geometry): KernelCall {
  const params = new Params();
  const elem = elemOf(x.dtype);
  const rows = g.C * p.kernel[0] * p.kernel[1];
  const L = g.oh * g.ow;
  const n = g.N * rows * L;
  const q = patchParams(params, p, g);
  const c = decode(params, 'i', [g.N, rows, L], 'c');
  const pad = elem === 'f32' ? params.float(p.padValue) : params.int(p.padValue);
  const at = position(params, x.offset, x.strides, ['c0', 'ch', 'iy', 'ix']);
  const body = `${c.code}  let ch = c1 / (${q.kh} * ${q.kw});
  let ki = (c1 / ${q.kw}) % ${q.kh};
  let kj = c1 % ${q.kw};
  let iy = (c2 / ${q.ow}) * ${q.sh} - ${q.pt} + ki * ${q.dh};
  let ix = (c2 % ${q.ow}) * ${q.sw} - ${q.pl} + kj * ${q.dw};
  O[i] = ${pad};
  if (iy >= 0 && iy < ${q.H} && ix >= 0 && ix < ${q.W}) { O[i] = X0[${at}]; }`;
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem, write: true }], linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}

/**
 * cols [N, C·kh·kw, oh·ow] → [N, C, H, W], the adjoint of im2col: each output element
 * gathers the patch entries that read it (no atomics).
 */
export function col2imKernel(cols: View, p: Im2ColParams, g: Geometry): KernelCall {
  const params = new Params();
  const elem = elemOf(cols.dtype);
  const n = g.N * g.C * g.H * g.W;
  const q = patchParams(params, p, g);
  const c = decode(params, 'i', [g.N, g.C, g.H, g.W], 'c');
  const at = position(params, cols.offset, cols.strides, ['c0', '(c1 * ' + q.kh + ' + ki) * ' + q.kw + ' + kj', 'oy * ' + q.ow + ' + ox']);
  const zero = elem === 'f32' ? '0.0' : '0';
  const body = `${c.code}  var acc: ${elem} = ${zero};
  for (var ki = 0; ki < ${q.kh}; ki++) {
    let ty = c2 + ${q.pt} - ki * ${q.dh};
    let oy = ty / ${q.sh};
    if (ty >= 0 && oy * ${q.sh} == ty && oy < ${q.oh}) {
      for (var kj = 0; kj < ${q.kw}; kj++) {
        let tx = c3 + ${q.pl} - kj * ${q.dw};
        let ox = tx / ${q.sw};
        if (tx >= 0 && ox * ${q.sw} == tx && ox < ${q.ow}) { acc += X0[${at}]; }
      }
    }
  }
  O[i] = acc;`;
  const source = kernel(params, [{ name: 'X0', elem }, { name: 'O', elem, write: true }], linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}

/**
 * WGSL for `x` with magnitudes under GRADIENT_FLUSH_BELOW (2⁻¹⁰⁰) as +0, NaN kept: what the
 * cpu and wasm backends write for the recurrent gate gradients and Adam's moments
 * (`flushTiny`), so that every backend agrees on what vanishes.
 */
export const flushed = (x: string): string => `select(${x}, 0.0, abs(${x}) < ${GRADIENT_FLUSH_BELOW.toExponential()})`;

/**
 * One Adam step over n contiguous float32 elements of p, grad, m and v (starting at
 * `offsets`): the moments updated in place (under 2⁻¹⁰⁰ as +0, as on the cpu and wasm
 * backends), the new parameters written to O — the op-by-op formula's arithmetic in its order.
 */
export function adamKernel(n: number, a: AdamStep, offsets: readonly number[]): KernelCall {
  const params = new Params();
  const [b1, b2, sbc2, eps, stepSize, decay, l2, sign] = [a.b1, a.b2, a.sbc2, a.eps, a.stepSize, a.decay, a.l2, a.sign].map((v) => params.float(v));
  const [c1, c2] = [params.float(1 - a.b1), params.float(1 - a.b2)];
  const [op, og, om, ov] = offsets.map((o) => params.int(o));
  const body = linearMain(
    params,
    n,
    `  let p = XP[i + ${op}];
  let d = ${sign} * G[i + ${og}] + ${l2} * p;
  let m = ${flushed(`${b1} * M[i + ${om}] + ${c1} * d`)};
  let v = ${flushed(`${b2} * V[i + ${ov}] + ${c2} * (d * d)`)};
  M[i + ${om}] = m;
  V[i + ${ov}] = v;
  O[i] = p * ${decay} - (m / (sqrt(v) / ${sbc2} + ${eps})) * ${stepSize};`,
  );
  const bindings: Binding[] = [
    { name: 'XP', elem: 'f32' },
    { name: 'G', elem: 'f32' },
    { name: 'M', elem: 'f32', write: true },
    { name: 'V', elem: 'f32', write: true },
    { name: 'O', elem: 'f32', write: true },
  ];
  return { source: kernel(params, bindings, body), params, groups: linearGrid(n) };
}
