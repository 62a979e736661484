// importOnnx as a Module: round trips through exportOnnx (export → import → the same outputs),
// fine-tuning (gradients reach the imported parameters and SGD lowers the loss), gradients of
// imported graphs against finite differences, parameter names, and the errors a user meets.
import { gradcheck, noGrad } from '@ml/autograd';
import {
  AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout, Flatten, GELU, GlobalAvgPool2d, GRU, LayerNorm, Linear, LSTM, MaxPool1d, MaxPool2d, Module, ReLU,
  Sequential, Tanh, TransformerDecoderLayer, TransformerEncoderLayer, type AnyModule,
} from '@ml/nn';
import { fromArray, manualSeed, randint, randn, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { exportEncoderLayer, exportOnnx, exportRecurrent, importOnnx, OnnxError, OnnxModel, registerOnnxExporter } from '../src/index.js';
import { encodeModel, FLOAT, INT64, modelProto, node, type ModelSpec } from './fixtures/graph-builder.js';

const seq = (...layers: AnyModule[]): Sequential => new Sequential(layers as never[]);

/** Random weights, and BatchNorm running statistics from a few training batches. */
function perturb(model: AnyModule, ...samples: (readonly number[])[]): void {
  noGrad(() => {
    for (const p of model.parameters()) p.assign(randn(p.shape, { dtype: p.dtype }).mul(0.5));
    model.train();
    for (let i = 0; i < 3; i++) (model.forward as (...x: Tensor[]) => unknown)(...samples.map((s) => randn([8, ...s]).mul(2).add(0.5)));
  });
  model.eval();
}

function expectNear(actual: Tensor, expected: Tensor, tol: number, what: string): void {
  expect([...actual.shape], what).toEqual([...expected.shape]);
  const a = actual.dataSync();
  const b = expected.dataSync();
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(err <= tol)) throw new Error(`${what}: element ${i} is ${a[i]}, expected ${b[i]} (scaled error ${err.toExponential(2)})`);
  }
}

/** An LSTM with its outputs flat, [out, hN, cN] (exportOnnx traces flat lists of tensors). */
class FlatLstm extends Module<[Tensor], Tensor[]> {
  readonly lstm: LSTM;
  constructor(options: ConstructorParameters<typeof LSTM>[0]) {
    super();
    this.lstm = this.registerModule('lstm', new LSTM(options));
  }
  forward(x: Tensor): Tensor[] {
    const [out, [h, c]] = this.lstm.forward(x);
    return [out, h, c];
  }
}
registerOnnxExporter(FlatLstm, (ctx, m, [x]) => exportRecurrent(ctx, m.lstm, x, []));

/** A causal TransformerEncoderLayer (the mask a Where/IsInf graph in ONNX). */
class CausalEncoder extends Module<[Tensor], Tensor> {
  readonly layer = this.registerModule('layer', new TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 16, batchFirst: true }));
  forward(x: Tensor): Tensor {
    return this.layer.forward(x, { isCausal: true });
  }
}
registerOnnxExporter(CausalEncoder, (ctx, m, [x]) => [exportEncoderLayer(ctx, m.layer, x, { isCausal: true })]);

interface RoundTrip {
  title: string;
  build: () => AnyModule;
  sample: number[];
  /** a second input's sample shape */
  sample2?: number[];
}

const ROUND_TRIPS: RoundTrip[] = [
  { title: 'MLP (Linear, ReLU, Dropout, Linear)', build: () => seq(new Linear(6, 8), new ReLU(), new Dropout({ p: 0.5 }), new Linear(8, 3)), sample: [6] },
  { title: 'MLP with BatchNorm1d and Tanh', build: () => seq(new Linear(5, 4), new BatchNorm1d({ numFeatures: 4 }), new Tanh(), new Linear(4, 2)), sample: [5] },
  {
    title: 'CNN (Conv2d same, BatchNorm2d, ReLU, MaxPool2d, Conv2d stride 2, Flatten, Linear)',
    build: () => seq(new Conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, padding: 'same' }), new BatchNorm2d({ numFeatures: 4 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Conv2d({ inChannels: 4, outChannels: 3, kernelSize: 3, stride: 2, padding: 'same' }), new Flatten(), new Linear(12, 5)),
    sample: [1, 8, 8],
  },
  { title: 'pools (AvgPool2d with padding, GlobalAvgPool2d)', build: () => seq(new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 }), new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2 }), new GlobalAvgPool2d()), sample: [2, 7, 6] },
  { title: 'Conv1d and MaxPool1d', build: () => seq(new Conv1d({ inChannels: 2, outChannels: 3, kernelSize: 3, dilation: 2 }), new MaxPool1d({ kernelSize: 2 })), sample: [2, 11] },
  { title: 'LayerNorm and GELU', build: () => seq(new Linear(6, 6), new LayerNorm({ normalizedShape: 6 }), new GELU()), sample: [4, 6] },
  { title: 'LSTM, 2 layers, bidirectional', build: () => new FlatLstm({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true }), sample: [2, 3] },
  { title: 'TransformerEncoderLayer (batch first, GELU, norm first)', build: () => new TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 16, batchFirst: true, activation: 'gelu', normFirst: true }), sample: [5, 8] },
  { title: 'TransformerEncoderLayer, causal', build: () => new CausalEncoder(), sample: [4, 8] },
  { title: 'TransformerDecoderLayer (target and memory)', build: () => new TransformerDecoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 16, batchFirst: true }), sample: [3, 8], sample2: [5, 8] },
  { title: 'GRU, 2 layers, batch first', build: () => new GRU({ inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true }), sample: [4, 3] },
];

describe('export → import gives the same outputs (float32, within 1e-6 relative)', () => {
  for (const c of ROUND_TRIPS) {
    it(c.title, () => {
      manualSeed(11);
      const model = c.build();
      const shapes = c.sample2 ? [c.sample, c.sample2] : [c.sample];
      perturb(model, ...shapes);
      const bytes = exportOnnx(model, { inputShapes: shapes.map((s) => [2, ...s]) });
      const imported = importOnnx(bytes);
      for (const batch of [2, 5]) {
        const xs = shapes.map((s) => randn([batch, ...s]));
        const out = (model.forward as (...x: Tensor[]) => Tensor | Tensor[])(...xs);
        const expected = Array.isArray(out) ? out : [out];
        const got = imported.forwardAll(...xs);
        expect(got.length).toBe(expected.length);
        expected.forEach((e, i) => expectNear(got[i], e, 1e-6, `${c.title}, batch ${batch}, output ${i}`));
      }
    });
  }
});

describe('an imported model is a Module that can be fine-tuned', () => {
  function mlpBytes(): Uint8Array {
    manualSeed(5);
    const model = seq(new Linear(3, 8), new Tanh(), new Linear(8, 1));
    perturb(model, [3]);
    return exportOnnx(model, { inputShapes: [[4, 3]] });
  }

  it('float initializers are parameters with their names, and get gradients', () => {
    const m = importOnnx(mlpBytes());
    const names = [...m.namedParameters()].map(([n]) => n);
    expect(names.length).toBe(4);
    expect([...m.parameterNames.values()].sort()).toEqual([...names].sort());
    const x = randn([4, 3]);
    m.forward(x).square().mean().backward();
    for (const p of m.parameters()) {
      expect(p.grad).not.toBeNull();
      expect(Array.from((p.grad as Tensor).dataSync()).some((g) => g !== 0)).toBe(true);
    }
  });

  it('a few SGD steps lower the loss on a regression target', () => {
    const m = importOnnx(mlpBytes());
    manualSeed(9);
    const x = randn([32, 3]);
    const y = x.sum(1, true).mul(0.5).tanh();
    const loss = () => m.forward(x).sub(y).square().mean();
    const first = loss().item();
    for (let step = 0; step < 30; step++) {
      m.zeroGrad();
      loss().backward();
      noGrad(() => {
        for (const p of m.parameters()) p.assign(p.sub((p.grad as Tensor).mul(0.1)));
      });
    }
    const last = loss().item();
    expect(last).toBeLessThan(first * 0.5);
  });

  it('trainable: false freezes every parameter', () => {
    const m = importOnnx(mlpBytes(), { trainable: false });
    expect(m.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(m.numParameters({ trainableOnly: true })).toBe(0);
  });

  it('BatchNorm running statistics are buffers, the affine weights parameters', () => {
    const bytes = encodeModel({
      inputs: [{ name: 'x', dims: ['N', 2] }],
      outputs: ['y'],
      nodes: [node('BatchNormalization', ['x', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'], ['y'])],
      initializers: ['weight', 'bias', 'running_mean', 'running_var'].map((n) => ({ name: `bn.${n}`, dataType: FLOAT, dims: [2], values: [1, 2] })),
    });
    const m = importOnnx(bytes);
    expect([...m.namedParameters()].map(([n]) => n)).toEqual(['bn.weight', 'bn.bias']);
    expect([...m.namedBuffers()].map(([n]) => n)).toEqual(['bn.running_mean', 'bn.running_var']);
    expect(Object.keys(m.stateDict())).toEqual(['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var']);
  });

  it('odd initializer names are sanitized and kept unique; integer initializers are buffers', () => {
    const bytes = encodeModel({
      inputs: [{ name: 'x', dims: [2, 2] }],
      outputs: ['y'],
      nodes: [node('Add', ['x', 'onnx::Add_1'], ['a']), node('Add', ['a', 'onnx__Add_1'], ['b']), node('Add', ['b', 'fc.weight'], ['c']), node('Add', ['c', 'fc.weight.x'], ['d']), node('Reshape', ['d', 'shape'], ['y'])],
      initializers: [
        { name: 'onnx::Add_1', dataType: FLOAT, dims: [2], values: [1, 2] },
        { name: 'onnx__Add_1', dataType: FLOAT, dims: [2], values: [3, 4] },
        { name: 'fc.weight', dataType: FLOAT, dims: [2], values: [5, 6] },
        { name: 'fc.weight.x', dataType: FLOAT, dims: [2], values: [7, 8] },
        { name: 'shape', dataType: INT64, dims: [1], values: [-1] },
      ],
    });
    const m = importOnnx(bytes);
    expect(Object.fromEntries(m.parameterNames)).toEqual({
      'onnx::Add_1': 'onnx__Add_1',
      onnx__Add_1: 'onnx__Add_1_1',
      'fc.weight': 'fc.weight',
      'fc.weight.x': 'fc_weight_x',
      shape: 'shape',
    });
    expect([...m.namedBuffers()].map(([n, t]) => [n, t.dtype])).toEqual([['shape', 'int32']]);
    expect(Array.from(m.forward(tensor([[0, 0], [1, 1]])).dataSync())).toEqual([16, 20, 17, 21]);
  });

  it('loadStateDict with the mapped names changes the outputs', () => {
    const m = importOnnx(mlpBytes());
    const x = randn([2, 3]);
    const before = m.forward(x).dataSync()[0];
    const sd = m.stateDict();
    const zeroed = Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, v.mul(0)]));
    m.loadStateDict(zeroed);
    expect(before).not.toBe(0);
    expect(Array.from(m.forward(x).dataSync())).toEqual([0, 0]);
  });
});

describe('gradients of imported graphs match finite differences', () => {
  const graphs: [string, ModelSpec, number[]][] = [
    ['Conv with asymmetric pads → AveragePool(ceil, count_include_pad=0) → Softmax', {
      inputs: [{ name: 'x', dataType: FLOAT, dims: [1, 1, 4, 5] }],
      outputs: ['y'],
      nodes: [node('Conv', ['x', 'w'], ['c'], { pads: [0, 1, 1, 0] }), node('AveragePool', ['c'], ['p'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, pads: [1, 0, 0, 0] }), node('Flatten', ['p'], ['f']), node('Softmax', ['f'], ['y'])],
      initializers: [{ name: 'w', dataType: FLOAT, dims: [2, 1, 2, 2], values: [0.5, -1, 0.25, 0.75, -0.5, 1, 1.5, -0.25] }],
    }, [1, 1, 4, 5]],
    ['MaxPool(pads) → LayerNormalization → Slice(negative step) → Gather', {
      inputs: [{ name: 'x', dataType: FLOAT, dims: [1, 2, 4, 4] }],
      outputs: ['y'],
      nodes: [
        node('MaxPool', ['x'], ['m'], { kernel_shape: [2, 2], pads: [1, 1, 0, 0] }),
        node('LayerNormalization', ['m', 'g'], ['l'], { axis: -1 }),
        node('Slice', ['l', 'st', 'en', 'ax', 'sp'], ['s']),
        node('Gather', ['s', 'i'], ['y'], { axis: 2 }),
      ],
      initializers: [
        { name: 'g', dataType: FLOAT, dims: [4], values: [1, 2, 3, 4] },
        { name: 'st', dataType: INT64, dims: [1], values: [-1] }, { name: 'en', dataType: INT64, dims: [1], values: [-100] },
        { name: 'ax', dataType: INT64, dims: [1], values: [3] }, { name: 'sp', dataType: INT64, dims: [1], values: [-2] },
        { name: 'i', dataType: INT64, dims: [2], values: [0, -1] },
      ],
    }, [1, 2, 4, 4]],
    ['GRU (linear_before_reset) bidirectional', {
      inputs: [{ name: 'x', dataType: FLOAT, dims: [3, 1, 2] }],
      outputs: ['y'],
      nodes: [node('GRU', ['x', 'W', 'R', 'B'], ['y'], { hidden_size: 2, direction: 'bidirectional', linear_before_reset: 1 })],
      initializers: [
        { name: 'W', dataType: FLOAT, dims: [2, 6, 2], values: Array.from({ length: 24 }, (_, i) => Math.sin(i)) },
        { name: 'R', dataType: FLOAT, dims: [2, 6, 2], values: Array.from({ length: 24 }, (_, i) => Math.cos(i)) },
        { name: 'B', dataType: FLOAT, dims: [2, 12], values: Array.from({ length: 24 }, (_, i) => Math.sin(3 * i) / 2) },
      ],
    }, [3, 1, 2]],
  ];
  for (const [title, spec, shape] of graphs) {
    it(title, () => {
      manualSeed(2);
      const m = importOnnx(encodeModel(spec), { backend: 'cpu' });
      const x = randn(shape, { dtype: 'float64' });
      const r = gradcheck((t) => m.forward(t), [x]);
      expect(r.ok, JSON.stringify(r).slice(0, 400)).toBe(true);
    });
  }
});

describe('errors name what is wrong', () => {
  const relu: ModelSpec = { inputs: [{ name: 'x', dims: ['N', 3] }], outputs: ['y'], nodes: [node('Relu', ['x'], ['y'])] };

  it('garbage and truncated bytes', () => {
    expect(() => importOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(OnnxError);
    expect(() => importOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/protobuf cannot be decoded/);
    const bytes = encodeModel(relu);
    expect(() => importOnnx(bytes.subarray(0, bytes.length - 3))).toThrow(/protobuf cannot be decoded/);
    expect(() => importOnnx(new Uint8Array())).toThrow(/no graph/);
  });

  it('all unsupported operators at once, with their nodes', () => {
    const bytes = encodeModel({
      inputs: [{ name: 'x', dims: [2] }],
      outputs: ['y'],
      nodes: [node('Foo', ['x'], ['a'], {}, 'foo1'), node('Relu', ['a'], ['b']), node('Bar', ['b'], ['c'], {}, 'bar1'), node('Foo', ['c'], ['y'], {}, 'foo2')],
    });
    expect(() => importOnnx(bytes)).toThrow(/unsupported operators: Foo \(nodes 'foo1', 'foo2'\); Bar \(node 'bar1'\)/);
  });

  it('operators of other domains are unsupported', () => {
    const proto = modelProto(relu);
    (proto.graph?.node ?? [])[0].domain = 'com.microsoft';
    expect(() => importOnnx(encodeModel(proto))).toThrow(/unsupported operators: com\.microsoft::Relu/);
  });

  it('dangling inputs and cycles', () => {
    expect(() => importOnnx(encodeModel({ ...relu, nodes: [node('Relu', ['nope'], ['y'], {}, 'r')] }))).toThrow(/inputs defined nowhere in the graph: 'nope' of node 'r' \(Relu\)/);
    const cyc = { ...relu, nodes: [node('Add', ['x', 'b'], ['a'], {}, 'n1'), node('Relu', ['a'], ['b'], {}, 'n2'), node('Relu', ['a'], ['y'], {}, 'n3')] };
    expect(() => importOnnx(encodeModel(cyc))).toThrow(/cycle through nodes 'n1' \(Add\), 'n2' \(Relu\)/);
  });

  it('initializer sizes, dims and dtypes', () => {
    const withInit = (init: ModelSpec['initializers']): ModelSpec => ({ ...relu, nodes: [node('Add', ['x', 'w'], ['y'])], initializers: init });
    expect(() => importOnnx(encodeModel(withInit([{ name: 'w', dataType: FLOAT, dims: [4], values: [1, 2, 3] }])))).toThrow(/initializer 'w': raw_data has 12 bytes, but dims \[4\] of FLOAT need 16/);
    expect(() => importOnnx(encodeModel(withInit([{ name: 'w', dataType: FLOAT, dims: [4], values: [1, 2, 3], raw: false }])))).toThrow(/holds 3 values, but dims \[4\] need 4/);
    expect(() => importOnnx(encodeModel(withInit([{ name: 'w', dataType: FLOAT, dims: [2 ** 20, 2 ** 20], values: [1] }])))).toThrow(/more than the limit 2\^28/);
    expect(() => importOnnx(encodeModel(withInit([{ name: 'w', dataType: FLOAT, dims: [-3], values: [] }])))).toThrow(/must be non-negative integers/);
    expect(() => importOnnx(encodeModel(withInit([{ name: 'w', dataType: 99, dims: [1], values: [1] }])))).toThrow(/initializer 'w': unknown data type 99/);
    expect(() => importOnnx(encodeModel(withInit([{ name: 'w', dataType: 8, dims: [1], values: [1] }])))).toThrow(/data type STRING \(8\) is not supported/);
  });

  it('maxElements caps initializers and what the graph computes, before allocating', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [2, 3] }],
      outputs: ['y'],
      nodes: [node('Pad', ['x', 'p'], ['y'])],
      initializers: [{ name: 'p', dataType: INT64, dims: [4], values: [0, 0, 0, 2000] }],
    };
    const x = randn([2, 3]);
    expect(importOnnx(encodeModel(spec)).forward(x).shape).toEqual([2, 2003]);
    expect(() => importOnnx(encodeModel(spec), { maxElements: 4000 }).forward(x)).toThrow(/node 'Pad_0' \(Pad\): the result \[2, 2003\] would have 4006 elements, more than the limit 4000/);
    const big = { ...spec, nodes: [node('Add', ['x', 'w'], ['y'])], initializers: [{ name: 'w', dataType: FLOAT, dims: [64, 64], values: new Array<number>(4096).fill(1) }] };
    expect(() => importOnnx(encodeModel(big), { maxElements: 2 ** 10 })).toThrow(/initializer 'w': dims \[64, 64\] give 4096 elements, more than the limit 2\^10/);
    const outer = { ...spec, nodes: [node('MatMul', ['c', 'r'], ['y'])], initializers: [{ name: 'c', dataType: FLOAT, dims: [300, 1], values: new Array<number>(300).fill(1) }, { name: 'r', dataType: FLOAT, dims: [1, 300], values: new Array<number>(300).fill(1) }] };
    expect(() => importOnnx(encodeModel(outer), { maxElements: 2 ** 16 }).forward(x)).toThrow(/\(MatMul\): the result \[300, 300\] would have 90000 elements/);
    expect(() => importOnnx(encodeModel(spec), { maxElements: 0 })).toThrow(/maxElements must be a positive integer/);
  });

  it('attributes of the wrong type', () => {
    const spec = { ...relu, nodes: [node('LeakyRelu', ['x'], ['y'], { alpha: 'big' }, 'lr')] };
    expect(() => importOnnx(encodeModel(spec))).toThrow(/node 'lr' \(LeakyRelu\): attribute 'alpha' must be FLOAT, got STRING/);
  });

  it('missing opset, unsupported opset, no outputs', () => {
    const proto = modelProto(relu);
    proto.opsetImport = [];
    expect(() => importOnnx(encodeModel(proto))).toThrow(/imports no opset of the default domain/);
    expect(() => importOnnx(encodeModel({ ...relu, opset: 3 }))).toThrow(/opset 3 is not supported/);
    expect(() => importOnnx(encodeModel({ ...relu, outputs: [] }))).toThrow(/no outputs/);
  });

  it('inputs of the wrong shape or dtype, and a node whose shapes do not fit', () => {
    const m = importOnnx(encodeModel(relu));
    expect(() => m.forward(randn([2, 4]))).toThrow(/input 'x' must have shape \[N, 3\], got \[2, 4\]/);
    expect(() => m.forward(randint(0, 3, [2, 3], { dtype: 'int32' }))).toThrow(/input 'x' must be float32, got int32/);
    expect(() => m.forward()).toThrow(/takes 1 inputs \(x\), got 0/);
    expect(() => m.run({ x: [[1, 2, 3]] as never })).toThrow(/input 'x' must be a Tensor, got object/);
    expect(() => m.run({ x: randn([1, 3]), z: randn([1]) })).toThrow(/'z' is not an input of the graph \(inputs: x\)/);
    const gemm = importOnnx(encodeModel({ ...relu, nodes: [node('Gemm', ['x', 'w'], ['y'], {}, 'fc')], initializers: [{ name: 'w', dataType: FLOAT, dims: [4, 2], values: [1, 2, 3, 4, 5, 6, 7, 8] }] }));
    expect(() => gemm.forward(randn([2, 3]))).toThrow(/node 'fc' \(Gemm\): matmul: \[2,3\] x \[4,2\]/);
  });

  it('forward on a graph with two outputs points to forwardAll', () => {
    const m = importOnnx(encodeModel({ ...relu, outputs: ['y', 'x'] }));
    expect(() => m.forward(randn([1, 3]))).toThrow(/has 2 outputs \(y, x\); use forwardAll or run/);
    expect(m.forwardAll(randn([1, 3])).length).toBe(2);
  });

  it('unknown options are rejected with the suggestion', () => {
    const bytes = encodeModel(relu);
    expect(() => importOnnx(bytes, { train_able: true } as never)).toThrow(/importOnnx: unknown option 'train_able'/);
    expect(importOnnx(bytes, { backend: 'cpu', trainable: true })).toBeInstanceOf(OnnxModel);
    expect(() => new OnnxModel(bytes, { max_elements: 10 } as never)).toThrow(/OnnxModel: unknown option 'max_elements'; did you mean 'maxElements'\?/);
    expect(new OnnxModel(bytes).inputNames).toEqual(['x']);
  });

  it('an int64 value outside int32 is refused when it must become a tensor', () => {
    const init = [{ name: 'big', dataType: INT64, dims: [1], values: [2 ** 40] }];
    // on the host (shape arithmetic) it is fine: Cast to float gives 2^40
    const cast = importOnnx(encodeModel({ inputs: [{ name: 'x', dims: [1] }], outputs: ['y'], nodes: [node('Cast', ['big'], ['c'], { to: FLOAT }), node('Add', ['x', 'c'], ['y'])], initializers: init }));
    expect(cast.forward(fromArray([1], [1])).item()).toBe(2 ** 40); // 2^40 + 1 rounds to 2^40 in float32
    const asOutput = importOnnx(encodeModel({ inputs: [{ name: 'x', dims: [1] }], outputs: ['x', 'big'], nodes: [], initializers: init }));
    expect(() => asOutput.forwardAll(fromArray([1], [1]))).toThrow(/node 'big' \(graph output\): int64 value 1099511627776 does not fit the int32 tensors/);
  });
});
