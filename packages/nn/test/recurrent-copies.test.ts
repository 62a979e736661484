// The sequence layers project a layer's input for every time step with ONE product over
// all L·N rows (a batch-first input copied once time-major, a previous layer's h_t read as
// a view) and take a batch-first output from the ops' outputs seen batch-first. Checked
// here: every gradient (input, h0/c0, each weight) against the same stack unrolled by hand
// with the cells on the composite path (float64), for batch-first, time-major and
// unbatched inputs, one and two directions, one and three layers, a loss on the last step
// only (the output's gradient then mostly zeros) or on every step, and that no product
// ran batched over the time steps. And the sequence ops' ∂W_hh (formed as a transpose, one
// product over the steps that read an output plus one for h0) against their composites.
import '@ml/autograd';
import { concat, fromArray, gruSequence, lstmSequence, manualSeed, randn, registerBackend, rnnSequence, stack, type Tensor } from '@ml/tensor';
import { CpuBackend, type DataId, type View } from '@ml/tensor/backend';
import { onBackend as on, registerCompositeBackend } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '../src/recurrent.js';

/** The cpu backend (host recurrent kernels), recording each product's batch count. */
class Products extends CpuBackend {
  override readonly name = 'cpu-recurrent-copies';
  readonly batches: number[] = [];
  override matmul(a: View, b: View): DataId {
    this.batches.push(a.shape[0]);
    return super.matmul(a, b);
  }
}
const fused = new Products();
registerBackend(fused);
/** Every recurrent kernel declined: the cells run their composites (the reference). */
const COMPOSITE = registerCompositeBackend('cpu-recurrent-copies-composite').name;


type Mode = 'lstm' | 'gru' | 'rnn';
type Sequence = LSTM | GRU | RNN;
type Cell = LSTMCell | GRUCell | RNNCell;
const IN = 3;
const H = 4;

interface Case {
  mode: Mode;
  layout: 'batchFirst' | 'timeMajor' | 'unbatched';
  numLayers: number;
  bidirectional: boolean;
  L: number;
  N: number;
  /** the loss reads only the output's last step (plus hN), as a classifier on the last state does */
  lastOnly: boolean;
  /** h0 (and c0) given; zeros otherwise */
  withState: boolean;
}

/** A weight's values, to rebuild it on another backend. */
interface Weight {
  data: number[];
  shape: number[];
}

interface Result {
  output: number[];
  grads: Record<string, number[]>;
}

const values = (t: Tensor): number[] => Array.from(t.dataSync());

/** Inputs and loss weights for a case, drawn from one seed (the same on every backend). */
function draw(c: Case, D: number): { x: Tensor; states: Tensor[]; gy: Tensor; gh: Tensor } {
  manualSeed(31 + c.L * 7 + c.N);
  const opt = { dtype: 'float64' as const };
  const x = c.layout === 'unbatched' ? randn([c.L, IN], opt) : c.layout === 'batchFirst' ? randn([c.N, c.L, IN], opt) : randn([c.L, c.N, IN], opt);
  const stateShape = c.layout === 'unbatched' ? [c.numLayers * D, H] : [c.numLayers * D, c.N, H];
  const states = Array.from({ length: c.mode === 'lstm' ? 2 : 1 }, () => randn(stateShape, opt));
  const yShape = c.layout === 'unbatched' ? [c.L, D * H] : c.layout === 'batchFirst' ? [c.N, c.L, D * H] : [c.L, c.N, D * H];
  return { x, states, gy: randn(yShape, opt), gh: randn(stateShape, opt) };
}

function makeLayer(c: Case): Sequence {
  const o = { inputSize: IN, hiddenSize: H, numLayers: c.numLayers, bidirectional: c.bidirectional, batchFirst: c.layout === 'batchFirst', dtype: 'float64' as const };
  return c.mode === 'lstm' ? new LSTM(o) : c.mode === 'gru' ? new GRU(o) : new RNN(o);
}

/** The loss Σ gy ∘ output' + Σ gh ∘ hN, output' the last step's slice when `lastOnly`. */
function loss(c: Case, y: Tensor, hn: Tensor, gy: Tensor, gh: Tensor): Tensor {
  const timeDim = c.layout === 'batchFirst' ? 1 : 0;
  const part = (t: Tensor): Tensor => (c.lastOnly ? t.select(timeDim, c.L - 1) : t);
  return part(y).mul(part(gy)).sum().add(hn.mul(gh).sum());
}

/** Output and the gradients of the input, states and every weight, through the layer. */
function throughLayer(c: Case, layer: Sequence): Result {
  const { x, states, gy, gh } = draw(c, layer.numDirections);
  x.requiresGrad_();
  const init = c.withState ? states.map((s) => s.requiresGrad_()) : [];
  let y: Tensor;
  let hn: Tensor;
  if (layer instanceof LSTM) [y, [hn]] = layer.forward(x, c.withState ? [init[0], init[1]] : undefined);
  else [y, hn] = layer.forward(x, c.withState ? init[0] : undefined);
  loss(c, y, hn, gy, gh).backward();
  const grads: Record<string, number[]> = { x: values(x.grad!) };
  init.forEach((s, i) => (grads[`state${i}`] = values(s.grad!)));
  for (const [k, p] of layer.namedParameters()) grads[k] = values(p.grad!);
  return { output: values(y), grads };
}

/** The same stack unrolled step by step with cells holding each layer-direction's weights. */
function throughCells(c: Case, sd: Record<string, Weight>): Result {
  const D = c.bidirectional ? 2 : 1;
  const { x, states, gy, gh } = draw(c, D);
  x.requiresGrad_();
  const init = c.withState ? states.map((s) => s.requiresGrad_()) : [];
  const params: Record<string, Tensor> = {};
  // time-major [L, N, in] steps; unbatched as a batch of one
  const seq = c.layout === 'unbatched' ? x.unsqueeze(1) : c.layout === 'batchFirst' ? x.transpose(0, 1) : x;
  const stateAt = (i: number, j: number): Tensor | undefined => (init.length === 0 ? undefined : c.layout === 'unbatched' ? init[i].select(0, j).unsqueeze(0) : init[i].select(0, j));
  let input = Array.from({ length: c.L }, (_, t) => seq.select(0, t));
  const finals: Tensor[] = [];
  for (let k = 0; k < c.numLayers; k++) {
    const outs: Tensor[][] = [];
    for (let d = 0; d < D; d++) {
      const suffix = `_l${k}${d ? '_reverse' : ''}`;
      const o = { inputSize: k === 0 ? IN : D * H, hiddenSize: H, dtype: 'float64' as const };
      const cell: Cell = c.mode === 'lstm' ? new LSTMCell(o) : c.mode === 'gru' ? new GRUCell(o) : new RNNCell(o);
      cell.loadStateDict(Object.fromEntries(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((w) => [w, fromArray(sd[w + suffix].data, sd[w + suffix].shape, { dtype: 'float64' })])));
      for (const [name, p] of cell.namedParameters()) params[name + suffix] = p;
      const j = k * D + d;
      let s: Tensor[] = c.mode === 'lstm' ? [stateAt(0, j), stateAt(1, j)].filter((t): t is Tensor => t !== undefined) : [stateAt(0, j)].filter((t): t is Tensor => t !== undefined);
      const hs = new Array<Tensor>(c.L);
      for (let i = 0; i < c.L; i++) {
        const t = d ? c.L - 1 - i : i;
        s = cell instanceof LSTMCell ? cell.forward(input[t], s.length === 2 ? [s[0], s[1]] : undefined) : [cell.forward(input[t], s[0])];
        hs[t] = s[0];
      }
      outs.push(hs);
      finals.push(s[0]);
    }
    input = input.map((_, t) => (D === 1 ? outs[0][t] : concat([outs[0][t], outs[1][t]], -1)));
  }
  const timeMajor = stack(input, 0); // [L, N, D·H]
  const y = c.layout === 'unbatched' ? timeMajor.squeeze(1) : c.layout === 'batchFirst' ? timeMajor.transpose(0, 1) : timeMajor;
  const hn = c.layout === 'unbatched' ? stack(finals, 0).squeeze(1) : stack(finals, 0);
  loss(c, y, hn, gy, gh).backward();
  const grads: Record<string, number[]> = { x: values(x.grad!) };
  init.forEach((s, i) => (grads[`state${i}`] = values(s.grad!)));
  for (const [k, p] of Object.entries(params)) grads[k] = values(p.grad!);
  return { output: values(y), grads };
}

function expectClose(actual: number[], expected: number[], label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst, label).toBeLessThan(1e-10);
}

const cases: Case[] = [];
for (const mode of ['lstm', 'gru', 'rnn'] as const) {
  cases.push(
    { mode, layout: 'batchFirst', numLayers: 2, bidirectional: true, L: 5, N: 3, lastOnly: true, withState: true },
    { mode, layout: 'batchFirst', numLayers: 3, bidirectional: false, L: 4, N: 2, lastOnly: true, withState: false },
    { mode, layout: 'batchFirst', numLayers: 1, bidirectional: false, L: 1, N: 1, lastOnly: false, withState: true },
    { mode, layout: 'batchFirst', numLayers: 2, bidirectional: true, L: 3, N: 1, lastOnly: false, withState: false },
    { mode, layout: 'timeMajor', numLayers: 2, bidirectional: true, L: 5, N: 2, lastOnly: false, withState: true },
    { mode, layout: 'timeMajor', numLayers: 3, bidirectional: false, L: 2, N: 3, lastOnly: true, withState: true },
    { mode, layout: 'unbatched', numLayers: 2, bidirectional: true, L: 4, N: 1, lastOnly: true, withState: true },
  );
}

describe('sequence layers: one input product over all rows, batch-first outputs as views; gradients match the cells unrolled', () => {
  it.each(cases.map((c) => [`${c.mode} ${c.layout}, ${c.numLayers} layer(s), ${c.bidirectional ? 'bidirectional' : 'one direction'}, L=${c.L}, N=${c.N}, loss on ${c.lastOnly ? 'the last step' : 'every step'}, ${c.withState ? 'h0 given' : 'zero h0'}`, c] as const))(
    '%s',
    (_, c) => {
      fused.batches.length = 0;
      const { result, sd } = on(fused.name, () => {
        manualSeed(5);
        const layer = makeLayer(c);
        const weights = Object.fromEntries([...layer.namedParameters()].map(([k, p]): [string, Weight] => [k, { data: values(p), shape: [...p.shape] }]));
        return { result: throughLayer(c, layer), sd: weights };
      });
      expect(fused.batches.length, 'products ran').toBeGreaterThan(0);
      expect(fused.batches.every((b) => b === 1), `no product batched over time steps (batches ${fused.batches.join(',')})`).toBe(true);
      const want = on(COMPOSITE, () => throughCells(c, sd));
      expectClose(result.output, want.output, 'output');
      expect(Object.keys(result.grads).sort()).toEqual(Object.keys(want.grads).sort());
      for (const [k, g] of Object.entries(want.grads)) expectClose(result.grads[k], g, `gradient of ${k}`);
    },
  );
});

describe('the sequence ops: ∂W_hh (one product over the outputs, one for h0) and ∂h0 match the composite', () => {
  type Op = 'lstm' | 'gru' | 'gru without bias' | 'rnn';
  /** Operands of an op for L steps, batch B: [x, h0, (c0,) whh, (bhh)]. */
  function operands(op: Op, L: number, B: number): Tensor[] {
    const G = op === 'lstm' ? 4 : op === 'rnn' ? 1 : 3;
    const opt = { dtype: 'float64' as const };
    manualSeed(100 + 10 * L + B);
    const t = [randn([L, B, G * H], opt), randn([B, H], opt)];
    if (op === 'lstm') t.push(randn([B, H], opt));
    t.push(randn([G * H, H], opt).mul(0.5));
    if (op === 'gru') t.push(randn([G * H], opt));
    return t;
  }
  function run(op: Op, t: Tensor[], reverse: boolean): Tensor {
    if (op === 'lstm') return lstmSequence(t[0], t[1], t[2], t[3], { reverse });
    if (op === 'rnn') return rnnSequence(t[0], t[1], t[2], { reverse });
    return gruSequence(t[0], t[1], t[2], op === 'gru' ? t[3] : null, { reverse });
  }
  function gradients(op: Op, L: number, B: number, reverse: boolean): number[][] {
    const t = operands(op, L, B).map((v) => v.requiresGrad_());
    const y = run(op, t, reverse);
    manualSeed(7);
    y.mul(randn(y.shape, { dtype: 'float64' })).sum().backward();
    return t.map((v) => values(v.grad!));
  }
  const ops: Op[] = ['lstm', 'gru', 'gru without bias', 'rnn'];
  it.each(ops.flatMap((op) => [1, 2, 5].flatMap((L) => [1, 3].flatMap((B) => [false, true].map((reverse) => [op, L, B, reverse] as const)))))(
    '%s, L=%i, B=%i, reverse %s',
    (op, L, B, reverse) => {
      const got = on(fused.name, () => gradients(op, L, B, reverse));
      const want = on(COMPOSITE, () => gradients(op, L, B, reverse));
      want.forEach((g, i) => expectClose(got[i], g, `gradient of operand ${i}`));
    },
  );
});
