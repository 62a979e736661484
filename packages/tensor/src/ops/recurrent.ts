/**
 * Recurrent cells as single ops. An LSTM step is about fifteen elementwise ops and a
 * product; as one op it is one product plus one pass over the gates forward, one pass
 * backward, and a graph node per step instead of a dozen (what a 28-step sequence layer
 * unrolls into). The composites are the reference and the path for second derivatives.
 */
import { defineOp } from '../op.js';
import { fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, mul, sigmoid, sub, tanh } from './elementwise.js';
import { concat, narrow, transpose } from './layout.js';
import { matmul } from './linalg.js';
import { assertFloat, runOp } from './prim.js';

/**
 * One LSTM step. Its gradient: the gate gradients and ∂c from lstmCellBackward (one pass),
 * then ∂xw = ∂gates, ∂h = ∂gates · W_hh, ∂W_hh = ∂gatesᵀ · h (products, so differentiable).
 */
const lstmCellOp = defineOp({
  name: 'lstmCell',
  grad: (dy, n, needs) => {
    const [xw, h, c, whh] = n.inputs;
    const H = h.shape[1];
    const g = lstmCellBackward(xw, h, c, whh, dy, n.saved); // [B, 5H] = [∂gates | ∂c]
    const dGates = narrow(g, 1, 0, 4 * H);
    return [
      needs[0] ? dGates : null,
      needs[1] ? matmul(dGates, whh) : null,
      needs[2] ? narrow(g, 1, 4 * H, H) : null,
      needs[3] ? matmul(transpose(dGates, 0, 1), h) : null,
    ];
  },
  fused: (b, [xw, h, c, whh], _a, save) => b.lstmCell?.(xw, h, c, whh, save) ?? null,
});

/**
 * The gate and cell-state gradients of lstmCell; differentiated through its composite.
 * `saved` is what the forward kernel kept for it (an attribute: no gradient flows to it).
 */
const lstmCellBackwardOp = defineOp<{ saved: readonly Tensor[] }>({
  name: 'lstmCellBackward',
  fused: (b, [xw, h, c, whh, dy], a) => b.lstmCellBackward?.(xw, h, c, whh, dy, a.saved.map((t) => t.view_())) ?? null,
});

/** Check lstmCell's operands: xw [B, 4H], h and c [B, H], whh [4H, H], one float dtype. Returns H. */
function checkCell(op: string, xw: Tensor, h: Tensor, c: Tensor, whh: Tensor): number {
  for (const [name, t] of [['xw', xw], ['h', h], ['c', c], ['whh', whh]] as const) {
    assertFloat(`${op} (${name})`, t);
    if (t.ndim !== 2) throw new ShapeError(`${op}: ${name} must be 2-D, got ${fmt(t.shape)}`);
    if (t.dtype !== xw.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but xw is ${xw.dtype}; cast one first`);
  }
  const [B, H] = h.shape;
  const want: [string, Tensor, number[]][] = [['xw', xw, [B, 4 * H]], ['c', c, [B, H]], ['whh', whh, [4 * H, H]]];
  for (const [name, t, shape] of want) {
    if (t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      throw new ShapeError(`${op}: ${name} must be ${fmt(shape)} for h ${fmt(h.shape)} (batch ${B}, hidden ${H}), got ${fmt(t.shape)}`);
    }
  }
  return H;
}

/** The activated gates of one step, as the composites compute them. */
function gates(xw: Tensor, h: Tensor, whh: Tensor, H: number): { i: Tensor; f: Tensor; g: Tensor; o: Tensor } {
  const a = add(xw, matmul(h, transpose(whh, 0, 1)));
  const part = (k: number) => narrow(a, 1, k * H, H);
  return { i: sigmoid(part(0)), f: sigmoid(part(1)), g: tanh(part(2)), o: sigmoid(part(3)) };
}

/**
 * One LSTM step, gates in PyTorch's order (i, f, g, o):
 *   i, f, g, o = split(xw + h W_hhᵀ),  i, f, o through σ, g through tanh
 *   c' = f ∘ c + i ∘ g,   h' = o ∘ tanh(c')
 * xw [B, 4H] is the step's input projection x W_ihᵀ with both biases added; h, c [B, H];
 * whh [4H, H]. Returns [B, 2H] = [h' | c'] (one tensor: a graph node has one output; take
 * the halves with narrow). A backend's fused kernel runs it in one pass after the product.
 */
export function lstmCell(xw: Tensor, h: Tensor, c: Tensor, whh: Tensor): Tensor {
  const H = checkCell('lstmCell', xw, h, c, whh);
  return runOp(lstmCellOp, [xw, h, c, whh], {}, { shape: [h.shape[0], 2 * H], dtype: xw.dtype }, () => {
    const { i, f, g, o } = gates(xw, h, whh, H);
    const c1 = add(mul(f, c), mul(i, g));
    return concat([mul(o, tanh(c1)), c1], 1);
  });
}

/**
 * The backward pass of {@link lstmCell} for dy [B, 2H] = [∂h' | ∂c']: with
 * ∂c'ₜ = ∂c' + ∂h' ∘ o ∘ (1 − tanh²c'), returns [B, 5H] =
 * [∂i ∘ i(1−i), ∂f ∘ f(1−f), ∂g ∘ (1−g²), ∂o ∘ o(1−o) | ∂c'ₜ ∘ f] — the gradient at the gate
 * pre-activations (= ∂xw) and ∂c, where ∂i = ∂c'ₜ ∘ g, ∂f = ∂c'ₜ ∘ c, ∂g = ∂c'ₜ ∘ i,
 * ∂o = ∂h' ∘ tanh c'. `saved` is what the forward kernel kept (its gate activations).
 */
export function lstmCellBackward(xw: Tensor, h: Tensor, c: Tensor, whh: Tensor, dy: Tensor, saved: readonly Tensor[] = []): Tensor {
  const H = checkCell('lstmCellBackward', xw, h, c, whh);
  const B = h.shape[0];
  if (dy.ndim !== 2 || dy.shape[0] !== B || dy.shape[1] !== 2 * H) {
    throw new ShapeError(`lstmCellBackward: dy must be ${fmt([B, 2 * H])} (like lstmCell's output), got ${fmt(dy.shape)}`);
  }
  if (dy.dtype !== xw.dtype) throw new TypeError(`lstmCellBackward: dy is ${dy.dtype} but xw is ${xw.dtype}`);
  return runOp(lstmCellBackwardOp, [xw, h, c, whh, dy], { saved }, { shape: [B, 5 * H], dtype: xw.dtype }, () => {
    const { i, f, g, o } = gates(xw, h, whh, H);
    const tc = tanh(add(mul(f, c), mul(i, g)));
    const dh1 = narrow(dy, 1, 0, H);
    const dc1 = add(narrow(dy, 1, H, H), mul(mul(dh1, o), sub(1, mul(tc, tc))));
    const dsig = (s: Tensor) => mul(s, sub(1, s)); // σ' in terms of σ
    return concat(
      [
        mul(mul(dc1, g), dsig(i)),
        mul(mul(dc1, c), dsig(f)),
        mul(mul(dc1, i), sub(1, mul(g, g))),
        mul(mul(dh1, tc), dsig(o)),
        mul(dc1, f),
      ],
      1,
    );
  });
}
