// RNN/LSTM/GRU and their cells exported to ONNX's RNN/LSTM/GRU nodes, run in ONNX Runtime (CPU)
// and compared with @ml's forward on the same inputs: |ort − ml| ≤ 1e-5·max(1, |ml|) elementwise,
// in float32, on every output (the sequence output and the final states). Each model is traced
// at batch 2 and run at batch 2 and, where the batch is dim 0 of every input, at batch 3.
import { noGrad } from '@ml/autograd';
import { GRU, GRUCell, LSTM, LSTMCell, Module, RNN, RNNCell, type AnyModule } from '@ml/nn';
import { concat, manualSeed, randn, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { exportCell, exportOnnx, exportRecurrent, registerOnnxExporter } from '../src/index.js';
import { onnx } from '../src/proto.js';
import { expectClose, runOrt } from './helpers.js';

interface Case {
  title: string;
  build: () => AnyModule;
  /** shape of each input at batch size n */
  shapes: (n: number) => number[][];
  /** the ONNX op types the graph must contain */
  ops: readonly string[];
}

const L = 5;
const IN = 3;
const H = 4;

/** forward's outputs as a flat list: an LSTM's [out, [h, c]] becomes [out, h, c]. */
function flat(out: unknown): Tensor[] {
  return Array.isArray(out) ? (out as unknown[]).flatMap(flat) : [out as Tensor];
}

/**
 * An LSTM with its outputs flattened to [out, hN, cN] and its initial states as two inputs
 * (forward(x, [h0, c0])): exportOnnx's tracer takes a flat list of tensors in and out.
 */
class FlatLstm extends Module<[Tensor, Tensor?, Tensor?], Tensor[]> {
  readonly lstm: LSTM;
  constructor(options: ConstructorParameters<typeof LSTM>[0]) {
    super();
    this.lstm = this.registerModule('lstm', new LSTM(options));
  }
  forward(x: Tensor, h0?: Tensor, c0?: Tensor): Tensor[] {
    const [out, [h, c]] = this.lstm.forward(x, h0 && c0 ? [h0, c0] : undefined);
    return [out, h, c];
  }
}
registerOnnxExporter(FlatLstm, (ctx, m, [x, h0, c0]) => exportRecurrent(ctx, m.lstm, x, [h0, c0]));

/** An LSTMCell called with separate h and c inputs. */
class LstmCellWithState extends Module<[Tensor, Tensor, Tensor], Tensor[]> {
  readonly cell: LSTMCell;
  constructor() {
    super();
    this.cell = this.registerModule('cell', new LSTMCell({ inputSize: IN, hiddenSize: H }));
  }
  forward(x: Tensor, h: Tensor, c: Tensor): Tensor[] {
    return this.cell.forward(x, [h, c]);
  }
}

const seq = (n: number, batchFirst = false) => (batchFirst ? [n, L, IN] : [L, n, IN]);

const CASES: Case[] = [
  { title: 'RNN tanh', build: () => new RNN({ inputSize: IN, hiddenSize: H }), shapes: (n) => [seq(n)], ops: ['RNN'] },
  { title: 'RNN relu (unrolled)', build: () => new RNN({ inputSize: IN, hiddenSize: H, nonlinearity: 'relu' }), shapes: (n) => [seq(n)], ops: ['Relu', 'MatMul'] },
  {
    title: 'RNN relu, 2 layers, bidirectional, batchFirst, h0',
    build: () => new RNN({ inputSize: IN, hiddenSize: H, nonlinearity: 'relu', numLayers: 2, bidirectional: true, batchFirst: true }),
    shapes: (n) => [seq(n, true), [4, n, H]],
    ops: ['Relu'],
  },
  { title: 'RNN tanh, 3 layers, h0, no bias', build: () => new RNN({ inputSize: IN, hiddenSize: H, numLayers: 3, bias: false }), shapes: (n) => [seq(n), [3, n, H]], ops: ['RNN'] },
  { title: 'LSTM', build: () => new FlatLstm({ inputSize: IN, hiddenSize: H }), shapes: (n) => [seq(n)], ops: ['LSTM'] },
  { title: 'LSTM as it is: its [out, [h, c]] exported as three outputs', build: () => new LSTM({ inputSize: IN, hiddenSize: H, batchFirst: true }), shapes: (n) => [seq(n, true)], ops: ['LSTM'] },
  { title: 'LSTM, 2 layers, bidirectional', build: () => new FlatLstm({ inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true }), shapes: (n) => [seq(n)], ops: ['LSTM'] },
  { title: 'LSTM batchFirst', build: () => new FlatLstm({ inputSize: IN, hiddenSize: H, batchFirst: true }), shapes: (n) => [seq(n, true)], ops: ['LSTM', 'Transpose'] },
  {
    title: 'LSTM, 2 layers, bidirectional, batchFirst, h0 and c0',
    build: () => new FlatLstm({ inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true }),
    shapes: (n) => [seq(n, true), [4, n, H], [4, n, H]],
    ops: ['LSTM'],
  },
  { title: 'GRU', build: () => new GRU({ inputSize: IN, hiddenSize: H }), shapes: (n) => [seq(n)], ops: ['GRU'] },
  { title: 'GRU, 2 layers, bidirectional, h0', build: () => new GRU({ inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true }), shapes: (n) => [seq(n), [4, n, H]], ops: ['GRU'] },
  {
    title: 'RNN tanh, 2 layers, bidirectional, batchFirst',
    build: () => new RNN({ inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true }),
    shapes: (n) => [seq(n, true)],
    ops: ['RNN'],
  },
  {
    title: 'GRU, 2 layers, bidirectional, batchFirst',
    build: () => new GRU({ inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true }),
    shapes: (n) => [seq(n, true)],
    ops: ['GRU'],
  },
  { title: 'GRU batchFirst, no bias', build: () => new GRU({ inputSize: IN, hiddenSize: H, batchFirst: true, bias: false }), shapes: (n) => [seq(n, true)], ops: ['GRU'] },
  { title: 'RNNCell', build: () => new RNNCell({ inputSize: IN, hiddenSize: H }), shapes: (n) => [[n, IN]], ops: ['RNN'] },
  { title: 'RNNCell relu with h', build: () => new RNNCell({ inputSize: IN, hiddenSize: H, nonlinearity: 'relu' }), shapes: (n) => [[n, IN], [n, H]], ops: ['Relu'] },
  { title: 'LSTMCell', build: () => new LSTMCell({ inputSize: IN, hiddenSize: H }), shapes: (n) => [[n, IN]], ops: ['LSTM'] },
  { title: 'LSTMCell with h and c', build: () => new LstmCellWithState(), shapes: (n) => [[n, IN], [n, H], [n, H]], ops: ['LSTM'] },
  { title: 'GRUCell with h', build: () => new GRUCell({ inputSize: IN, hiddenSize: H }), shapes: (n) => [[n, IN], [n, H]], ops: ['GRU'] },
];
registerOnnxExporter(LstmCellWithState, (ctx, m, [x, h, c]) => exportCell(ctx, m.cell, x, [h, c]));

function opTypes(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

describe('ONNX export of recurrent layers, checked by ONNX Runtime', () => {
  for (const c of CASES) {
    // exportOnnx can make dim 0 of every input dynamic (one symbolic dim 'batch' for all): where the
    // batch sits elsewhere (a time-major sequence [L, N, in], states [layers·D, N, H]) the graph is
    // written with static dims and runs at the traced batch only
    const batchAtDim0 = c.shapes(2).every((s, i) => s.every((d, k) => k === 0 || d === c.shapes(3)[i][k]));
    const batches = batchAtDim0 ? [2, 3] : [2];
    it(`${c.title}: every output within 1e-5 at batch ${batches.join(' and ')}`, async () => {
      manualSeed(11);
      const model = c.build();
      noGrad(() => {
        for (const p of model.parameters()) p.assign(randn(p.shape, { dtype: p.dtype }).mul(0.6));
      });
      const inputNames = c.shapes(2).map((_, i) => `in_${i}`);
      model.eval();
      const nOut = flat((model.forward as (...a: Tensor[]) => unknown)(...c.shapes(2).map((s) => randn(s)))).length;
      const outputNames = Array.from({ length: nOut }, (_, i) => `out_${i}`);
      const bytes = exportOnnx(model, { inputShapes: c.shapes(2), inputNames, outputNames, dynamicBatch: batchAtDim0 });
      const ops = opTypes(bytes);
      for (const op of c.ops) expect(ops).toContain(op);
      for (const batch of batches) {
        const xs = c.shapes(batch).map((s) => randn(s));
        const expected = flat((model.forward as (...a: Tensor[]) => unknown)(...xs));
        const got = await runOrt(bytes, Object.fromEntries(xs.map((x, i) => [inputNames[i], x])));
        expected.forEach((e, i) => expectClose(got[outputNames[i]], e));
      }
    });
  }

  it('permutes the gates: an LSTM whose forget and output gates are swapped gives other numbers', async () => {
    // guards against a permutation that is its own inverse by accident: swap PyTorch's f and o
    // blocks in @ml's weights and the exported graph of the original must no longer match
    manualSeed(3);
    const a = new FlatLstm({ inputSize: IN, hiddenSize: H });
    noGrad(() => {
      for (const p of a.parameters()) p.assign(randn(p.shape).mul(0.8));
    });
    a.eval();
    const bytes = exportOnnx(a, { inputShapes: [seq(2)], outputNames: ['y', 'h', 'c'] });
    const x = randn(seq(2));
    const got = await runOrt(bytes, { input: x });
    const [y] = a.forward(x);
    expectClose(got.y, y);
    noGrad(() => {
      for (const p of a.parameters()) {
        const [i, f, g, o] = p.chunk(4, 0);
        p.assign(concat([i, o, g, f], 0));
      }
    });
    const [ySwapped] = a.forward(x);
    expect(() => expectClose(got.y, ySwapped)).toThrow(/differs/);
  });

  for (const opset of [13, 21]) {
    it(`a 2-layer bidirectional batch-first LSTM and a relu RNN at opset ${opset}`, async () => {
      manualSeed(8);
      for (const model of [
        new FlatLstm({ inputSize: IN, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true }),
        new RNN({ inputSize: IN, hiddenSize: H, nonlinearity: 'relu', batchFirst: true }),
      ]) {
        noGrad(() => {
          for (const p of model.parameters()) p.assign(randn(p.shape).mul(0.6));
        });
        model.eval();
        const bytes = exportOnnx(model, { inputShapes: [seq(2, true)], opset, outputNames: model instanceof RNN ? ['y', 'h'] : ['y', 'h', 'c'] });
        const x = randn(seq(3, true));
        const got = await runOrt(bytes, { input: x });
        const expected = flat((model.forward as (t: Tensor) => unknown)(x));
        expected.forEach((e, i) => expectClose(got[['y', 'h', 'c'][i]], e));
      }
    });
  }

  it('exports with the default names input, output_0 and output_1', async () => {
    manualSeed(4);
    const gru = new GRU({ inputSize: IN, hiddenSize: H, batchFirst: true });
    gru.eval();
    const x = randn(seq(2, true));
    const got = await runOrt(exportOnnx(gru, { inputShapes: [seq(2, true)] }), { input: x });
    const [y, h] = gru.forward(x);
    expectClose(got.output_0, y);
    expectClose(got.output_1, h);
  });

  it('refuses an unbatched input, naming the layer', () => {
    expect(() => exportOnnx(new GRU({ inputSize: IN, hiddenSize: H }), { inputShapes: [[L, IN]] })).toThrow(/model \(GRU\): expected a 3-D input/);
  });
});

