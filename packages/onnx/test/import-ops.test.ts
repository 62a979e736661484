// Hand-built graphs (onnx-proto's encoder, no exporter) for each operator the importer runs,
// compared with ONNX Runtime (CPU) on the same file and inputs: |ml − ort| ≤ 1e-5·max(1, |ort|).
import { fromArray, manualSeed, randn, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../src/index.js';
import { encodeModel, FLOAT, INT32, INT64, node, type ModelSpec, type NodeSpec, type TensorSpec } from './fixtures/graph-builder.js';
import { runOrt } from './helpers.js';

function randomValues(n: number, scale = 1): number[] {
  return Array.from(randn([n]).mul(scale).dataSync());
}

function weight(name: string, dims: number[], scale = 0.5): TensorSpec & { name: string } {
  return { name, dataType: FLOAT, dims, values: randomValues(dims.reduce((a, b) => a * b, 1), scale) };
}

function ints(name: string, values: number[]): TensorSpec & { name: string } {
  return { name, dataType: INT64, dims: [values.length], values };
}

interface Case {
  title: string;
  nodes: NodeSpec[];
  shape: number[];
  init?: () => (TensorSpec & { name: string })[];
  opset?: number;
  outputs?: string[];
  scale?: number;
  /** shape of a second float input 'x2' */
  shape2?: number[];
}

async function check(c: Case): Promise<void> {
  manualSeed(7);
  const spec: ModelSpec = {
    inputs: [{ name: 'x', dims: c.shape }, ...(c.shape2 ? [{ name: 'x2', dims: c.shape2 }] : [])],
    outputs: c.outputs ?? ['y'],
    nodes: c.nodes,
    initializers: c.init?.() ?? [],
    opset: c.opset,
  };
  const bytes = encodeModel(spec);
  const feeds: Record<string, Tensor> = { x: randn(c.shape).mul(c.scale ?? 2) };
  if (c.shape2) feeds.x2 = randn(c.shape2);
  const ours = importOnnx(bytes).run(feeds);
  const theirs = await runOrt(bytes, feeds);
  for (const name of spec.outputs) {
    const a = ours[name];
    const b = theirs[name];
    expect([...a.shape], `${c.title}: shape of ${name}`).toEqual([...b.dims]);
    const av = a.dataSync();
    for (let i = 0; i < b.data.length; i++) {
      const err = Math.abs(Number(av[i]) - b.data[i]) / Math.max(1, Math.abs(b.data[i]));
      if (!(err <= 1e-5)) throw new Error(`${c.title}: output ${name}[${i}] is ${av[i]}, ONNX Runtime gives ${b.data[i]}`);
    }
  }
}

const un = (op: string, attrs = {}): NodeSpec[] => [node(op, ['x'], ['y'], attrs)];

const CASES: Case[] = [
  ...['Relu', 'Sigmoid', 'Tanh', 'Softplus', 'Erf', 'Exp', 'Neg', 'Abs', 'Softsign', 'HardSwish'].map((op) => ({ title: op, nodes: un(op), shape: [3, 5] })),
  { title: 'Sqrt, Log of |x|', nodes: [node('Abs', ['x'], ['a']), node('Sqrt', ['a'], ['s']), node('Log', ['a'], ['l']), node('Add', ['s', 'l'], ['y'])], shape: [4, 4] },
  { title: 'LeakyRelu alpha 0.2', nodes: un('LeakyRelu', { alpha: { f: 0.2 } }), shape: [3, 5] },
  { title: 'Elu alpha 0.7', nodes: un('Elu', { alpha: { f: 0.7 } }), shape: [3, 5] },
  { title: 'Selu', nodes: un('Selu'), shape: [3, 5] },
  { title: 'HardSigmoid', nodes: un('HardSigmoid', { alpha: { f: 0.25 }, beta: { f: 0.4 } }), shape: [3, 5] },
  { title: 'Gelu (opset 20)', nodes: un('Gelu'), shape: [3, 5], opset: 20 },
  { title: 'Gelu tanh (opset 20)', nodes: un('Gelu', { approximate: 'tanh' }), shape: [3, 5], opset: 20 },
  { title: 'Softmax axis 1 (opset 13)', nodes: un('Softmax', { axis: 1 }), shape: [2, 3, 4] },
  { title: 'Softmax opset 11 flattens at axis', nodes: un('Softmax', { axis: 1 }), shape: [2, 3, 4], opset: 11 },
  { title: 'LogSoftmax', nodes: un('LogSoftmax'), shape: [3, 6] },
  { title: 'Clip with min/max inputs', nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'])], shape: [4, 4], init: () => [{ name: 'lo', dataType: FLOAT, dims: [], values: [-0.5] }, { name: 'hi', dataType: FLOAT, dims: [], values: [0.7] }] },
  { title: 'Gemm transB alpha beta', nodes: [node('Gemm', ['x', 'w', 'b'], ['y'], { transB: 1, alpha: { f: 0.5 }, beta: { f: 2 } })], shape: [3, 4], init: () => [weight('w', [5, 4]), weight('b', [5])] },
  { title: 'Gemm transA', nodes: [node('Gemm', ['x', 'w'], ['y'], { transA: 1 })], shape: [4, 3], init: () => [weight('w', [4, 2])] },
  { title: 'MatMul batched + Add + Sub + Mul + Div', nodes: [node('MatMul', ['x', 'w'], ['m']), node('Add', ['m', 'b'], ['a']), node('Sub', ['a', 'b'], ['s']), node('Mul', ['s', 'a'], ['p']), node('Div', ['p', 'c'], ['y'])], shape: [2, 3, 4], init: () => [weight('w', [4, 5]), weight('b', [5]), { name: 'c', dataType: FLOAT, dims: [], values: [1.5] }] },
  { title: 'Pow', nodes: [node('Abs', ['x'], ['a']), node('Pow', ['a', 'e'], ['y'])], shape: [3, 3], init: () => [{ name: 'e', dataType: FLOAT, dims: [], values: [1.7] }] },
  { title: 'Conv 2-D pads strides dilations', nodes: [node('Conv', ['x', 'w', 'b'], ['y'], { pads: [1, 2, 1, 2], strides: [2, 1], dilations: [1, 2] })], shape: [2, 3, 7, 8], init: () => [weight('w', [4, 3, 3, 3]), weight('b', [4])] },
  { title: 'Conv 2-D asymmetric pads, group 2', nodes: [node('Conv', ['x', 'w'], ['y'], { pads: [0, 1, 2, 0], group: 2 })], shape: [1, 4, 5, 5], init: () => [weight('w', [6, 2, 3, 2])] },
  { title: 'Conv 2-D SAME_UPPER stride 2', nodes: [node('Conv', ['x', 'w'], ['y'], { auto_pad: 'SAME_UPPER', strides: [2, 2] })], shape: [1, 2, 6, 7], init: () => [weight('w', [3, 2, 4, 4])] },
  { title: 'Conv 2-D SAME_LOWER', nodes: [node('Conv', ['x', 'w'], ['y'], { auto_pad: 'SAME_LOWER' })], shape: [1, 2, 5, 6], init: () => [weight('w', [3, 2, 2, 2])] },
  { title: 'Conv 1-D pads dilation', nodes: [node('Conv', ['x', 'w', 'b'], ['y'], { pads: [2, 1], dilations: [2] })], shape: [2, 3, 9], init: () => [weight('w', [5, 3, 3]), weight('b', [5])] },
  { title: 'Conv 1-D depthwise stride 2', nodes: [node('Conv', ['x', 'w'], ['y'], { group: 3, strides: [2] })], shape: [2, 3, 9], init: () => [weight('w', [3, 1, 3])] },
  { title: 'MaxPool 2x2', nodes: un('MaxPool', { kernel_shape: [2, 2] }), shape: [2, 3, 6, 6] },
  { title: 'MaxPool 3x3 stride 2 pads 1', nodes: un('MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), shape: [1, 2, 7, 7] },
  { title: 'MaxPool ceil_mode', nodes: un('MaxPool', { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }), shape: [1, 2, 5, 7] },
  { title: 'MaxPool dilations and asymmetric pads', nodes: un('MaxPool', { kernel_shape: [2, 3], dilations: [2, 1], pads: [0, 1, 1, 2] }), shape: [1, 1, 6, 6] },
  { title: 'MaxPool 1-D', nodes: un('MaxPool', { kernel_shape: [3], strides: [2] }), shape: [2, 3, 10] },
  { title: 'AveragePool count_include_pad 0', nodes: un('AveragePool', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), shape: [1, 2, 5, 5] },
  { title: 'AveragePool count_include_pad 1', nodes: un('AveragePool', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }), shape: [1, 2, 5, 5] },
  { title: 'AveragePool ceil_mode, stride 2', nodes: un('AveragePool', { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }), shape: [1, 2, 5, 5] },
  { title: 'AveragePool 1-D', nodes: un('AveragePool', { kernel_shape: [2] }), shape: [2, 3, 8] },
  { title: 'GlobalAveragePool', nodes: un('GlobalAveragePool'), shape: [2, 3, 4, 5] },
  { title: 'GlobalMaxPool', nodes: un('GlobalMaxPool'), shape: [2, 3, 4, 5] },
  { title: 'BatchNormalization', nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], { epsilon: { f: 1e-3 } })], shape: [2, 3, 4, 4], init: () => [weight('s', [3]), weight('b', [3]), weight('m', [3]), { name: 'v', dataType: FLOAT, dims: [3], values: [0.5, 1, 2] }] },
  { title: 'LayerNormalization axis -1', nodes: [node('LayerNormalization', ['x', 's', 'b'], ['y'])], shape: [2, 3, 6], init: () => [weight('s', [6]), weight('b', [6])] },
  { title: 'LayerNormalization axis 1, no bias', nodes: [node('LayerNormalization', ['x', 's'], ['y'], { axis: 1, epsilon: { f: 1e-3 } })], shape: [2, 3, 4], init: () => [weight('s', [3, 4])] },
  { title: 'Pad constant with negative (crop) amounts', nodes: [node('Pad', ['x', 'p', 'v'], ['y'])], shape: [2, 3, 4], init: () => [ints('p', [0, 1, -1, 0, 2, 1]), { name: 'v', dataType: FLOAT, dims: [], values: [0.25] }] },
  { title: 'Pad with axes (opset 18)', nodes: [node('Pad', ['x', 'p', '', 'a'], ['y'])], shape: [2, 3, 4], opset: 18, init: () => [ints('p', [1, 2, 3, 0]), ints('a', [0, -1])] },
  { title: 'InstanceNormalization', nodes: [node('InstanceNormalization', ['x', 's', 'b'], ['y'], { epsilon: { f: 1e-4 } })], shape: [2, 3, 4, 5], init: () => [weight('s', [3]), weight('b', [3])] },
  { title: 'Tile', nodes: [node('Tile', ['x', 'r'], ['y'])], shape: [2, 3], init: () => [ints('r', [3, 2])] },
  { title: 'Trilu upper k=1', nodes: [node('Trilu', ['x', 'k'], ['y'])], shape: [2, 4, 5], init: () => [{ name: 'k', dataType: INT64, dims: [], values: [1] }] },
  { title: 'Trilu lower', nodes: [node('Trilu', ['x'], ['y'], { upper: 0 })], shape: [4, 3] },
  { title: 'Dropout (inference)', nodes: un('Dropout'), shape: [3, 4] },
  { title: 'Flatten axis 2', nodes: un('Flatten', { axis: 2 }), shape: [2, 3, 4, 5] },
  { title: 'Reshape with 0 and -1', nodes: [node('Reshape', ['x', 's'], ['y'])], shape: [2, 3, 4], init: () => [ints('s', [0, -1, 2])] },
  { title: 'Transpose perm', nodes: un('Transpose', { perm: [2, 0, 1] }), shape: [2, 3, 4] },
  { title: 'Transpose default', nodes: un('Transpose'), shape: [2, 3, 4] },
  { title: 'Concat axis -1', nodes: [node('Concat', ['x', 'w', 'x'], ['y'], { axis: -1 })], shape: [2, 3], init: () => [weight('w', [2, 4])] },
  { title: 'Gather rows with negative index', nodes: [node('Gather', ['x', 'i'], ['y'])], shape: [5, 3], init: () => [{ name: 'i', dataType: INT64, dims: [2, 2], values: [0, -1, 2, 2] }] },
  { title: 'Gather axis 1 scalar index', nodes: [node('Gather', ['x', 'i'], ['y'], { axis: 1 })], shape: [2, 4, 3], init: () => [{ name: 'i', dataType: INT64, dims: [], values: [2] }] },
  { title: 'Squeeze/Unsqueeze axes as inputs (opset 13)', nodes: [node('Unsqueeze', ['x', 'a'], ['u']), node('Squeeze', ['u', 'a'], ['y'])], shape: [2, 3], init: () => [ints('a', [0, 3])] },
  { title: 'Squeeze/Unsqueeze axes attributes (opset 11)', nodes: [node('Unsqueeze', ['x'], ['u'], { axes: [1] }), node('Squeeze', ['u'], ['y'], { axes: [1] })], shape: [2, 3], opset: 11 },
  { title: 'Slice with steps, negative and clamped ends', nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])], shape: [6, 7], init: () => [ints('st', [1, -1]), ints('en', [1000, -8]), ints('ax', [0, 1]), ints('sp', [2, -2])] },
  { title: 'Split into 3 (opset 13 input)', nodes: [node('Split', ['x', 's'], ['a', 'b', 'c'], { axis: 1 })], shape: [2, 6], outputs: ['a', 'b', 'c'], init: () => [ints('s', [1, 2, 3])] },
  { title: 'ReduceMean axes attr (opset 17)', nodes: un('ReduceMean', { axes: [1, 2], keepdims: 0 }), shape: [2, 3, 4] },
  { title: 'ReduceMean axes input (opset 18)', nodes: [node('ReduceMean', ['x', 'a'], ['y'])], shape: [2, 3, 4], opset: 18, init: () => [ints('a', [-1])] },
  { title: 'ReduceSum axes input', nodes: [node('ReduceSum', ['x', 'a'], ['y'], { keepdims: 0 })], shape: [2, 3, 4], init: () => [ints('a', [0])] },
  { title: 'ReduceMax', nodes: un('ReduceMax', { axes: [1] }), shape: [3, 4] },
  { title: 'Where, Equal, Greater', nodes: [node('Greater', ['x', 'z'], ['g']), node('Where', ['g', 'x', 'z'], ['w']), node('Equal', ['w', 'z'], ['e']), node('Where', ['e', 'x', 'w'], ['y'])], shape: [4, 4], init: () => [{ name: 'z', dataType: FLOAT, dims: [], values: [0] }] },
  { title: 'IsInf, IsNaN of log(x) (−∞ at 0, NaN below)', nodes: [node('Relu', ['x'], ['r']), node('Log', ['x'], ['l']), node('Log', ['r'], ['lr']), node('IsInf', ['lr'], ['i'], { detect_positive: 0 }), node('IsNaN', ['l'], ['n']), node('Or', ['i', 'n'], ['o']), node('Cast', ['o'], ['y'], { to: FLOAT })], shape: [4, 4] },
  { title: 'Max/Min variadic', nodes: [node('Max', ['x', 'x2'], ['a']), node('Min', ['a', 'x2', 'x'], ['y'])], shape: [3, 4], shape2: [4] },
  {
    title: 'dynamic flatten as PyTorch exports it: Shape → Gather → Unsqueeze → Concat → Reshape',
    nodes: [
      node('Shape', ['x'], ['s']),
      node('Constant', [], ['zero'], { value: { t: { dataType: INT64, dims: [], values: [0] } } }),
      node('Gather', ['s', 'zero'], ['n'], { axis: 0 }),
      node('Constant', [], ['ax'], { value: { t: { dataType: INT64, dims: [1], values: [0] } } }),
      node('Unsqueeze', ['n', 'ax'], ['n1']),
      node('Constant', [], ['m1'], { value: { t: { dataType: INT64, dims: [1], values: [-1] } } }),
      node('Concat', ['n1', 'm1'], ['shape'], { axis: 0 }),
      node('Reshape', ['x', 'shape'], ['y']),
    ],
    shape: [3, 2, 2, 2],
  },
  {
    title: 'ConstantOfShape, Cast, Range, Expand',
    nodes: [
      node('Shape', ['x'], ['s']),
      node('ConstantOfShape', ['s'], ['ones'], { value: { t: { dataType: FLOAT, dims: [1], values: [1] } } }),
      node('Constant', [], ['st'], { value_int: 0 }),
      node('Constant', [], ['lim'], { value_int: 4 }),
      node('Constant', [], ['d'], { value_int: 1 }),
      node('Range', ['st', 'lim', 'd'], ['r']),
      node('Cast', ['r'], ['rf'], { to: FLOAT }),
      node('Mul', ['ones', 'rf'], ['p']),
      node('Constant', [], ['es'], { value_ints: [2, 3, 4] }),
      node('Expand', ['x', 'es'], ['xe']),
      node('Add', ['p', 'xe'], ['y']),
    ],
    shape: [3, 4],
    opset: 17,
  },
];

describe('importOnnx runs each operator as ONNX Runtime does', () => {
  for (const c of CASES) it(c.title, () => check(c));
});

describe('recurrent operators match ONNX Runtime', () => {
  const H = 4;
  const I = 3;
  for (const [op, G] of [['LSTM', 4], ['GRU', 3], ['RNN', 1]] as const) {
    for (const direction of ['forward', 'reverse', 'bidirectional']) {
      const D = direction === 'bidirectional' ? 2 : 1;
      it(`${op} ${direction} with biases and initial states`, () =>
        check({
          title: `${op} ${direction}`,
          nodes: [node(op, ['x', 'W', 'R', 'B', '', 'h0', ...(op === 'LSTM' ? ['c0'] : [])], ['y', 'yh'], { hidden_size: H, direction })],
          outputs: ['y', 'yh'],
          shape: [5, 2, I],
          scale: 1,
          init: () => [weight('W', [D, G * H, I]), weight('R', [D, G * H, H]), weight('B', [D, 2 * G * H]), weight('h0', [D, 2, H]), ...(op === 'LSTM' ? [weight('c0', [D, 2, H])] : [])],
        }));
    }
  }
  it('GRU linear_before_reset = 1, no biases', () =>
    check({
      title: 'GRU lbr',
      nodes: [node('GRU', ['x', 'W', 'R'], ['y', 'yh'], { hidden_size: H, linear_before_reset: 1 })],
      outputs: ['y', 'yh'],
      shape: [5, 2, I],
      scale: 1,
      init: () => [weight('W', [1, 3 * H, I]), weight('R', [1, 3 * H, H])],
    }));
  it('layout 1 (batch first) is layout 0 with batch and time swapped (ONNX Runtime has no layout 1)', () => {
    manualSeed(3);
    const init = [weight('W', [2, 4 * H, I]), weight('R', [2, 4 * H, H]), weight('B', [2, 8 * H])];
    const build = (layout: number) =>
      importOnnx(encodeModel({ inputs: [{ name: 'x', dims: layout ? [2, 5, I] : [5, 2, I] }], outputs: ['y', 'yh'], initializers: init, nodes: [node('LSTM', ['x', 'W', 'R', 'B'], ['y', 'yh'], { hidden_size: H, direction: 'bidirectional', layout })] }));
    const x = randn([5, 2, I]);
    const [y0, h0] = build(0).forwardAll(x);
    const [y1, h1] = build(1).forwardAll(x.permute([1, 0, 2]));
    expect(y1.shape).toEqual([2, 5, 2, H]);
    expect(Array.from(y1.permute([1, 2, 0, 3]).contiguous().dataSync())).toEqual(Array.from(y0.contiguous().dataSync()));
    expect(Array.from(h1.permute([1, 0, 2]).contiguous().dataSync())).toEqual(Array.from(h0.contiguous().dataSync()));
  });
  it('LSTM Y_c output', () =>
    check({
      title: 'LSTM yc',
      nodes: [node('LSTM', ['x', 'W', 'R', 'B'], ['', '', 'yc'], { hidden_size: H })],
      outputs: ['yc'],
      shape: [3, 2, I],
      scale: 1,
      init: () => [weight('W', [1, 4 * H, I]), weight('R', [1, 4 * H, H]), weight('B', [1, 8 * H])],
    }));
});

describe('Gather with indices computed at run time (an Embedding)', () => {
  it('takes negative int32 ids from a graph input, as ONNX Runtime does', async () => {
    manualSeed(4);
    const bytes = encodeModel({
      inputs: [{ name: 'ids', dataType: INT32, dims: ['N', 3] }],
      outputs: ['y'],
      nodes: [node('Gather', ['table', 'ids'], ['y'])],
      initializers: [weight('table', [5, 2])],
    });
    const ids = fromArray(Int32Array.from([0, -1, 4, -5, 2, 2]), [2, 3], { dtype: 'int32' });
    const ours = importOnnx(bytes).forward(ids);
    const theirs = (await runOrt(bytes, { ids })).y;
    expect([...ours.shape]).toEqual([...theirs.dims]);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.data));
  });
});

describe('importOnnx on hand-computed numbers', () => {
  it('Gemm gives x·Wᵀ + b for a 1x2 by 2x2 case', () => {
    const bytes = encodeModel({
      inputs: [{ name: 'x', dims: ['batch', 2] }],
      outputs: ['y'],
      nodes: [node('Gemm', ['x', 'w', 'b'], ['y'], { transB: 1 })],
      initializers: [{ name: 'w', dataType: FLOAT, dims: [2, 2], values: [1, 2, 3, 4] }, { name: 'b', dataType: FLOAT, dims: [2], values: [10, 20], raw: false }],
    });
    const y = importOnnx(bytes).forward(tensor([[1, 1], [2, -1]]));
    expect(y.arraySync()).toEqual([[13, 27], [10, 22]]);
  });
});
