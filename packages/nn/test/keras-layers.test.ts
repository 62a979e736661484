import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gradcheck } from '@ml/autograd';
import { manualSeed, randn, tensor, zeros, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  ACTIVATION_NAMES,
  Activation,
  Add,
  Concatenate,
  Flatten,
  Identity,
  ModuleList,
  Reshape,
  Conv1d,
  Conv2d,
  Dense,
  GRUCell,
  LSTM,
  LeakyReLU,
  Linear,
  MaxPool2d,
  Model,
  RNN,
  Sequential,
  build,
  input,
  isBuilt,
  moduleFromConfig,
  moduleToConfig,
  summary,
  type Layer,
} from '../src/index.js';

const f64 = (shape: number[]) => randn(shape, { dtype: 'float64' });
const values = (t: Tensor): number[] => [...t.dataSync()];

/** x Wᵀ + b by loops over plain numbers (W [out, in] row-major). */
function affineByHand(x: number[], n: number, w: number[], b: number[], out: number, inF: number): number[] {
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let k = 0; k < inF; k++) s += x[i * inF + k] * w[o * inF + k];
      y.push(s);
    }
  }
  return y;
}

function expectClose(actual: number[], expected: number[], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[i]))));
}

describe("Dense(units, options): Keras's signature", () => {
  it("Dense(3, { activation: 'sigmoid', inputDim: 4 }) computes σ(x Wᵀ + b)", () => {
    manualSeed(1);
    const d = new Dense(3, { activation: 'sigmoid', inputDim: 4, dtype: 'float64' });
    const x = f64([5, 4]);
    const pre = affineByHand(values(x), 5, values(d.weight), values(d.bias!), 3, 4);
    expectClose(values(d.forward(x)), pre.map((v) => 1 / (1 + Math.exp(-v))));
  });

  it("softmax, relu and tanh by name match the formulas; 'linear' is none", () => {
    manualSeed(2);
    const x = f64([2, 3]);
    for (const [name, f] of [
      ['relu', (r: number[]) => r.map((v) => Math.max(0, v))],
      ['tanh', (r: number[]) => r.map(Math.tanh)],
      ['linear', (r: number[]) => r],
      ['softmax', (r: number[]) => {
        const e = r.map(Math.exp);
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((v) => v / s);
      }],
    ] as const) {
      const d = new Dense(4, { activation: name, inputDim: 3, dtype: 'float64' });
      const pre = affineByHand(values(x), 2, values(d.weight), values(d.bias!), 4, 3);
      const rows = [pre.slice(0, 4), pre.slice(4)].flatMap((r) => f(r));
      expectClose(values(d.forward(x)), rows);
    }
  });

  it('every activation name has gradients that agree with finite differences', () => {
    manualSeed(3);
    for (const name of ACTIVATION_NAMES) {
      const d = new Dense(3, { activation: name, inputDim: 2, dtype: 'float64' });
      // keep away from relu's kink at 0 and hard_sigmoid's at ±3
      const x = tensor([[0.7, -1.3], [1.9, 0.4]], { dtype: 'float64' });
      const [w, b] = [d.weight.detach(), d.bias!.detach()];
      const r = gradcheck((xi, wi, bi) => d.withParameters({ weight: wi, bias: bi }, () => d.forward(xi)).mul(tensor([1, -2, 3], { dtype: 'float64' })).sum(), [x, w, b]);
      expect(r.ok, name).toBe(true);
    }
  });

  it('useBias: false drops the bias; a function or a module works as activation', () => {
    expect(new Dense(2, { useBias: false, inputDim: 3 }).parameters().map((p) => p.shape)).toEqual([[2, 3]]);
    const x = tensor([[-1, 2]], { dtype: 'float64' });
    const d1 = new Dense(2, { inputDim: 2, dtype: 'float64', activation: (t) => t.mul(2) });
    const d2 = new Dense(2, { inputDim: 2, dtype: 'float64', activation: new LeakyReLU({ negativeSlope: 0.5 }) });
    const lin = (d: Dense) => affineByHand(values(x), 1, values(d.weight), values(d.bias!), 2, 2);
    expectClose(values(d1.forward(x)), lin(d1).map((v) => 2 * v));
    expectClose(values(d2.forward(x)), lin(d2).map((v) => (v > 0 ? v : 0.5 * v)));
    expect(() => moduleToConfig(d1)).toThrow(/Dense '.*': its activation is a function or module, which a saved architecture cannot record/);
  });

  it('an unknown activation name names the closest one', () => {
    expect(() => new Dense(2, { activation: 'sigmod' as never })).toThrow(/^Dense: unknown activation 'sigmod'; did you mean 'sigmoid'\?/);
    expect(() => new Conv2d({ outChannels: 2, kernelSize: 3, activation: 'rleu' as never })).toThrow(/^Conv2d: unknown activation 'rleu'; did you mean 'relu'\?/);
  });

  it('unknown and Keras/PyTorch-spelt options throw, naming the class and our key', () => {
    expect(() => new Dense(2, { input_dim: 3 } as never)).toThrow(/^Dense: unknown option 'input_dim'; did you mean 'inputDim'\?$/);
    expect(() => new Dense(2, { kernel_initializer: 'zeros' } as never)).toThrow(/^Dense: unknown option 'kernel_initializer'; did you mean 'weightInit'\?$/);
    expect(() => new Dense(2, { units: 3 } as never)).toThrow(/^Dense: unknown option 'units'/);
    expect(() => new Linear({ inFeatures: 2, outFeatures: 3, use_bias: false } as never)).toThrow(/^Linear: unknown option 'use_bias'; did you mean 'bias'\?$/);
    expect(() => new Linear(2, 3, { inFeatures: 4 } as never)).toThrow(/^Linear: unknown option 'inFeatures'/);
    expect(() => new Conv2d({ filters: 8, kernelSize: 3 } as never)).toThrow(/^Conv2d: unknown option 'filters'; did you mean 'outChannels'\?$/);
    expect(() => new Conv1d({ outChannels: 2, kernelSize: 3, data_format: 'channelsLast' } as never)).toThrow(/^Conv1d: unknown option 'data_format'; did you mean 'dataFormat'\?$/);
    expect(() => new MaxPool2d({ pool_size: 2 } as never)).toThrow(/^MaxPool2d: unknown option 'pool_size'; did you mean 'kernelSize'\?$/);
    expect(() => new LSTM({ units: 4 } as never)).toThrow(/^LSTM: unknown option 'units'; did you mean 'hiddenSize'\?$/);
    expect(() => new Sequential([], { input_shape: [2] } as never)).toThrow(/^Sequential: unknown option 'input_shape'; did you mean 'inputShape'\?$/);
    expect(() => new Conv2d({ outChannels: 2, kernelSize: 3, dataFormat: 'channels_last' as never })).toThrow(/dataFormat must be 'channelsFirst' or 'channelsLast', got "channels_last"; did you mean 'channelsLast'\?/);
    expect(() => new Dense(2, { inputDim: 3, inputShape: [4] })).toThrow(/Dense: inputDim=3 and inputShape=\[4\] disagree/);
  });

  it("Module's methods and the config functions check their options", () => {
    const m = new Linear(2, 2);
    expect(() => m.parameters({ recursive: false } as never)).toThrow(/^parameters: unknown option 'recursive'; did you mean 'recurse'\?$/);
    expect(() => m.namedParameters({ recursive: false } as never)).toThrow(/^namedParameters: unknown option 'recursive'/);
    expect(() => m.namedBuffers({ persistent: true } as never)).toThrow(/^namedBuffers: unknown option 'persistent'; did you mean 'persistentOnly'\?$/);
    expect(() => m.numParameters({ trainable_only: true } as never)).toThrow(/^numParameters: unknown option 'trainable_only'; did you mean 'trainableOnly'\?$/);
    expect(() => m.loadStateDict(m.stateDict(), { strcit: false } as never)).toThrow(/^loadStateDict: unknown option 'strcit'; did you mean 'strict'\?$/);
    expect(() => summary(m, { input_shape: [2] } as never)).toThrow(/^summary: unknown option 'input_shape'; did you mean 'inputShape'\?$/);
    expect(() => moduleFromConfig(moduleToConfig(m), { maxStates: 3 } as never)).toThrow(/^moduleFromConfig: unknown option 'maxStates'/);
  });

  it('the shape and graph layers check their options too', () => {
    expect(() => new Flatten({ start_dim: 0 } as never)).toThrow(/^Flatten: unknown option 'start_dim'; did you mean 'startDim'\?$/);
    expect(() => new Reshape({ target_shape: [2] } as never)).toThrow(/^Reshape: unknown option 'target_shape'; did you mean 'shape'\?$/);
    expect(() => new Identity({ nmae: 'x' } as never)).toThrow(/^Identity: unknown option 'nmae'; did you mean 'name'\?$/);
    expect(() => new Concatenate({ axis: 1 } as never)).toThrow(/^Concatenate: unknown option 'axis'; did you mean 'dim'\?$/);
    expect(() => new Add({ dim: 1 } as never)).toThrow(/^Add: unknown option 'dim'/);
    expect(() => input({ shape: [2], batch_size: 4 } as never)).toThrow(/^input: unknown option 'batch_size'/);
    const x = input({ shape: [2] });
    expect(() => new Model({ inputs: x, outputs: x, output: x } as never)).toThrow(/^Model: unknown option 'output'; did you mean 'outputs'\?$/);
    expect(() => new ModuleList([], { name: 'l', extra: 1 } as never)).toThrow(/^ModuleList: unknown option 'extra'/);
  });

  it("PyTorch's new Linear(in, out) equals the options form, with the same seed", () => {
    manualSeed(5);
    const a = new Linear(3, 2, { bias: false });
    manualSeed(5);
    const b = new Linear({ inFeatures: 3, outFeatures: 2, bias: false });
    expect(values(a.weight)).toEqual(values(b.weight));
    expect(a.bias).toBeNull();
  });
});

describe("Sequential built from the input shape, as Keras's", () => {
  it("the notes' 2-25-25-1 sigmoid model has 75 + 650 + 26 = 751 parameters before any data", () => {
    const model = new Sequential([
      new Dense(25, { inputShape: [2], activation: 'sigmoid' }),
      new Dense(25, { activation: 'sigmoid' }),
      new Dense(1, { activation: 'sigmoid' }),
    ]);
    expect(isBuilt(model)).toBe(true);
    expect(model.numParameters()).toBe(751);
    const text = summary(model, { printFn: null });
    expect(text).toMatch(/dense(_\d+)? \(Dense\)\s+\(None, 25\)\s+75\n/);
    expect(text).toMatch(/\(None, 25\)\s+650\n/);
    expect(text).toMatch(/\(None, 1\)\s+26\n/);
    expect(text).toMatch(/Total params: 751\n/);
  });

  it("model.add(Dense(100, { inputDim: 2 })); model.add(Dense(1)) builds at each add", () => {
    const model = new Sequential();
    model.add(new Dense(100, { inputDim: 2 }));
    model.add(new Dense(1));
    expect(isBuilt(model)).toBe(true);
    expect(model.parameters().map((p) => p.shape)).toEqual([[100, 2], [100], [1, 100], [1]]);
  });

  it('a leading input({ shape }) declares the input, as keras.Input in a Sequential list', () => {
    const model = new Sequential([input({ shape: [6] }), new Dense(4, { activation: 'relu' }), new Dense(2)]);
    expect(model.parameters().map((p) => p.shape)).toEqual([[4, 6], [4], [2, 4], [2]]);
    expect(model.getConfig().inputShape).toEqual([6]);
  });

  it('building through a layer that cannot take its input fails at add, naming the shapes', () => {
    const model = new Sequential([new Dense(3, { inputDim: 2 }), new Linear({ inFeatures: 5, outFeatures: 1 })]);
    expect(() => model.add(new Dense(2))).toThrow(/Sequential: cannot build the layers from the input shape \[2\]: Linear: input \[1,3\] must end in inFeatures=5/);
  });

  it('summary infers output shapes from a first Linear\'s inFeatures, without inputShape', () => {
    const model = new Sequential([new Linear({ inFeatures: 4, outFeatures: 8 }), new Dense(3)]);
    const text = summary(model, { printFn: null });
    expect(text).toMatch(/\(None, 8\)\s+40\n/);
    expect(text).toMatch(/\(None, 3\)\s+27\n/);
  });

  it('summary of a model with no known input shape lists unbuilt layers instead of failing', () => {
    const model = new Sequential([new Dense(3), new Dense(1)]);
    const text = summary(model, { printFn: null });
    expect(text).toMatch(/\?\s+0 \(unbuilt\)\n/);
    expect(text).toMatch(/Some layers are not built yet/);
    // given a shape, summary builds it
    expect(summary(model, { printFn: null, inputShape: [5] })).toMatch(/Total params: 22\n/);
    expect(isBuilt(model)).toBe(true);
  });
});

describe("the notes' CNN: Conv2D(128, (3,3), padding='same', input_shape=(28,28,1)), Activation('relu'), …", () => {
  it('builds at each add with Keras\'s parameter counts (1,280 · 147,584 · 1,003,530)', () => {
    const model = new Sequential();
    model.add(new Conv2d(128, [3, 3], { padding: 'same', inputShape: [28, 28, 1], dataFormat: 'channelsLast' }));
    model.add(new Activation('relu'));
    model.add(new Conv2d(128, [3, 3], { padding: 'same', dataFormat: 'channelsLast' }));
    model.add(new Activation('relu'));
    model.add(new Flatten());
    model.add(new Dense(10));
    model.add(new Activation('softmax'));
    const text = summary(model, { printFn: null });
    expect(text).toMatch(/\(None, 28, 28, 128\)\s+1,280\n/);
    expect(text).toMatch(/\(None, 28, 28, 128\)\s+147,584\n/);
    expect(text).toMatch(/\(None, 100352\)\s+0\n/);
    expect(text).toMatch(/\(None, 10\)\s+1,003,530\n/);
    expect(text).toMatch(/Total params: 1,152,394\n/);
  });

  it('Activation by name computes the function and survives a saved architecture', () => {
    const x = tensor([[-2, 0.5, 3]], { dtype: 'float64' });
    expectClose(values(new Activation('relu').forward(x)), [0, 0.5, 3]);
    expectClose(values(new Activation({ activation: 'sigmoid' }).forward(x)), [-2, 0.5, 3].map((v) => 1 / (1 + Math.exp(-v))));
    const cfg = moduleToConfig(new Sequential([new Activation('tanh', { name: 'act' })]));
    expect(cfg.layers![0]).toEqual({ className: 'Activation', config: { activation: 'tanh', name: 'act' } });
    const back = moduleFromConfig(cfg) as Sequential;
    expectClose(values(back.forward(x)), [-2, 0.5, 3].map(Math.tanh));
    expect(() => new Activation('rel' as never)).toThrow(/^Activation: unknown activation 'rel'; did you mean 'relu'\?/);
    expect(() => new Activation('relu', { activation: 'tanh' } as never)).toThrow(/^Activation: unknown option 'activation'/);
  });

  it("Keras's Conv2d(filters, kernelSize, options) equals the options form", () => {
    manualSeed(4);
    const a = new Conv2d(6, [3, 2], { inChannels: 2, stride: 2 });
    manualSeed(4);
    const b = new Conv2d({ inChannels: 2, outChannels: 6, kernelSize: [3, 2], stride: 2 });
    expect(values(a.weight)).toEqual(values(b.weight));
    expect(a.weight.shape).toEqual([6, 2, 3, 2]);
    expect(new Conv1d(4, 3, { inChannels: 2 }).weight.shape).toEqual([4, 2, 3]);
    expect(() => new Conv2d(6, 3, { kernelSize: 3 } as never)).toThrow(/^Conv2d: unknown option 'kernelSize'/);
  });
});

describe('lazy conv and recurrent layers', () => {
  it('Conv2d without inChannels takes them from the channel dim, channels-first and channels-last', () => {
    const a = new Conv2d({ outChannels: 4, kernelSize: 3 });
    expect(a.forward(randn([2, 5, 8, 8])).shape).toEqual([2, 4, 6, 6]);
    expect(a.weight.shape).toEqual([4, 5, 3, 3]);
    const b = new Conv2d({ outChannels: 4, kernelSize: 3, dataFormat: 'channelsLast', padding: 'same' });
    expect(b.forward(randn([2, 8, 8, 5])).shape).toEqual([2, 8, 8, 4]);
    expect(b.weight.shape).toEqual([4, 5, 3, 3]);
    const c = new Conv1d({ outChannels: 2, kernelSize: 2, groups: 2 });
    expect(() => c.forward(randn([1, 3, 6]))).toThrow(/Conv1d: groups=2 must divide inChannels=3/);
  });

  it('a Keras-style CNN with inputShape channels-last is built at construction', () => {
    const model = new Sequential([
      new Conv2d({ outChannels: 8, kernelSize: 3, activation: 'relu', dataFormat: 'channelsLast', inputShape: [28, 28, 1] }),
      new MaxPool2d({ kernelSize: 2, dataFormat: 'channelsLast' }),
      new Conv2d({ outChannels: 16, kernelSize: 3, dataFormat: 'channelsLast' }),
    ] as Layer[]);
    expect(isBuilt(model)).toBe(true);
    expect(model.at(2).parameters()[0].shape).toEqual([16, 8, 3, 3]);
    expect(summary(model, { printFn: null })).toMatch(/\(None, 11, 11, 16\)\s+1,168\n/);
  });

  it('LSTM, RNN and GRUCell without inputSize build from the last dim', () => {
    const lstm = new LSTM({ hiddenSize: 4, batchFirst: true });
    const [out] = lstm.forward(randn([2, 5, 3]));
    expect(out.shape).toEqual([2, 5, 4]);
    expect(lstm.parameters().map((p) => p.shape)).toEqual([[16, 3], [16, 4], [16], [16]]);
    const rnn = new RNN({ hiddenSize: 2, numLayers: 2 });
    rnn.forward(randn([5, 1, 7]));
    expect(rnn.weightIh.map((w) => w.shape)).toEqual([[2, 7], [2, 2]]);
    const cell = new GRUCell({ hiddenSize: 3 });
    expect(cell.forward(randn([4, 6])).shape).toEqual([4, 3]);
    expect(cell.weightIh.shape).toEqual([9, 6]);
  });
});

describe('lazy layers in other settings', () => {
  it('take a floating input dtype unless given one', () => {
    const d = new Dense(2);
    d.forward(f64([1, 3]));
    expect(d.weight.dtype).toBe('float64');
    const e = new Dense(2, { dtype: 'float32' });
    e.forward(zeros([1, 3], { dtype: 'float64' }).float());
    expect(e.weight.dtype).toBe('float32');
  });

  it('build inside a functional graph: input() → Dense(8) → Dense(1) has 8·5+8 + 9 parameters', () => {
    const x = input({ shape: [5] });
    const h = new Dense(8, { activation: 'relu' }).call(x);
    const y = new Dense(1).call(h);
    expect(h.shape).toEqual([null, 8]);
    expect(y.shape).toEqual([null, 1]);
    expect(y.node!.layer).toBeInstanceOf(Dense);
    expect((y.node!.layer as Dense).weight.shape).toEqual([1, 8]);
    expect(new Model({ inputs: x, outputs: y }).numParameters()).toBe(8 * 5 + 8 + 9);
  });
});

describe('saving and loading lazy layers', () => {
  it('a lazy-built model saves its inferred sizes, rebuilds eagerly and computes the same outputs', () => {
    manualSeed(8);
    const model = new Sequential([new Dense(5, { activation: 'tanh' }), new Conv1d({ outChannels: 2, kernelSize: 2, dataFormat: 'channelsLast' })] as Layer[]);
    const x = randn([3, 4, 6]);
    const y = model.forward(x);
    const config = moduleToConfig(model);
    expect(config.layers![0].config).toMatchObject({ inFeatures: 6, outFeatures: 5, activation: 'tanh' });
    expect(config.layers![1].config).toMatchObject({ inChannels: 5, outChannels: 2, dataFormat: 'channelsLast' });
    const copy = moduleFromConfig(JSON.parse(JSON.stringify(config)) as typeof config);
    expect(isBuilt(copy)).toBe(true);
    copy.loadStateDict(model.stateDict());
    expectClose(values((copy as Sequential).forward(x)), values(y), 1e-6);
  });

  it('an unbuilt lazy layer cannot be saved as an architecture, and a config needs every size', () => {
    expect(() => moduleToConfig(new Sequential([new Dense(2, { name: 'later' })]))).toThrow(
      /^moduleToConfig: layer 'later' \(Dense\) is a lazy layer not built yet — its inFeatures come from the first input; call the model once/,
    );
    expect(() => moduleFromConfig({ className: 'Conv2d', config: { outChannels: 2, kernelSize: 3 } })).toThrow(/^config\.config\.inChannels is required by Conv2d$/);
    // a Sequential probes one zero sample of its inputShape: bounded as a graph input is
    expect(() => moduleFromConfig({ className: 'Sequential', config: { inputShape: [65536, 65536] }, layers: [] })).toThrow(
      /^config\.config\.inputShape must be a non-empty list of positive integers with at most 4194304 elements in all, got \[65536,65536\]$/,
    );
  });

  it('an activation given in our camelCase spelling survives a saved architecture', () => {
    const m = new Sequential([new Dense(2, { inputDim: 3, activation: 'leakyRelu' as never })]);
    const copy = moduleFromConfig(JSON.parse(JSON.stringify(moduleToConfig(m))) as ReturnType<typeof moduleToConfig>) as Sequential;
    copy.loadStateDict(m.stateDict());
    expect(copy.at(0).toString()).toMatch(/activation=leakyRelu\)$/);
    const x = tensor([[-3, 1, 2]]);
    expect(values(copy.forward(x))).toEqual(values(m.forward(x)));
    expect(() => moduleFromConfig({ className: 'Dense', config: { inFeatures: 2, outFeatures: 1, activation: 'relux' } })).toThrow(/^config\.config\.activation must be one of 'linear', 'relu'/);
  });

  it('loadStateDict into an unbuilt lazy model builds it from the weight shapes', () => {
    const source = new Sequential([new Dense(4, { inputDim: 3 }), new LSTM({ hiddenSize: 2, batchFirst: true })] as Layer[]);
    const target = new Sequential([new Dense(4), new LSTM({ hiddenSize: 2, batchFirst: true })] as Layer[]);
    expect(isBuilt(target)).toBe(false);
    target.loadStateDict(source.stateDict());
    expect(isBuilt(target)).toBe(true);
    for (const [k, v] of Object.entries(source.stateDict())) expect(values(target.stateDict()[k])).toEqual(values(v));
  });

  it('saveWeights / loadWeights round trip through a file into an unbuilt model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nn-lazy-'));
    try {
      const a = new Sequential([new Dense(3), new Dense(2, { activation: 'softmax' })]);
      build(a, randn([1, 4]));
      await a.saveWeights(join(dir, 'w.safetensors'));
      const b = new Sequential([new Dense(3), new Dense(2, { activation: 'softmax' })]);
      await b.loadWeights(join(dir, 'w.safetensors'));
      const x = randn([2, 4]);
      expect(values(b.forward(x))).toEqual(values(a.forward(x)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loadStateDict says when a lazy layer cannot be built from the state', () => {
    const m = new Sequential([new Dense(4, { name: 'lazy_one' })]);
    expect(() => m.loadStateDict({ '0.weight': zeros([5, 3]) })).toThrow(
      /^loadStateDict: lazy layer 'lazy_one' \(Dense at '0'\) is not built and cannot be built from the state: expected a 'weight' of shape \[4, inFeatures\], got \[5,3\]/,
    );
    expect(isBuilt(m)).toBe(false);
  });
});
