/**
 * The whole-sequence recurrent ops (lstmSequence, gruSequence, rnnSequence and their
 * backward passes; layouts in @ml/tensor's FusedKernels) as ONE kernel per time step, all
 * steps queued into the backend's command encoder with no read between them.
 *
 * Forward, step t: one invocation per (b, j) computes its gates' recurrent products
 * h_{t−1}·W_hhᵀ itself (G dot products of length H; h_{t−1} is the previous output slot,
 * or h0 on the first step) and writes slot t of the output and of the saved activations.
 * A dedicated product beats the tiled matmul here: the products are [B, H]·[H, G·H] with B
 * small, and it halves the kernels per step (each one a pass the GPU waits on).
 * Backward, step t (in reverse run order): the carried ∂h of the step after is the product
 * of that step's gate gradients (already in the output) with W_hh, again per invocation;
 * a last kernel writes ∂h0. ∂W_hh is left to the op's gradient rule (one product).
 *
 * Every operand may be any strided view (strides and offsets are kernel parameters);
 * they decline float64 and other dtypes and empty sizes. A backward pass without the
 * activations its forward saved runs the forward kernels again to get them.
 */
import { type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import { flushed, grid, type KernelCall } from '../kernels.js';
import { GROUP, kernel, linearMain, Params, type Binding } from '../wgsl.js';
import { flatView, type GpuSteps } from './steps.js';

/** Element (t, b, c) of a 3-D view, or (r, c) of a 2-D one, as WGSL over the parameter block. */
function at(params: Params, v: View): (...idx: string[]) => string {
  const off = params.int(v.offset);
  const strides = v.strides.map((s) => params.int(s));
  return (...idx) => `(${off}${idx.map((x, d) => ` + (${x}) * ${strides[d]}`).join('')})`;
}

const f32In = (name: string): Binding => ({ name, elem: 'f32' });
const f32Out = (name: string): Binding => ({ name, elem: 'f32', write: true });

/** The steps in the order they run: 0 … L−1, or L−1 … 0 with `reverse`. */
function order(L: number, reverse: boolean): number[] {
  return Array.from({ length: L }, (_, s) => (reverse ? L - 1 - s : s));
}

/** Where step `s` of the run sits in time, and the steps around it (−1 where there is none). */
interface StepAt {
  /** the step's time slot */
  t: number;
  /** the slot run before it (its h_{t−1}), −1 on the first step */
  prev: number;
  /** the slot run after it (whose gradient carries into it), −1 on the last step */
  next: number;
}

function stepAt(run: readonly number[], s: number): StepAt {
  return { t: run[s], prev: s > 0 ? run[s - 1] : -1, next: s + 1 < run.length ? run[s + 1] : -1 };
}

/**
 * The common head of a step kernel: b and j of invocation i, the step's slots, and the
 * sum over k < H of h_{t−1}[b, k]·W[row(k)… ] for each gate row given (`dots`: name → row
 * expression in j), h_{t−1} read from slot `prev` of O (`width` per row) or from H0.
 */
function forwardHead(params: Params, s: { B: number; H: number; step: StepAt; width: number }, h0: View, whh: View, dots: Record<string, string>): string {
  const [B, H, T, PREV, W] = [params.int(s.B), params.int(s.H), params.int(s.step.t), params.int(s.step.prev), params.int(s.width)];
  const [HS, WS] = [params.int(h0.strides[1]), params.int(whh.strides[1])];
  const h = at(params, h0);
  const w = at(params, whh);
  const names = Object.keys(dots);
  // positions stepped by additions: the loop is bound by its loads, not its index arithmetic
  const sum = (hk: string, next: string) => `    let hk = ${hk};
${names.map((n) => `    ${n} += hk * Wh[w_${n}];
    w_${n} += ${WS};`).join('\n')}
    ${next}`;
  return `  let b = i / ${H};
  let j = i % ${H};
  let H = ${H};
  let t = ${T};
  let prev = ${PREV};
  let y0 = (t * ${B} + b) * ${W};
  let p0 = (prev * ${B} + b) * ${W};
${names.map((n) => `  var ${n} = 0.0;
  var w_${n} = ${w(dots[n], '0')};`).join('\n')}
  if (prev < 0) {
    var hAt = ${h('b', '0')};
    for (var k = 0; k < H; k++) {
${sum('H0[hAt]', `hAt += ${HS};`)}
    }
  } else {
    for (var k = 0; k < H; k++) {
${sum('O[p0 + k]', '')}
    }
  }
`;
}

/**
 * The head of a backward step kernel: b, j, the step's slots, and `carry` = Σ_k over the
 * G·H gate gradients of the step run after this one (row b of slot `gradSlot(next)` of O)
 * times W_hh[k, j]: the part of ∂h_t that flows back through that step's recurrent product.
 */
function backwardHead(params: Params, s: { B: number; H: number; G: number; step: StepAt; gradBase: number }, whh: View): string {
  const [B, H, GH, T, PREV, NEXT, BASE] = [s.B, s.H, s.G * s.H, s.step.t, s.step.prev, s.step.next, s.gradBase].map((x) => params.int(x));
  const w = at(params, whh);
  return `  let b = i / ${H};
  let j = i % ${H};
  let H = ${H};
  let t = ${T};
  let prev = ${PREV};
  let next = ${NEXT};
  var carry = 0.0;
  if (next >= 0) {
    let q0 = ((${BASE} + next) * ${B} + b) * ${GH};
    for (var k = 0; k < ${GH}; k++) { carry += O[q0 + k] * Wh[${w('k', 'j')}]; }
  }
`;
}

/**
 * The last kernel of a backward pass: `store(acc)` with acc = Σ_k of the first-run step's
 * G·H gradients (slot `gradBase + first`) times W_hh[k, j], i.e. ∂h0 through the first product.
 */
function finalKernel(whh: View, s: { B: number; H: number; G: number; first: number; gradBase: number }, store: (p: Params) => string): KernelCall {
  const params = new Params();
  const [B, H, GH, FIRST, BASE] = [s.B, s.H, s.G * s.H, s.first, s.gradBase].map((x) => params.int(x));
  const w = at(params, whh);
  const body = `  let b = i / ${H};
  let j = i % ${H};
  let H = ${H};
  let q0 = ((${BASE} + ${FIRST}) * ${B} + b) * ${GH};
  var acc = 0.0;
  for (var k = 0; k < ${GH}; k++) { acc += O[q0 + k] * Wh[${w('k', 'j')}]; }
${store(params)}`;
  return call(params, [f32In('Wh'), f32Out('O')], s.B * s.H, body);
}

function call(params: Params, bindings: Binding[], n: number, body: string): KernelCall {
  return { source: kernel(params, bindings, linearMain(params, n, body)), params, groups: grid(Math.ceil(n / GROUP)) };
}

/** Whether every operand is float32 (the GPU's float; the op checked they share a dtype). */
function float32(views: readonly (View | null)[]): boolean {
  return views.every((v) => v === null || v.dtype === 'float32');
}

/**
 * The activations of the forward pass: the saved tensor when it has the expected shape,
 * else (`fresh` not null) recomputed by `forward` with a save that catches them; the
 * caller gives back `fresh`.
 */
function activations(io: GpuSteps, saved: readonly View[], shape: readonly number[], forward: (save: SaveForBackward) => DataId | null): { acts: View; fresh: DataId | null } | null {
  const s = saved.length === 1 ? saved[0] : null;
  if (s !== null && s.dtype === 'float32' && s.shape.length === shape.length && s.shape.every((d, i) => d === shape[i])) return { acts: s, fresh: null };
  const caught: { data: DataId | null } = { data: null };
  const y = forward((data) => {
    caught.data = data;
  });
  if (y === null || caught.data === null) return null;
  io.dispose(y);
  return { acts: flatView(caught.data, shape), fresh: caught.data };
}

/**
 * W_hh [G·H, H] as a view of a column-major copy (element (r, k) at r + k·G·H): the forward
 * kernels' invocation j reads row j's k-th element in step k, so neighbouring invocations
 * read neighbouring words (one vector load instead of a gather on a SIMD CPU, coalesced on
 * a GPU). The caller gives back `copy`.
 */
function columnMajor(io: GpuSteps, whh: View): { view: View; copy: DataId } {
  const [GH, H] = whh.shape;
  const copy = io.copy({ ...whh, shape: [H, GH], strides: [whh.strides[1], whh.strides[0]] });
  return { view: { data: copy, dtype: 'float32', shape: [GH, H], strides: [1, GH], offset: 0 }, copy };
}

// ------------------------------------------------------------------ LSTM

/** LSTM step t: a = xw_t + h_{t−1}·W_hhᵀ (gates i, f, g, o); O slot t = [h_t | c_t]; A slot t = [i, f, g, o, tanh c_t]. */
function lstmStepKernel(xw: View, h0: View, c0: View, whh: View, B: number, H: number, step: StepAt, save: boolean): KernelCall {
  const params = new Params();
  const head = forwardHead(params, { B, H, step, width: 2 * H }, h0, whh, { ai: 'j', af: 'H + j', ag: '2 * H + j', ao: '3 * H + j' });
  const x = at(params, xw);
  const c = at(params, c0);
  const a0 = save ? `  let a0 = (t * ${params.int(B)} + b) * 5 * H;\n  A[a0 + j] = ig; A[a0 + H + j] = fg; A[a0 + 2 * H + j] = gg; A[a0 + 3 * H + j] = og; A[a0 + 4 * H + j] = tc;` : '';
  const body = `${head}  let ig = sigmoid_(XW[${x('t', 'b', 'j')}] + ai);
  let fg = sigmoid_(XW[${x('t', 'b', 'H + j')}] + af);
  let gg = tanh_(XW[${x('t', 'b', '2 * H + j')}] + ag);
  let og = sigmoid_(XW[${x('t', 'b', '3 * H + j')}] + ao);
  var cp = 0.0;
  if (prev < 0) { cp = C0[${c('b', 'j')}]; } else { cp = O[p0 + H + j]; }
  let c1 = fg * cp + ig * gg;
  let tc = tanh_(c1);
  O[y0 + j] = og * tc;
  O[y0 + H + j] = c1;
${a0}`;
  const bindings = [f32In('XW'), f32In('H0'), f32In('C0'), f32In('Wh'), f32Out('O'), ...(save ? [f32Out('A')] : [])];
  return call(params, bindings, B * H, body);
}

/** lstmSequence: [L, B, 2H]; with `save`, keeps [i, f, g, o, tanh c_t] per step ([L, B, 5H]). */
export function lstmSequenceGpu(io: GpuSteps, xw: View, h0: View, c0: View, whh: View, reverse: boolean, save: SaveForBackward): DataId | null {
  const [L, B] = xw.shape;
  const H = h0.shape[1];
  if (!float32([xw, h0, c0, whh]) || L * B * H === 0 || io.maxBuffers() < 6) return null;
  const out = io.alloc('lstmSequence', L * B * 2 * H);
  const acts = save === null ? null : io.alloc('lstmSequence', L * B * 5 * H);
  const run = order(L, reverse);
  const w = columnMajor(io, whh);
  for (let s = 0; s < L; s++) {
    const step = stepAt(run, s);
    const outs = acts === null ? [out] : [out, acts];
    io.queue('lstmSequence', [xw, h0, c0, w.view], outs, ([x, h, c, wv]) => lstmStepKernel(x, h, c, wv, B, H, step, acts !== null));
  }
  io.dispose(w.copy);
  if (save !== null && acts !== null) save(acts, [L, B, 5 * H], 'float32');
  return out;
}

/**
 * LSTM backward step t into O [L + 1, B, 4H]: slot t the gate pre-activation gradients,
 * slot L's second quarter the carried ∂c (∂c0 at the end), with
 * ∂h = dy_h + carry, ∂c = dy_c + ∂c carried + ∂h·o·(1 − tanh²c_t).
 */
function lstmBackStepKernel(acts: View, dy: View, y: View, c0: View, whh: View, B: number, H: number, L: number, step: StepAt): KernelCall {
  const params = new Params();
  const head = backwardHead(params, { B, H, G: 4, step, gradBase: 0 }, whh);
  const [a, d, yv, c] = [at(params, acts), at(params, dy), at(params, y), at(params, c0)];
  const [BB, LAST] = [params.int(B), params.int(L * B * 4 * H)];
  const body = `${head}  let k0 = ${LAST} + b * 4 * H + H + j;
  var dcCarry = 0.0;
  if (next >= 0) { dcCarry = O[k0]; }
  let ig = A[${a('t', 'b', 'j')}];
  let fg = A[${a('t', 'b', 'H + j')}];
  let gg = A[${a('t', 'b', '2 * H + j')}];
  let og = A[${a('t', 'b', '3 * H + j')}];
  let tc = A[${a('t', 'b', '4 * H + j')}];
  var cp = 0.0;
  if (prev < 0) { cp = C0[${c('b', 'j')}]; } else { cp = Y[${yv('prev', 'b', 'H + j')}]; }
  let dh = DY[${d('t', 'b', 'j')}] + carry;
  let dc = DY[${d('t', 'b', 'H + j')}] + dcCarry + dh * og * (1.0 - tc * tc);
  let g0 = (t * ${BB} + b) * 4 * H;
  O[g0 + j] = ${flushed('dc * gg * ig * (1.0 - ig)')};
  O[g0 + H + j] = ${flushed('dc * cp * fg * (1.0 - fg)')};
  O[g0 + 2 * H + j] = ${flushed('dc * ig * (1.0 - gg * gg)')};
  O[g0 + 3 * H + j] = ${flushed('dh * tc * og * (1.0 - og)')};
  O[k0] = ${flushed('dc * fg')};`;
  return call(params, [f32In('A'), f32In('DY'), f32In('Y'), f32In('C0'), f32In('Wh'), f32Out('O')], B * H, body);
}

/** lstmSequenceBackward: [L + 1, B, 4H] from the activations lstmSequence saved (recomputed without them). */
export function lstmSequenceBackwardGpu(io: GpuSteps, xw: View, h0: View, c0: View, whh: View, y: View, dy: View, reverse: boolean, saved: readonly View[]): DataId | null {
  const [L, B] = y.shape;
  const H = h0.shape[1];
  if (!float32([h0, c0, whh, y, dy, ...saved]) || L * B * H === 0 || io.maxBuffers() < 6 || saved.length > 1) return null;
  const got = activations(io, saved, [L, B, 5 * H], (save) => lstmSequenceGpu(io, xw, h0, c0, whh, reverse, save));
  if (got === null) return null;
  const { acts, fresh } = got;
  const out = io.alloc('lstmSequenceBackward', (L + 1) * B * 4 * H);
  const run = order(L, reverse);
  for (let s = L - 1; s >= 0; s--) {
    const step = stepAt(run, s);
    io.queue('lstmSequenceBackward', [acts, dy, y, c0, whh], [out], ([a, d, yv, c, w]) => lstmBackStepKernel(a, d, yv, c, w, B, H, L, step));
  }
  // slot L = [∂h0 | ∂c0 (already there) | 0 | 0]
  io.queue('lstmSequenceBackward', [whh], [out], ([w]) =>
    finalKernel(w, { B, H, G: 4, first: run[0], gradBase: 0 }, (p) => {
      const r = `${p.int(L * B * 4 * H)} + b * 4 * H`;
      return `  O[${r} + j] = acc;\n  O[${r} + 2 * H + j] = 0.0;\n  O[${r} + 3 * H + j] = 0.0;`;
    }),
  );
  if (fresh !== null) io.dispose(fresh);
  return out;
}

// ------------------------------------------------------------------ GRU

/**
 * GRU step t (reset-after): r = σ(x_r + hW_r + b_r), z = σ(x_z + hW_z + b_z),
 * n = tanh(x_n + r∘(hW_n + b_n)), h_t = (1 − z)∘n + z∘h_{t−1}; A slot t = [r, z, n, hW_n + b_n].
 */
function gruStepKernel(xp: View, h0: View, whh: View, bhh: View | null, B: number, H: number, step: StepAt, save: boolean): KernelCall {
  const params = new Params();
  const head = forwardHead(params, { B, H, step, width: H }, h0, whh, { ar: 'j', az: 'H + j', an: '2 * H + j' });
  const x = at(params, xp);
  const h = at(params, h0);
  const bias = (k: string) => (bhh === null ? '0.0' : `BH[${at(params, bhh)(k)}]`);
  const a0 = save ? `  let a0 = (t * ${params.int(B)} + b) * 4 * H;\n  A[a0 + j] = r; A[a0 + H + j] = z; A[a0 + 2 * H + j] = n; A[a0 + 3 * H + j] = hn;` : '';
  const body = `${head}  let r = sigmoid_(XP[${x('t', 'b', 'j')}] + ar + ${bias('j')});
  let z = sigmoid_(XP[${x('t', 'b', 'H + j')}] + az + ${bias('H + j')});
  let hn = an + ${bias('2 * H + j')};
  let n = tanh_(XP[${x('t', 'b', '2 * H + j')}] + r * hn);
  var hp = 0.0;
  if (prev < 0) { hp = H0[${h('b', 'j')}]; } else { hp = O[p0 + j]; }
  O[y0 + j] = n + z * (hp - n);
${a0}`;
  const bindings = [f32In('XP'), f32In('H0'), f32In('Wh'), ...(bhh === null ? [] : [f32In('BH')]), f32Out('O'), ...(save ? [f32Out('A')] : [])];
  return call(params, bindings, B * H, body);
}

/** gruSequence: [L, B, H]; with `save`, keeps [r, z, n, hW_n + b_n] per step ([L, B, 4H]). */
export function gruSequenceGpu(io: GpuSteps, xp: View, h0: View, whh: View, bhh: View | null, reverse: boolean, save: SaveForBackward): DataId | null {
  const [L, B] = xp.shape;
  const H = h0.shape[1];
  if (!float32([xp, h0, whh, bhh]) || L * B * H === 0 || io.maxBuffers() < 6) return null;
  const out = io.alloc('gruSequence', L * B * H);
  const acts = save === null ? null : io.alloc('gruSequence', L * B * 4 * H);
  const run = order(L, reverse);
  const w = columnMajor(io, whh);
  const inputs = bhh === null ? [xp, h0, w.view] : [xp, h0, w.view, bhh];
  for (let s = 0; s < L; s++) {
    const step = stepAt(run, s);
    const outs = acts === null ? [out] : [out, acts];
    io.queue('gruSequence', inputs, outs, ([x, h, wv, bh]) => gruStepKernel(x, h, wv, bh ?? null, B, H, step, acts !== null));
  }
  io.dispose(w.copy);
  if (save !== null && acts !== null) save(acts, [L, B, 4 * H], 'float32');
  return out;
}

/**
 * GRU backward step t into O [2L + 1, B, 3H]: slot t [∂r, ∂z, ∂n] at the pre-activations,
 * slot L + t [∂r, ∂z, ∂n·r] (the gradient of h_{t−1}W_hhᵀ + b_hh), slot 2L's first third the
 * direct part ∂h·z of the carried ∂h (the other part is carried through slot L + t's product).
 */
function gruBackStepKernel(acts: View, dy: View, y: View, h0: View, whh: View, B: number, H: number, L: number, step: StepAt): KernelCall {
  const params = new Params();
  const head = backwardHead(params, { B, H, G: 3, step, gradBase: L }, whh);
  const [a, d, yv, h] = [at(params, acts), at(params, dy), at(params, y), at(params, h0)];
  const [BB, LB, LAST] = [params.int(B), params.int(L * B), params.int(2 * L * B * 3 * H)];
  const body = `${head}  let k0 = ${LAST} + b * 3 * H + j;
  var dh = DY[${d('t', 'b', 'j')}] + carry;
  if (next >= 0) { dh += O[k0]; }
  let r = A[${a('t', 'b', 'j')}];
  let z = A[${a('t', 'b', 'H + j')}];
  let n = A[${a('t', 'b', '2 * H + j')}];
  let hn = A[${a('t', 'b', '3 * H + j')}];
  var hp = 0.0;
  if (prev < 0) { hp = H0[${h('b', 'j')}]; } else { hp = Y[${yv('prev', 'b', 'j')}]; }
  let dn = dh * (1.0 - z) * (1.0 - n * n);
  let dr = ${flushed('dn * hn * r * (1.0 - r)')};
  let dz = ${flushed('dh * (hp - n) * z * (1.0 - z)')};
  let g0 = (t * ${BB} + b) * 3 * H;
  let q0 = (${LB} + t * ${BB} + b) * 3 * H;
  O[g0 + j] = dr; O[q0 + j] = dr;
  O[g0 + H + j] = dz; O[q0 + H + j] = dz;
  O[g0 + 2 * H + j] = ${flushed('dn')};
  O[q0 + 2 * H + j] = ${flushed('dn * r')};
  O[k0] = ${flushed('dh * z')};`;
  return call(params, [f32In('A'), f32In('DY'), f32In('Y'), f32In('H0'), f32In('Wh'), f32Out('O')], B * H, body);
}

/** gruSequenceBackward: [2L + 1, B, 3H] from the activations gruSequence saved (recomputed without them). */
export function gruSequenceBackwardGpu(io: GpuSteps, xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, reverse: boolean, saved: readonly View[]): DataId | null {
  const [L, B] = y.shape;
  const H = h0.shape[1];
  if (!float32([h0, whh, y, dy, ...saved]) || L * B * H === 0 || io.maxBuffers() < 6 || saved.length > 1) return null;
  const got = activations(io, saved, [L, B, 4 * H], (save) => gruSequenceGpu(io, xp, h0, whh, bhh, reverse, save));
  if (got === null) return null;
  const { acts, fresh } = got;
  const out = io.alloc('gruSequenceBackward', (2 * L + 1) * B * 3 * H);
  const run = order(L, reverse);
  for (let s = L - 1; s >= 0; s--) {
    const step = stepAt(run, s);
    io.queue('gruSequenceBackward', [acts, dy, y, h0, whh], [out], ([a, d, yv, h, w]) => gruBackStepKernel(a, d, yv, h, w, B, H, L, step));
  }
  // slot 2L = [∂h·z + (slot L + first)·W_hh | 0 | 0]
  io.queue('gruSequenceBackward', [whh], [out], ([w]) =>
    finalKernel(w, { B, H, G: 3, first: run[0], gradBase: L }, (p) => {
      const r = `${p.int(2 * L * B * 3 * H)} + b * 3 * H`;
      return `  O[${r} + j] = O[${r} + j] + acc;\n  O[${r} + H + j] = 0.0;\n  O[${r} + 2 * H + j] = 0.0;`;
    }),
  );
  if (fresh !== null) io.dispose(fresh);
  return out;
}

// ------------------------------------------------------------------ Elman RNN

/** RNN step t: h_t = act(xp_t + h_{t−1}·W_hhᵀ), act tanh or relu. */
function rnnStepKernel(xp: View, h0: View, whh: View, B: number, H: number, step: StepAt, relu: boolean): KernelCall {
  const params = new Params();
  const head = forwardHead(params, { B, H, step, width: H }, h0, whh, { acc: 'j' });
  const x = at(params, xp);
  const body = `${head}  let v = XP[${x('t', 'b', 'j')}] + acc;
  O[y0 + j] = ${relu ? 'select(0.0, v, v > 0.0)' : 'tanh_(v)'};`;
  return call(params, [f32In('XP'), f32In('H0'), f32In('Wh'), f32Out('O')], B * H, body);
}

/** rnnSequence: [L, B, H] (saves nothing: the backward pass reads the output). */
export function rnnSequenceGpu(io: GpuSteps, xp: View, h0: View, whh: View, reverse: boolean, relu: boolean): DataId | null {
  const [L, B] = xp.shape;
  const H = h0.shape[1];
  if (!float32([xp, h0, whh]) || L * B * H === 0) return null;
  const out = io.alloc('rnnSequence', L * B * H);
  const run = order(L, reverse);
  const w = columnMajor(io, whh);
  for (let s = 0; s < L; s++) {
    const step = stepAt(run, s);
    io.queue('rnnSequence', [xp, h0, w.view], [out], ([x, h, wv]) => rnnStepKernel(x, h, wv, B, H, step, relu));
  }
  io.dispose(w.copy);
  return out;
}

/** RNN backward step t: ∂xp_t = (dy_t + carry)∘act′, act′ from y_t (1 − y² for tanh, y > 0 for relu). */
function rnnBackStepKernel(y: View, dy: View, whh: View, B: number, H: number, step: StepAt, relu: boolean): KernelCall {
  const params = new Params();
  const head = backwardHead(params, { B, H, G: 1, step, gradBase: 0 }, whh);
  const [yv, d] = [at(params, y), at(params, dy)];
  const body = `${head}  let dh = DY[${d('t', 'b', 'j')}] + carry;
  let v = Y[${yv('t', 'b', 'j')}];
  O[(t * ${params.int(B)} + b) * H + j] = ${flushed(relu ? 'select(0.0, dh, v > 0.0)' : 'dh * (1.0 - v * v)')};`;
  return call(params, [f32In('Y'), f32In('DY'), f32In('Wh'), f32Out('O')], B * H, body);
}

/** rnnSequenceBackward: [L + 1, B, H], ∂xp of each step then ∂h0. */
export function rnnSequenceBackwardGpu(io: GpuSteps, h0: View, whh: View, y: View, dy: View, reverse: boolean, relu: boolean): DataId | null {
  const [L, B] = y.shape;
  const H = h0.shape[1];
  if (!float32([h0, whh, y, dy]) || L * B * H === 0) return null;
  const out = io.alloc('rnnSequenceBackward', (L + 1) * B * H);
  const run = order(L, reverse);
  for (let s = L - 1; s >= 0; s--) {
    const step = stepAt(run, s);
    io.queue('rnnSequenceBackward', [y, dy, whh], [out], ([yv, d, w]) => rnnBackStepKernel(yv, d, w, B, H, step, relu));
  }
  io.queue('rnnSequenceBackward', [whh], [out], ([w]) => finalKernel(w, { B, H, G: 1, first: run[0], gradBase: 0 }, (p) => `  O[${p.int(L * B * H)} + b * H + j] = acc;`));
  return out;
}
