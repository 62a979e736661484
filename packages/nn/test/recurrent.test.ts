import '@ml/autograd';
import { concat, manualSeed, randn, zeros, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import type { AnyModule } from '../src/module.js';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '../src/recurrent.js';
import { f64, gradcheckLayer as gradcheckModule, recurrentCases as cases, stateOf } from './helpers.js';


const TOL = { atol: 1e-10, rtol: 1e-10 };

type Sequence = RNN | GRU | LSTM;
type Cell = RNNCell | GRUCell | LSTMCell;

// Module<never[], unknown> (AnyModule) does not yet accept modules whose forward returns a
// tuple, so the layers are passed to the shared helper through a cast.
const gradcheckLayer = (layer: Sequence | Cell, inputs: Tensor[], run: (...xs: Tensor[]) => Tensor): void =>
  gradcheckModule(layer as unknown as AnyModule, inputs, run);

const flat = (ts: Tensor[]): Tensor => concat(ts.map((t) => t.reshape([-1])), 0);

/** Run a sequence layer; LSTM's state pair is flattened into [hN, cN]. */
function runLayer(layer: Sequence, x: Tensor, h0?: Tensor, c0?: Tensor): { y: Tensor; hn: Tensor; cn?: Tensor } {
  if (layer instanceof LSTM) {
    const [y, [hn, cn]] = layer.forward(x, h0 && c0 ? [h0, c0] : undefined);
    return { y, hn, cn };
  }
  const [y, hn] = layer.forward(x, h0);
  return { y, hn };
}

/** Load the case's weights, run forward + backward with its upstream gradients, compare everything. */
async function layerMatchesPytorch(name: string, layer: Sequence): Promise<void> {
  const c = cases[name];
  layer.double();
  layer.loadStateDict(stateOf(c.state));
  expect([...layer.namedParameters()].map(([k]) => k), 'parameter keys in PyTorch order').toEqual(Object.keys(c.state));
  const x = f64(c.x).requiresGrad_();
  const h0 = c.h0 ? f64(c.h0).requiresGrad_() : undefined;
  const c0 = c.c0 ? f64(c.c0).requiresGrad_() : undefined;
  const { y, hn, cn } = runLayer(layer, x, h0, c0);
  await assertClose(y, c.y, { ...TOL, label: `${name} output` });
  await assertClose(hn, c.hn!, { ...TOL, label: `${name} hN` });
  let loss = y.mul(f64(c.gy)).sum().add(hn.mul(f64(c.ghn!)).sum());
  if (cn) {
    await assertClose(cn, c.cn!, { ...TOL, label: `${name} cN` });
    loss = loss.add(cn.mul(f64(c.gcn!)).sum());
  }
  loss.backward();
  await assertClose(x.grad!, c.gx, { ...TOL, label: `${name} input gradient` });
  if (h0) await assertClose(h0.grad!, c.gh0!, { ...TOL, label: `${name} h0 gradient` });
  if (c0) await assertClose(c0.grad!, c.gc0!, { ...TOL, label: `${name} c0 gradient` });
  for (const [k, p] of layer.namedParameters()) {
    expect(p.grad, `${name}: no gradient reached ${k}`).toBeTruthy();
    await assertClose(p.grad!, c.grads[k], { ...TOL, label: `${name} gradient of ${k}` });
  }
}

async function cellMatchesPytorch(name: string, cell: Cell): Promise<void> {
  const c = cases[name];
  cell.double();
  cell.loadStateDict(stateOf(c.state));
  const x = f64(c.x).requiresGrad_();
  const h = f64(c.h0!).requiresGrad_();
  let loss: Tensor;
  if (cell instanceof LSTMCell) {
    const cc = f64(c.c0!).requiresGrad_();
    const [h1, c1] = cell.forward(x, [h, cc]);
    await assertClose(h1, c.y, { ...TOL, label: `${name} h'` });
    await assertClose(c1, c.cn!, { ...TOL, label: `${name} c'` });
    h1.mul(f64(c.gy)).sum().add(c1.mul(f64(c.gcn!)).sum()).backward();
    await assertClose(cc.grad!, c.gc0!, { ...TOL, label: `${name} c gradient` });
  } else {
    const h1 = cell.forward(x, h);
    await assertClose(h1, c.y, { ...TOL, label: `${name} h'` });
    loss = h1.mul(f64(c.gy)).sum();
    loss.backward();
  }
  await assertClose(x.grad!, c.gx, { ...TOL, label: `${name} input gradient` });
  await assertClose(h.grad!, c.gh0!, { ...TOL, label: `${name} h gradient` });
  for (const [k, p] of cell.namedParameters()) await assertClose(p.grad!, c.grads[k], { ...TOL, label: `${name} gradient of ${k}` });
  expect(Object.keys(c.grads).sort()).toEqual([...cell.namedParameters()].map(([k]) => k).sort());
}

const IN = 3;
const H = 4;

describe('sequence layers match PyTorch 1.13 over 5 steps (outputs, hN/cN, gradients of input, h0/c0 and every weight; float64, 1e-10)', () => {
  for (const batchFirst of [false, true]) {
    const tag = batchFirst ? '_batch_first' : '';
    const layout = batchFirst ? '[N, L, in] (batchFirst)' : '[L, N, in]';
    const opts = { inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst };
    it(`RNN tanh, 2 layers, bidirectional, input ${layout}`, () => layerMatchesPytorch(`rnn_tanh${tag}`, new RNN(opts)));
    it(`LSTM, 2 layers, bidirectional, input ${layout}`, () => layerMatchesPytorch(`lstm${tag}`, new LSTM(opts)));
    it(`GRU, 2 layers, bidirectional, input ${layout}`, () => layerMatchesPytorch(`gru${tag}`, new GRU(opts)));
  }

  it('RNN relu without biases, 2 layers, default zero h0', () =>
    layerMatchesPytorch('rnn_relu_nobias', new RNN({ inputSize: IN, hiddenSize: H, numLayers: 2, nonlinearity: 'relu', bias: false })));

  it('GRU on unbatched input [L, in] with h0 [D, H] (bidirectional)', () =>
    layerMatchesPytorch('gru_unbatched', new GRU({ inputSize: IN, hiddenSize: H, bidirectional: true })));

  it('LSTM on unbatched input [L, in] with h0, c0 [numLayers, H]', () =>
    layerMatchesPytorch('lstm_unbatched', new LSTM({ inputSize: IN, hiddenSize: H, numLayers: 2 })));
});

describe('cells match PyTorch 1.13 (h′/c′ and gradients of x, h, c and every weight; float64, 1e-10)', () => {
  it('RNNCell tanh', () => cellMatchesPytorch('rnn_cell_tanh', new RNNCell({ inputSize: IN, hiddenSize: H })));
  it('RNNCell relu', () => cellMatchesPytorch('rnn_cell_relu', new RNNCell({ inputSize: IN, hiddenSize: H, nonlinearity: 'relu' })));
  it('LSTMCell (gates i, f, g, o)', () => cellMatchesPytorch('lstm_cell', new LSTMCell({ inputSize: IN, hiddenSize: H })));
  it('GRUCell (gates r, z, n; r scales W_hn h + b_hn)', () => cellMatchesPytorch('gru_cell', new GRUCell({ inputSize: IN, hiddenSize: H })));
});

describe('cells stepped by hand equal the sequence layers', () => {
  const L = 4;
  const N = 3;

  /** One step of any cell on a state list ([h] or [h, c]). */
  const step = (cell: Cell, x: Tensor, s: Tensor[]): Tensor[] => {
    if (cell instanceof LSTMCell) return cell.forward(x, [s[0], s[1]]);
    return [cell.forward(x, s[0])];
  };

  /**
   * A 2-layer bidirectional layer, unrolled by hand: for each layer and direction a cell gets
   * that layer's weights (`weight_ih_l1_reverse` → `weight_ih`), runs forwards or backwards in
   * time, and layer 1 reads both of layer 0's directions concatenated.
   */
  async function unrollMatches(layer: Sequence, makeCell: (inputSize: number) => Cell): Promise<void> {
    layer.double().eval();
    const sd = layer.stateDict();
    const x = randn([L, N, IN], { dtype: 'float64' });
    const nStates = layer instanceof LSTM ? 2 : 1;
    const init = Array.from({ length: nStates }, () => randn([4, N, H], { dtype: 'float64' }));
    const { y, hn, cn } = runLayer(layer, x, init[0], init[1]);
    let input = Array.from({ length: L }, (_, t) => x.select(0, t));
    const finals: Tensor[][] = init.map(() => []);
    for (let k = 0; k < 2; k++) {
      const outs: Tensor[][] = [];
      for (const d of [0, 1]) {
        const suffix = `_l${k}${d ? '_reverse' : ''}`;
        const cell = makeCell(k === 0 ? IN : 2 * H).double();
        cell.loadStateDict(Object.fromEntries(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((w) => [w, sd[w + suffix]])));
        let s = init.map((t) => t.select(0, 2 * k + d));
        const hs: Tensor[] = new Array<Tensor>(L);
        for (let i = 0; i < L; i++) {
          const t = d ? L - 1 - i : i;
          s = step(cell, input[t], s);
          hs[t] = s[0];
        }
        outs.push(hs);
        s.forEach((st, m) => finals[m].push(st));
      }
      input = input.map((_, t) => concat([outs[0][t], outs[1][t]], -1));
    }
    for (let t = 0; t < L; t++) await assertClose(y.select(0, t), input[t].arraySync(), { ...TOL, label: `output at step ${t}` });
    for (let j = 0; j < 4; j++) {
      await assertClose(hn.select(0, j), finals[0][j].arraySync(), { ...TOL, label: `hN[${j}]` });
      if (cn) await assertClose(cn.select(0, j), finals[1][j].arraySync(), { ...TOL, label: `cN[${j}]` });
    }
  }

  const opts = { inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true };
  it('RNNCell (relu) and RNN', () => {
    manualSeed(1);
    return unrollMatches(new RNN({ ...opts, nonlinearity: 'relu' }), (inputSize) => new RNNCell({ inputSize, hiddenSize: H, nonlinearity: 'relu' }));
  });
  it('LSTMCell and LSTM', () => {
    manualSeed(2);
    return unrollMatches(new LSTM(opts), (inputSize) => new LSTMCell({ inputSize, hiddenSize: H }));
  });
  it('GRUCell and GRU', () => {
    manualSeed(3);
    return unrollMatches(new GRU(opts), (inputSize) => new GRUCell({ inputSize, hiddenSize: H }));
  });

  it('a cell on unbatched [in] / [H] equals the same row of a batch, and h defaults to zeros', async () => {
    manualSeed(4);
    const cell = new GRUCell({ inputSize: IN, hiddenSize: H, dtype: 'float64' });
    const x = randn([2, IN], { dtype: 'float64' });
    const h = randn([2, H], { dtype: 'float64' });
    const one = cell.forward(x.select(0, 1), h.select(0, 1));
    expect(one.shape).toEqual([H]);
    await assertClose(one, cell.forward(x, h).select(0, 1).arraySync(), TOL);
    await assertClose(cell.forward(x), cell.forward(x, zeros([2, H], { dtype: 'float64' })).arraySync(), TOL);
  });
});

describe('gradcheck through the sequence ops (float64; in=3, hidden=2, L=3, N=2; w.r.t. input, h0/c0 and every weight)', () => {
  const small = { inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, dtype: 'float64' as const };
  const x = () => randn([3, 2, 3], { dtype: 'float64' });
  const h = () => randn([4, 2, 2], { dtype: 'float64' });

  it('RNN tanh, 2 layers, bidirectional', () => {
    manualSeed(10);
    const rnn = new RNN(small);
    gradcheckLayer(rnn, [x(), h()], (xs, h0) => flat(rnn.forward(xs, h0)));
  });

  it('LSTM, 2 layers, bidirectional, batchFirst', () => {
    manualSeed(11);
    const lstm = new LSTM({ ...small, batchFirst: true });
    gradcheckLayer(lstm, [randn([2, 3, 3], { dtype: 'float64' }), h(), h()], (xs, h0, c0) => {
      const [y, [hn, cn]] = lstm.forward(xs, [h0, c0]);
      return flat([y, hn, cn]);
    });
  });

  it('GRU, 2 layers, bidirectional', () => {
    manualSeed(12);
    const gru = new GRU(small);
    gradcheckLayer(gru, [x(), h()], (xs, h0) => flat(gru.forward(xs, h0)));
  });

  it('RNNCell, LSTMCell and GRUCell', () => {
    manualSeed(13);
    const o = { inputSize: 3, hiddenSize: 2, dtype: 'float64' as const };
    const xs = randn([2, 3], { dtype: 'float64' });
    const hs = randn([2, 2], { dtype: 'float64' });
    const cs = randn([2, 2], { dtype: 'float64' });
    const rnn = new RNNCell(o);
    gradcheckLayer(rnn, [xs, hs], (a, b) => rnn.forward(a, b));
    const lstm = new LSTMCell(o);
    gradcheckLayer(lstm, [xs, hs, cs], (a, b, c) => flat(lstm.forward(a, [b, c])));
    const gru = new GRUCell(o);
    gradcheckLayer(gru, [xs, hs], (a, b) => gru.forward(a, b));
  });
});

describe('options, initialization and dropout between layers', () => {
  it("registers PyTorch's keys and shapes and draws every weight from U(−1/√H, 1/√H)", () => {
    manualSeed(20);
    const gru = new GRU({ inputSize: 5, hiddenSize: 16, numLayers: 2, bidirectional: true });
    const sd = gru.stateDict();
    expect(Object.keys(sd).slice(0, 5)).toEqual(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse']);
    expect(sd.weight_ih_l0.shape).toEqual([48, 5]);
    expect(sd.weight_ih_l1_reverse.shape).toEqual([48, 32]);
    expect(sd.bias_hh_l1.shape).toEqual([48]);
    const all = Object.values(sd).flatMap((t) => [...t.dataSync()]);
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...all.map(Math.abs))).toBeGreaterThan(0.24); // uses the full range
    expect(Object.keys(new LSTM({ inputSize: 2, hiddenSize: 3, bias: false }).stateDict())).toEqual(['weight_ih_l0', 'weight_hh_l0']);
  });

  it('dropout acts between layers in training only: p = 1 feeds zeros to layer 1, eval ignores it', async () => {
    manualSeed(21);
    const rnn = new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 1, dtype: 'float64' });
    const x = randn([5, 2, 3], { dtype: 'float64' });
    const h0 = randn([2, 2, 4], { dtype: 'float64' });
    // the top layer alone, with layer 1's weights, on an all-zero input
    const top = new RNN({ inputSize: 4, hiddenSize: 4, dtype: 'float64' });
    const sd = rnn.stateDict();
    top.loadStateDict({ weight_ih_l0: sd.weight_ih_l1, weight_hh_l0: sd.weight_hh_l1, bias_ih_l0: sd.bias_ih_l1, bias_hh_l0: sd.bias_hh_l1 });
    const [yTop] = top.forward(zeros([5, 2, 4], { dtype: 'float64' }), h0.narrow(0, 1, 1));
    const [yTrain] = rnn.train().forward(x, h0);
    await assertClose(yTrain, yTop.arraySync(), TOL);
    // eval: same as a copy without dropout
    const plain = new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2, dtype: 'float64' });
    plain.loadStateDict(sd);
    const [yEval] = rnn.eval().forward(x, h0);
    await assertClose(yEval, plain.forward(x, h0)[0].arraySync(), TOL);
    expect(Math.abs(yEval.sub(yTrain).abs().max().item())).toBeGreaterThan(1e-3);
  });

  it('throws clear errors for bad options and shapes', () => {
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 0 })).toThrow('LSTM: hiddenSize must be a positive integer, got 0');
    expect(() => new GRUCell({ inputSize: 3, hiddenSize: 0 })).toThrow('GRUCell: hiddenSize must be a positive integer, got 0');
    expect(() => new RNN({ inputSize: 3, hiddenSize: 2, numLayers: 1.5 })).toThrow('numLayers must be a positive integer');
    expect(() => new RNN({ inputSize: 3, hiddenSize: 2, dropout: 1.5 })).toThrow('RNN: dropout must be in [0, 1], got 1.5');
    // @ts-expect-error: not an allowed nonlinearity
    expect(() => new RNN({ inputSize: 3, hiddenSize: 2, nonlinearity: 'sigmoid' })).toThrow("nonlinearity must be 'tanh' or 'relu', got 'sigmoid'");

    const lstm = new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true });
    const x = randn([5, 4, 3]);
    expect(() => lstm.forward(randn([5, 4, 6]))).toThrow('LSTM: input [5,4,6] has 6 features in its last dim, but inputSize is 3');
    expect(() => lstm.forward(randn([5, 4, 3, 1]))).toThrow('LSTM: expected input [L, N, inputSize] or unbatched [L, inputSize], got [5,4,3,1]');
    expect(() => lstm.forward(x, [randn([2, 4, 2]), randn([4, 4, 2])])).toThrow(
      'LSTM: h0 must have shape [4,4,2] (numLayers·numDirections, batch, hiddenSize) for input [5,4,3], got [2,4,2]',
    );
    expect(() => lstm.forward(x, [randn([4, 4, 2]), randn([4, 3, 2])])).toThrow('LSTM: c0 must have shape [4,4,2]');
    expect(() => new GRU({ inputSize: 3, hiddenSize: 2 }).forward(randn([5, 3]), randn([1, 4, 2]))).toThrow(
      'GRU: h0 must have shape [1,2] (numLayers·numDirections, hiddenSize) for input [5,3], got [1,4,2]',
    );
    expect(() => new GRU({ inputSize: 3, hiddenSize: 2 }).forward(randn([0, 2, 3]))).toThrow('empty sequence');

    const cell = new LSTMCell({ inputSize: 3, hiddenSize: 2 });
    expect(() => cell.forward(randn([4, 5]))).toThrow('LSTMCell: expected input [N, 3] or [3] (inputSize=3), got [4,5]');
    expect(() => cell.forward(randn([4, 3]), [randn([4, 3]), randn([4, 2])])).toThrow('LSTMCell: h must have shape [4,2] for input [4,3], got [4,3]');
    expect(() => new RNNCell({ inputSize: 3, hiddenSize: 2 }).forward(randn([3]), randn([1, 2]))).toThrow('RNNCell: h must have shape [2] for input [3], got [1,2]');
  });

  it('prints its options', () => {
    expect(new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 2, batchFirst: true, bidirectional: true }).toString()).toBe(
      'LSTM(3, 2, numLayers=2, batchFirst=true, bidirectional=true)',
    );
    expect(new RNNCell({ inputSize: 3, hiddenSize: 2, nonlinearity: 'relu' }).toString()).toBe('RNNCell(3, 2, bias=true, nonlinearity=relu)');
  });
});
