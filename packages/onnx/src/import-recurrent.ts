/**
 * ONNX's recurrent operators LSTM, GRU and RNN (forward, reverse, bidirectional; layout 0
 * [seq, batch, input] or 1 [batch, seq, input]), unrolled over time with `@ml/tensor` ops so
 * autograd differentiates them. ONNX stacks gate weights in its own orders: LSTM i, o, f, c
 * (PyTorch: i, f, g, o) and GRU z, r, h (PyTorch: r, z, n); biases are [Wb | Rb].
 */
import { add, matmul, mul, narrow, permute, relu, select, sigmoid, stack, sub, tanh, zeros, type Tensor } from '@ml/tensor';
import type { Attrs, OpContext, OpDef, Value } from './import-ops.js';
import { OnnxError } from './import-errors.js';

type Act = (x: Tensor) => Tensor;
const ACTIVATIONS: Record<string, Act> = { Sigmoid: sigmoid, Tanh: tanh, Relu: relu };

function fail(ctx: OpContext, message: string): never {
  throw new OnnxError(`node '${ctx.node.name}' (${ctx.node.opType}): ${message}`);
}

interface Cell {
  gates: number;
  /** one step: input projection xw [batch, G·h] (with Wb), state, recurrent weight R [G·h, h], Rb → new state */
  step(xw: Tensor, h: Tensor, c: Tensor | null, r: Tensor, rb: Tensor | null, acts: readonly Act[], hidden: number, a: Attrs): [Tensor, Tensor | null];
  defaults: string[];
}

const part = (t: Tensor, k: number, h: number): Tensor => narrow(t, -1, k * h, h);

// LSTM: i = f(Xi + Hi + b), o = f(...), f_t = f(...), c̃ = g(...); C = f_t⊙C₋ + i⊙c̃; H = o⊙h(C)
const LSTM_CELL: Cell = {
  gates: 4,
  defaults: ['Sigmoid', 'Tanh', 'Tanh'],
  step(xw, h, c, r, rb, [f, g, hAct], hidden) {
    let z = add(xw, matmul(h, permute(r, [1, 0])));
    if (rb) z = add(z, rb);
    const i = f(part(z, 0, hidden));
    const o = f(part(z, 1, hidden));
    const ft = f(part(z, 2, hidden));
    const cc = g(part(z, 3, hidden));
    const cNew = add(mul(ft, c as Tensor), mul(i, cc));
    return [mul(o, hAct(cNew)), cNew];
  },
};

// GRU: z = f(Xz + Hz + b), r = f(Xr + Hr + b), h̃ = g(Xh + (r⊙H)Rh + b) or g(Xh + r⊙(H·Rh + Rbh) + Wbh)
// (linear_before_reset); H' = (1 − z)⊙h̃ + z⊙H
const GRU_CELL: Cell = {
  gates: 3,
  defaults: ['Sigmoid', 'Tanh'],
  step(xw, h, _c, r, rb, [f, g], hidden, a) {
    const rz = narrow(r, 0, 0, 2 * hidden);
    const rh = narrow(r, 0, 2 * hidden, hidden);
    let zr = add(narrow(xw, -1, 0, 2 * hidden), matmul(h, permute(rz, [1, 0])));
    if (rb) zr = add(zr, narrow(rb, -1, 0, 2 * hidden));
    const z = f(part(zr, 0, hidden));
    const rt = f(part(zr, 1, hidden));
    const xh = part(xw, 2, hidden);
    const rbh = rb ? part(rb, 2, hidden) : null;
    let hh: Tensor;
    if (a.int('linear_before_reset', 0)) {
      let hr = matmul(h, permute(rh, [1, 0]));
      if (rbh) hr = add(hr, rbh);
      hh = g(add(xh, mul(rt, hr)));
    } else {
      let hr = matmul(mul(rt, h), permute(rh, [1, 0]));
      if (rbh) hr = add(hr, rbh);
      hh = g(add(xh, hr));
    }
    return [add(mul(sub(1, z), hh), mul(z, h)), null];
  },
};

// RNN: H = f(X·Wᵀ + H₋·Rᵀ + Wb + Rb)
const RNN_CELL: Cell = {
  gates: 1,
  defaults: ['Tanh'],
  step(xw, h, _c, r, rb, [f]) {
    let z = add(xw, matmul(h, permute(r, [1, 0])));
    if (rb) z = add(z, rb);
    return [f(z), null];
  },
};

function recurrent(cell: Cell): OpDef {
  return {
    attrs: { hidden_size: 'int', direction: 'string', activations: 'strings', activation_alpha: 'floats', activation_beta: 'floats', clip: 'float', input_forget: 'int', layout: 'int', linear_before_reset: 'int' },
    minInputs: 3,
    run: (ctx: OpContext, inputs: readonly (Value | undefined)[], a: Attrs) => {
      const [xv, wv, rv, bv, seqLens, h0v, c0v, pv] = inputs;
      if (seqLens !== undefined) fail(ctx, 'sequence_lens is not supported (pad sequences to one length)');
      if (pv !== undefined) fail(ctx, 'peephole weights P are not supported');
      if (a.has('clip')) fail(ctx, 'clip is not supported');
      if (a.int('input_forget', 0)) fail(ctx, 'input_forget is not supported');
      const hidden = a.int('hidden_size', 0);
      const direction = a.string('direction', 'forward');
      const dirs = direction === 'bidirectional' ? 2 : 1;
      if (!['forward', 'reverse', 'bidirectional'].includes(direction)) fail(ctx, `direction '${direction}' is not forward, reverse or bidirectional`);
      const actNames = a.strings('activations') ?? [...cell.defaults, ...(dirs === 2 ? cell.defaults : [])];
      if (actNames.length !== cell.defaults.length * dirs) fail(ctx, `expected ${cell.defaults.length * dirs} activations, got ${actNames.length}`);
      const acts = actNames.map((n) => ACTIVATIONS[n] ?? fail(ctx, `activation '${n}' is not supported (Sigmoid, Tanh, Relu are)`));
      const layout = a.int('layout', 0);
      let x = ctx.tensor(xv as Value);
      if (x.ndim !== 3) fail(ctx, `X must be 3-D, got [${x.shape.join(', ')}]`);
      if (layout === 1) x = permute(x, [1, 0, 2]);
      const [T, N, I] = x.shape;
      const w = ctx.tensor(wv as Value);
      const r = ctx.tensor(rv as Value);
      const G = cell.gates;
      const want = (t: Tensor, shape: number[], what: string) => {
        if (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i])) fail(ctx, `${what} must be [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
      };
      if (!Number.isInteger(hidden) || hidden <= 0) fail(ctx, `hidden_size ${hidden} must be a positive integer`);
      want(w, [dirs, G * hidden, I], 'W');
      want(r, [dirs, G * hidden, hidden], 'R');
      const b = bv !== undefined ? ctx.tensor(bv) : null;
      if (b) want(b, [dirs, 2 * G * hidden], 'B');
      const initial = (v: Value | undefined, what: string): Tensor | null => {
        if (v === undefined) return null;
        let t = ctx.tensor(v);
        if (layout === 1) t = permute(t, [1, 0, 2]);
        want(t, [dirs, N, hidden], what);
        return t;
      };
      const h0 = initial(h0v, 'initial_h');
      const c0 = initial(c0v, 'initial_c');
      const ys: Tensor[] = [];
      const hs: Tensor[] = [];
      const cs: Tensor[] = [];
      for (let d = 0; d < dirs; d++) {
        const reverse = direction === 'reverse' || d === 1;
        const wd = select(w, 0, d);
        const rd = select(r, 0, d);
        const bd = b ? select(b, 0, d) : null;
        // all input projections at once: [T, N, I] x [I, G·h]
        let xw = matmul(x, permute(wd, [1, 0]));
        if (bd) xw = add(xw, narrow(bd, 0, 0, G * hidden));
        const rb = bd ? narrow(bd, 0, G * hidden, G * hidden) : null;
        let h = h0 ? select(h0, 0, d) : zeros([N, hidden], { dtype: x.dtype, backend: x.backend.name });
        let c: Tensor | null = G === 4 ? (c0 ? select(c0, 0, d) : zeros([N, hidden], { dtype: x.dtype, backend: x.backend.name })) : null;
        const out = new Array<Tensor>(T);
        const dirActs = acts.slice(d * cell.defaults.length, (d + 1) * cell.defaults.length);
        for (let k = 0; k < T; k++) {
          const t = reverse ? T - 1 - k : k;
          [h, c] = cell.step(select(xw, 0, t), h, c, rd, rb, dirActs, hidden, a);
          out[t] = h;
        }
        ys.push(T > 0 ? stack(out, 0) : zeros([0, N, hidden], { dtype: x.dtype, backend: x.backend.name }));
        hs.push(h);
        if (c) cs.push(c);
      }
      let y = stack(ys, 1); // [T, dirs, N, h]
      let yh = stack(hs, 0); // [dirs, N, h]
      let yc = cs.length ? stack(cs, 0) : undefined;
      if (layout === 1) {
        y = permute(y, [2, 0, 1, 3]);
        yh = permute(yh, [1, 0, 2]);
        yc = yc ? permute(yc, [1, 0, 2]) : undefined;
      }
      return [y, yh, yc];
    },
  };
}

export const RECURRENT_OPS: Readonly<Record<string, OpDef>> = {
  LSTM: recurrent(LSTM_CELL),
  GRU: recurrent(GRU_CELL),
  RNN: recurrent(RNN_CELL),
};
