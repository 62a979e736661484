// LSTM and LSTMCell step through the `lstmCell` op: on a backend offering its fused
// kernels (here the host kernels, through a test-only backend) they match PyTorch's
// recorded values and the composite path, gradients included.
import '@ml/autograd';
import { chunk, manualSeed, randn, registerBackend, setBackend, tensor, type DType, type NestedArray, type Tensor } from '@ml/tensor';
import { CpuBackend, type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import { registerCompositeBackend } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { LSTM, LSTMCell } from '../src/recurrent.js';
import { recurrentCases as cases } from './helpers.js';

/** The cpu backend (which offers the host LSTM kernels), counting the calls that ran them. */
class LstmCpu extends CpuBackend {
  override readonly name = 'cpu-lstm-nn-test';
  readonly calls = { forward: 0, backward: 0 };
  override lstmCell(xw: View, h: View, c: View, whh: View, save: SaveForBackward): DataId | null {
    const out = super.lstmCell(xw, h, c, whh, save);
    if (out !== null) this.calls.forward++;
    return out;
  }
  override lstmCellBackward(xw: View, h: View, c: View, whh: View, dy: View, saved: readonly View[]): DataId | null {
    const out = super.lstmCellBackward(xw, h, c, whh, dy, saved);
    if (out !== null) this.calls.backward++;
    return out;
  }
}
const fused = new LstmCpu();
registerBackend(fused);

/** The cpu backend with the LSTM kernels declined: the layers run lstmCell's composite. */
const COMPOSITE = registerCompositeBackend('cpu-lstm-composite', ['lstmCell', 'lstmCellBackward']).name;

/** Run `fn` with `name` as the default backend (layers and tensors are made there). */
function on<R>(name: string, fn: () => R): R {
  setBackend(name);
  try {
    return fn();
  } finally {
    setBackend('cpu');
  }
}

const values = (t: Tensor): number[] => Array.from(t.dataSync());

function expectClose(actual: number[], expected: number[], tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst, label).toBeLessThan(tol);
}

const flatten = (v: NestedArray): number[] => values(tensor(v, { dtype: 'float64' }));
const f64 = (v: NestedArray): Tensor => tensor(v, { dtype: 'float64' });

describe('on a backend with the fused lstmCell kernels, LSTM matches PyTorch 1.13 (float64, 1e-10)', () => {
  // every case: 5 steps, 2 layers; `cells` = steps × layers × directions
  it.each([
    ['lstm', { numLayers: 2, bidirectional: true }, 20],
    ['lstm_batch_first', { numLayers: 2, bidirectional: true, batchFirst: true }, 20],
    ['lstm_unbatched', { numLayers: 2 }, 10],
  ] as const)('%s: outputs, final states and every gradient; every step ran on the kernels', (name, options, cells) => {
    const c = cases[name];
    const before = { ...fused.calls };
    const got = on(fused.name, () => {
      const layer = new LSTM({ inputSize: 3, hiddenSize: 4, ...options }).double();
      layer.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, f64(v)])));
      const x = f64(c.x).requiresGrad_();
      const h0 = f64(c.h0!).requiresGrad_();
      const c0 = f64(c.c0!).requiresGrad_();
      const [y, [hn, cn]] = layer.forward(x, [h0, c0]);
      y.mul(f64(c.gy)).sum().add(hn.mul(f64(c.ghn!)).sum()).add(cn.mul(f64(c.gcn!)).sum()).backward();
      const grads = Object.fromEntries([...layer.namedParameters()].map(([k, p]) => [k, values(p.grad!)]));
      return { y: values(y), hn: values(hn), cn: values(cn), gx: values(x.grad!), gh0: values(h0.grad!), gc0: values(c0.grad!), grads };
    });
    expect(fused.calls.forward - before.forward).toBe(cells);
    expect(fused.calls.backward - before.backward).toBe(cells);
    for (const k of ['y', 'hn', 'cn', 'gx', 'gh0', 'gc0'] as const) expectClose(got[k], flatten(c[k]!), 1e-10, `${name} ${k}`);
    for (const [k, g] of Object.entries(got.grads)) expectClose(g, flatten(c.grads[k]), 1e-10, `${name} gradient of ${k}`);
  });

  it('LSTMCell: h\', c\' and every gradient', () => {
    const c = cases.lstm_cell;
    const before = fused.calls.forward;
    const got = on(fused.name, () => {
      const cell = new LSTMCell({ inputSize: 3, hiddenSize: 4 }).double();
      cell.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, f64(v)])));
      const [x, h, cc] = [f64(c.x), f64(c.h0!), f64(c.c0!)].map((t) => t.requiresGrad_());
      const [h1, c1] = cell.forward(x, [h, cc]);
      h1.mul(f64(c.gy)).sum().add(c1.mul(f64(c.gcn!)).sum()).backward();
      const grads = Object.fromEntries([...cell.namedParameters()].map(([k, p]) => [k, values(p.grad!)]));
      return { y: values(h1), cn: values(c1), gx: values(x.grad!), gh0: values(h.grad!), gc0: values(cc.grad!), grads };
    });
    expect(fused.calls.forward).toBe(before + 1);
    for (const k of ['y', 'cn', 'gx', 'gh0', 'gc0'] as const) expectClose(got[k], flatten(c[k]!), 1e-10, `lstm_cell ${k}`);
    for (const [k, g] of Object.entries(got.grads)) expectClose(g, flatten(c.grads[k]), 1e-10, `lstm_cell gradient of ${k}`);
  });
});

/** A seeded LSTM run on `backend`: output, final states and the gradients of input, h0, c0 and every weight. */
function runLstm(backend: string, dtype: DType, o: { n: number; len: number; inputSize: number; hiddenSize: number; numLayers: number; bidirectional: boolean; bias: boolean }): Record<string, number[]> {
  return on(backend, () => {
    manualSeed(11);
    const layer = new LSTM({ inputSize: o.inputSize, hiddenSize: o.hiddenSize, numLayers: o.numLayers, bidirectional: o.bidirectional, bias: o.bias, dtype });
    const S = o.numLayers * (o.bidirectional ? 2 : 1);
    const x = randn([o.len, o.n, o.inputSize], { dtype }).requiresGrad_();
    const h0 = randn([S, o.n, o.hiddenSize], { dtype }).requiresGrad_();
    const c0 = randn([S, o.n, o.hiddenSize], { dtype }).requiresGrad_();
    const [y, [hn, cn]] = layer.forward(x, [h0, c0]);
    const up = (t: Tensor) => randn(t.shape, { dtype });
    y.mul(up(y)).sum().add(hn.mul(up(hn)).sum()).add(cn.mul(up(cn)).sum()).backward();
    const out: Record<string, number[]> = { y: values(y), hn: values(hn), cn: values(cn), gx: values(x.grad!), gh0: values(h0.grad!), gc0: values(c0.grad!) };
    for (const [k, p] of layer.namedParameters()) out[k] = values(p.grad!);
    return out;
  });
}

describe('the fused kernels equal the composite path through a whole LSTM (float64, 1e-12)', () => {
  it.each([
    { n: 1, len: 3, inputSize: 2, hiddenSize: 1, numLayers: 1, bidirectional: false, bias: true },
    { n: 1, len: 4, inputSize: 5, hiddenSize: 3, numLayers: 2, bidirectional: true, bias: true },
    { n: 5, len: 3, inputSize: 3, hiddenSize: 7, numLayers: 1, bidirectional: true, bias: false },
    { n: 4, len: 6, inputSize: 4, hiddenSize: 9, numLayers: 3, bidirectional: false, bias: true },
  ])('N=$n, L=$len, in=$inputSize, H=$hiddenSize, layers=$numLayers, bidirectional=$bidirectional, bias=$bias', (o) => {
    const before = fused.calls.backward;
    const kernel = runLstm(fused.name, 'float64', o);
    expect(fused.calls.backward - before).toBe(o.len * o.numLayers * (o.bidirectional ? 2 : 1));
    const composite = runLstm(COMPOSITE, 'float64', o);
    expect(Object.keys(kernel)).toEqual(Object.keys(composite));
    for (const k of Object.keys(kernel)) expectClose(kernel[k], composite[k], 1e-12, k);
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
});
