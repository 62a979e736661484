/**
 * Whole-sequence recurrent ops: one graph node per layer and direction, forward and
 * backward through time. A fused kernel runs the time loop with one product h·W_hhᵀ per
 * step and one pass over the gates; its backward kernel is one reverse loop, and ∂W_hh is
 * one product over all steps in the gradient rule. The composites (loops of the cell
 * equations, lstmCell for the LSTM) are the reference, the path for backends without the
 * kernels and for second derivatives.
 *
 * Layout (time-major, like PyTorch's default): x* [L, B, G·H] is the input projection of
 * every step, h0 (and c0) [B, H], whh [G·H, H]. Output slot t holds the state after step t
 * in either direction: with `reverse` the steps run t = L−1 … 0 (the second direction of a
 * bidirectional layer) and the final state is slot 0.
 */
import type { RnnSequenceAttrs, SequenceAttrs } from '../backend.js';
import { defineOp } from '../op.js';
import { checkOptions, optionKeys } from '../options.js';
import { fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { zeros } from './creation.js';
import { add, mul, relu, sigmoid, sub, tanh, where, gt } from './elementwise.js';
import { concat, narrow, reshape, select, stack, transpose, unsqueeze } from './layout.js';
import { matmul } from './linalg.js';
import { assertFloat, runOp } from './prim.js';
import { reduceSum } from './reduce.js';
import { lstmCell, lstmCellBackward } from './recurrent.js';

/** Options of lstmSequence and gruSequence (and their backward ops). */
export interface SequenceOptions {
  /** run t = L−1 … 0, as the second direction of a bidirectional layer (default false) */
  reverse?: boolean;
}

/** Options of rnnSequence (and its backward op). */
export interface RnnSequenceOptions extends SequenceOptions {
  /** default 'tanh' */
  nonlinearity?: 'tanh' | 'relu';
}

const SEQUENCE_KEYS = optionKeys<SequenceOptions>()(['reverse']);
const RNN_SEQUENCE_KEYS = optionKeys<RnnSequenceOptions>()(['reverse', 'nonlinearity']);

/** `reverse` from checked options. */
function isReverse(op: string, options: SequenceOptions): boolean {
  checkOptions(op, options, SEQUENCE_KEYS);
  return options.reverse ?? false;
}

/** The backward ops' attributes: the direction, and what the forward kernel saved (no gradient flows to it). */
interface BackwardAttrs extends SequenceAttrs {
  readonly saved: readonly Tensor[];
}

// ------------------------------------------------------------------ shared pieces

/**
 * Check a sequence op's operands: x [L, B, G·H], h0 [B, H] (and `more` [B, H], e.g. c0),
 * whh [G·H, H], bhh [G·H] when given, one float dtype, L ≥ 1. Returns [L, B, H].
 */
function checkSequence(op: string, gates: number, x: Tensor, h0: Tensor, whh: Tensor, more: [string, Tensor][] = [], bhh: Tensor | null = null): [number, number, number] {
  const all: [string, Tensor][] = [['x', x], ['h0', h0], ['whh', whh], ...more, ...(bhh === null ? [] : [['bhh', bhh] as [string, Tensor]])];
  for (const [name, t] of all) {
    assertFloat(`${op} (${name})`, t);
    if (t.dtype !== x.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but x is ${x.dtype}; cast one first`);
  }
  if (h0.ndim !== 2) throw new ShapeError(`${op}: h0 must be 2-D [batch, hidden], got ${fmt(h0.shape)}`);
  const [B, H] = h0.shape;
  const GH = gates * H;
  const want: [string, Tensor, number[]][] = [['x', x, [x.shape[0], B, GH]], ['whh', whh, [GH, H]], ...more.map(([n, t]): [string, Tensor, number[]] => [n, t, [B, H]])];
  if (bhh !== null) want.push(['bhh', bhh, [GH]]);
  for (const [name, t, shape] of want) {
    if (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${op}: ${name} must be ${fmt(shape)} for h0 ${fmt(h0.shape)} (batch ${B}, hidden ${H}), got ${fmt(t.shape)}`);
    }
  }
  if (x.shape[0] === 0) throw new ShapeError(`${op}: x ${fmt(x.shape)} is an empty sequence (length 0)`);
  return [x.shape[0], B, H];
}

/** Check a backward op's y and dy against the forward output's shape [L, B, width]. */
function checkOutput(op: string, x: Tensor, y: Tensor, dy: Tensor, shape: number[]): void {
  for (const [name, t] of [['y', y], ['dy', dy]] as const) {
    if (t.ndim !== 3 || t.shape.some((d, i) => d !== shape[i])) throw new ShapeError(`${op}: ${name} must be ${fmt(shape)} (the forward output's shape), got ${fmt(t.shape)}`);
    if (t.dtype !== x.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but x is ${x.dtype}`);
  }
}

/** The time steps in the order they run: 0 … L−1, or L−1 … 0 with `reverse`. */
function order(L: number, reverse: boolean): number[] {
  return Array.from({ length: L }, (_, s) => (reverse ? L - 1 - s : s));
}

/** x [L, B, C] as the matrix [L·B, C] (a view when x's rows are evenly spaced, as for a narrow). */
const rowsOf = (x: Tensor): Tensor => reshape(x, [x.shape[0] * x.shape[1], x.shape[2]]);

/**
 * ∂W_hh = Σ_t ∂gates_tᵀ · h_{t−1}, from the gate gradients dGates [L, B, G·H] and the
 * outputs' hidden states yh [L, B, H] (h_{t−1} is yh of the step before, h0 for the first
 * step): one product over the L − 1 steps that read an output, one for the step that
 * reads h0, both on views (no copy of the states). A product whose left operand is stored
 * transposed may copy it into rows first (the wasm product does), so with G > 1 the sum
 * is formed as its transpose ∂W_hhᵀ = Σ_t h_{t−1}ᵀ · ∂gates_t [H, G·H] and returned as a
 * transposed view: the operand copied is then the states [L·B, H], not the G times wider
 * gate gradients, which are read row-major where they lie.
 */
function recurrentWeightGrad(dGates: Tensor, yh: Tensor, h0: Tensor, reverse: boolean): Tensor {
  const L = dGates.shape[0];
  const first = reverse ? L - 1 : 0;
  const transposed = dGates.shape[2] > h0.shape[1];
  const term = (g: Tensor, h: Tensor): Tensor => (transposed ? matmul(transpose(h, 0, 1), g) : matmul(transpose(g, 0, 1), h));
  let sum = term(select(dGates, 0, first), h0);
  if (L > 1) {
    const [later, earlier] = reverse ? [narrow(dGates, 0, 0, L - 1), narrow(yh, 0, 1, L - 1)] : [narrow(dGates, 0, 1, L - 1), narrow(yh, 0, 0, L - 1)];
    sum = add(term(rowsOf(later), rowsOf(earlier)), sum);
  }
  return transposed ? transpose(sum, 0, 1) : sum;
}

// ------------------------------------------------------------------ LSTM

/**
 * The gradient of lstmSequence: ∂xw = the gate gradients of every step and ∂h0, ∂c0 from
 * lstmSequenceBackward (one reverse loop), ∂W_hh as one product over all steps.
 */
const lstmSequenceOp = defineOp<SequenceAttrs>({
  name: 'lstmSequence',
  grad: (dy, n, needs) => {
    const [xw, h0, c0, whh] = n.inputs;
    const [L, H] = [xw.shape[0], h0.shape[1]];
    const g = lstmSequenceBackward(xw, h0, c0, whh, n.output, dy, n.attrs, n.saved); // [L+1, B, 4H]
    const dGates = narrow(g, 0, 0, L);
    const last = select(g, 0, L); // [∂h0 | ∂c0 | 0 | 0]
    return [
      needs[0] ? dGates : null,
      needs[1] ? narrow(last, 1, 0, H) : null,
      needs[2] ? narrow(last, 1, H, H) : null,
      needs[3] ? recurrentWeightGrad(dGates, narrow(n.output, 2, 0, H), h0, n.attrs.reverse) : null,
    ];
  },
  fused: (b, [xw, h0, c0, whh], a, save) => b.lstmSequence?.(xw, h0, c0, whh, { reverse: a.reverse }, save) ?? null,
});

/** lstmSequence's backward pass; differentiated through its composite. */
const lstmSequenceBackwardOp = defineOp<BackwardAttrs>({
  name: 'lstmSequenceBackward',
  fused: (b, [xw, h0, c0, whh, y, dy], a) => b.lstmSequenceBackward?.(xw, h0, c0, whh, y, dy, { reverse: a.reverse }, a.saved.map((t) => t.view_())) ?? null,
});

/** [h_t | c_t] of every step, by lstmCell, in time order (the composite of lstmSequence). */
function lstmStates(xw: Tensor, h0: Tensor, c0: Tensor, whh: Tensor, reverse: boolean): Tensor[] {
  const H = h0.shape[1];
  const hc = new Array<Tensor>(xw.shape[0]);
  let [h, c] = [h0, c0];
  for (const t of order(xw.shape[0], reverse)) {
    hc[t] = lstmCell(select(xw, 0, t), h, c, whh);
    [h, c] = [narrow(hc[t], 1, 0, H), narrow(hc[t], 1, H, H)];
  }
  return hc;
}

/**
 * A whole LSTM layer-direction as one op: every step is {@link lstmCell} (gates i, f, g, o):
 *   a_t = xw_t + h_{t−1} W_hhᵀ,  c_t = σ(a_f) ∘ c_{t−1} + σ(a_i) ∘ tanh(a_g),  h_t = σ(a_o) ∘ tanh(c_t)
 * xw [L, B, 4H] is x W_ihᵀ + b_ih + b_hh for every step (time-major, any strides), h0 and c0
 * [B, H], whh [4H, H]. Returns [L, B, 2H] = [h_t | c_t] for every t (take the halves with
 * narrow). `reverse` runs t = L−1 … 0 (h_{t+1} feeds step t; the final state is slot 0).
 */
export function lstmSequence(xw: Tensor, h0: Tensor, c0: Tensor, whh: Tensor, options: SequenceOptions = {}): Tensor {
  const [L, B, H] = checkSequence('lstmSequence', 4, xw, h0, whh, [['c0', c0]]);
  const reverse = isReverse('lstmSequence', options);
  return runOp(lstmSequenceOp, [xw, h0, c0, whh], { reverse }, { shape: [L, B, 2 * H], dtype: xw.dtype }, () => stack(lstmStates(xw, h0, c0, whh, reverse), 0));
}

/**
 * The backward pass through time of {@link lstmSequence}, for its output y and dy (both
 * [L, B, 2H] = [∂h_t | ∂c_t]). Returns [L + 1, B, 4H]: slot t < L holds the gradient at
 * step t's gate pre-activations (= ∂xw_t, from lstmCellBackward with the carried ∂h, ∂c),
 * slot L [∂h0 | ∂c0 | 0 | 0]. y is read by kernels only (the composite recomputes the
 * states); `saved` is what the forward kernel kept (its gate activations).
 */
export function lstmSequenceBackward(xw: Tensor, h0: Tensor, c0: Tensor, whh: Tensor, y: Tensor, dy: Tensor, options: SequenceOptions = {}, saved: readonly Tensor[] = []): Tensor {
  const [L, B, H] = checkSequence('lstmSequenceBackward', 4, xw, h0, whh, [['c0', c0]]);
  checkOutput('lstmSequenceBackward', xw, y, dy, [L, B, 2 * H]);
  const reverse = isReverse('lstmSequenceBackward', options);
  return runOp(lstmSequenceBackwardOp, [xw, h0, c0, whh, y, dy], { reverse, saved }, { shape: [L + 1, B, 4 * H], dtype: xw.dtype }, () => {
    const hc = lstmStates(xw, h0, c0, whh, reverse);
    const steps = order(L, reverse);
    const dGates = new Array<Tensor>(L);
    let dh: Tensor = zeros([B, H], { dtype: xw.dtype, backend: xw.backend.name });
    let dc = dh;
    for (let s = L - 1; s >= 0; s--) {
      const t = steps[s];
      const [h, c] = s === 0 ? [h0, c0] : [narrow(hc[steps[s - 1]], 1, 0, H), narrow(hc[steps[s - 1]], 1, H, H)];
      const dyt = select(dy, 0, t);
      const d = concat([add(narrow(dyt, 1, 0, H), dh), add(narrow(dyt, 1, H, H), dc)], 1);
      const g = lstmCellBackward(select(xw, 0, t), h, c, whh, d); // [∂gates | ∂c]
      dGates[t] = narrow(g, 1, 0, 4 * H);
      dc = narrow(g, 1, 4 * H, H);
      dh = matmul(dGates[t], whh);
    }
    const last = concat([dh, dc, zeros([B, 2 * H], { dtype: xw.dtype, backend: xw.backend.name })], 1);
    return concat([stack(dGates, 0), unsqueeze(last, 0)], 0);
  });
}

// ------------------------------------------------------------------ GRU

/**
 * The gradient of gruSequence: gruSequenceBackward gives ∂xp for every step, then the
 * gradient of h_{t−1} W_hhᵀ + b_hh for every step (each contiguous), then ∂h0; ∂W_hh is
 * one product over all steps of the second part and ∂b_hh its sum.
 */
const gruSequenceOp = defineOp<SequenceAttrs>({
  name: 'gruSequence',
  grad: (dy, n, needs) => {
    const [xp, h0, whh, bhh] = n.inputs;
    const [L, H] = [xp.shape[0], h0.shape[1]];
    const g = gruSequenceBackward(xp, h0, whh, bhh ?? null, n.output, dy, n.attrs, n.saved); // [2L+1, B, 3H]
    const dHidden = narrow(g, 0, L, L);
    return [
      needs[0] ? narrow(g, 0, 0, L) : null,
      needs[1] ? narrow(select(g, 0, 2 * L), 1, 0, H) : null,
      needs[2] ? recurrentWeightGrad(dHidden, n.output, h0, n.attrs.reverse) : null,
      ...(bhh === undefined ? [] : [needs[3] ? reduceSum(dHidden, [0, 1]) : null]),
    ];
  },
  fused: (b, [xp, h0, whh, bhh], a, save) => b.gruSequence?.(xp, h0, whh, bhh ?? null, { reverse: a.reverse }, save) ?? null,
});

/** gruSequence's backward pass; differentiated through its composite. */
const gruSequenceBackwardOp = defineOp<BackwardAttrs>({
  name: 'gruSequenceBackward',
  fused: (b, inputs, a) => {
    const [xp, h0, whh] = inputs; // then (bhh,) y, dy
    const bhh = inputs.length === 6 ? inputs[3] : null;
    const [y, dy] = inputs.slice(-2);
    return b.gruSequenceBackward?.(xp, h0, whh, bhh, y, dy, { reverse: a.reverse }, a.saved.map((t) => t.view_())) ?? null;
  },
});

/** One GRU step's gates from xp_t [B, 3H] and h [B, H] (PyTorch's reset-after form). */
function gruGates(xp: Tensor, h: Tensor, whh: Tensor, bhh: Tensor | null, H: number): { r: Tensor; z: Tensor; n: Tensor; hn: Tensor } {
  let hw = matmul(h, transpose(whh, 0, 1));
  if (bhh !== null) hw = add(hw, bhh);
  const part = (t: Tensor, k: number) => narrow(t, 1, k * H, H);
  const r = sigmoid(add(part(xp, 0), part(hw, 0)));
  const z = sigmoid(add(part(xp, 1), part(hw, 1)));
  const hn = part(hw, 2);
  return { r, z, n: tanh(add(part(xp, 2), mul(r, hn))), hn };
}

/** h_t of every step, in time order (the composite of gruSequence). */
function gruStates(xp: Tensor, h0: Tensor, whh: Tensor, bhh: Tensor | null, reverse: boolean): Tensor[] {
  const H = h0.shape[1];
  const hs = new Array<Tensor>(xp.shape[0]);
  let h = h0;
  for (const t of order(xp.shape[0], reverse)) {
    const { z, n } = gruGates(select(xp, 0, t), h, whh, bhh, H);
    h = hs[t] = add(sub(n, mul(z, n)), mul(z, h)); // (1 − z) ∘ n + z ∘ h
  }
  return hs;
}

/**
 * A whole GRU layer-direction as one op (PyTorch's nn.GRU, gates r, z, n, reset after the product):
 *   r = σ(xp_r + h W_hrᵀ + b_hr),  z = σ(xp_z + h W_hzᵀ + b_hz)
 *   n = tanh(xp_n + r ∘ (h W_hnᵀ + b_hn)),  h' = (1 − z) ∘ n + z ∘ h
 * xp [L, B, 3H] is x W_ihᵀ + b_ih for every step, h0 [B, H], whh [3H, H], bhh [3H] or null
 * (it cannot be folded into xp: r multiplies its n part). Returns h_t for every t, [L, B, H].
 */
export function gruSequence(xp: Tensor, h0: Tensor, whh: Tensor, bhh: Tensor | null, options: SequenceOptions = {}): Tensor {
  const [L, B, H] = checkSequence('gruSequence', 3, xp, h0, whh, [], bhh);
  const reverse = isReverse('gruSequence', options);
  const inputs = bhh === null ? [xp, h0, whh] : [xp, h0, whh, bhh];
  return runOp(gruSequenceOp, inputs, { reverse }, { shape: [L, B, H], dtype: xp.dtype }, () => stack(gruStates(xp, h0, whh, bhh, reverse), 0));
}

/**
 * The backward pass through time of {@link gruSequence} for its output y and dy ([L, B, H]).
 * Returns [2L + 1, B, 3H]: slot t < L ∂xp_t = [∂r, ∂z, ∂n] at step t's pre-activations,
 * slot L + t the gradient of h_{t−1} W_hhᵀ + b_hh there, [∂r, ∂z, ∂n·r], slot 2L
 * [∂h0 | 0 | 0] (two copies of ∂r, ∂z, so that each part the rule reads is contiguous). With the carried ∂h: ∂n = ∂h(1 − z)(1 − n²), ∂z = ∂h(h − n)z(1 − z),
 * ∂r = ∂n (h W_hnᵀ + b_hn) r(1 − r), and ∂h_{t−1} = ∂h z + [∂r, ∂z, ∂n·r] W_hh.
 */
export function gruSequenceBackward(xp: Tensor, h0: Tensor, whh: Tensor, bhh: Tensor | null, y: Tensor, dy: Tensor, options: SequenceOptions = {}, saved: readonly Tensor[] = []): Tensor {
  const [L, B, H] = checkSequence('gruSequenceBackward', 3, xp, h0, whh, [], bhh);
  checkOutput('gruSequenceBackward', xp, y, dy, [L, B, H]);
  const reverse = isReverse('gruSequenceBackward', options);
  const inputs = bhh === null ? [xp, h0, whh, y, dy] : [xp, h0, whh, bhh, y, dy];
  return runOp(gruSequenceBackwardOp, inputs, { reverse, saved }, { shape: [2 * L + 1, B, 3 * H], dtype: xp.dtype }, () => {
    const hs = gruStates(xp, h0, whh, bhh, reverse);
    const steps = order(L, reverse);
    const [dxp, dHidden] = [new Array<Tensor>(L), new Array<Tensor>(L)];
    let carry: Tensor = zeros([B, H], { dtype: xp.dtype, backend: xp.backend.name });
    for (let s = L - 1; s >= 0; s--) {
      const t = steps[s];
      const h = s === 0 ? h0 : hs[steps[s - 1]];
      const { r, z, n, hn } = gruGates(select(xp, 0, t), h, whh, bhh, H);
      const dh = add(select(dy, 0, t), carry);
      const dn = mul(mul(dh, sub(1, z)), sub(1, mul(n, n)));
      const dz = mul(mul(dh, sub(h, n)), mul(z, sub(1, z)));
      const dr = mul(mul(dn, hn), mul(r, sub(1, r)));
      dxp[t] = concat([dr, dz, dn], 1);
      dHidden[t] = concat([dr, dz, mul(dn, r)], 1);
      carry = add(mul(dh, z), matmul(dHidden[t], whh));
    }
    const last = concat([carry, zeros([B, 2 * H], { dtype: xp.dtype, backend: xp.backend.name })], 1);
    return concat([stack(dxp, 0), stack(dHidden, 0), unsqueeze(last, 0)], 0);
  });
}

// ------------------------------------------------------------------ Elman RNN

/** The gradient of rnnSequence: ∂xp and ∂h0 from rnnSequenceBackward, ∂W_hh as one product. */
const rnnSequenceOp = defineOp<RnnSequenceAttrs>({
  name: 'rnnSequence',
  grad: (dy, n, needs) => {
    const [xp, h0, whh] = n.inputs;
    const L = xp.shape[0];
    const g = rnnSequenceBackward(xp, h0, whh, n.output, dy, n.attrs); // [L+1, B, H]
    const dPre = narrow(g, 0, 0, L);
    return [
      needs[0] ? dPre : null,
      needs[1] ? select(g, 0, L) : null,
      needs[2] ? recurrentWeightGrad(dPre, n.output, h0, n.attrs.reverse) : null,
    ];
  },
  fused: (b, [xp, h0, whh], a) => b.rnnSequence?.(xp, h0, whh, { reverse: a.reverse, nonlinearity: a.nonlinearity }) ?? null,
});

/** rnnSequence's backward pass; differentiated through its composite. */
const rnnSequenceBackwardOp = defineOp<RnnSequenceAttrs>({
  name: 'rnnSequenceBackward',
  fused: (b, [xp, h0, whh, y, dy], a) => b.rnnSequenceBackward?.(xp, h0, whh, y, dy, { reverse: a.reverse, nonlinearity: a.nonlinearity }) ?? null,
});

/** h_t of every step, in time order (the composite of rnnSequence). */
function rnnStates(xp: Tensor, h0: Tensor, whh: Tensor, o: RnnSequenceAttrs): Tensor[] {
  const hs = new Array<Tensor>(xp.shape[0]);
  let h = h0;
  for (const t of order(xp.shape[0], o.reverse)) {
    const pre = add(select(xp, 0, t), matmul(h, transpose(whh, 0, 1)));
    h = hs[t] = o.nonlinearity === 'tanh' ? tanh(pre) : relu(pre);
  }
  return hs;
}

function rnnAttrs(op: string, options: RnnSequenceOptions): RnnSequenceAttrs {
  checkOptions(op, options, RNN_SEQUENCE_KEYS);
  const nonlinearity = options.nonlinearity ?? 'tanh';
  if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new Error(`${op}: nonlinearity must be 'tanh' or 'relu', got '${String(nonlinearity)}'`);
  return { reverse: options.reverse ?? false, nonlinearity };
}

/**
 * A whole Elman RNN layer-direction as one op: h_t = act(xp_t + h_{t−1} W_hhᵀ), act tanh
 * (default) or relu. xp [L, B, H] is x W_ihᵀ + b_ih + b_hh for every step, h0 [B, H],
 * whh [H, H]. Returns h_t for every t, [L, B, H].
 */
export function rnnSequence(xp: Tensor, h0: Tensor, whh: Tensor, options: RnnSequenceOptions = {}): Tensor {
  const [L, B, H] = checkSequence('rnnSequence', 1, xp, h0, whh);
  const o = rnnAttrs('rnnSequence', options);
  return runOp(rnnSequenceOp, [xp, h0, whh], o, { shape: [L, B, H], dtype: xp.dtype }, () => stack(rnnStates(xp, h0, whh, o), 0));
}

/**
 * The backward pass through time of {@link rnnSequence} for its output y and dy ([L, B, H]):
 * [L + 1, B, H], slot t < L ∂xp_t = (dy_t + ∂h_t carried) ∘ act'(y_t), slot L ∂h0; the
 * carry is ∂xp_t W_hh. act' is read off the output: 1 − y² for tanh, [y > 0] for relu.
 */
export function rnnSequenceBackward(xp: Tensor, h0: Tensor, whh: Tensor, y: Tensor, dy: Tensor, options: RnnSequenceOptions = {}): Tensor {
  const [L, B, H] = checkSequence('rnnSequenceBackward', 1, xp, h0, whh);
  checkOutput('rnnSequenceBackward', xp, y, dy, [L, B, H]);
  const o = rnnAttrs('rnnSequenceBackward', options);
  return runOp(rnnSequenceBackwardOp, [xp, h0, whh, y, dy], o, { shape: [L + 1, B, H], dtype: xp.dtype }, () => {
    const hs = rnnStates(xp, h0, whh, o);
    const dPre = new Array<Tensor>(L);
    let carry: Tensor = zeros([B, H], { dtype: xp.dtype, backend: xp.backend.name });
    for (const t of order(L, !o.reverse)) {
      const dh = add(select(dy, 0, t), carry);
      dPre[t] = o.nonlinearity === 'tanh' ? mul(dh, sub(1, mul(hs[t], hs[t]))) : where(gt(hs[t], 0), dh, 0);
      carry = matmul(dPre[t], whh);
    }
    return concat([stack(dPre, 0), unsqueeze(carry, 0)], 0);
  });
}
