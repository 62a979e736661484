import { gradcheck } from '@ml/autograd';
import { manualSeed, randn, tensor, type NestedArray, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  CrossEntropyLoss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  categoricalCrossentropy,
  crossEntropy,
  huberLoss,
  klDiv,
  l1Loss,
  mseLoss,
  nllLoss,
  smoothL1Loss,
  sparseCategoricalCrossentropy,
  sseLoss,
} from '../src/index.js';
import { fixture } from './helpers.js';

interface Case {
  name: string;
  x: NestedArray;
  extra: NestedArray[];
  extraDtypes: ('int32' | 'float64')[];
  options: Record<string, number | string | boolean>;
  y: NestedArray;
  gx: NestedArray;
}

// recorded from PyTorch 1.13 (float64) by test/fixtures/losses.py
const cases = fixture<Case[]>('losses');

type Fn = (x: Tensor, extra: Tensor[], o: Case['options']) => Tensor;
const red = (o: Case['options']) => ({ reduction: (o.reduction as 'mean' | 'sum' | 'none' | undefined) ?? 'mean' });
const fns: Record<string, Fn> = {
  mse: (x, [t], o) => mseLoss(x, t, red(o)),
  l1: (x, [t], o) => l1Loss(x, t, red(o)),
  huber: (x, [t], o) => huberLoss(x, t, { ...red(o), delta: o.delta as number }),
  smoothl1: (x, [t], o) => smoothL1Loss(x, t, { ...red(o), beta: o.beta as number }),
  bce: (x, [t, w], o) => binaryCrossEntropy(x, t, { ...red(o), weight: o.weight ? w : undefined }),
  bcelogits: (x, [t, pw], o) => binaryCrossEntropyWithLogits(x, t, { ...red(o), posWeight: o.posWeight ? pw : undefined }),
  ce: (x, [t, w], o) => crossEntropy(x, t, { ...red(o), weight: o.weight ? w : undefined, labelSmoothing: o.labelSmoothing as number | undefined }),
  nll: (x, [t, w], o) => nllLoss(x, t, { ...red(o), weight: o.weight ? w : undefined }),
  kl: (x, [t], o) => klDiv(x, t, { reduction: o.reduction as 'batchmean', logTarget: o.logTarget as boolean | undefined }),
};

describe('losses match PyTorch 1.13 (value and input gradient, float64, 1e-10)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const fn = fns[c.name.split('/')[0]];
      const x = tensor(c.x, { dtype: 'float64' }).requiresGrad_();
      const extra = c.extra.map((e, i) => tensor(e, { dtype: c.extraDtypes[i] }));
      const y = fn(x, extra, c.options);
      await assertClose(y, c.y, { atol: 1e-10, rtol: 1e-10, label: 'loss' });
      y.sum().backward();
      await assertClose(x.grad!, c.gx, { atol: 1e-10, rtol: 1e-10, label: 'input gradient' });
    });
  }
  it('covers every loss function', () => {
    expect(new Set(cases.map((c) => c.name.split('/')[0]))).toEqual(new Set(Object.keys(fns)));
  });
});

describe('gradcheck through each loss (w.r.t. the input)', () => {
  manualSeed(2);
  const x = randn([3, 4], { dtype: 'float64' });
  const t = randn([3, 4], { dtype: 'float64' });
  const p = randn([3, 4], { dtype: 'float64' }).sigmoid();
  const y01 = randn([3, 4], { dtype: 'float64' }).gt(0).cast('float64');
  const idx = tensor([0, 3, 2], { dtype: 'int32' });
  const checks: [string, (a: Tensor) => Tensor, Tensor][] = [
    ['mse', (a) => mseLoss(a, t), x],
    ['sse', (a) => sseLoss(a, t), x],
    ['l1', (a) => l1Loss(a, t), x],
    ['huber', (a) => huberLoss(a, t, { delta: 0.5 }), x],
    ['smoothL1', (a) => smoothL1Loss(a, t, { beta: 0.5 }), x],
    ['bce', (a) => binaryCrossEntropy(a, y01), p],
    ['bceWithLogits', (a) => binaryCrossEntropyWithLogits(a, y01, { posWeight: tensor([1, 2, 3, 4], { dtype: 'float64' }) }), x],
    ['crossEntropy indices (every sample counted: the short path)', (a) => crossEntropy(a, idx), x],
    ['crossEntropy indices + smoothing', (a) => crossEntropy(a, idx, { labelSmoothing: 0.1 }), x],
    ['crossEntropy probabilities', (a) => crossEntropy(a, p.div(p.sum(1, true))), x],
    ['nll', (a) => nllLoss(a.logSoftmax(1), idx), x],
    ['klDiv', (a) => klDiv(a.logSoftmax(1), p.div(p.sum(1, true)), { reduction: 'batchmean' }), x],
  ];
  for (const [name, f, input] of checks) it(name, () => expect(gradcheck(f, [input]).ok).toBe(true));
  it('mse w.r.t. the target too', () => expect(gradcheck((a, b) => mseLoss(a, b), [x, t]).ok).toBe(true));
});

describe('numerical stability', () => {
  it('cross-entropy with logits of ±1000 is finite and exact', async () => {
    const z = tensor([[1000, -1000, 0], [-1000, 1000, 999]]).requiresGrad_();
    const l = crossEntropy(z, tensor([0, 2], { dtype: 'int32' }), { reduction: 'none' });
    // row 0: logsumexp = 1000 → 0; row 1: log(e^1000 + e^999) − 999 = 1 + log(1 + e^−1)
    await assertClose(l, [0, 1 + Math.log1p(Math.exp(-1))], { atol: 1e-4 });
    l.sum().backward();
    expect([...(await z.grad!.data())].every(Number.isFinite)).toBe(true);
  });
  it('BCE with logits ±1000 is finite', async () => {
    const l = binaryCrossEntropyWithLogits(tensor([1000, -1000, 1000]), tensor([1, 0, 0]), { reduction: 'none' });
    await assertClose(l, [0, 0, 1000]);
  });
  it('BCE on probabilities 0 and 1 is clamped at 100, as PyTorch', async () => {
    await assertClose(binaryCrossEntropy(tensor([0, 1, 1]), tensor([1, 0, 1]), { reduction: 'none' }), [100, 100, 0]);
  });
  it("Keras's names: sparse and categorical cross-entropy from probabilities or logits", async () => {
    const logits = tensor([[2, 1, 0.1]]);
    const probs = logits.softmax(1);
    const a = sparseCategoricalCrossentropy(probs, tensor([0], { dtype: 'int32' }), { fromLogits: false });
    const b = categoricalCrossentropy(logits, tensor([[1, 0, 0]]), { fromLogits: true });
    const want = -Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(1) + Math.exp(0.1)));
    await assertClose(a, want);
    await assertClose(b, want);
  });
  it("Keras's default: probabilities, the same as the compile names (0.357 for both, where the function treated them as logits: 0.768)", async () => {
    const probs = tensor([[0.7, 0.2, 0.1]]);
    const y = tensor([0], { dtype: 'int32' });
    await assertClose(sparseCategoricalCrossentropy(probs, y), -Math.log(0.7));
    await assertClose(categoricalCrossentropy(probs, tensor([[1, 0, 0]])), -Math.log(0.7));
  });
});

describe('crossEntropy on class indices', () => {
  const z = () => tensor([[1, 2, 3], [-1, 0, 5], [0.5, 0.5, -2]], { dtype: 'float64' }).requiresGrad_();
  const t = tensor([2, 0, 1], { dtype: 'int32' });
  it('the plain case is one fused op (softmaxCrossEntropy), equal to −logSoftmax at the target', async () => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const [a, b] = [z(), z()];
      const fused = crossEntropy(a, t, { reduction });
      expect(fused.gradNode?.op).toBe('softmaxCrossEntropy');
      const ref = b.logSoftmax(1).gather(1, t.unsqueeze(1)).squeeze(1).neg();
      const want = reduction === 'none' ? ref : reduction === 'sum' ? ref.sum() : ref.mean();
      await assertClose(fused, (await want.array()) as NestedArray, { atol: 1e-12 });
      fused.sum().backward();
      want.sum().backward();
      await assertClose(a.grad!, (await b.grad!.array()) as NestedArray, { atol: 1e-12 });
    }
  });
  it('an ignoreIndex among the classes still skips its samples (the general path)', async () => {
    const l = crossEntropy(z(), t, { ignoreIndex: 0, reduction: 'none' });
    expect(l.gradNode?.op).not.toBe('softmaxCrossEntropy');
    const v = await l.data();
    expect(v[1]).toBe(0);
    expect(v[0]).toBeCloseTo(0.407605964, 8);
  });
});

describe('bad input', () => {
  it('shape mismatch names the loss and both shapes, with a hint', () => {
    expect(() => mseLoss(randn([4, 1]), randn([4]))).toThrow(/mseLoss: input \[4,1\] and target \[4\] differ — did you mean target.unsqueeze\(-1\)\?/);
  });
  it('a class index out of range is named', () => {
    expect(() => crossEntropy(randn([2, 3]), tensor([1, 3], { dtype: 'int32' }))).toThrow(/target class 3 is out of range \[0, 3\) \(at flat index 1\)/);
  });
  it('float targets of the wrong shape explain both accepted forms', () => {
    expect(() => crossEntropy(randn([2, 3]), tensor([1, 2]))).toThrow(/probability targets must have the input's shape \[2,3\], got \[2\] \(class indices must be int32\)/);
  });
  it('module form and bad options', () => {
    expect(() => new CrossEntropyLoss({ labelSmoothing: 2 }).forward(randn([2, 3]), tensor([0, 1], { dtype: 'int32' }))).toThrow(/labelSmoothing must be in \[0, 1\]/);
    expect(() => huberLoss(randn([2]), randn([2]), { delta: 0 })).toThrow(/delta must be > 0/);
  });
});
