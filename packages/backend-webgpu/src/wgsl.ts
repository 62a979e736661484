/**
 * WGSL generation. Every kernel is written for a structure (the ranks of its views, which
 * of them are contiguous, the dtypes), never for sizes: shapes, strides and offsets go in
 * a parameter block (i32 words in a uniform buffer), so one compiled pipeline serves every
 * tensor of that structure. The generated source is the pipeline cache's key.
 */
import { sizeOf, type DType } from '@ml/tensor';
import { isContiguousView, type View } from '@ml/tensor/backend';

/** How an element is held in a GPU buffer: float32 as f32; int32 and bool (0/1) as i32. */
export type Elem = 'f32' | 'i32';

export function elemOf(dtype: DType): Elem {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/** Invocations per workgroup of the one-thread-per-element kernels. */
export const GROUP = 64;

const f32Bits = new Float32Array(1);
const i32Bits = new Int32Array(f32Bits.buffer);

/** A kernel's parameter block: each `int`/`float` call adds a word and returns the WGSL that reads it. */
export class Params {
  readonly words: number[] = [];
  int(v: number): string {
    const k = this.words.push(v | 0) - 1;
    return `P[${k >> 2}].${'xyzw'[k & 3]}`;
  }
  float(v: number): string {
    f32Bits[0] = v;
    return `bitcast<f32>(${this.int(i32Bits[0])})`;
  }
  /** Its words, padded to whole vec4s. */
  data(): Int32Array {
    const out = new Int32Array(Math.max(4, Math.ceil(this.words.length / 4) * 4));
    out.set(this.words);
    return out;
  }
  declaration(): string {
    return `@group(0) @binding(0) var<uniform> P: array<vec4<i32>, ${Math.max(1, Math.ceil(this.words.length / 4))}>;`;
  }
}

/** A storage binding: inputs are read-only, outputs read-write. */
export interface Binding {
  name: string;
  elem: Elem;
  write?: boolean;
}

/** Helpers every kernel may call (unused ones cost nothing). NaN and ∞ are made at run time: WGSL rejects them as constants. */
const PRELUDE = /* wgsl */ `
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn nan_like(x: f32) -> f32 { return bitcast<f32>((bitcast<u32>(x) & 0u) | 0x7fc00000u); }
fn inf_like(x: f32) -> f32 { return bitcast<f32>((bitcast<u32>(x) & 0u) | 0x7f800000u); }
// Near 0 the GPU's exp and log are good to an absolute ~1e-7 only (not relative): series there.
fn expm1_(x: f32) -> f32 {
  if (abs(x) < 0.125) {
    return x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * (0.008333334 + x * (0.0013888889 + x * 0.00019841270))))));
  }
  return exp(x) - 1.0;
}
fn log_(x: f32) -> f32 {
  if (x < 0.0) { return nan_like(x); }
  if (x == 0.0) { return -inf_like(x); }
  return log(x);
}
fn log1p_(x: f32) -> f32 {
  if (x < -1.0) { return nan_like(x); }
  if (x == -1.0) { return -inf_like(x); }
  if (abs(x) < 0.125) {
    // log(1 + x) = 2·atanh(x / (2 + x)): odd powers of s = x / (2 + x), |s| < 0.067
    let s = x / (2.0 + x);
    let s2 = s * s;
    return 2.0 * s * (1.0 + s2 * (0.33333334 + s2 * (0.2 + s2 * (0.14285715 + s2 * 0.11111111))));
  }
  return log(1.0 + x);
}
fn sqrt_(x: f32) -> f32 { return select(sqrt(x), nan_like(x), x < 0.0); }
fn tanh_(x: f32) -> f32 {
  let e = expm1_(-2.0 * abs(x));
  let t = -e / (2.0 + e);
  return select(t, -t, x < 0.0);
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn erf_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 1.0) {
    // Maclaurin series, 12 terms: the first left out is below 1e-9 on [0, 1)
    let x2 = x * x;
    var term = x;
    var sum = x;
    for (var n = 1; n < 12; n++) {
      term = term * -x2 / f32(n);
      sum += term / f32(2 * n + 1);
    }
    return 1.1283791670955126 * sum;
  }
  if (a >= 4.0) { return sign(x); }
  // Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7, where erf is ≥ 0.84)
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(y, -y, x < 0.0);
}
fn pow_f(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return nan_like(a); }
  if (a == 0.0) { return select(0.0, inf_like(a), b < 0.0); }
  let r = exp2(b * log2(abs(a)));
  if (a > 0.0) { return r; }
  if (floor(b) != b) { return nan_like(a); }
  return select(r, -r, fract(b * 0.5) != 0.0);
}
fn pow_i(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) != 0); }
    return 0;
  }
  var r = 1;
  var base = a;
  var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) != 0) { r = r * base; }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}
// float → int32 as the cpu backend's Int32Array store does it: toward zero, modulo 2³², NaN and ±∞ to 0
fn f2i(x: f32) -> i32 {
  if (is_nan(x) || is_inf(x)) { return 0; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0) { return i32(t); }
  return bitcast<i32>(u32(t - 4294967296.0 * floor(t / 4294967296.0)));
}
`;

/** A whole module: the parameter block, the storage bindings (from binding 1), helpers, then `body`. */
export function kernel(params: Params, bindings: readonly Binding[], body: string): string {
  const decls = bindings.map(
    (b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.write ? 'read_write' : 'read'}> ${b.name}: array<${b.elem}>;`,
  );
  return [params.declaration(), ...decls, PRELUDE, body].join('\n');
}

/** The entry point of a one-invocation-per-element kernel over `n` elements: `i` is the element. */
export function linearMain(params: Params, n: number, body: string): string {
  const N = params.int(n);
  return `@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = i32((wg.y * nw.x + wg.x) * ${GROUP}u + li);
  if (i >= ${N}) { return; }
${body}
}`;
}

/**
 * Coordinates of the row-major index `idx` over `shape`, as WGSL `let`s named
 * `${name}0…`; returns the code and the coordinate expressions.
 */
export function decode(params: Params, idx: string, shape: readonly number[], name: string): { code: string; coords: string[] } {
  const r = shape.length;
  if (r === 0) return { code: '', coords: [] };
  if (r === 1) return { code: `  let ${name}0 = ${idx};\n`, coords: [`${name}0`] };
  let code = `  var ${name}r = ${idx};\n`;
  const coords = new Array<string>(r);
  for (let d = r - 1; d >= 1; d--) {
    const s = params.int(shape[d]);
    code += `  let ${name}${d} = ${name}r % ${s}; ${name}r = ${name}r / ${s};\n`;
    coords[d] = `${name}${d}`;
  }
  code += `  let ${name}0 = ${name}r;\n`;
  coords[0] = `${name}0`;
  return { code, coords };
}

/** offset + Σ coord·stride, with the sizes from the parameter block. */
export function position(params: Params, offset: number, strides: readonly number[], coords: readonly string[]): string {
  const terms = [params.int(offset)];
  for (let d = 0; d < coords.length; d++) terms.push(`(${coords[d]}) * ${params.int(strides[d])}`);
  return `(${terms.join(' + ')})`;
}

function broadcastsOne(v: View): boolean {
  return v.strides.every((s, i) => s === 0 || v.shape[i] === 1);
}

/**
 * Where element `i` (row-major over the view's shape) of `v` lives in its buffer: `offset + i`
 * for a contiguous view, `offset` for one value broadcast everywhere, else from coordinates
 * (decoded once into `coords`, shared by the views of one kernel).
 */
export function viewPosition(params: Params, v: View, coords: () => string[]): string {
  if (broadcastsOne(v)) return `${params.int(v.offset)}`;
  if (isContiguousView(v)) return `(${params.int(v.offset)} + i)`;
  return position(params, v.offset, v.strides, coords());
}

/**
 * An elementwise kernel: `out[i] = expr` where `expr` reads `a`, `b`, `c`… (the inputs'
 * elements at i, as their storage types); every input has the output's shape.
 */
export function elementwise(params: Params, inputs: readonly View[], shape: readonly number[], outElem: Elem, expr: string): string {
  const n = sizeOf(shape);
  let decoded: string[] | null = null;
  let coordCode = '';
  const coords = () => {
    if (decoded === null) {
      const d = decode(params, 'i', shape, 'c');
      coordCode = d.code;
      decoded = d.coords;
    }
    return decoded;
  };
  const names = ['a', 'b', 'c', 'd'];
  const loads = inputs.map((v, k) => `  let ${names[k]} = X${k}[${viewPosition(params, v, coords)}];\n`);
  const body = linearMain(params, n, `${coordCode}${loads.join('')}  O[i] = ${expr};`);
  const bindings: Binding[] = inputs.map((v, k) => ({ name: `X${k}`, elem: elemOf(v.dtype) }));
  bindings.push({ name: 'O', elem: outElem, write: true });
  return kernel(params, bindings, body);
}

/** WGSL converting `x` held as `from` (dtype) into `to`'s storage value. */
export function convert(x: string, from: DType, to: DType): string {
  if (to === 'bool') return from === 'float32' ? `select(0, 1, (bitcast<u32>(${x}) & 0x7fffffffu) != 0u)` : `select(0, 1, ${x} != 0)`;
  if (to === 'float32') return from === 'float32' ? x : `f32(${x})`;
  return from === 'float32' ? `f2i(${x})` : x;
}
