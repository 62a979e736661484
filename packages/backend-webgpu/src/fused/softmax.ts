/**
 * softmax, logSoftmax and softmax cross-entropy (forward and backward) as one pass per row:
 * the row's max m and Σ exp(x − m) are found, then its outputs written. A row is one
 * invocation's loop when rows are many or short (like the reductions' rule), else one
 * workgroup's, its invocations striding over the row and meeting in workgroup memory.
 * Rows lie along any dim of any strided view; outputs are contiguous in the input's shape.
 */
import { contiguousStrides, sizeOf } from '@ml/tensor';
import { type View } from '@ml/tensor/backend';
import { grid, type KernelCall } from '../kernels.js';
import { decode, elementwise, GROUP, kernel, linearMain, Params, position, type Binding } from '../wgsl.js';

/** Rows at least this many run one per invocation even when long. */
const MANY_ROWS = 4096;

/** Whether rows of `len` elements, `rows` of them, get one invocation each (else a workgroup each). */
export function rowPerInvocation(rows: number, len: number): boolean {
  return len <= GROUP || rows >= MANY_ROWS;
}

/** The max's combine: NaN wins, as on the cpu backend and in the reductions. */
const maxOf = (a: string, b: string) => `select(select(${a}, ${b}, ${b} > ${a}), ${b}, is_nan(${b}))`;

/**
 * How a row's statistics are made. `shift`: the max, or (logsumexp's guard) 0 where the max
 * is not finite. `epilogue` runs once per element (index `j`, value `v`, output position
 * `oAt`) with `m` (the shift) and `s` (Σ exp(x − m)) known; `rowEnd`, when given, runs once
 * per row (by one invocation) instead of the per-element epilogue.
 */
interface RowKernel {
  x: View;
  dim: number;
  guard: boolean;
  /** WGSL run first for the row (`row` is its index, `base` where it starts in X) */
  prologue?: string;
  epilogue?: string;
  rowEnd?: string;
  bindings: Binding[];
}

function rowKernel(params: Params, r: RowKernel): KernelCall {
  const { x, dim } = r;
  const keptAxes = x.shape.map((_, i) => i).filter((i) => i !== dim);
  const keptShape = keptAxes.map((i) => x.shape[i]);
  const rows = sizeOf(keptShape);
  const len = x.shape[dim];
  const outStrides = contiguousStrides(x.shape);
  const k = decode(params, 'row', keptShape, 'k');
  const base = position(params, x.offset, keptAxes.map((i) => x.strides[i]), k.coords);
  const oBase = position(params, 0, keptAxes.map((i) => outStrides[i]), k.coords);
  const [LEN, STEP, OSTEP] = [params.int(len), params.int(x.strides[dim]), params.int(outStrides[dim])];
  const shift = r.guard ? `select(0.0, mx, !is_nan(mx) && !is_inf(mx))` : 'mx';
  const head = `${k.code}  let base = ${base};
  let oBase = ${oBase};
${r.prologue ?? ''}`;
  const each = (from: string, step: string) => `  for (var j = ${from}; j < ${LEN}; j += ${step}) {
    let v = X[base + j * ${STEP}];
    let oAt = oBase + j * ${OSTEP};
${r.epilogue ?? ''}
  }`;
  const finish = r.rowEnd ?? each('0', '1');
  if (rowPerInvocation(rows, len)) {
    const body = `${head}  var mx = -inf_like(0.0);
  for (var j = 0; j < ${LEN}; j++) { mx = ${maxOf('mx', `X[base + j * ${STEP}]`)}; }
  let m = ${shift};
  var s = 0.0;
  for (var j = 0; j < ${LEN}; j++) { s += exp(X[base + j * ${STEP}] - m); }
${finish}`;
    return { source: kernel(params, r.bindings, linearMain(params, rows, `  let row = i;\n${body}`)), params, groups: grid(Math.ceil(rows / GROUP)) };
  }
  const ROWS = params.int(rows);
  const tree = (combine: (a: string, b: string) => string) => `  for (var h = ${GROUP / 2}u; h > 0u; h = h >> 1u) {
    if (li < h) { part[li] = ${combine('part[li]', 'part[li + h]')}; }
    workgroupBarrier();
  }`;
  const body = `var<workgroup> part: array<f32, ${GROUP}>;
@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = i32(wg.y * nw.x + wg.x);
  if (row >= ${ROWS}) { return; }
${head}  var mx = -inf_like(0.0);
  for (var j = i32(li); j < ${LEN}; j += ${GROUP}) { mx = ${maxOf('mx', `X[base + j * ${STEP}]`)}; }
  part[li] = mx;
  workgroupBarrier();
${tree(maxOf)}
  let mxAll = part[0];
  workgroupBarrier();
  let m = ${shift.replaceAll('mx', 'mxAll')};
  var s = 0.0;
  for (var j = i32(li); j < ${LEN}; j += ${GROUP}) { s += exp(X[base + j * ${STEP}] - m); }
  part[li] = s;
  workgroupBarrier();
${tree((a, b) => `${a} + ${b}`)}
  s = part[0];
${r.rowEnd === undefined ? each('i32(li)', `${GROUP}`) : `  if (li == 0u) {\n${r.rowEnd}\n  }`}
}`;
  return { source: kernel(params, r.bindings, body), params, groups: grid(rows) };
}

const XO: Binding[] = [{ name: 'X', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }];

/** softmax along `dim`: exp(x − max) / Σ exp(x − max) (a row holding ±∞ or NaN gives NaN, as the composite). */
export function softmaxKernel(x: View, dim: number): KernelCall {
  return rowKernel(new Params(), { x, dim, guard: false, epilogue: '    O[oAt] = exp(v - m) / s;', bindings: XO });
}

/** log-softmax along `dim`: x − (log Σ exp(x − m) + m), m the max or 0 when that is not finite (logsumexp's guard). */
export function logSoftmaxKernel(x: View, dim: number): KernelCall {
  return rowKernel(new Params(), { x, dim, guard: true, epilogue: '    O[oAt] = v - (log_(s) + m);', bindings: XO });
}

/** softmaxCrossEntropy's error code in the backend's error buffer (see INDEX_ERRORS). */
export const CLASS_ERROR = 3;

/** The target class of row `row`, checked against C: a bad one is reported and read as 0. */
function targetClass(params: Params, target: View, C: string): string {
  const at = `${params.int(target.offset)} + row * ${params.int(target.strides[0] ?? 0)}`;
  return `  var tk = T[${at}];
  if (tk < 0 || tk >= ${C}) { E[0] = ${CLASS_ERROR}; E[1] = tk; E[2] = ${C}; tk = 0; }
`;
}

const ERRORS: Binding = { name: 'E', elem: 'i32', write: true };

/** Per-sample losses [N] of logits [N, C] against int32 classes [N]: log Σ exp(x − m) + m − x[t]. */
export function crossEntropyKernel(logits: View, target: View): KernelCall {
  const params = new Params();
  const C = params.int(logits.shape[1]);
  const STEP = params.int(logits.strides[1]);
  return rowKernel(params, {
    x: logits,
    dim: 1,
    guard: true,
    prologue: targetClass(params, target, C),
    rowEnd: `    O[row] = (log_(s) + m) - X[base + tk * ${STEP}];`,
    bindings: [{ name: 'X', elem: 'f32' }, { name: 'T', elem: 'i32' }, { name: 'O', elem: 'f32', write: true }, ERRORS],
  });
}

/**
 * ∂/∂logits: (softmax(x) − onehot(t))·g/divisor, g = dy[row] (dy [N]) or dy's one value,
 * softmax as exp(x − lse) — the cpu backend's formula.
 */
export function crossEntropyBackwardKernel(logits: View, target: View, dy: View, divisor: number): KernelCall {
  const params = new Params();
  const C = params.int(logits.shape[1]);
  const perRow = sizeOf(dy.shape) !== 1;
  const gAt = perRow ? `${params.int(dy.offset)} + row * ${params.int(dy.strides[0])}` : params.int(dy.offset);
  return rowKernel(params, {
    x: logits,
    dim: 1,
    guard: true,
    prologue: `${targetClass(params, target, C)}  let g = G[${gAt}] / ${params.float(divisor)};\n`,
    epilogue: '    O[oAt] = (exp(v - (log_(s) + m)) - select(0.0, 1.0, j == tk)) * g;',
    bindings: [{ name: 'X', elem: 'f32' }, { name: 'T', elem: 'i32' }, { name: 'G', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }, ERRORS],
  });
}

/** Σ of n contiguous values over `divisor`, into element 0 (one workgroup: a loss's mean over a batch). */
export function sumOverKernel(n: number, divisor: number): KernelCall {
  const params = new Params();
  const [N, D] = [params.int(n), params.float(divisor)];
  const body = `var<workgroup> part: array<f32, ${GROUP}>;
@compute @workgroup_size(${GROUP})
fn main(@builtin(local_invocation_index) li: u32) {
  var acc = 0.0;
  for (var j = i32(li); j < ${N}; j += ${GROUP}) { acc += X[j]; }
  part[li] = acc;
  workgroupBarrier();
  for (var h = ${GROUP / 2}u; h > 0u; h = h >> 1u) {
    if (li < h) { part[li] = part[li] + part[li + h]; }
    workgroupBarrier();
  }
  if (li == 0u) { O[0] = part[0] / ${D}; }
}`;
  return { source: kernel(params, XO, body), params, groups: [1, 1, 1] };
}

/** Elementwise relu gradient: dy where x > 0 (NaN x gives 0), else 0. */
export function reluBackwardKernel(x: View, dy: View): KernelCall {
  const params = new Params();
  const source = elementwise(params, [x, dy], x.shape, 'f32', 'select(0.0, b, a > 0.0)');
  return { source, params, groups: grid(Math.ceil(sizeOf(x.shape) / GROUP)) };
}
