import '@ml/autograd';
import { manualSeed, rand, randn, randint, tensor, type NestedArray, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  AvgPool1d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv1d,
  Conv2d,
  Dropout,
  Embedding,
  Flatten,
  GlobalAvgPool2d,
  LayerNorm,
  Linear,
  MaxPool1d,
  MaxPool2d,
  Reshape,
  type AnyModule,
} from '../src/index.js';
import { f64, fixture, gradcheckLayer, stateOf } from './helpers.js';

interface Case {
  x: NestedArray;
  state: Record<string, NestedArray>;
  gy: NestedArray;
  y: NestedArray;
  gx?: NestedArray;
  grads: Record<string, NestedArray>;
  running_mean?: NestedArray;
  running_var?: NestedArray;
  x_eval?: NestedArray;
  y_eval?: NestedArray;
}

// recorded from PyTorch 1.13 in float64 by test/fixtures/layers.py
const cases = fixture<Record<string, Case>>('layers');
const TOL = { atol: 1e-10, rtol: 1e-10 };

/** Load the case's weights, run forward + backward with its upstream gradient, compare everything. */
async function matchesPytorch(name: string, layer: AnyModule, options: { intInput?: boolean } = {}): Promise<void> {
  const c = cases[name];
  layer.double();
  layer.loadStateDict(stateOf(c.state));
  const x = options.intInput ? tensor(c.x, { dtype: 'int32' }) : f64(c.x).requiresGrad_();
  const y = (layer.forward as (t: Tensor) => Tensor)(x);
  await assertClose(y, c.y, { ...TOL, label: `${name} forward` });
  y.backward(f64(c.gy));
  if (c.gx) await assertClose(x.grad!, c.gx, { ...TOL, label: `${name} input gradient` });
  for (const [k, p] of layer.namedParameters()) {
    expect(c.grads[k], `${name}: PyTorch has no parameter '${k}'`).toBeDefined();
    await assertClose(p.grad!, c.grads[k], { ...TOL, label: `${name} gradient of ${k}` });
  }
  expect(Object.keys(c.grads).sort()).toEqual([...layer.namedParameters()].map(([k]) => k).sort());
}

describe('layers match PyTorch 1.13 (forward, input gradient, parameter gradients; float64, 1e-10)', () => {
  it('Linear 5→3', () => matchesPytorch('linear', new Linear({ inFeatures: 5, outFeatures: 3 })));

  it("Conv2d with padding 'same' and stride 2 (Keras's rule: out = ⌈in/stride⌉, odd padding at bottom/right)", async () => {
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 'same' });
    await matchesPytorch('conv2d_same_stride2', conv);
    expect(conv.forward(randn([1, 3, 7, 8], { dtype: 'float64' })).shape).toEqual([1, 4, 4, 4]);
  });

  it('Conv2d with dilation 2, padding 1 and 2 groups', () =>
    matchesPytorch('conv2d_dilation_groups', new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, padding: 1, dilation: 2, groups: 2 })));

  it("Conv2d 'same' with an even kernel (4×4) keeps the size", () =>
    matchesPytorch('conv2d_same_even_kernel', new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 4, padding: 'same' })));

  it('Conv1d with stride 2 and padding 1', () => matchesPytorch('conv1d', new Conv1d({ inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1 })));

  it('MaxPool2d 3×3, stride 2, padding 1', () => matchesPytorch('maxpool2d', new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 })));
  it('AvgPool2d counting padding (default)', () => matchesPytorch('avgpool2d_include_pad', new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 })));
  it('AvgPool2d not counting padding', () =>
    matchesPytorch('avgpool2d_exclude_pad', new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1, countIncludePad: false })));
  it('MaxPool1d 2', () => matchesPytorch('maxpool1d', new MaxPool1d({ kernelSize: 2 })));
  it('AvgPool1d 3, stride 2', () => matchesPytorch('avgpool1d', new AvgPool1d({ kernelSize: 3, stride: 2 })));

  describe('BatchNorm: batch statistics in train mode, running statistics in eval mode', () => {
    const bnCase = async (name: string, bn: BatchNorm1d | BatchNorm2d) => {
      await matchesPytorch(name, bn);
      const c = cases[name];
      await assertClose(bn.runningMean!, c.running_mean!, { ...TOL, label: 'running mean after one step' });
      await assertClose(bn.runningVar!, c.running_var!, { ...TOL, label: 'running var (unbiased) after one step' });
      expect(bn.numBatchesTracked!.item()).toBe(1);
      bn.eval();
      await assertClose(bn.forward(f64(c.x_eval!)), c.y_eval!, { ...TOL, label: 'eval-mode output' });
    };
    it('BatchNorm2d [4,3,5,5], momentum 0.2', () => bnCase('batchnorm2d', new BatchNorm2d({ numFeatures: 3, momentum: 0.2 })));
    it('BatchNorm1d on [N, C]', () => bnCase('batchnorm1d_2d', new BatchNorm1d({ numFeatures: 3 })));
    it('BatchNorm1d on [N, C, L]', () => bnCase('batchnorm1d_3d', new BatchNorm1d({ numFeatures: 3 })));

    it('momentum null keeps a cumulative average of the batch means', async () => {
      const bn = new BatchNorm1d({ numFeatures: 1, momentum: null, affine: false, dtype: 'float64' });
      bn.forward(f64([[1], [3]]));
      bn.forward(f64([[5], [7]]));
      await assertClose(bn.runningMean!, [4], TOL); // (2 + 6) / 2
      await assertClose(bn.runningVar!, [2], TOL); // unbiased var of each batch is 2
    });

    it('eval mode does not touch the running statistics', async () => {
      const bn = new BatchNorm2d({ numFeatures: 2 }).eval();
      bn.forward(randn([3, 2, 4, 4]));
      await assertClose(bn.runningMean!, [0, 0]);
      expect(bn.numBatchesTracked!.item()).toBe(0);
    });
  });

  it('LayerNorm over the last two dims [3,4]', () => matchesPytorch('layernorm', new LayerNorm({ normalizedShape: [3, 4] })));

  it('Embedding with paddingIdx: padding row stays zero and gets no gradient', async () => {
    const emb = new Embedding({ numEmbeddings: 10, embeddingDim: 4, paddingIdx: 4 });
    await assertClose(emb.weight.index(4), [0, 0, 0, 0], { atol: 0 });
    await matchesPytorch('embedding_padding', emb, { intInput: true });
  });
});

describe('gradcheck through each layer (float64, w.r.t. input and every parameter)', () => {
  manualSeed(7);
  const x = (shape: number[]) => randn(shape, { dtype: 'float64' });
  const cases: [string, () => AnyModule, number[]][] = [
    ['Linear', () => new Linear({ inFeatures: 3, outFeatures: 2 }), [4, 3]],
    ['Conv2d same, stride 2', () => new Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, padding: 'same' }), [1, 2, 5, 4]],
    ['Conv2d groups + dilation', () => new Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 2, dilation: 2, groups: 2 }), [1, 2, 4, 4]],
    ['Conv1d', () => new Conv1d({ inChannels: 2, outChannels: 2, kernelSize: 3, padding: 'same' }), [2, 2, 4]],
    ['MaxPool2d', () => new MaxPool2d({ kernelSize: 2 }), [1, 2, 4, 4]],
    ['AvgPool2d', () => new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), [1, 1, 5, 5]],
    ['MaxPool1d', () => new MaxPool1d({ kernelSize: 2 }), [1, 2, 6]],
    ['AvgPool1d', () => new AvgPool1d({ kernelSize: 2 }), [1, 2, 6]],
    ['GlobalAvgPool2d', () => new GlobalAvgPool2d(), [2, 3, 2, 2]],
    ['BatchNorm2d (train)', () => new BatchNorm2d({ numFeatures: 2 }), [3, 2, 2, 2]],
    ['BatchNorm1d (train)', () => new BatchNorm1d({ numFeatures: 3 }), [4, 3]],
    ['LayerNorm', () => new LayerNorm({ normalizedShape: 3 }), [2, 3]],
    ['Flatten', () => new Flatten(), [2, 3, 2]],
    ['Reshape', () => new Reshape({ shape: [3, -1] }), [2, 6]],
  ];
  for (const [name, make, shape] of cases) {
    it(name, () => {
      const layer = make().double();
      gradcheckLayer(layer, [x(shape)], (t) => (layer.forward as (t: Tensor) => Tensor)(t));
    });
  }
  it('BatchNorm2d (eval, running statistics)', () => {
    const bn = new BatchNorm2d({ numFeatures: 2, dtype: 'float64' });
    bn.forward(x([4, 2, 3, 3]));
    bn.eval();
    gradcheckLayer(bn, [x([2, 2, 2, 2])], (t) => bn.forward(t));
  });
  it('Embedding (w.r.t. its weight)', () => {
    const emb = new Embedding({ numEmbeddings: 5, embeddingDim: 2, dtype: 'float64', paddingIdx: 0 });
    const ids = tensor([[0, 1, 4], [4, 4, 2]], { dtype: 'int32' });
    gradcheckLayer(emb, [], () => emb.forward(ids));
  });
});

describe('Dropout (inverted)', () => {
  it('zeroes about p of the elements in training and scales the rest by 1/(1−p)', async () => {
    manualSeed(3);
    const d = new Dropout({ p: 0.25 });
    const y = await d.forward(tensor(new Array(20000).fill(1))).data();
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(Math.abs(zeros - 0.25)).toBeLessThan(0.015);
    expect(new Set([...y].filter((v) => v !== 0))).toEqual(new Set([Math.fround(1 / 0.75)]));
  });
  it('is the identity in eval mode', () => {
    const x = randn([4, 4]);
    expect(new Dropout({ p: 0.9 }).eval().forward(x)).toBe(x);
  });
  it("equals rand(shape).ge(p) masking, then 1/(1−p), value for value and gradient for gradient (one fused mask)", () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const p of [0.3, 0.5]) {
        const x = randn([7, 33], { dtype }).mul(3).requiresGrad_();
        manualSeed(21);
        const y = new Dropout({ p }).forward(x);
        y.mul(x.detach()).sum().backward();
        const [yv, gv] = [Array.from(y.dataSync(), String), Array.from(x.grad!.dataSync(), String)];
        x.grad = null;
        manualSeed(21);
        const keep = rand(x.shape, { dtype }).ge(p);
        const y2 = x.mul(keep.cast(dtype)).mul(1 / (1 - p));
        y2.mul(x.detach()).sum().backward();
        expect(yv).toEqual(Array.from(y2.dataSync(), String));
        expect(gv).toEqual(Array.from(x.grad!.dataSync(), String));
      }
    }
    expect(() => new Dropout().forward(tensor([1, 2], { dtype: 'int32' }))).toThrow(/dropout: .*floating-point/);
  });
  it('the same seed gives the same mask', async () => {
    const run = async () => {
      manualSeed(11);
      return new Dropout().forward(randn([10]).abs().add(1)).data();
    };
    expect(await run()).toEqual(await run());
  });
});

describe('shapes and defaults', () => {
  it('Conv2d output size follows ⌊(in + 2p − d(k−1) − 1)/s⌋ + 1', () => {
    const conv = new Conv2d({ inChannels: 1, outChannels: 2, kernelSize: [3, 5], stride: [2, 1], padding: [1, 2], dilation: [1, 2] });
    // H: ⌊(9 + 2 − 2 − 1)/2⌋ + 1 = 5; W: ⌊(10 + 4 − 8 − 1)/1⌋ + 1 = 6
    expect(conv.forward(randn([2, 1, 9, 10])).shape).toEqual([2, 2, 5, 6]);
  });
  it('Linear and Conv2d default weights lie in ±1/√fan_in (PyTorch default init)', async () => {
    manualSeed(0);
    const lin = new Linear({ inFeatures: 100, outFeatures: 50 });
    const w = await lin.weight.data();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.1);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.09);
    const conv = new Conv2d({ inChannels: 4, outChannels: 8, kernelSize: 3 });
    const cw = await conv.weight.data();
    expect(Math.max(...cw.map(Math.abs))).toBeLessThanOrEqual(1 / 6);
  });
  it('layers accept unbatched input like PyTorch (Conv2d [C,H,W], Linear [in])', () => {
    expect(new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: 3 }).forward(randn([3, 5, 5])).shape).toEqual([2, 3, 3]);
    expect(new Linear({ inFeatures: 3, outFeatures: 2 }).forward(randn([3])).shape).toEqual([2]);
  });
  it('Embedding looks up rows for any id shape', () => {
    const emb = new Embedding({ numEmbeddings: 7, embeddingDim: 3 });
    expect(emb.forward(randint(0, 7, [2, 5, 4], { dtype: 'int32' })).shape).toEqual([2, 5, 4, 3]);
  });
});

describe('bad options and inputs throw clear errors', () => {
  it('hidden/feature sizes must be positive integers', () => {
    expect(() => new Linear({ inFeatures: 0, outFeatures: 3 })).toThrow(/Linear: inFeatures must be a positive integer, got 0/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 0 })).toThrow(/Conv2d: kernelSize must be a positive integer/);
    expect(() => new BatchNorm2d({ numFeatures: -1 })).toThrow(/BatchNorm2d: numFeatures/);
    expect(() => new Embedding({ numEmbeddings: 5, embeddingDim: 2, paddingIdx: 5 })).toThrow(/paddingIdx 5 is outside/);
    expect(() => new Dropout({ p: 1.5 })).toThrow(/Dropout: p must be in \[0, 1\]/);
  });
  it('groups must divide the channels', () => {
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 })).toThrow(/groups=2 must divide inChannels=3/);
  });
  it('a kernel larger than the padded input names both sizes', () => {
    const conv = new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 5, padding: 1 });
    expect(() => conv.forward(randn([1, 1, 2, 2]))).toThrow(/kernel 5x5 \(dilated 5x5\) is larger than the padded input 4x4/);
  });
  it('a wrong number of input features names the layer and both shapes', () => {
    const lin = new Linear({ inFeatures: 784, outFeatures: 10 });
    expect(() => lin.forward(randn([32, 128]))).toThrow(/Linear: input \[32,128\] must end in inFeatures=784 \(weight \[10,784\]\)/);
    const conv = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3 });
    expect(() => conv.forward(randn([2, 1, 8, 8]))).toThrow(/Conv2d: expected input \[N, 3, H, W\].*got \[2,1,8,8\]/);
  });
  it('BatchNorm needs more than one value per channel in training', () => {
    expect(() => new BatchNorm1d({ numFeatures: 3 }).forward(randn([1, 3]))).toThrow(/more than 1 value per channel/);
  });
  it('Embedding rejects float ids', () => {
    expect(() => new Embedding({ numEmbeddings: 3, embeddingDim: 2 }).forward(tensor([0, 1]))).toThrow(/ids must be int32, got float32/);
  });
  it('Reshape reports impossible shapes', () => {
    expect(() => new Reshape({ shape: [5] }).forward(randn([2, 6]))).toThrow(/Reshape: cannot reshape input \[2,6\]/);
  });
});
