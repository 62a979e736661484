// Each model is exported, run in ONNX Runtime (CPU) and compared with @ml's own forward on the
// same inputs: |ort − ml| ≤ 1e-5·max(1, |ml|) elementwise, in float32. Every model is traced at
// batch 2 and run at batch 2 and batch 5 (the dynamic batch dim).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '@ml/autograd';
import {
  ACTIVATION_NAMES, Activation, Add, AvgPool1d, AvgPool2d, Average, BatchNorm1d, BatchNorm2d, Concatenate, Conv1d, Conv2d, Dense, Dropout, ELU, Embedding,
  Flatten, GELU, GlobalAvgPool2d, GlobalMaxPool2d, HardSigmoid, Identity, input, LayerNorm, LeakyReLU, Linear, LogSoftmax, MaxPool1d, MaxPool2d, Maximum,
  Model, Module, Multiply, ReLU, Reshape, SELU, Sequential, Sigmoid, SiLU, Softmax, Softplus, Subtract, Tanh, type AnyModule, type SymbolicTensor,
} from '@ml/nn';
import { manualSeed, randint, randn, type DType, type Tensor } from '@ml/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx, registerOnnxExporter, UnsupportedModuleError } from '../src/index.js';
import { onnx } from '../src/proto.js';
import { saveOnnx } from '../src/node.js';
import { expectClose, forward, runOrt } from './helpers.js';

interface Case {
  title: string;
  build: () => AnyModule;
  /** one sample's shape per input (no batch dim) */
  sample: readonly (readonly number[])[];
  dtypes?: readonly DType[];
  /** input scale (wide inputs reach the saturated and threshold regions of activations) */
  scale?: number;
  opset?: number;
}

/** Random weights everywhere, and BatchNorm running statistics from a few training batches. */
function perturb(model: AnyModule, c: Case): void {
  noGrad(() => {
    for (const p of model.parameters()) p.assign(randn(p.shape, { dtype: p.dtype }).mul(0.5));
  });
  if (model.modules().some((m) => m instanceof BatchNorm1d || m instanceof BatchNorm2d)) {
    model.train();
    noGrad(() => {
      for (let i = 0; i < 3; i++) forward0(model, inputsFor(c, 8).map((t, k) => (c.dtypes?.[k] === 'int32' ? t : t.mul(2).add(0.5))));
    });
  }
}

function forward0(model: AnyModule, xs: Tensor[]): void {
  (model.forward as (...a: Tensor[]) => unknown)(...xs);
}

function inputsFor(c: Case, batch: number): Tensor[] {
  return c.sample.map((s, i) => (c.dtypes?.[i] === 'int32' ? randint(0, 10, [batch, ...s], { dtype: 'int32' }) : randn([batch, ...s]).mul(c.scale ?? 1)));
}

async function check(c: Case): Promise<void> {
  manualSeed(7);
  const model = c.build();
  perturb(model, c);
  model.train(); // exportOnnx must trace in eval mode and restore this
  const bytes = exportOnnx(model, { inputShapes: c.sample.map((s) => [2, ...s]), inputDtypes: c.dtypes, opset: c.opset });
  expect(model.training).toBe(true);
  const names = model instanceof Model ? model.inputs.map((t) => t.name) : c.sample.length === 1 ? ['input'] : c.sample.map((_, i) => `input_${i}`);
  for (const batch of [2, 5]) {
    const xs = inputsFor(c, batch);
    const expected = forward(model, ...xs);
    const out = await runOrt(bytes, Object.fromEntries(names.map((n, i) => [n, xs[i]])));
    const outNames = expected.length === 1 ? ['output'] : expected.map((_, i) => `output_${i}`);
    outNames.forEach((n, i) => expectClose(out[n], expected[i]));
  }
}

const seq = (...layers: AnyModule[]): Sequential => new Sequential(layers as never[]);

const cases: Case[] = [
  { title: 'Linear on [N, F] (Gemm)', build: () => new Linear(6, 4), sample: [[6]] },
  { title: 'Linear without bias', build: () => new Linear(6, 4, { bias: false }), sample: [[6]] },
  { title: 'Linear on [N, T, F] (MatMul + Add) with activation gelu', build: () => new Linear({ inFeatures: 6, outFeatures: 3, activation: 'gelu' }), sample: [[5, 6]] },
  { title: 'Dense with a module activation', build: () => new Dense(4, { inputDim: 6, activation: new LeakyReLU({ negativeSlope: 0.2 }) }), sample: [[6]] },
  ...ACTIVATION_NAMES.map((name): Case => ({ title: `Dense with activation '${name}'`, build: () => new Dense(5, { inputDim: 3, activation: name }), sample: [[3]], scale: 4 })),
  ...([
    ['ReLU', () => new ReLU()], ['LeakyReLU 0.2', () => new LeakyReLU({ negativeSlope: 0.2 })], ['ELU 0.7', () => new ELU({ alpha: 0.7 })],
    ['GELU', () => new GELU()], ['GELU tanh', () => new GELU({ approximate: 'tanh' })], ['Sigmoid', () => new Sigmoid()], ['Tanh', () => new Tanh()],
    ['SiLU', () => new SiLU()], ['Softplus', () => new Softplus()], ['Softplus beta 2', () => new Softplus({ beta: 2 })], ['Softmax dim 1', () => new Softmax({ dim: 1 })],
    ['LogSoftmax', () => new LogSoftmax()], ['HardSigmoid', () => new HardSigmoid()], ['SELU', () => new SELU()], ['Activation swish', () => new Activation({ activation: 'swish' })],
  ] as [string, () => AnyModule][]).map(([title, build]): Case => ({ title: `${title} module (inputs up to ±24)`, build, sample: [[4, 5]], scale: 8 })),
  { title: 'GELU as the Gelu operator (opset 20)', build: () => new GELU(), sample: [[7]], scale: 3, opset: 20 },
  { title: 'Conv2d stride 2, padding same, even kernel (odd extra bottom/right)', build: () => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 4, stride: 2, padding: 'same' }), sample: [[3, 9, 7]] },
  { title: 'Conv2d padding [1, 2], dilation 2, groups 2, relu', build: () => new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: [3, 2], padding: [1, 2], dilation: 2, groups: 2, activation: 'relu' }), sample: [[4, 8, 8]] },
  { title: 'Conv2d channelsLast, same, stride [2, 1], no bias', build: () => new Conv2d({ inChannels: 3, outChannels: 5, kernelSize: 3, stride: [2, 1], padding: 'same', dataFormat: 'channelsLast', bias: false }), sample: [[7, 6, 3]] },
  { title: 'Conv1d stride 2, padding same, even kernel', build: () => new Conv1d({ inChannels: 2, outChannels: 3, kernelSize: 4, stride: 2, padding: 'same' }), sample: [[2, 11]] },
  { title: 'Conv1d channelsLast, dilation 2, groups 2, tanh', build: () => new Conv1d({ inChannels: 4, outChannels: 2, kernelSize: 3, dilation: 2, groups: 2, dataFormat: 'channelsLast', activation: 'tanh' }), sample: [[10, 4]] },
  { title: 'MaxPool2d kernel 3 stride 2 padding 1', build: () => new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }), sample: [[2, 7, 8]] },
  { title: 'MaxPool2d dilation 2, channelsLast', build: () => new MaxPool2d({ kernelSize: 2, dilation: 2, dataFormat: 'channelsLast' }), sample: [[8, 9, 3]] },
  { title: 'AvgPool2d padding 1, countIncludePad true', build: () => new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 }), sample: [[2, 7, 7]] },
  { title: 'AvgPool2d padding 1, countIncludePad false', build: () => new AvgPool2d({ kernelSize: [3, 2], stride: [2, 1], padding: [1, 1], countIncludePad: false }), sample: [[2, 7, 6]] },
  { title: 'MaxPool1d and AvgPool1d', build: () => seq(new MaxPool1d({ kernelSize: 3, stride: 1, padding: 1 }), new AvgPool1d({ kernelSize: 2, padding: 1, countIncludePad: false })), sample: [[3, 9]] },
  { title: 'AvgPool1d channelsLast', build: () => new AvgPool1d({ kernelSize: 2, dataFormat: 'channelsLast' }), sample: [[8, 3]] },
  { title: 'GlobalAvgPool2d and GlobalMaxPool2d (channelsFirst)', build: () => seq(new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3 }), new GlobalAvgPool2d()), sample: [[2, 6, 5]] },
  { title: 'GlobalMaxPool2d channelsLast', build: () => new GlobalMaxPool2d({ dataFormat: 'channelsLast' }), sample: [[5, 4, 3]] },
  { title: 'LayerNorm, GELU, GlobalMaxPool2d and BatchNorm at opset 21 (the highest)', build: () => seq(new BatchNorm2d({ numFeatures: 2 }), new GlobalMaxPool2d(), new LayerNorm({ normalizedShape: 2 }), new GELU()), sample: [[2, 3, 3]], opset: 21 },
  { title: 'GlobalAvgPool2d at opset 18 (axes as an input)', build: () => new GlobalAvgPool2d(), sample: [[3, 4, 4]], opset: 18 },
  { title: 'BatchNorm1d on [N, C] with running statistics', build: () => seq(new Linear(3, 4), new BatchNorm1d({ numFeatures: 4 })), sample: [[3]] },
  { title: 'BatchNorm1d on [N, C, L], eps 1e-3', build: () => new BatchNorm1d({ numFeatures: 3, eps: 1e-3 }), sample: [[3, 5]] },
  { title: 'BatchNorm2d with running statistics', build: () => new BatchNorm2d({ numFeatures: 2 }), sample: [[2, 4, 3]] },
  { title: 'BatchNorm2d without affine', build: () => new BatchNorm2d({ numFeatures: 2, affine: false }), sample: [[2, 4, 3]] },
  { title: 'BatchNorm2d without running statistics (batch statistics in eval too)', build: () => new BatchNorm2d({ numFeatures: 2, trackRunningStats: false }), sample: [[2, 4, 3]] },
  { title: 'LayerNorm over the last dim (LayerNormalization, opset 17)', build: () => new LayerNorm({ normalizedShape: 5 }), sample: [[3, 5]], scale: 3 },
  { title: 'LayerNorm over two dims', build: () => new LayerNorm({ normalizedShape: [3, 5], eps: 1e-3 }), sample: [[3, 5]] },
  { title: 'LayerNorm decomposed at opset 13', build: () => new LayerNorm({ normalizedShape: [3, 5] }), sample: [[3, 5]], opset: 13 },
  { title: 'LayerNorm without affine, decomposed at opset 16', build: () => new LayerNorm({ normalizedShape: 5, elementwiseAffine: false }), sample: [[2, 5]], opset: 16 },
  { title: 'Dropout (eval: identity) and Identity', build: () => seq(new Linear(4, 4), new Dropout({ p: 0.5 }), new Identity()), sample: [[4]] },
  { title: 'Flatten (default) after a conv', build: () => seq(new Conv2d({ inChannels: 1, outChannels: 2, kernelSize: 3 }), new Flatten(), new Linear(2 * 3 * 3, 3)), sample: [[1, 5, 5]] },
  { title: 'Flatten startDim 2 and startDim 0 endDim 1', build: () => seq(new Flatten({ startDim: 2 }), new Flatten({ startDim: 0, endDim: 1 })), sample: [[2, 3, 4]] },
  { title: 'Reshape with −1', build: () => seq(new Reshape({ shape: [4, -1] }), new Linear(3, 2)), sample: [[12]] },
  { title: 'Embedding (Gather) with paddingIdx', build: () => seq(new Embedding({ numEmbeddings: 10, embeddingDim: 4, paddingIdx: 3 }), new Flatten(), new Linear(24, 2)), sample: [[6]], dtypes: ['int32'] },
];

describe('exportOnnx: ONNX Runtime agrees with @ml (1e-5 relative, fp32, batch 2 traced, batches 2 and 5 run)', () => {
  for (const c of cases) it(c.title, () => check(c));

  it('a functional Model with two inputs, two outputs and every merge layer', async () => {
    const build = (): AnyModule => {
      const a = input({ shape: [6], name: 'a' });
      const b = input({ shape: [6], name: 'b' });
      const ha = new Linear({ inFeatures: 6, outFeatures: 5, activation: 'relu', name: 'ha' }).call(a) as SymbolicTensor;
      const hb = new Linear({ inFeatures: 6, outFeatures: 5, name: 'hb' }).call(b) as SymbolicTensor;
      const merged = [
        new Add({ name: 'sum' }).call(ha, hb, ha), new Subtract({ name: 'diff' }).call(ha, hb), new Multiply({ name: 'prod' }).call(ha, hb),
        new Average({ name: 'avg' }).call(ha, hb), new Maximum({ name: 'max' }).call(ha, hb),
      ] as SymbolicTensor[];
      const cat = new Concatenate({ dim: 1, name: 'cat' }).call(...merged) as SymbolicTensor;
      const out1 = new Linear({ inFeatures: 25, outFeatures: 3, activation: 'softmax', name: 'head1' }).call(cat) as SymbolicTensor;
      const out2 = new LayerNorm({ normalizedShape: 5, name: 'head2' }).call(hb) as SymbolicTensor;
      return new Model({ inputs: [a, b], outputs: [out1, out2] });
    };
    await check({ title: 'graph', build, sample: [[6], [6]] });
  });

  it('a layer shared by two calls of a graph is written once (one set of initializers)', async () => {
    manualSeed(11);
    const shared = new Linear({ inFeatures: 4, outFeatures: 4, activation: 'tanh', name: 'shared' });
    const a = input({ shape: [4], name: 'a' });
    const b = input({ shape: [4], name: 'b' });
    const model = new Model({ inputs: [a, b], outputs: new Add({ name: 'sum' }).call(shared.call(a) as SymbolicTensor, shared.call(b) as SymbolicTensor) as SymbolicTensor });
    const bytes = exportOnnx(model);
    expect(onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => t.name)).toEqual(['shared.weight', 'shared.bias']);
    const [xa, xb] = [randn([3, 4]), randn([3, 4])];
    expectClose((await runOrt(bytes, { a: xa, b: xb })).output, forward(model, xa, xb)[0]);
  });

  it('a float64 model is written in float32', async () => {
    manualSeed(12);
    const model = seq(new Linear(5, 4), new GELU(), new Linear(4, 2)).double();
    const bytes = exportOnnx(model, { inputShapes: [[1, 5]] });
    expect(new Set(onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => t.dataType))).toEqual(new Set([1])); // FLOAT only
    const x = randn([3, 5], { dtype: 'float64' });
    expectClose((await runOrt(bytes, { input: x })).output, forward(model, x)[0]);
  });

  it('the CNN of the course notes (conv, relu, pool, batch norm, dropout, dense)', async () => {
    const build = (): AnyModule => seq(
      new Conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, padding: 'same' }), new BatchNorm2d({ numFeatures: 4 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }),
      new Conv2d({ inChannels: 4, outChannels: 8, kernelSize: 3, padding: 'same', activation: 'relu' }), new MaxPool2d({ kernelSize: 2 }),
      new Flatten(), new Dropout({ p: 0.25 }), new Linear(8 * 3 * 3, 10),
    );
    await check({ title: 'cnn', build, sample: [[1, 12, 12]] });
  });
});

class Custom extends Module {
  forward(x: Tensor): Tensor {
    return x.mul(2);
  }
}

describe('exportOnnx: what it cannot export, and its options', () => {
  it('lists every unsupported module at once, with its path and the reason', () => {
    const model = seq(new Linear(3, 3), new Custom(), new Dense(3, { inputDim: 3, activation: (x: Tensor) => x.mul(3) }), seq(new Custom()));
    let message = '';
    try {
      exportOnnx(model, { inputShapes: [[1, 3]] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^exportOnnx: cannot export 3 module\(s\):/);
    expect(message).toContain('model.1 (Custom): no ONNX exporter is registered');
    expect(message).toContain('model.2 (Dense): its activation is a JavaScript function');
    expect(message).toContain('model.3.0 (Custom)');
  });

  it('names the module where tracing fails, with the shapes it was given', () => {
    const model = seq(new Linear(4, 3), seq(new ReLU(), new Linear(5, 2)));
    expect(() => exportOnnx(model, { inputShapes: [[1, 4]] })).toThrow(/^exportOnnx: model\.1\.1 \(Linear\) fails on inputs of shape \[1, 3\]: Linear: input \[1,3\] must end in inFeatures=5/);
  });

  it('refuses a lazy layer that is not built yet instead of building it with fresh weights', () => {
    const model = seq(new Dense(4), new ReLU());
    expect(() => exportOnnx(model, { inputShapes: [[1, 3]] })).toThrow(/model\.0 \(Dense\): not built yet — its inFeatures come from the first input/);
    expect((model.layers[0] as Dense).inFeatures).toBe(null);
  });

  it('takes the input shape from the model when it knows it, and a Model\'s input names', async () => {
    manualSeed(3);
    const model = new Sequential([new Dense(3, { inputDim: 4 })]);
    const bytes = exportOnnx(model);
    const x = randn([3, 4]);
    expectClose((await runOrt(bytes, { input: x })).output, forward(model, x)[0]);
    expect(() => exportOnnx(seq(new ReLU()))).toThrow(/give inputShapes/);
  });

  it('writes dim 0 as the symbolic dim "batch", or fixed with dynamicBatch: false', async () => {
    const model = new Linear(4, 2);
    const dims = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims(exportOnnx(model, { inputShapes: [[3, 4]] }))).toEqual(['batch', 4]);
    const fixed = exportOnnx(model, { inputShapes: [[3, 4]], dynamicBatch: false });
    expect(dims(fixed)).toEqual([3, 4]);
    await expect(runOrt(fixed, { input: randn([5, 4]) })).rejects.toThrow(/dimension|Got: 5|Expected: 3/i);
  });

  it('names inputs and outputs as asked, and records the opset', async () => {
    manualSeed(4);
    const model = new Linear(4, 2);
    const bytes = exportOnnx(model, { inputShapes: [[1, 4]], inputNames: ['pixels'], outputNames: ['logits'], opset: 13 });
    const proto = onnx.ModelProto.decode(bytes);
    expect(proto.opsetImport.map((o) => Number(o.version))).toEqual([13]);
    const x = randn([2, 4]);
    expectClose((await runOrt(bytes, { pixels: x })).logits, forward(model, x)[0]);
    expect(() => exportOnnx(model, { inputShapes: [[1, 4]], outputNames: ['a', 'b'] })).toThrow(/outputNames has 2 name\(s\) for 1 output/);
  });

  it('rejects an unknown option, an opset out of range and a bad shape', () => {
    const model = new Linear(4, 2);
    expect(() => exportOnnx(model, { input_shapes: [[1, 4]] } as never)).toThrow(/exportOnnx: unknown option 'input_shapes'; did you mean 'inputShapes'\?/);
    expect(() => exportOnnx(model, { inputShapes: [[1, 4]], opset: 11 })).toThrow(/opset must be an integer in 13…21, got 11/);
    expect(() => exportOnnx(model, { inputShapes: [[0, 4]] })).toThrow(/positive integer dims/);
    expect(() => exportOnnx(model, { inputShapes: [[1, 4]], inputDtypes: ['int64' as never] })).toThrow(/inputDtypes must be float32, float64, int32, bool; got 'int64'/);
    expect(() => exportOnnx(model, { inputShapes: [[1, 4]], inputNames: [''] })).toThrow(/non-empty strings/);
    expect(() => exportOnnx({} as never)).toThrow(/model must be an @ml\/nn Module, got object/);
  });

  it('saveOnnx writes the same bytes to a file ONNX Runtime loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ml-onnx-'));
    afterAll(() => rm(dir, { recursive: true, force: true }));
    manualSeed(5);
    const model = new Linear(4, 2);
    const path = join(dir, 'linear.onnx');
    const bytes = await saveOnnx(model, path, { inputShapes: [[1, 4]] });
    const written = new Uint8Array(await readFile(path));
    expect(Buffer.compare(written, bytes)).toBe(0);
    const x = randn([2, 4]);
    expectClose((await runOrt(written, { input: x })).output, forward(model, x)[0]);
  });
});

class Scale extends Module {
  constructor(readonly k: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.mul(this.k);
  }
}

describe('registerOnnxExporter: the extension point', () => {
  it("the README's Scale exporter runs in ONNX Runtime, and its refusals are collected", async () => {
    registerOnnxExporter(Scale, (ctx, m, [x]) => {
      if (m.k < 0) throw new UnsupportedModuleError('negative k is not supported');
      const k = ctx.addConstant(`${ctx.path}.k`, [m.k], [], 'float32');
      const y = ctx.unique(`${ctx.path}.scaled`);
      ctx.addNode('Mul', [x, k], [y]);
      return [y];
    });
    manualSeed(9);
    const model = seq(new Linear(3, 4), new Scale(2.5), new ReLU());
    const x = randn([3, 3]);
    expectClose((await runOrt(exportOnnx(model, { inputShapes: [[1, 3]] }), { input: x })).output, forward(model, x)[0]);
    expect(() => exportOnnx(seq(new Scale(-1), new Custom(), new Scale(-2)), { inputShapes: [[1, 3]] })).toThrow(
      'exportOnnx: cannot export 3 module(s):\n  model.0 (Scale): negative k is not supported\n  model.1 (Custom): no ONNX exporter is registered for this class (see registerOnnxExporter)\n  model.2 (Scale): negative k is not supported',
    );
  });
});
