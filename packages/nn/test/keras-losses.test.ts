import { readFileSync } from 'node:fs';
import { gradcheck } from '@ml/autograd';
import { tensor, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  BCELoss,
  BCEWithLogitsLoss,
  BinaryCrossentropy,
  CategoricalCrossentropy,
  CrossEntropyLoss,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  LOSS_NAMES,
  MSELoss,
  NLLLoss,
  SparseCategoricalCrossentropy,
  binaryCrossEntropy,
  binaryCrossentropy,
  categoricalCrossentropy,
  crossEntropy,
  huberLoss,
  klDiv,
  l1Loss,
  lossByName,
  mseLoss,
  nllLoss,
  smoothL1Loss,
  sparseCategoricalCrossentropy,
  sseLoss,
} from '../src/index.js';
import * as nn from '../src/index.js';

const f64 = (v: number[][] | number[]): Tensor => tensor(v, { dtype: 'float64' });
const idx = (v: number[]): Tensor => tensor(v, { dtype: 'int32' });

// independent numbers: logits z = [2, 1, 0.1], softmax p = e^z / Σ e^z
const Z = [2, 1, 0.1];
const S = Z.reduce((a, z) => a + Math.exp(z), 0);
const P = Z.map((z) => Math.exp(z) / S);

describe('Keras spellings read probabilities unless fromLogits', () => {
  it('sparseCategoricalCrossentropy: −log p[y] of probabilities; of softmax(logits) with fromLogits', async () => {
    await assertClose(sparseCategoricalCrossentropy(f64([P]), idx([1])), -Math.log(P[1]), { atol: 1e-12 });
    await assertClose(sparseCategoricalCrossentropy(f64([Z]), idx([1]), { fromLogits: true }), -Math.log(P[1]), { atol: 1e-12 });
    await assertClose(new SparseCategoricalCrossentropy().forward(f64([P]), idx([1])), -Math.log(P[1]), { atol: 1e-12 });
    await assertClose(new SparseCategoricalCrossentropy({ fromLogits: true }).forward(f64([Z]), idx([1])), -Math.log(P[1]), { atol: 1e-12 });
  });
  it('categoricalCrossentropy: −Σ y log p, with label smoothing (1 − ε)y + ε/C', async () => {
    const y = [0, 0, 1];
    await assertClose(categoricalCrossentropy(f64([P]), f64([y])), -Math.log(P[2]), { atol: 1e-12 });
    const eps = 0.3;
    const ys = y.map((v) => (1 - eps) * v + eps / 3);
    const want = -ys.reduce((a, v, i) => a + v * Math.log(P[i]), 0);
    await assertClose(new CategoricalCrossentropy({ fromLogits: true, labelSmoothing: eps }).forward(f64([Z]), f64([y])), want, { atol: 1e-12 });
  });
  it('binaryCrossentropy: −[y log p + (1 − y) log(1 − p)], smoothing towards ½', async () => {
    const p = [0.9, 0.2];
    const y = [1, 0];
    const bce = (yy: number[]) => -(yy[0] * Math.log(p[0]) + (1 - yy[0]) * Math.log(1 - p[0]) + yy[1] * Math.log(p[1]) + (1 - yy[1]) * Math.log(1 - p[1])) / 2;
    await assertClose(binaryCrossentropy(f64(p), f64(y)), bce(y), { atol: 1e-12 });
    const logits = p.map((q) => Math.log(q / (1 - q)));
    await assertClose(new BinaryCrossentropy({ fromLogits: true }).forward(f64(logits), f64(y)), bce(y), { atol: 1e-12 });
    await assertClose(binaryCrossentropy(f64(p), f64(y), { labelSmoothing: 0.2 }), bce([0.9, 0.1]), { atol: 1e-12 });
  });
  it('pass gradcheck in both modes', () => {
    gradcheck((x: Tensor) => sparseCategoricalCrossentropy(x.softmax(1), idx([0, 2])), [f64([[0.3, -1, 2], [1, 0.5, -0.2]])]);
    gradcheck((x: Tensor) => categoricalCrossentropy(x, f64([[0, 1, 0], [0.5, 0.5, 0]]), { fromLogits: true, labelSmoothing: 0.1 }), [f64([[0.3, -1, 2], [1, 0.5, -0.2]])]);
    gradcheck((x: Tensor) => binaryCrossentropy(x, f64([1, 0, 1]), { fromLogits: true, labelSmoothing: 0.1 }), [f64([0.3, -1, 2])]);
  });
  it('the classes say what they read', () => {
    expect(new SparseCategoricalCrossentropy().inputKind).toBe('probabilities');
    expect(new SparseCategoricalCrossentropy({ fromLogits: true }).inputKind).toBe('logits');
    expect(new CrossEntropyLoss().inputKind).toBe('logits');
    expect(new BCELoss().inputKind).toBe('probabilities');
    expect(new BCEWithLogitsLoss().inputKind).toBe('logits');
    expect(new NLLLoss().inputKind).toBe('log-probabilities');
    expect(new MSELoss().inputKind).toBe('values');
  });
});

describe('one name per meaning', () => {
  it('has no second spelling of l1Loss / L1Loss', () => {
    expect('maeLoss' in nn).toBe(false);
    expect('MAELoss' in nn).toBe(false);
  });
  it('every compile name gives its function, with the same default as the function', async () => {
    const reg = [f64([0.5, -1, 2]), f64([1, 0.5, -1])] as const;
    // differences −0.5, −1.5, 3
    await assertClose(lossByName('mse')(...reg), (0.25 + 2.25 + 9) / 3, { atol: 1e-12 });
    await assertClose(lossByName('mean_absolute_error')(...reg), 5 / 3, { atol: 1e-12 });
    await assertClose(lossByName('huber')(...reg), (0.125 + 1 + 2.5) / 3, { atol: 1e-12 });
    await assertClose(lossByName('sparse_categorical_crossentropy')(f64([P]), idx([0])), -Math.log(P[0]), { atol: 1e-12 });
    await assertClose(lossByName('sparse_categorical_crossentropy', { fromLogits: true })(f64([Z]), idx([0])), -Math.log(P[0]), { atol: 1e-12 });
    await assertClose(lossByName('categorical_crossentropy')(f64([P]), f64([[0, 1, 0]])), -Math.log(P[1]), { atol: 1e-12 });
    await assertClose(lossByName('binary_crossentropy')(f64([0.8]), f64([1])), -Math.log(0.8), { atol: 1e-12 });
    await assertClose(lossByName('cross_entropy')(f64([Z]), idx([2])), -Math.log(P[2]), { atol: 1e-12 });
    await assertClose(lossByName('nll')(f64([P.map(Math.log)]), idx([2])), -Math.log(P[2]), { atol: 1e-12 });
  });
  it('takes any case and Keras class spellings', () => {
    expect(() => lossByName('MSE')).not.toThrow();
    expect(() => lossByName('SparseCategoricalCrossentropy')).not.toThrow();
    expect(() => lossByName('Binary_Crossentropy')).not.toThrow();
  });
  it('names the closest loss for a typo, and the object form for a *_from_logits name', () => {
    expect(() => lossByName('sparse_categorical_crossentropyy')).toThrow(/did you mean 'sparse_categorical_crossentropy'\?/);
    expect(() => lossByName('binary_crossentropy_from_logits')).toThrow(/pass \{ name: 'binary_crossentropy', fromLogits: true \}/);
    expect(() => lossByName('mse', { fromLogits: true })).toThrow(/'mse' reads values; it takes no fromLogits/);
  });
});

describe('loss options never fail silently', () => {
  const x = f64([0.2, 0.7]);
  const y = f64([0, 1]);
  const cases: [string, () => unknown, RegExp][] = [
    ['mseLoss', () => mseLoss(x, y, { reduce: 'sum' } as never), /mseLoss: unknown option 'reduce'; did you mean 'reduction'\?/],
    ['sseLoss', () => sseLoss(x, y, { reductions: 'sum' } as never), /sseLoss: unknown option 'reductions'; did you mean 'reduction'\?/],
    ['l1Loss', () => l1Loss(x, y, { size_average: true } as never), /l1Loss: unknown option 'size_average'; did you mean 'reduction'\?/],
    ['huberLoss', () => huberLoss(x, y, { beta: 1 } as never), /huberLoss: unknown option 'beta'/],
    ['smoothL1Loss', () => smoothL1Loss(x, y, { delta: 1 } as never), /smoothL1Loss: unknown option 'delta'/],
    ['binaryCrossEntropy', () => binaryCrossEntropy(x, y, { from_logits: true } as never), /binaryCrossEntropy: unknown option 'from_logits'/],
    ['crossEntropy', () => crossEntropy(f64([Z]), idx([0]), { label_smoothing: 0.1 } as never), /crossEntropy: unknown option 'label_smoothing'; did you mean 'labelSmoothing'\?/],
    ['crossEntropy fromLogits', () => crossEntropy(f64([Z]), idx([0]), { fromLogits: true } as never), /crossEntropy: unknown option 'fromLogits'/],
    ['nllLoss', () => nllLoss(f64([Z]), idx([0]), { labelSmoothing: 0.1 } as never), /nllLoss: unknown option 'labelSmoothing'/],
    ['klDiv', () => klDiv(x, y, { log_target: true } as never), /klDiv: unknown option 'log_target'; did you mean 'logTarget'\?/],
    ['sparseCategoricalCrossentropy', () => sparseCategoricalCrossentropy(f64([P]), idx([0]), { from_logits: true } as never), /sparseCategoricalCrossentropy: unknown option 'from_logits'; did you mean 'fromLogits'\?/],
    ['categoricalCrossentropy', () => categoricalCrossentropy(f64([P]), f64([[1, 0, 0]]), { axis: -1 } as never), /categoricalCrossentropy: unknown option 'axis'/],
    ['binaryCrossentropy', () => binaryCrossentropy(x, y, { fromlogits: true } as never), /binaryCrossentropy: unknown option 'fromlogits'; did you mean 'fromLogits'\?/],
    ['MSELoss', () => new MSELoss({ reduce: 'sum' } as never), /MSELoss: unknown option 'reduce'/],
    ['L1Loss', () => new L1Loss({ delta: 1 } as never), /L1Loss: unknown option 'delta'/],
    ['HuberLoss', () => new HuberLoss({ reductio: 'sum' } as never), /HuberLoss: unknown option 'reductio'; did you mean 'reduction'\?/],
    ['CrossEntropyLoss', () => new CrossEntropyLoss({ ignore_index: 0 } as never), /CrossEntropyLoss: unknown option 'ignore_index'; did you mean 'ignoreIndex'\?/],
    ['KLDivLoss', () => new KLDivLoss({ logtarget: true } as never), /KLDivLoss: unknown option 'logtarget'/],
    ['BinaryCrossentropy', () => new BinaryCrossentropy({ from_logits: true } as never), /BinaryCrossentropy: unknown option 'from_logits'; did you mean 'fromLogits'\?/],
  ];
  for (const [name, f, msg] of cases) it(`${name} rejects an unknown key`, () => expect(f).toThrow(msg));
  it('a loss module passes its options but not its name to the function', async () => {
    await assertClose(new MSELoss({ name: 'my_loss', reduction: 'sum' }).forward(x, y), 0.2 ** 2 + 0.3 ** 2, { atol: 1e-12 });
  });
});

describe('README: the loss tables', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  it('lists every compile name with its vocabulary, input and function', () => {
    for (const [name, e] of Object.entries(LOSS_NAMES)) {
      const row = readme.split('\n').find((l) => l.startsWith('|') && l.includes(`\`'${name}'\``));
      expect(row, name).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(cells[2], name).toBe(e.vocabulary === 'keras' ? 'Keras' : 'PyTorch');
      expect(cells[3], name).toBe(e.input);
      expect(cells[4], name).toBe(e.takesFromLogits ? 'yes' : 'no');
      expect(cells[5], name).toBe(`\`${e.fn}\``);
    }
  });
  it("the example's three numbers", async () => {
    const logits = tensor([[2, 1, 0.1]]);
    const label = idx([0]);
    for (const l of [crossEntropy(logits, label), sparseCategoricalCrossentropy(logits.softmax(1), label), sparseCategoricalCrossentropy(logits, label, { fromLogits: true })]) {
      expect(l.item().toFixed(3)).toBe('0.417');
    }
  });
});
