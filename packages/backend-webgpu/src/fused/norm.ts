/**
 * layerNorm (forward and backward) and GELU (forward and backward, exact and tanh forms).
 *
 * layerNorm: one workgroup per row of D elements, its invocations striding over the row
 * and meeting in workgroup memory for Σx (the mean) and then Σ(x − μ)² (two passes, as the
 * composite's variance), or an invocation per row for rows of at most 64 or 4096 rows and
 * more (softmax's rule); each row's [μ, 1/σ] is kept for the backward pass. Backward: a
 * row walk of the same kind for ∂x = rstd·(g − mean(g) − x̂·mean(g·x̂)) (g = dy·weight), then an
 * invocation per column (and chunk of 256 rows, the chunks added up in a second pass) for
 * ∂weight = Σ_rows dy·x̂ and ∂bias = Σ_rows dy. Rows are read contiguous (a strided x or
 * dy is copied first).
 *
 * GELU exact is x·Φ(x); Φ goes through erfc so that it keeps its relative accuracy on the
 * negative tail, where 1 + erf(x/√2) would cancel (see `PHI`).
 */
import { isContiguousView, type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import { grid, type KernelCall } from '../kernels.js';
import { decode, GROUP, kernel, linearMain, Params, viewPosition, type Binding } from '../wgsl.js';
import { rowPerInvocation } from './softmax.js';
import { flatView, type GpuSteps } from './steps.js';

const f32In = (name: string): Binding => ({ name, elem: 'f32' });
const f32Out = (name: string): Binding => ({ name, elem: 'f32', write: true });

// ------------------------------------------------------------------ layerNorm

/** A tree sum of workgroup array `p` over the workgroup, its total left in p[0] (every invocation must reach it). */
const tree = (p: string) => `  workgroupBarrier();
  for (var h = ${GROUP / 2}u; h > 0u; h = h >> 1u) {
    if (li < h) { ${p}[li] = ${p}[li] + ${p}[li + h]; }
    workgroupBarrier();
  }`;

/**
 * How a row kernel walks its rows: a workgroup per row, its invocations striding over the
 * row and meeting in workgroup memory (one array `part_<name>` per sum: reusing one array
 * for a second tree gave wrong sums on Mesa's llvmpipe); or, for short rows or many of
 * them (softmax's rule), an invocation per row looping over it.
 */
class RowWalk {
  constructor(readonly perInvocation: boolean) {}

  /** The entry point over R rows: `row` (and `li` for a workgroup), then `body`. */
  main(params: Params, R: number, sums: readonly string[], body: string): string {
    if (this.perInvocation) return linearMain(params, R, `  let row = i;\n${body}`);
    return `${sums.map((n) => `var<workgroup> part_${n}: array<f32, ${GROUP}>;`).join('\n')}
@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = i32(wg.y * nw.x + wg.x);
  if (row >= ${params.int(R)}) { return; }
${body}
}`;
  }

  /** A loop over the row's elements j this invocation handles. */
  each(D: string, body: string): string {
    return this.perInvocation ? `  for (var j = 0; j < ${D}; j++) { ${body} }` : `  for (var j = i32(li); j < ${D}; j += ${GROUP}) { ${body} }`;
  }

  /** Σ over the row of `term` (in j), into `name` for every invocation. */
  sum(name: string, D: string, term: string): string {
    const local = `  var acc_${name} = 0.0;\n${this.each(D, `acc_${name} += ${term};`)}`;
    if (this.perInvocation) return `${local}\n  let ${name} = acc_${name};`;
    return `${local}
  part_${name}[li] = acc_${name};
${tree(`part_${name}`)}
  let ${name} = part_${name}[0];`;
  }

  /** Code run once per row. */
  once(code: string): string {
    return this.perInvocation ? `  ${code}` : `  if (li == 0u) { ${code} }`;
  }

  groups(R: number): [number, number, number] {
    return this.perInvocation ? grid(Math.ceil(R / GROUP)) : grid(R);
  }
}

/**
 * Rows of x (contiguous from its offset) → Y = (x − μ)·rstd·weight + bias and S = [μ, rstd]
 * per row. Weight and bias are contiguous [D] views or absent.
 */
function layerNormKernel(x: View, weight: View | null, bias: View | null, R: number, D: number, eps: number): KernelCall {
  const params = new Params();
  const walk = new RowWalk(rowPerInvocation(R, D));
  const [DD, X0, EPS] = [params.int(D), params.int(x.offset), params.float(eps)];
  const w = weight === null ? '1.0' : `Wt[${params.int(weight.offset)} + j]`;
  const b = bias === null ? '0.0' : `Bs[${params.int(bias.offset)} + j]`;
  const body = `  let base = ${X0} + row * ${DD};
${walk.sum('s', DD, 'X[base + j]')}
  let mu = s / f32(${DD});
${walk.sum('ss', DD, '(X[base + j] - mu) * (X[base + j] - mu)')}
  let rstd = 1.0 / sqrt(ss / f32(${DD}) + ${EPS});
${walk.each(DD, `Y[row * ${DD} + j] = (X[base + j] - mu) * rstd * ${w} + ${b};`)}
${walk.once('S[2 * row] = mu; S[2 * row + 1] = rstd;')}`;
  const bindings = [f32In('X'), ...(weight === null ? [] : [f32In('Wt')]), ...(bias === null ? [] : [f32In('Bs')]), f32Out('Y'), f32Out('S')];
  return { source: kernel(params, bindings, walk.main(params, R, ['s', 'ss'], body)), params, groups: walk.groups(R) };
}

/** ∂x rows: rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·weight, x̂ = (x − μ)·rstd, into O[row·D + j]. */
function layerNormDxKernel(x: View, weight: View | null, dy: View, stats: View, R: number, D: number): KernelCall {
  const params = new Params();
  const walk = new RowWalk(rowPerInvocation(R, D));
  const [DD, X0, D0, S0] = [params.int(D), params.int(x.offset), params.int(dy.offset), params.int(stats.offset)];
  const w = weight === null ? '1.0' : `Wt[${params.int(weight.offset)} + j]`;
  const g = `G[gb + j] * ${w}`;
  const xh = '(X[xb + j] - mu) * rstd';
  const body = `  let xb = ${X0} + row * ${DD};
  let gb = ${D0} + row * ${DD};
  let mu = S[${S0} + 2 * row];
  let rstd = S[${S0} + 2 * row + 1];
${walk.sum('sg', DD, g)}
${walk.sum('sgx', DD, `${g} * ${xh}`)}
  let mg = sg / f32(${DD});
  let mgx = sgx / f32(${DD});
${walk.each(DD, `O[row * ${DD} + j] = rstd * (${g} - mg - ${xh} * mgx);`)}`;
  const bindings = [f32In('X'), ...(weight === null ? [] : [f32In('Wt')]), f32In('G'), f32In('S'), f32Out('O')];
  return { source: kernel(params, bindings, walk.main(params, R, ['sg', 'sgx'], body)), params, groups: walk.groups(R) };
}

/** Rows per invocation of the column sums: past this, rows are split into chunks summed in a second pass. */
const CHUNK_ROWS = 256;

/**
 * ∂weight and ∂bias over one chunk of rows: invocation (c, j) writes column j's Σ dy·x̂ and
 * Σ dy over rows [c·CHUNK, (c + 1)·CHUNK) to O[at + c·2D + j] and O[at + c·2D + D + j].
 */
function layerNormDwKernel(x: View, dy: View, stats: View, R: number, D: number, chunks: number, at: number): KernelCall {
  const params = new Params();
  const [ROWS, DD, X0, D0, S0, AT, CH] = [params.int(R), params.int(D), params.int(x.offset), params.int(dy.offset), params.int(stats.offset), params.int(at), params.int(Math.ceil(R / chunks))];
  const body = `  let c = i / ${DD};
  let j = i % ${DD};
  var dw = 0.0;
  var db = 0.0;
  for (var r = c * ${CH}; r < min(${ROWS}, (c + 1) * ${CH}); r++) {
    let g = G[${D0} + r * ${DD} + j];
    dw += g * (X[${X0} + r * ${DD} + j] - S[${S0} + 2 * r]) * S[${S0} + 2 * r + 1];
    db += g;
  }
  O[${AT} + c * 2 * ${DD} + j] = dw;
  O[${AT} + c * 2 * ${DD} + ${DD} + j] = db;`;
  const n = chunks * D;
  return { source: kernel(params, [f32In('X'), f32In('G'), f32In('S'), f32Out('O')], linearMain(params, n, body)), params, groups: grid(Math.ceil(n / GROUP)) };
}

/** O[at + k] = Σ_c T[offset + c·width + k] for k < width: the chunks' partial column sums added up. */
function chunkSumKernel(t: View, chunks: number, width: number, at: number): KernelCall {
  const params = new Params();
  const [T0, C, W, AT] = [params.int(t.offset), params.int(chunks), params.int(width), params.int(at)];
  const body = `  var acc = 0.0;
  for (var c = 0; c < ${C}; c++) { acc += T[${T0} + c * ${W} + i]; }
  O[${AT} + i] = acc;`;
  return { source: kernel(params, [f32In('T'), f32Out('O')], linearMain(params, width, body)), params, groups: grid(Math.ceil(width / GROUP)) };
}

/** A view as one the row kernels can read (contiguous from its offset): itself, or a copy to give back. */
function contiguous(io: GpuSteps, v: View): { view: View; copy: DataId | null } {
  if (isContiguousView(v)) return { view: v, copy: null };
  const copy = io.copy(v);
  return { view: { data: copy, dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 }, copy };
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

function giveBack(io: GpuSteps, parts: readonly { copy: DataId | null }[]): void {
  for (const p of parts) if (p.copy !== null) io.dispose(p.copy);
}

const float32 = (views: readonly (View | null)[]) => views.every((v) => v === null || v.dtype === 'float32');
const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Y [R rows of D] and the rows' [μ, rstd] (`stats`, a fresh [R, 2] buffer). */
function normalize(io: GpuSteps, x: View, weight: View | null, bias: View | null, D: number, eps: number): { y: DataId; stats: DataId } {
  const R = sizeOf(x.shape) / D;
  const parts = [x, weight, bias].map((v) => (v === null ? null : contiguous(io, v)));
  const [xc, wc, bc] = parts.map((p) => p?.view ?? null);
  const y = io.alloc('layerNorm', R * D);
  const stats = io.alloc('layerNorm', 2 * R);
  const inputs = [xc!, ...(wc === null ? [] : [wc]), ...(bc === null ? [] : [bc])];
  io.queue('layerNorm', inputs, [y, stats], ([vx, ...rest]) => layerNormKernel(vx, wc === null ? null : rest[0], bc === null ? null : rest[rest.length - 1], R, D, eps));
  giveBack(io, parts.filter((p) => p !== null));
  return { y, stats };
}

/** layerNorm over the trailing D elements of each row; with `save`, keeps [μ, rstd] per row ([R, 2] float32). */
export function layerNormGpu(io: GpuSteps, x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward): DataId | null {
  if (!float32([x, weight, bias]) || sizeOf(x.shape) === 0 || D === 0) return null;
  const { y, stats } = normalize(io, x, weight, bias, D, eps);
  if (save !== null) save(stats, [sizeOf(x.shape) / D, 2], 'float32');
  else io.dispose(stats);
  return y;
}

/** layerNormBackward → [∂x (R·D) | ∂weight (D) | ∂bias (D)], from the saved [μ, rstd] rows (recomputed without them). */
export function layerNormBackwardGpu(io: GpuSteps, x: View, weight: View | null, dy: View, D: number, eps: number, saved: readonly View[]): DataId | null {
  const n = sizeOf(x.shape);
  if (!float32([x, weight, dy]) || n === 0 || D === 0 || saved.length > 1) return null;
  const R = n / D;
  const s = saved[0];
  const usable = s !== undefined && s.dtype === 'float32' && sizeOf(s.shape) === 2 * R && isContiguousView(s);
  const fresh = usable ? null : normalize(io, x, null, null, D, eps);
  if (fresh !== null) io.dispose(fresh.y);
  const stats: View = fresh === null ? s : { data: fresh.stats, dtype: 'float32', shape: [R, 2], strides: [2, 1], offset: 0 };
  const parts = [contiguous(io, x), contiguous(io, dy), ...(weight === null ? [] : [contiguous(io, weight)])];
  const [xc, dc, wc] = parts.map((p) => p.view);
  const out = io.alloc('layerNormBackward', n + 2 * D);
  const inputs = wc === undefined ? [xc, dc, stats] : [xc, wc, dc, stats];
  io.queue('layerNormBackward', inputs, [out], (v) => (wc === undefined ? layerNormDxKernel(v[0], null, v[1], v[2], R, D) : layerNormDxKernel(v[0], v[1], v[2], v[3], R, D)));
  const chunks = Math.ceil(R / CHUNK_ROWS);
  if (chunks === 1) {
    io.queue('layerNormBackward', [xc, dc, stats], [out], ([vx, vd, vs]) => layerNormDwKernel(vx, vd, vs, R, D, 1, n));
  } else {
    const partial = io.alloc('layerNormBackward', chunks * 2 * D);
    io.queue('layerNormBackward', [xc, dc, stats], [partial], ([vx, vd, vs]) => layerNormDwKernel(vx, vd, vs, R, D, chunks, 0));
    io.queue('layerNormBackward', [flatView(partial, [chunks * 2 * D])], [out], ([vt]) => chunkSumKernel(vt, chunks, 2 * D, n));
    io.dispose(partial);
  }
  giveBack(io, parts);
  if (fresh !== null) io.dispose(fresh.stats);
  return out;
}

// ------------------------------------------------------------------ GELU

/**
 * Φ(x) in f32 to ~1e-6 relative everywhere, the negative tail included: Φ(−a) = ½·erfc(a/√2)
 * with erfc(z) = 1 − erf(z) by its Maclaurin series for z < 0.5, else the Chebyshev fit
 * t·exp(−z² + P(t)), t = 1/(1 + z/2), of Press et al., Numerical Recipes §6.2 (fractional
 * error < 1.2e-7); Φ(x) = 1 − Φ(−x) for x > 0. Φ's relative sensitivity to its argument
 * grows as x², so z² = a²/2 is never taken from a rounded a/√2: it is ½(ah² + (2ah + al)·al)
 * with ah the top 12 bits of a (ah² exact), and exp(−ah²/2) is reduced by hand (Cody and
 * Waite): the GPU's exp(u) goes through exp2(u·log₂e), whose rounded argument costs |u|·6e-8.
 */
const PHI = /* wgsl */ `
fn exp_reduced(u: f32) -> f32 {
  let n = round(u * 1.4426950408889634);
  // ln 2 = 0.693145751953125 (16 bits: n·that is exact) + 1.4286068203094172e-6
  let r = (u - n * 0.693145751953125) - n * 1.4286068203094172e-6;
  return ldexp(exp(r), i32(n));
}
// Φ(−a) for a ≥ 0
fn phi_tail(a: f32) -> f32 {
  let z = a * 0.70710678118654752;
  if (z < 0.5) {
    let z2 = z * z;
    var term = z;
    var sum = z;
    for (var n = 1; n < 8; n++) {
      term = term * -z2 / f32(n);
      sum += term / f32(2 * n + 1);
    }
    return 0.5 - 0.5641895835477563 * sum;
  }
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let ah = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
  let al = a - ah;
  return 0.5 * t * exp_reduced(-0.5 * ah * ah) * exp(p - 0.5 * (2.0 * ah + al) * al);
}
fn phi_cdf(x: f32) -> f32 {
  if (x < 0.0) { return phi_tail(-x); }
  return 1.0 - phi_tail(x);
}
`;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TANH_C = 0.044715;

/**
 * An elementwise kernel over x's shape with outputs O (and C when `two`): the body sees the
 * inputs' values as `a` (x), `g` (dy) and `s` (the saved value) when given.
 */
function geluLike(params: Params, inputs: readonly View[], names: readonly string[], outs: readonly string[], body: string): KernelCall {
  const shape = inputs[0].shape;
  const n = sizeOf(shape);
  let coordCode = '';
  let coords: string[] | null = null;
  const at = () => {
    if (coords === null) {
      const d = decode(params, 'i', shape, 'c');
      coordCode = d.code;
      coords = d.coords;
    }
    return coords;
  };
  const loads = inputs.map((v, k) => `  let ${names[k]} = X${k}[${viewPosition(params, v, at)}];`).join('\n');
  const main = linearMain(params, n, `${coordCode}${loads}\n${body}`);
  const bindings = [...inputs.map((_, k) => f32In(`X${k}`)), ...outs.map((o) => f32Out(o))];
  return { source: kernel(params, bindings, `${PHI}\n${main}`), params, groups: grid(Math.ceil(n / GROUP)) };
}

/** gelu: x·Φ(x), or x·σ(2u) = ½x(1 + tanh u) with u = √(2/π)(x + 0.044715x³); C keeps Φ(x) or tanh u. */
function geluKernel(x: View, tanhForm: boolean, save: boolean): KernelCall {
  const params = new Params();
  const body = tanhForm
    ? `  let u = ${params.float(SQRT_2_OVER_PI)} * (a + ${params.float(TANH_C)} * a * a * a);
  O[i] = a * sigmoid_(2.0 * u);${save ? '\n  C[i] = tanh_(u);' : ''}`
    : `  let p = phi_cdf(a);
  O[i] = a * p;${save ? '\n  C[i] = p;' : ''}`;
  return geluLike(params, [x], ['a'], save ? ['O', 'C'] : ['O'], body);
}

/** dy·gelu′(x): Φ + x·φ(x), or ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²); Φ or t from `kept` when given. */
function geluBackwardKernel(x: View, dy: View, kept: View | null, tanhForm: boolean): KernelCall {
  const params = new Params();
  const [K, C] = [params.float(SQRT_2_OVER_PI), params.float(TANH_C)];
  const body = tanhForm
    ? `  let t = ${kept === null ? `tanh_(${K} * (a + ${C} * a * a * a))` : 's'};
  O[i] = g * (0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * ${K} * (1.0 + 3.0 * ${C} * a * a));`
    : `  let p = ${kept === null ? 'phi_cdf(a)' : 's'};
  O[i] = g * (p + a * ${params.float(INV_SQRT_2PI)} * exp(-0.5 * a * a));`;
  const inputs = kept === null ? [x, dy] : [x, dy, kept];
  return geluLike(params, inputs, ['a', 'g', 's'], ['O'], body);
}

/** gelu; with `save`, keeps Φ(x) (exact) or tanh u (tanh form), x's shape. */
export function geluGpu(io: GpuSteps, x: View, approximate: 'none' | 'tanh', save: SaveForBackward): DataId | null {
  const n = sizeOf(x.shape);
  if (!float32([x]) || n === 0) return null;
  const out = io.alloc('gelu', n);
  const kept = save === null ? null : io.alloc('gelu', n);
  io.queue('gelu', [x], kept === null ? [out] : [out, kept], ([v]) => geluKernel(v, approximate === 'tanh', kept !== null));
  if (save !== null && kept !== null) save(kept, x.shape, 'float32');
  return out;
}

/** geluBackward, from what gelu saved when it matches x's shape (else recomputed). */
export function geluBackwardGpu(io: GpuSteps, x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[]): DataId | null {
  const n = sizeOf(x.shape);
  if (!float32([x, dy]) || n === 0 || saved.length > 1) return null;
  const s = saved[0];
  const kept = s !== undefined && s.dtype === 'float32' && s.shape.length === x.shape.length && s.shape.every((d, i) => d === x.shape[i]) ? s : null;
  const out = io.alloc('geluBackward', n);
  const inputs = kept === null ? [x, dy] : [x, dy, kept];
  io.queue('geluBackward', inputs, [out], ([vx, vd, vs]) => geluBackwardKernel(vx, vd, vs ?? null, approximate === 'tanh'));
  return out;
}
