/**
 * Host kernels of the whole-sequence recurrent ops (ops/recurrent-sequence.ts) for backends
 * whose data live in typed arrays (cpu, wasm). Forward: per step ONE product h_{t−1}·W_hhᵀ
 * on the backend's matmul, read straight from the previous output slot, then one pass over
 * the gates that writes the output slot (and the activations saved for backward).
 * Backward: one reverse loop, per step one pass over the gates that writes the step's
 * gate gradients into the packed result and ONE product ∂gates_t·W_hh for the carried ∂h;
 * ∂W_hh is left to the gradient rule (one product over all steps). Gate math is done in
 * double and rounded once when stored. The kernels decline (null) unless every operand is
 * of one float dtype and those they read themselves have contiguous rows (any row and
 * step strides: a narrow, a batch-first transpose); h0 and whh also go to matmul, which
 * reads any strided view. The only arrays per step are the backend's product results.
 * The whole forward pass, and the whole loop backward, are offered first to the backend's
 * own kernels (`io.gates.sequence` and `sequenceBackward`, see GatePasses in
 * host-recurrent.ts), then each step's gate pass is (`io.gates`); the loop below each
 * offer runs when they decline.
 */
import type { DataId, RnnSequenceAttrs, SaveForBackward, SequenceAttrs, View } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';
import { floatDType, flushTiny, lstmGatesBackwardHost, lstmGatesHost, productsWith, rows, sigmoid, tanh, type HostKernelIO, type LstmGateArgs, type LstmGateBackwardArgs, type Rows, type SequenceBackwardGateArgs, type SequenceGateArgs } from './host-recurrent.js';

/** A 3-D operand [L, B, C] with contiguous rows: element (t, b, j) at a[off + t·st + b·sb + j]. */
interface Steps {
  a: TypedArray;
  off: number;
  st: number;
  sb: number;
}

function steps(io: HostKernelIO, v: View): Steps | null {
  if (v.shape.length !== 3) return null;
  if (v.shape[2] > 1 && v.strides[2] !== 1) return null;
  return { a: io.array(v.data), off: v.offset, st: v.strides[0], sb: v.strides[1] };
}

/** [B, K] rows of buffer `data` at `offset`, `rs` apart, as a [1, B, K] matmul operand. */
function lhs(data: DataId, dtype: DType, B: number, K: number, offset: number, rs: number): View {
  return { data, dtype, shape: [1, B, K], strides: [0, rs, 1], offset };
}

/** A 2-D view [R, C] as the [1, R, C] matmul operand (transposed: [1, C, R]). */
function operand(v: View, transposed = false): View {
  const [R, C] = v.shape;
  const [s0, s1] = v.strides;
  return transposed ? { ...v, shape: [1, C, R], strides: [0, s1, s0] } : { ...v, shape: [1, R, C], strides: [0, s0, s1] };
}

/** The step run before step t (the source of h_{t−1}). */
const before = (t: number, reverse: boolean): number => (reverse ? t + 1 : t - 1);

/**
 * h_{t−1}·W_hhᵀ (+ bias in the caller) for every step t at once, for a backward kernel
 * whose forward saved nothing: one product over the outputs' hidden states (columns
 * 0 … H−1 of y) and one for h0. `at(s)` gives the array and offset of step order s's row 0.
 */
function allProducts(io: HostKernelIO, h0: View, y: View, whh: View, H: number, reverse: boolean): { at: (t: number, first: boolean) => [TypedArray, number]; dispose: () => void } {
  const [L, B] = y.shape;
  const GH = whh.shape[0];
  const p0 = io.matmul(operand(h0), operand(whh, true));
  const flat = L === 1 || y.strides[0] === B * y.strides[1];
  const ys: View = flat ? lhs(y.data, y.dtype, L * B, H, y.offset, y.strides[1]) : { ...y, shape: [L, B, H] };
  const w: View = flat ? operand(whh, true) : { ...whh, shape: [L, H, GH], strides: [0, whh.strides[1], whh.strides[0]] };
  const ph = io.matmul(ys, w);
  const [a0, ah] = [io.array(p0), io.array(ph)];
  return {
    at: (t, first) => (first ? [a0, 0] : [ah, before(t, reverse) * B * GH]),
    dispose: () => {
      io.dispose(p0);
      io.dispose(ph);
    },
  };
}

/** Step t's rows of a 3-D operand. */
const stepRows = (s: Steps, t: number): Rows => ({ a: s.a, off: s.off + t * s.st, stride: s.sb });

/** Slot t's rows of a packed [L, B, C] array. */
const slot = (a: TypedArray, t: number, B: number, C: number): Rows => ({ a, off: t * B * C, stride: C });

/** The rows of a contiguous [B, C] array (a product). */
const packed = (a: TypedArray, C: number): Rows => ({ a, off: 0, stride: C });

/**
 * The whole forward pass offered to the backend's own kernels (`GatePasses.sequence`):
 * true when they ran it. `h0` must have contiguous rows.
 */
function wholeSequence(io: HostKernelIO, cell: SequenceGateArgs['cell'], L: number, x: Steps, h0: View, whh: View, o: { reverse: boolean; tanh?: boolean; c0?: Rows; bias?: Bias }, out: TypedArray, acts: TypedArray | null): boolean {
  const h0r = rows(io, h0);
  if (io.gates?.sequence === undefined || h0r === null) return false;
  const bias = o.bias === undefined || o.bias.a === null ? null : o.bias.s === 1 ? { a: o.bias.a, off: o.bias.off, stride: 0 } : undefined;
  if (bias === undefined) return false;
  const w = { a: io.array(whh.data), off: whh.offset, s0: whh.strides[0], s1: whh.strides[1] };
  return io.gates.sequence({ cell, L, B: h0.shape[0], H: h0.shape[1], x, h0: h0r, c0: o.c0 ?? null, whh: w, bias, out, acts, reverse: o.reverse, tanh: o.tanh ?? true });
}

/**
 * The loop backward through time offered to the backend's own kernels
 * (`GatePasses.sequenceBackward`): ∂h0's part from W_hh ([B, H], to add into out's last
 * slot) when they ran it, else null.
 */
function wholeBackward(io: HostKernelIO, dtype: DType, p: Omit<SequenceBackwardGateArgs, 'whh' | 'dh0'>, whh: View): { dh0: TypedArray; dispose: () => void } | null {
  if (io.gates?.sequenceBackward === undefined) return null;
  const dh0 = io.alloc(dtype, p.B * p.H);
  const id = io.wrap(dh0);
  const w = { a: io.array(whh.data), off: whh.offset, s0: whh.strides[0], s1: whh.strides[1] };
  if (io.gates.sequenceBackward({ ...p, whh: w, dh0 })) return { dh0, dispose: () => io.dispose(id) };
  io.dispose(id);
  return null;
}

/** The steps in the order they run. */
function order(L: number, reverse: boolean): number[] {
  return Array.from({ length: L }, (_, s) => (reverse ? L - 1 - s : s));
}

// ------------------------------------------------------------------ LSTM

/**
 * The LSTM gate pass of step t: from a = xw_t + hw, write h_t, c_t into out (slot t of
 * [L, B, 2H]) when given and i, f, g, o, tanh c_t into acts (slot t of [L, B, 5H]) when given.
 */
function lstmGates(io: HostKernelIO, x: Steps, t: number, hw: TypedArray, hw0: number, c: Rows, B: number, H: number, out: TypedArray | null, acts: TypedArray | null): void {
  const args: LstmGateArgs = { B, H, x: stepRows(x, t), hw: { a: hw, off: hw0, stride: 4 * H }, c, out: out && slot(out, t, B, 2 * H), acts: acts && slot(acts, t, B, 5 * H) };
  if (!(io.gates?.lstm(args) ?? false)) lstmGatesHost(args);
}

/** lstmSequence: [L, B, 2H] = [h_t | c_t]; with `save`, keeps i, f, g, o, tanh c_t ([L, B, 5H]). */
export function lstmSequenceHost(io: HostKernelIO, xw: View, h0: View, c0: View, whh: View, o: SequenceAttrs, save: SaveForBackward): DataId | null {
  const dtype = floatDType([xw, h0, c0, whh]);
  const [L, B] = xw.shape;
  const H = h0.shape[1];
  const [x, c0r] = [steps(io, xw), rows(io, c0)];
  if (dtype === null || L * B * H === 0 || x === null || c0r === null) return null;
  const out = io.alloc(dtype, L * B * 2 * H);
  const outId = io.wrap(out);
  const acts = save === null ? null : io.alloc(dtype, L * B * 5 * H);
  if (!wholeSequence(io, 'lstm', L, x, h0, whh, { reverse: o.reverse, c0: c0r }, out, acts)) {
    const wT = productsWith(io, operand(whh, true));
    let h = operand(h0);
    let c = c0r;
    for (const t of order(L, o.reverse)) {
      const product = wT.times(h);
      lstmGates(io, x, t, io.array(product), 0, c, B, H, out, acts);
      io.dispose(product);
      h = lhs(outId, dtype, B, H, t * B * 2 * H, 2 * H);
      c = { a: out, off: t * B * 2 * H + H, stride: 2 * H };
    }
    wT.dispose();
  }
  if (save !== null && acts !== null) {
    io.keep?.(acts);
    save(io.wrap(acts), [L, B, 5 * H], dtype);
  }
  return outId;
}

/** The saved activations when they have the expected shape, else recomputed (then `recomputed` frees them). */
function activations(io: HostKernelIO, saved: readonly View[], shape: readonly number[], recompute: (acts: TypedArray) => void, dtype: DType): { acts: Steps; recomputed: DataId | null } {
  const s = saved.length === 1 ? steps(io, saved[0]) : null;
  if (s !== null && saved[0].shape.every((d, i) => d === shape[i])) return { acts: s, recomputed: null };
  const a = io.alloc(dtype, shape[0] * shape[1] * shape[2]);
  recompute(a);
  return { acts: { a, off: 0, st: shape[1] * shape[2], sb: shape[2] }, recomputed: io.wrap(a) };
}

/**
 * lstmSequenceBackward: [L + 1, B, 4H], slot t the gradient at step t's gate
 * pre-activations, slot L [∂h0 | ∂c0 | 0 | 0]. The carried ∂c lives in slot L's second
 * quarter during the loop; the carried ∂h is the last product ∂gates·W_hh.
 */
export function lstmSequenceBackwardHost(io: HostKernelIO, xw: View, h0: View, c0: View, whh: View, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null {
  const dtype = floatDType([xw, h0, c0, whh, y, dy, ...saved]);
  const [L, B] = xw.shape;
  const H = h0.shape[1];
  const [x, c0r, ys, d] = [steps(io, xw), rows(io, c0), steps(io, y), steps(io, dy)];
  if (dtype === null || L * B * H === 0 || saved.length > 1 || x === null || c0r === null || ys === null || d === null) return null;
  const cPrev = (t: number, first: boolean): Rows => (first ? c0r : { a: ys.a, off: ys.off + before(t, o.reverse) * ys.st + H, stride: ys.sb });
  const { acts, recomputed } = activations(io, saved, [L, B, 5 * H], (a) => {
    const p = allProducts(io, h0, y, whh, H, o.reverse);
    order(L, o.reverse).forEach((t, s) => lstmGates(io, x, t, ...p.at(t, s === 0), cPrev(t, s === 0), B, H, null, a));
    p.dispose();
  }, dtype);
  const out = io.alloc(dtype, (L + 1) * B * 4 * H);
  const outId = io.wrap(out);
  const last = L * B * 4 * H;
  out.fill(0, last);
  const whole = wholeBackward(io, dtype, { cell: 'lstm', L, B, H, acts, d, y: ys, prev0: c0r, out, reverse: o.reverse, tanh: true }, whh);
  if (whole !== null) {
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out[last + b * 4 * H + j] = whole.dh0[b * H + j];
    whole.dispose();
    if (recomputed !== null) io.dispose(recomputed);
    return outId;
  }
  const w = productsWith(io, operand(whh));
  let carry: DataId | null = null;
  const run = order(L, o.reverse);
  for (let s = L - 1; s >= 0; s--) {
    const t = run[s];
    const c = cPrev(t, s === 0);
    const dh1 = carry === null ? null : io.array(carry);
    const dc: Rows = { a: out, off: last + H, stride: 4 * H };
    const args: LstmGateBackwardArgs = { B, H, acts: stepRows(acts, t), d: stepRows(d, t), dh: dh1 && packed(dh1, H), c, dcIn: dc, dcOut: dc, grads: slot(out, t, B, 4 * H) };
    if (!(io.gates?.lstmBackward(args) ?? false)) lstmGatesBackwardHost(args);
    if (carry !== null) io.dispose(carry);
    carry = w.times(lhs(outId, dtype, B, 4 * H, t * B * 4 * H, 4 * H)); // ∂h_{t−1} = ∂gates_t · W_hh
  }
  w.dispose();
  const dh0 = io.array(carry as DataId);
  for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out[last + b * 4 * H + j] = dh0[b * H + j];
  io.dispose(carry as DataId);
  if (recomputed !== null) io.dispose(recomputed);
  return outId;
}

// ------------------------------------------------------------------ GRU

/** A bias vector [n] read with its stride (0 everywhere when absent). */
interface Bias {
  a: TypedArray | null;
  off: number;
  s: number;
}

function bias(io: HostKernelIO, v: View | null): Bias {
  return v === null ? { a: null, off: 0, s: 0 } : { a: io.array(v.data), off: v.offset, s: v.strides[0] };
}
const biasAt = (b: Bias, k: number): number => (b.a === null ? 0 : b.a[b.off + k * b.s]);

/**
 * The GRU gate pass of step t from xp_t and hw = h_{t−1}·W_hhᵀ: writes h_t into out (slot t
 * of [L, B, H]) and r, z, n, hn = hw_n + b_hn into acts (slot t of [L, B, 4H]) when given.
 */
function gruGates(io: HostKernelIO, x: Steps, t: number, hw: TypedArray, hw0: number, h: Rows, bh: Bias, B: number, H: number, out: TypedArray | null, acts: TypedArray | null): void {
  // a strided bias is left to the loop (a layer's bias is one contiguous vector)
  const bias = bh.a === null ? null : bh.s === 1 ? { a: bh.a, off: bh.off, stride: 0 } : undefined;
  if (bias !== undefined && io.gates?.gru({ B, H, x: stepRows(x, t), hw: { a: hw, off: hw0, stride: 3 * H }, bias, h, out: out && slot(out, t, B, H), acts: acts && slot(acts, t, B, 4 * H) })) return;
  for (let b = 0; b < B; b++) {
    const x0 = x.off + t * x.st + b * x.sb;
    const p0 = hw0 + b * 3 * H;
    const hb = h.off + b * h.stride;
    const y0 = (t * B + b) * H;
    const a0 = (t * B + b) * 4 * H;
    for (let j = 0; j < H; j++) {
      const r = sigmoid(x.a[x0 + j] + hw[p0 + j] + biasAt(bh, j));
      const z = sigmoid(x.a[x0 + H + j] + hw[p0 + H + j] + biasAt(bh, H + j));
      const hn = hw[p0 + 2 * H + j] + biasAt(bh, 2 * H + j);
      const n = tanh(x.a[x0 + 2 * H + j] + r * hn);
      if (out !== null) out[y0 + j] = n + z * (h.a[hb + j] - n); // (1 − z) n + z h
      if (acts !== null) {
        acts[a0 + j] = r;
        acts[a0 + H + j] = z;
        acts[a0 + 2 * H + j] = n;
        acts[a0 + 3 * H + j] = hn;
      }
    }
  }
}

/** gruSequence: [L, B, H]; with `save`, keeps r, z, n and h W_hnᵀ + b_hn ([L, B, 4H]). */
export function gruSequenceHost(io: HostKernelIO, xp: View, h0: View, whh: View, bhh: View | null, o: SequenceAttrs, save: SaveForBackward): DataId | null {
  const dtype = floatDType(bhh === null ? [xp, h0, whh] : [xp, h0, whh, bhh]);
  const [L, B] = xp.shape;
  const H = h0.shape[1];
  const [x, h0r] = [steps(io, xp), rows(io, h0)];
  if (dtype === null || L * B * H === 0 || x === null || h0r === null) return null;
  const out = io.alloc(dtype, L * B * H);
  const outId = io.wrap(out);
  const acts = save === null ? null : io.alloc(dtype, L * B * 4 * H);
  const bh = bias(io, bhh);
  if (!wholeSequence(io, 'gru', L, x, h0, whh, { reverse: o.reverse, bias: bh }, out, acts)) {
    const wT = productsWith(io, operand(whh, true));
    let h = operand(h0);
    let hr = h0r;
    for (const t of order(L, o.reverse)) {
      const product = wT.times(h);
      gruGates(io, x, t, io.array(product), 0, hr, bh, B, H, out, acts);
      io.dispose(product);
      h = lhs(outId, dtype, B, H, t * B * H, H);
      hr = { a: out, off: t * B * H, stride: H };
    }
    wT.dispose();
  }
  if (save !== null && acts !== null) {
    io.keep?.(acts);
    save(io.wrap(acts), [L, B, 4 * H], dtype);
  }
  return outId;
}

/**
 * gruSequenceBackward: [2L + 1, B, 3H], slot t ∂xp_t = [∂r, ∂z, ∂n], slot L + t the
 * gradient [∂r, ∂z, ∂n·r] of h_{t−1} W_hhᵀ + b_hh, slot 2L [∂h0 | 0 | 0]. During the loop
 * slot 2L's first third holds the direct part ∂h·z of the carried ∂h; the other part is the
 * last product (slot L + t)·W_hh.
 */
export function gruSequenceBackwardHost(io: HostKernelIO, xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null {
  const dtype = floatDType([xp, h0, whh, y, dy, ...(bhh === null ? [] : [bhh]), ...saved]);
  const [L, B] = xp.shape;
  const H = h0.shape[1];
  const [x, h0r, ys, d] = [steps(io, xp), rows(io, h0), steps(io, y), steps(io, dy)];
  if (dtype === null || L * B * H === 0 || saved.length > 1 || x === null || h0r === null || ys === null || d === null) return null;
  const hPrev = (t: number, first: boolean): Rows => (first ? h0r : { a: ys.a, off: ys.off + before(t, o.reverse) * ys.st, stride: ys.sb });
  const bh = bias(io, bhh);
  const { acts, recomputed } = activations(io, saved, [L, B, 4 * H], (a) => {
    const p = allProducts(io, h0, y, whh, H, o.reverse);
    order(L, o.reverse).forEach((t, s) => gruGates(io, x, t, ...p.at(t, s === 0), hPrev(t, s === 0), bh, B, H, null, a));
    p.dispose();
  }, dtype);
  const out = io.alloc(dtype, (2 * L + 1) * B * 3 * H);
  const outId = io.wrap(out);
  const last = 2 * L * B * 3 * H;
  out.fill(0, last);
  const whole = wholeBackward(io, dtype, { cell: 'gru', L, B, H, acts, d, y: ys, prev0: h0r, out, reverse: o.reverse, tanh: true }, whh);
  if (whole !== null) {
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out[last + b * 3 * H + j] += whole.dh0[b * H + j];
    whole.dispose();
    if (recomputed !== null) io.dispose(recomputed);
    return outId;
  }
  const w = productsWith(io, operand(whh));
  let carry: DataId | null = null;
  const run = order(L, o.reverse);
  for (let s = L - 1; s >= 0; s--) {
    const t = run[s];
    const h = hPrev(t, s === 0);
    const dh1 = carry === null ? null : io.array(carry);
    const args = { B, H, acts: stepRows(acts, t), d: stepRows(d, t), carry: { a: out, off: last, stride: 3 * H }, dh: dh1 && packed(dh1, H), h };
    const taken = io.gates?.gruBackward({ ...args, gx: slot(out, t, B, 3 * H), gh: slot(out, L + t, B, 3 * H) }) ?? false;
    for (let b = 0; b < B && !taken; b++) {
      const a0 = acts.off + t * acts.st + b * acts.sb;
      const d0 = d.off + t * d.st + b * d.sb;
      const hb = h.off + b * h.stride;
      const g0 = (t * B + b) * 3 * H;
      const q0 = g0 + L * B * 3 * H;
      const k0 = last + b * 3 * H;
      for (let j = 0; j < H; j++) {
        const r = acts.a[a0 + j];
        const z = acts.a[a0 + H + j];
        const n = acts.a[a0 + 2 * H + j];
        const hn = acts.a[a0 + 3 * H + j];
        const dh = d.a[d0 + j] + out[k0 + j] + (dh1 === null ? 0 : dh1[b * H + j]);
        const dn = dh * (1 - z) * (1 - n * n);
        const dr = flushTiny(dn * hn * r * (1 - r));
        const dz = flushTiny(dh * (h.a[hb + j] - n) * z * (1 - z));
        out[g0 + j] = out[q0 + j] = dr;
        out[g0 + H + j] = out[q0 + H + j] = dz;
        out[g0 + 2 * H + j] = flushTiny(dn);
        out[q0 + 2 * H + j] = flushTiny(dn * r);
        out[k0 + j] = flushTiny(dh * z);
      }
    }
    if (carry !== null) io.dispose(carry);
    carry = w.times(lhs(outId, dtype, B, 3 * H, (L + t) * B * 3 * H, 3 * H)); // [∂r, ∂z, ∂n·r] · W_hh
  }
  w.dispose();
  const dh0 = io.array(carry as DataId);
  for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out[last + b * 3 * H + j] += dh0[b * H + j];
  io.dispose(carry as DataId);
  if (recomputed !== null) io.dispose(recomputed);
  return outId;
}

// ------------------------------------------------------------------ Elman RNN

/** rnnSequence: [L, B, H], h_t = act(xp_t + h_{t−1}·W_hhᵀ). Saves nothing: the backward pass reads the output. */
export function rnnSequenceHost(io: HostKernelIO, xp: View, h0: View, whh: View, o: RnnSequenceAttrs): DataId | null {
  const dtype = floatDType([xp, h0, whh]);
  const [L, B] = xp.shape;
  const H = h0.shape[1];
  const x = steps(io, xp);
  if (dtype === null || L * B * H === 0 || x === null) return null;
  const out = io.alloc(dtype, L * B * H);
  const outId = io.wrap(out);
  const isTanh = o.nonlinearity === 'tanh';
  if (wholeSequence(io, 'rnn', L, x, h0, whh, { reverse: o.reverse, tanh: isTanh }, out, null)) return outId;
  const wT = productsWith(io, operand(whh, true));
  let h = operand(h0);
  for (const t of order(L, o.reverse)) {
    const product = wT.times(h);
    const hw = io.array(product);
    const taken = io.gates?.rnn({ B, H, tanh: isTanh, x: stepRows(x, t), hw: packed(hw, H), out: slot(out, t, B, H) }) ?? false;
    for (let b = 0; b < B && !taken; b++) {
      const x0 = x.off + t * x.st + b * x.sb;
      const y0 = (t * B + b) * H;
      for (let j = 0; j < H; j++) {
        const a = x.a[x0 + j] + hw[b * H + j];
        out[y0 + j] = isTanh ? tanh(a) : a > 0 ? a : 0;
      }
    }
    io.dispose(product);
    h = lhs(outId, dtype, B, H, t * B * H, H);
  }
  wT.dispose();
  return outId;
}

/** rnnSequenceBackward: [L + 1, B, H], ∂xp_t = (dy_t + ∂h_t carried) ∘ act'(y_t), then ∂h0. */
export function rnnSequenceBackwardHost(io: HostKernelIO, xp: View, h0: View, whh: View, y: View, dy: View, o: RnnSequenceAttrs): DataId | null {
  const dtype = floatDType([xp, h0, whh, y, dy]);
  const [L, B] = xp.shape;
  const H = h0.shape[1];
  const [ys, d] = [steps(io, y), steps(io, dy)];
  if (dtype === null || L * B * H === 0 || ys === null || d === null) return null;
  const out = io.alloc(dtype, (L + 1) * B * H);
  const outId = io.wrap(out);
  const isTanh = o.nonlinearity === 'tanh';
  const whole = wholeBackward(io, dtype, { cell: 'rnn', L, B, H, acts: null, d, y: ys, prev0: null, out, reverse: o.reverse, tanh: isTanh }, whh);
  if (whole !== null) {
    out.set(whole.dh0, L * B * H);
    whole.dispose();
    return outId;
  }
  const w = productsWith(io, operand(whh));
  let carry: DataId | null = null;
  const run = order(L, o.reverse);
  for (let s = L - 1; s >= 0; s--) {
    const t = run[s];
    const dh1 = carry === null ? null : io.array(carry);
    const taken = io.gates?.rnnBackward({ B, H, tanh: isTanh, y: stepRows(ys, t), d: stepRows(d, t), dh: dh1 && packed(dh1, H), out: slot(out, t, B, H) }) ?? false;
    for (let b = 0; b < B && !taken; b++) {
      const y0 = ys.off + t * ys.st + b * ys.sb;
      const d0 = d.off + t * d.st + b * d.sb;
      const g0 = (t * B + b) * H;
      for (let j = 0; j < H; j++) {
        const dh = d.a[d0 + j] + (dh1 === null ? 0 : dh1[b * H + j]);
        const v = ys.a[y0 + j];
        out[g0 + j] = flushTiny(isTanh ? dh * (1 - v * v) : v > 0 ? dh : 0);
      }
    }
    if (carry !== null) io.dispose(carry);
    carry = w.times(lhs(outId, dtype, B, H, t * B * H, H));
  }
  w.dispose();
  out.set(io.array(carry as DataId).subarray(0, B * H), L * B * H);
  io.dispose(carry as DataId);
  return outId;
}
