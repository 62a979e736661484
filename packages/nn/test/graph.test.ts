import '@ml/autograd';
import { concat, manualSeed, randn, randint, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  Add,
  BatchNorm2d,
  Concatenate,
  Conv2d,
  Dropout,
  Embedding,
  Flatten,
  Linear,
  MaxPool2d,
  Model,
  ReLU,
  Sequential,
  add,
  concatenate,
  input,
  resetNameCounters,
} from '../src/index.js';

describe('functional graph API (Keras style)', () => {
  it('input() has a symbolic batch dim; layer calls infer output shapes', () => {
    const x = input({ shape: [1, 28, 28] });
    expect(x.shape).toEqual([null, 1, 28, 28]);
    const h = new Conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3, stride: 2, padding: 'same' }).call(x);
    expect(h.shape).toEqual([null, 8, 14, 14]);
    expect(new Flatten().call(h).shape).toEqual([null, 8 * 14 * 14]);
  });

  it('a two-input, two-output model runs on real tensors and trains end to end', async () => {
    manualSeed(5);
    const a = input({ shape: [3], name: 'a' });
    const b = input({ shape: [2], name: 'b' });
    const shared = new Linear({ inFeatures: 3, outFeatures: 4 });
    const h = concatenate([new ReLU().call(shared.call(a)), b]);
    const out1 = new Linear({ inFeatures: 6, outFeatures: 1, name: 'regression' }).call(h);
    const out2 = new Linear({ inFeatures: 6, outFeatures: 3, name: 'classes' }).call(h);
    const model = new Model<Tensor[]>({ inputs: [a, b], outputs: [out1, out2] });

    const xa = randn([5, 3]);
    const xb = randn([5, 2]);
    const [y1, y2] = model.forward(xa, xb);
    expect(y1.shape).toEqual([5, 1]);
    expect(y2.shape).toEqual([5, 3]);
    // the same numbers by hand: [relu(shared(a)), b] · Wᵀ + bias
    const sd = model.stateDict();
    const hRef = concat([shared.forward(xa).relu(), xb], -1);
    await assertClose(y1, await hRef.matmul(sd['regression.weight'].T).add(sd['regression.bias']).array());
    await assertClose(y2, await hRef.matmul(sd['classes.weight'].T).add(sd['classes.bias']).array());

    y1.sum().add(y2.sum()).backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
  });

  it('a shared layer is registered once and its weights are shared', () => {
    const x = input({ shape: [4] });
    const lin = new Linear({ inFeatures: 4, outFeatures: 4 });
    const y = lin.call(lin.call(x));
    const model = new Model({ inputs: x, outputs: y });
    expect(model.parameters()).toHaveLength(2);
  });

  it('residual connections with add()', async () => {
    const x = input({ shape: [4] });
    const lin = new Linear({ inFeatures: 4, outFeatures: 4 });
    const model = new Model({ inputs: x, outputs: add([x, lin.call(x)]) });
    const v = randn([2, 4]);
    await assertClose(model.forward(v), await v.add(lin.forward(v)).array());
  });

  it('integer inputs reach an Embedding', () => {
    const ids = input({ shape: [5], dtype: 'int32' });
    const e = new Embedding({ numEmbeddings: 10, embeddingDim: 3 }).call(ids);
    expect(e.shape).toEqual([null, 5, 3]);
    const model = new Model({ inputs: ids, outputs: new Flatten().call(e) });
    expect(model.forward(randint(0, 10, [2, 5], { dtype: 'int32' })).shape).toEqual([2, 15]);
  });

  it('symbolic calls do not change BatchNorm running stats (probe runs in eval mode)', async () => {
    const bn = new BatchNorm2d({ numFeatures: 2 });
    bn.call(input({ shape: [2, 3, 3] }));
    expect(bn.training).toBe(true);
    expect(bn.numBatchesTracked!.item()).toBe(0);
  });

  it('errors: wrong input shape, unknown input, incompatible layer', () => {
    const x = input({ shape: [3], name: 'x' });
    const model = new Model({ inputs: x, outputs: new Linear({ inFeatures: 3, outFeatures: 1 }).call(x) });
    expect(() => model.forward(randn([2, 4]))).toThrow(/input 'x' expects shape \(None, 3\), got \[2,4\]/);
    const other = input({ shape: [3], name: 'other' });
    const y = new Add().call(x, other);
    expect(() => new Model({ inputs: x, outputs: y })).toThrow(/depends on input 'other' \(None, 3\), which is not in inputs/);
    expect(() => new Linear({ inFeatures: 5, outFeatures: 1, name: 'fc' }).call(x)).toThrow(/fc \(Linear\) cannot take input of shape \(None, 3\): Linear: input \[2,3\] must end in inFeatures=5/);
    expect(() => new Concatenate({ dim: 0 }).forward(randn([2]), randn([2, 2]))).toThrow();
  });
});

describe("summary() prints Keras's table with Keras's parameter counts", () => {
  it('small CNN: conv32-pool-conv64-pool-dense10 on 28×28 has 34,826 params (as Keras)', () => {
    resetNameCounters();
    // Keras: Conv2D(32,3) 320, Conv2D(64,3) 18,496, Dense(10) on 5·5·64 16,010 = 34,826
    const cnn = new Sequential([
      new Conv2d({ inChannels: 1, outChannels: 32, kernelSize: 3 }),
      new ReLU(),
      new MaxPool2d({ kernelSize: 2 }),
      new Conv2d({ inChannels: 32, outChannels: 64, kernelSize: 3 }),
      new ReLU(),
      new MaxPool2d({ kernelSize: 2 }),
      new Flatten(),
      new Dropout({ p: 0.5 }),
      new Linear({ inFeatures: 1600, outFeatures: 10 }),
    ]);
    const text = cnn.summary({ inputShape: [1, 28, 28], printFn: null });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Model: "sequential"');
    expect(text).toMatch(/conv2d \(Conv2d\)\s+\(None, 32, 26, 26\)\s+320\n/);
    expect(text).toMatch(/max_pool2d \(MaxPool2d\)\s+\(None, 32, 13, 13\)\s+0\n/);
    expect(text).toMatch(/conv2d_1 \(Conv2d\)\s+\(None, 64, 11, 11\)\s+18,496\n/);
    expect(text).toMatch(/flatten \(Flatten\)\s+\(None, 1600\)\s+0\n/);
    expect(text).toMatch(/linear \(Linear\)\s+\(None, 10\)\s+16,010\n/);
    expect(text).toContain('Total params: 34,826\nTrainable params: 34,826\nNon-trainable params: 0');
  });

  it('BatchNorm2d(64) counts 256 params, 128 of them non-trainable (moving mean/var), as Keras', () => {
    const m = new Sequential([new Conv2d({ inChannels: 3, outChannels: 64, kernelSize: 3 }), new BatchNorm2d({ numFeatures: 64 })]);
    const text = m.summary({ printFn: null });
    // Conv2D(64, 3) on 3 channels: 64·3·3·3 + 64 = 1,792
    expect(text).toContain('Total params: 2,048\nTrainable params: 1,920\nNon-trainable params: 128');
    expect(text).toMatch(/\(BatchNorm2d\)\s+\?\s+256/);
  });

  it('functional models list inputs and what each layer is connected to', () => {
    resetNameCounters();
    const a = input({ shape: [8] });
    const b = input({ shape: [4] });
    const h = new Linear({ inFeatures: 8, outFeatures: 16 }).call(a);
    const model = new Model({ inputs: [a, b], outputs: new Linear({ inFeatures: 20, outFeatures: 1 }).call(concatenate([h, b])) });
    const text = model.summary({ printFn: null });
    expect(text).toMatch(/Layer \(type\)\s+Output Shape\s+Param #\s+Connected to/);
    expect(text).toMatch(/input \(InputLayer\)\s+\(None, 8\)\s+0\s+-/);
    expect(text).toMatch(/concatenate \(Concatenate\)\s+\(None, 20\)\s+0\s+linear, input_1/);
    // Dense(16) on 8: 144; Dense(1) on 20: 21
    expect(text).toContain('Total params: 165');
  });

  it('frozen layers count as non-trainable', () => {
    const m = new Sequential([new Linear({ inFeatures: 10, outFeatures: 10 }), new Linear({ inFeatures: 10, outFeatures: 2 })]);
    m.at(0).requiresGrad_(false);
    expect(m.summary({ printFn: null })).toContain('Total params: 132\nTrainable params: 22\nNon-trainable params: 110');
  });
});

describe('architecture configs (saved models)', () => {
  it('a Sequential rebuilds from JSON and, with the same weights, computes the same output', async () => {
    const { moduleToConfig, moduleFromConfig } = await import('../src/index.js');
    const m = new Sequential([new Conv2d({ inChannels: 1, outChannels: 2, kernelSize: 3, padding: 'same' }), new ReLU(), new Flatten(), new Linear({ inFeatures: 32, outFeatures: 3 })]);
    const json = JSON.stringify(moduleToConfig(m));
    const back = moduleFromConfig(JSON.parse(json)) as Sequential;
    expect(back.toString()).toBe(m.toString());
    back.loadStateDict(m.stateDict());
    const x = randn([2, 1, 4, 4]);
    expect(await back.forward(x).data()).toEqual(await m.forward(x).data());
  });

  it('a functional Model with two inputs and a shared layer rebuilds from JSON', async () => {
    const { moduleToConfig, moduleFromConfig } = await import('../src/index.js');
    const a = input({ shape: [3] });
    const b = input({ shape: [3] });
    const shared = new Linear({ inFeatures: 3, outFeatures: 2 });
    const model = new Model({ inputs: [a, b], outputs: concatenate([shared.call(a), shared.call(b)]) });
    const back = moduleFromConfig(JSON.parse(JSON.stringify(moduleToConfig(model)))) as Model;
    expect(Object.keys(back.stateDict())).toEqual(Object.keys(model.stateDict()));
    back.loadStateDict(model.stateDict());
    const xa = randn([4, 3]);
    const xb = randn([4, 3]);
    expect(await back.forward(xa, xb).data()).toEqual(await model.forward(xa, xb).data());
  });

  it('an unregistered custom class says how to register it', async () => {
    const { moduleToConfig, Module } = await import('../src/index.js');
    class Custom extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => moduleToConfig(new Custom())).toThrow(/Custom is not registered; call registerModuleClass\(Custom\)/);
  });
});
