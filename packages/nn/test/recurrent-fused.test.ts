// The sequence layers run each layer-direction as one whole-sequence op (lstmSequence,
// gruSequence, rnnSequence) and LSTMCell steps through lstmCell: on a backend offering
// their fused kernels (CpuBackend's host kernels, counted here) they match PyTorch's
// recorded values and the composite path, gradients included, and the kernels really ran.
import '@ml/autograd';
import { gradcheck } from '@ml/autograd';
import { chunk, getBackend, gruSequence, lstmSequence, manualSeed, narrow, randn, registerBackend, rnnSequence, tensor, type DType, type NestedArray, type Tensor } from '@ml/tensor';
import { CpuBackend, type DataId, type RnnSequenceAttrs, type SaveForBackward, type SequenceAttrs, type View } from '@ml/tensor/backend';
import { onBackend as on, registerCompositeBackend } from '@ml/tensor/testing';
import { describe, expect, it, vi } from 'vitest';
import { GRU, LSTM, LSTMCell, RNN } from '../src/recurrent.js';
import { recurrentCases as cases } from './helpers.js';

type Counted = 'lstmCell' | 'lstmCellBackward' | 'lstmSequence' | 'lstmSequenceBackward' | 'gruSequence' | 'gruSequenceBackward' | 'rnnSequence' | 'rnnSequenceBackward';

/** The cpu backend (which offers the host recurrent kernels), counting the calls that ran them. */
class Counting extends CpuBackend {
  override readonly name = 'cpu-recurrent-nn-test';
  readonly calls: Record<Counted, number> = {
    lstmCell: 0, lstmCellBackward: 0, lstmSequence: 0, lstmSequenceBackward: 0, gruSequence: 0, gruSequenceBackward: 0, rnnSequence: 0, rnnSequenceBackward: 0,
  };
  #count(m: Counted, out: DataId | null): DataId | null {
    if (out !== null) this.calls[m]++;
    return out;
  }
  override lstmCell(xw: View, h: View, c: View, whh: View, save: SaveForBackward): DataId | null {
    return this.#count('lstmCell', super.lstmCell(xw, h, c, whh, save));
  }
  override lstmCellBackward(xw: View, h: View, c: View, whh: View, dy: View, saved: readonly View[]): DataId | null {
    return this.#count('lstmCellBackward', super.lstmCellBackward(xw, h, c, whh, dy, saved));
  }
  override lstmSequence(xw: View, h0: View, c0: View, whh: View, o: SequenceAttrs, save: SaveForBackward): DataId | null {
    return this.#count('lstmSequence', super.lstmSequence(xw, h0, c0, whh, o, save));
  }
  override lstmSequenceBackward(xw: View, h0: View, c0: View, whh: View, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null {
    return this.#count('lstmSequenceBackward', super.lstmSequenceBackward(xw, h0, c0, whh, y, dy, o, saved));
  }
  override gruSequence(xp: View, h0: View, whh: View, bhh: View | null, o: SequenceAttrs, save: SaveForBackward): DataId | null {
    return this.#count('gruSequence', super.gruSequence(xp, h0, whh, bhh, o, save));
  }
  override gruSequenceBackward(xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null {
    return this.#count('gruSequenceBackward', super.gruSequenceBackward(xp, h0, whh, bhh, y, dy, o, saved));
  }
  override rnnSequence(xp: View, h0: View, whh: View, o: RnnSequenceAttrs): DataId | null {
    return this.#count('rnnSequence', super.rnnSequence(xp, h0, whh, o));
  }
  override rnnSequenceBackward(xp: View, h0: View, whh: View, y: View, dy: View, o: RnnSequenceAttrs): DataId | null {
    return this.#count('rnnSequenceBackward', super.rnnSequenceBackward(xp, h0, whh, y, dy, o));
  }
}
const fused = new Counting();
registerBackend(fused);

/** The cpu backend with every recurrent kernel declined: the layers run the ops' composites. */
const COMPOSITE = registerCompositeBackend('cpu-recurrent-composite', [
  'lstmCell', 'lstmCellBackward', 'lstmSequence', 'lstmSequenceBackward', 'gruSequence', 'gruSequenceBackward', 'rnnSequence', 'rnnSequenceBackward',
]).name;


const values = (t: Tensor): number[] => Array.from(t.dataSync());

function expectClose(actual: number[], expected: number[], tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst, label).toBeLessThan(tol);
}

const flatten = (v: NestedArray): number[] => values(tensor(v, { dtype: 'float64' }));
const f64 = (v: NestedArray): Tensor => tensor(v, { dtype: 'float64' });

type Mode = 'lstm' | 'gru' | 'rnn';
type AnyLayer = LSTM | GRU | RNN;

/** The layer's forward with states given or not: [output, hN, (cN)]. */
function forward(layer: AnyLayer, x: Tensor, h0?: Tensor, c0?: Tensor): Tensor[] {
  if (layer instanceof LSTM) {
    const [y, [hn, cn]] = layer.forward(x, h0 && c0 ? [h0, c0] : undefined);
    return [y, hn, cn];
  }
  return layer.forward(x, h0);
}

describe('on a backend with the fused kernels, the sequence layers match PyTorch 1.13 (float64, 1e-10)', () => {
  // every case: 5 steps, 2 layers; `runs` = layers × directions (one forward and one backward kernel each)
  it.each([
    ['lstm', 'lstm', { numLayers: 2, bidirectional: true }, 4],
    ['lstm_batch_first', 'lstm', { numLayers: 2, bidirectional: true, batchFirst: true }, 4],
    ['lstm_unbatched', 'lstm', { numLayers: 2 }, 2],
    ['gru', 'gru', { numLayers: 2, bidirectional: true }, 4],
    ['gru_batch_first', 'gru', { numLayers: 2, bidirectional: true, batchFirst: true }, 4],
    ['gru_unbatched', 'gru', { bidirectional: true }, 2],
    ['rnn_tanh', 'rnn', { numLayers: 2, bidirectional: true }, 4],
    ['rnn_tanh_batch_first', 'rnn', { numLayers: 2, bidirectional: true, batchFirst: true }, 4],
    ['rnn_relu_nobias', 'rnn', { numLayers: 2, nonlinearity: 'relu', bias: false }, 2],
  ] as const)('%s: outputs, final states and every gradient; each layer-direction ran on one forward and one backward kernel', (name, mode: Mode, options, runs) => {
    const c = cases[name];
    const before = { ...fused.calls };
    const got = on(fused.name, () => {
      const layer = (mode === 'lstm' ? new LSTM({ inputSize: 3, hiddenSize: 4, ...options }) : mode === 'gru' ? new GRU({ inputSize: 3, hiddenSize: 4, ...options }) : new RNN({ inputSize: 3, hiddenSize: 4, ...options })).double();
      layer.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, f64(v)])));
      const x = f64(c.x).requiresGrad_();
      const h0 = c.h0 ? f64(c.h0).requiresGrad_() : undefined;
      const c0 = c.c0 ? f64(c.c0).requiresGrad_() : undefined;
      const [y, hn, cn] = forward(layer, x, h0, c0);
      let loss = y.mul(f64(c.gy)).sum().add(hn.mul(f64(c.ghn!)).sum());
      if (cn) loss = loss.add(cn.mul(f64(c.gcn!)).sum());
      loss.backward();
      const grads = Object.fromEntries([...layer.namedParameters()].map(([k, p]) => [k, values(p.grad!)]));
      const out: Record<string, number[]> = { y: values(y), hn: values(hn), gx: values(x.grad!) };
      if (cn) out.cn = values(cn);
      if (h0) out.gh0 = values(h0.grad!);
      if (c0) out.gc0 = values(c0.grad!);
      return { out, grads };
    });
    expect(fused.calls[`${mode}Sequence`] - before[`${mode}Sequence`]).toBe(runs);
    expect(fused.calls[`${mode}SequenceBackward`] - before[`${mode}SequenceBackward`]).toBe(runs);
    expect(fused.calls.lstmCell - before.lstmCell).toBe(0); // no per-step ops
    for (const [k, v] of Object.entries(got.out)) expectClose(v, flatten(c[k as 'y']!), 1e-10, `${name} ${k}`);
    for (const [k, g] of Object.entries(got.grads)) expectClose(g, flatten(c.grads[k]), 1e-10, `${name} gradient of ${k}`);
  });

  it("LSTMCell: h', c' and every gradient, on the lstmCell kernels", () => {
    const c = cases.lstm_cell;
    const before = { ...fused.calls };
    const got = on(fused.name, () => {
      const cell = new LSTMCell({ inputSize: 3, hiddenSize: 4 }).double();
      cell.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, f64(v)])));
      const [x, h, cc] = [f64(c.x), f64(c.h0!), f64(c.c0!)].map((t) => t.requiresGrad_());
      const [h1, c1] = cell.forward(x, [h, cc]);
      h1.mul(f64(c.gy)).sum().add(c1.mul(f64(c.gcn!)).sum()).backward();
      const grads = Object.fromEntries([...cell.namedParameters()].map(([k, p]) => [k, values(p.grad!)]));
      return { y: values(h1), cn: values(c1), gx: values(x.grad!), gh0: values(h.grad!), gc0: values(cc.grad!), grads };
    });
    expect(fused.calls.lstmCell).toBe(before.lstmCell + 1);
    expect(fused.calls.lstmCellBackward).toBe(before.lstmCellBackward + 1);
    for (const k of ['y', 'cn', 'gx', 'gh0', 'gc0'] as const) expectClose(got[k], flatten(c[k]!), 1e-10, `lstm_cell ${k}`);
    for (const [k, g] of Object.entries(got.grads)) expectClose(g, flatten(c.grads[k]), 1e-10, `lstm_cell gradient of ${k}`);
  });
});

interface Config {
  mode: Mode;
  n: number;
  len: number;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  bias: boolean;
  batchFirst?: boolean;
  dropout?: number;
  nonlinearity?: 'tanh' | 'relu';
  zeroState?: boolean;
}

/** A seeded run of a layer on `backend`: output, final states and the gradients of input, states and every weight. */
function runLayer(backend: string, dtype: DType, o: Config): Record<string, number[]> {
  return on(backend, () => {
    manualSeed(11);
    const common = { inputSize: o.inputSize, hiddenSize: o.hiddenSize, numLayers: o.numLayers, bidirectional: o.bidirectional, bias: o.bias, batchFirst: o.batchFirst, dropout: o.dropout, dtype };
    const layer = o.mode === 'lstm' ? new LSTM(common) : o.mode === 'gru' ? new GRU(common) : new RNN({ ...common, nonlinearity: o.nonlinearity });
    const S = o.numLayers * (o.bidirectional ? 2 : 1);
    const x = randn(o.batchFirst ? [o.n, o.len, o.inputSize] : [o.len, o.n, o.inputSize], { dtype }).requiresGrad_();
    const h0 = o.zeroState ? undefined : randn([S, o.n, o.hiddenSize], { dtype }).requiresGrad_();
    const c0 = o.zeroState || o.mode !== 'lstm' ? undefined : randn([S, o.n, o.hiddenSize], { dtype }).requiresGrad_();
    const ys = forward(layer, x, h0, c0);
    ys.map((y) => y.mul(randn(y.shape, { dtype })).sum()).reduce((a, b) => a.add(b)).backward();
    const out: Record<string, number[]> = { gx: values(x.grad!) };
    ys.forEach((y, i) => (out[`y${i}`] = values(y)));
    if (h0) out.gh0 = values(h0.grad!);
    if (c0) out.gc0 = values(c0.grad!);
    for (const [k, p] of layer.namedParameters()) out[k] = values(p.grad!);
    return out;
  });
}

describe('the fused kernels equal the composite path through whole layers (float64, 1e-12)', () => {
  const configs: Config[] = [
    { mode: 'lstm', n: 1, len: 1, inputSize: 2, hiddenSize: 1, numLayers: 1, bidirectional: false, bias: true },
    { mode: 'lstm', n: 1, len: 4, inputSize: 5, hiddenSize: 3, numLayers: 2, bidirectional: true, bias: true, batchFirst: true },
    { mode: 'lstm', n: 5, len: 3, inputSize: 3, hiddenSize: 7, numLayers: 1, bidirectional: true, bias: false, zeroState: true },
    { mode: 'lstm', n: 4, len: 6, inputSize: 4, hiddenSize: 9, numLayers: 3, bidirectional: false, bias: true, dropout: 0.3 },
    { mode: 'gru', n: 1, len: 1, inputSize: 2, hiddenSize: 3, numLayers: 1, bidirectional: true, bias: true },
    { mode: 'gru', n: 3, len: 5, inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, bias: true, batchFirst: true, dropout: 0.25 },
    { mode: 'gru', n: 2, len: 4, inputSize: 3, hiddenSize: 2, numLayers: 1, bidirectional: false, bias: false, zeroState: true },
    { mode: 'rnn', n: 1, len: 3, inputSize: 2, hiddenSize: 1, numLayers: 1, bidirectional: false, bias: true },
    { mode: 'rnn', n: 3, len: 7, inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, bias: true, nonlinearity: 'relu', batchFirst: true },
    { mode: 'rnn', n: 2, len: 2, inputSize: 4, hiddenSize: 3, numLayers: 3, bidirectional: false, bias: false, zeroState: true, dropout: 0.5 },
  ];
  it.each(configs)('$mode N=$n, L=$len, in=$inputSize, H=$hiddenSize, layers=$numLayers, bidirectional=$bidirectional, bias=$bias, batchFirst=$batchFirst, dropout=$dropout', (o) => {
    const key = `${o.mode}SequenceBackward` as const;
    const before = fused.calls[key];
    const kernel = runLayer(fused.name, 'float64', o);
    expect(fused.calls[key] - before).toBe(o.numLayers * (o.bidirectional ? 2 : 1));
    const composite = runLayer(COMPOSITE, 'float64', o);
    expect(Object.keys(kernel)).toEqual(Object.keys(composite));
    for (const k of Object.keys(kernel)) expectClose(kernel[k], composite[k], 1e-12, k);
  });
});

describe('gradcheck through the fused kernels of each sequence op (float64, w.r.t. every input)', () => {
  const f = (...shape: number[]) => randn(shape, { dtype: 'float64' });
  it.each([false, true])('lstmSequence, GRU with and without bhh, rnnSequence tanh and relu; reverse=%s', (reverse) => {
    manualSeed(reverse ? 21 : 20);
    // gradcheck runs on 'cpu' (CpuBackend, with the kernels): count the kernel calls that gave a result there
    const cpu = getBackend('cpu') as CpuBackend;
    const methods = ['lstmSequence', 'lstmSequenceBackward', 'gruSequence', 'gruSequenceBackward', 'rnnSequence', 'rnnSequenceBackward'] as const;
    const spies = methods.map((m) => vi.spyOn(cpu, m));
    const [L, B, H] = [3, 2, 3];
    const ok = [
      gradcheck((x, h, c, w) => lstmSequence(x, h, c, w, { reverse }), [f(L, B, 4 * H), f(B, H), f(B, H), f(4 * H, H).mul(0.5)]),
      gradcheck((x, h, w, b) => gruSequence(x, h, w, b, { reverse }), [f(L, B, 3 * H), f(B, H), f(3 * H, H).mul(0.5), f(3 * H)]),
      gradcheck((x, h, w) => gruSequence(x, h, w, null, { reverse }), [f(L, B, 3 * H), f(B, H), f(3 * H, H).mul(0.5)]),
      gradcheck((x, h, w) => rnnSequence(x, h, w, { reverse }), [f(L, B, H), f(B, H), f(H, H).mul(0.5)]),
      // relu: inputs kept off its kink at 0
      gradcheck((x, h, w) => rnnSequence(narrow(x, 2, 0, H), h, w, { reverse, nonlinearity: 'relu' }), [f(L, B, H + 1), f(B, H), f(H, H).mul(0.3)]),
    ];
    expect(ok.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    const ran = spies.map((s) => s.mock.results.filter((r) => r.type === 'return' && r.value !== null).length);
    spies.forEach((s) => s.mockRestore());
    for (const [i, m] of methods.entries()) expect(ran[i], m).toBeGreaterThan(0);
  });
});

describe('float32: the layer equals the formula it replaced, to float32 rounding', () => {
  /** The per-step composite the layer computed before lstmCell: gates from chunk(), then the equations. */
  function oldStep(x: Tensor, h: Tensor, c: Tensor, w: Record<string, Tensor>): [Tensor, Tensor] {
    const pre = x.matmul(w.weight_ih.T).add(w.bias_ih).add(h.matmul(w.weight_hh.T).add(w.bias_hh));
    const [i, f, g, o] = chunk(pre, 4, -1);
    const c1 = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
    return [o.sigmoid().mul(c1.tanh()), c1];
  }

  it.each([COMPOSITE, fused.name])('LSTMCell unrolled over 12 steps on %s, gradients included', (backend) => {
    const run = (useLayer: boolean) =>
      on(backend, () => {
        manualSeed(3);
        const cell = new LSTMCell({ inputSize: 6, hiddenSize: 16 });
        const w = cell.stateDict();
        const xs = randn([12, 8, 6]);
        let h = randn([8, 16]);
        let c = randn([8, 16]);
        for (let t = 0; t < 12; t++) [h, c] = useLayer ? cell.forward(xs.select(0, t), [h, c]) : oldStep(xs.select(0, t), h, c, w);
        h.sum().add(c.mul(0.5).sum()).backward();
        return [values(h), values(c), ...[...cell.namedParameters()].map(([, p]) => values(p.grad!))];
      });
    const [now, then] = [run(true), run(false)];
    now.forEach((v, k) => expectClose(v, then[k], 2e-5, `result ${k}`));
  });

  it.each(['lstm', 'gru', 'rnn'] as const)('%s: a float32 layer on the kernels equals the composite path to float32 rounding', (mode) => {
    const o: Config = { mode, n: 8, len: 12, inputSize: 6, hiddenSize: 16, numLayers: 2, bidirectional: true, bias: true };
    const [kernel, composite] = [runLayer(fused.name, 'float32', o), runLayer(COMPOSITE, 'float32', o)];
    for (const k of Object.keys(kernel)) expectClose(kernel[k], composite[k], 5e-5, k);
  });
});
