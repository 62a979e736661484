import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryCrossentropy, CrossEntropyLoss, Dense, Linear, ReLU, Sequential, SparseCategoricalCrossentropy, isBuilt } from '@ml/nn';
import { eye, manualSeed, randn, tensor, zeros, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  Accuracy,
  CSVLogger,
  EarlyStopping,
  F1Score,
  LambdaCallback,
  LearningRateScheduler,
  ModelCheckpoint,
  Precision,
  compile,
  evaluate,
  fit,
  getMetric,
  loadModel,
  modelToBytes,
  optimizerOf,
  predict,
  saveModel,
  type LossName,
} from '../src/index.node.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ml-train-keras-'));

/** A model that returns its input: Linear with W = I, b = 0 (so evaluate's loss is the loss of x itself). */
function identity(n: number): Linear {
  const m = new Linear({ inFeatures: n, outFeatures: n });
  m.loadStateDict({ weight: eye(n), bias: zeros([n]) });
  return m;
}

// independent numbers: probabilities P of logits Z, two samples of 3 classes
const Z = [[2, 1, 0.1], [0.5, 2.5, -1]];
const P = Z.map((r) => {
  const s = r.reduce((a, z) => a + Math.exp(z), 0);
  return r.map((z) => Math.exp(z) / s);
});
const LABELS = [0, 2];
const ceOf = (p: number[][]) => -(Math.log(p[0][LABELS[0]]) + Math.log(p[1][LABELS[1]])) / 2;

describe('compile: Keras loss names, any case', () => {
  const cases: [string, () => Tensor, number][] = [
    ['sparse_categorical_crossentropy', () => tensor(P), ceOf(P)],
    ['SPARSE_CATEGORICAL_CROSSENTROPY', () => tensor(P), ceOf(P)],
    ['SparseCategoricalCrossentropy', () => tensor(P), ceOf(P)],
    ['cross_entropy', () => tensor(Z), ceOf(P)],
  ];
  for (const [name, x, want] of cases) {
    it(`'${name}' reads ${name.toLowerCase().includes('sparse') ? 'probabilities' : 'logits'}: loss ${want.toFixed(4)}`, async () => {
      const m = identity(3);
      compile(m, { optimizer: 'sgd', loss: name as LossName });
      const score = await evaluate(m, x(), tensor(LABELS, { dtype: 'int32' }));
      expect(score.loss).toBeCloseTo(want, 5);
    });
  }
  it("{ name, fromLogits: true } reads logits; so does a Keras loss class with fromLogits", async () => {
    const m = identity(3);
    compile(m, { optimizer: 'adam', loss: { name: 'sparse_categorical_crossentropy', fromLogits: true } });
    expect((await evaluate(m, tensor(Z), tensor(LABELS, { dtype: 'int32' }))).loss).toBeCloseTo(ceOf(P), 5);
    compile(m, { optimizer: 'adam', loss: new SparseCategoricalCrossentropy({ fromLogits: true }) });
    expect((await evaluate(m, tensor(Z), tensor(LABELS, { dtype: 'int32' }))).loss).toBeCloseTo(ceOf(P), 5);
  });
  it('plain-array integer labels become class indices for the index losses, given in any spelling', async () => {
    const m = identity(3);
    compile(m, { optimizer: 'sgd', loss: { name: 'Sparse_Categorical_Crossentropy' as LossName, fromLogits: true } });
    expect((await evaluate(m, Z, LABELS)).loss).toBeCloseTo(ceOf(P), 5);
  });
  it("'mse', 'MSE', 'mean_squared_error', 'mae', 'huber' on values", async () => {
    const m = identity(1);
    const x = tensor([[0.5], [-1], [2]]);
    const y = tensor([[1], [0.5], [-1]]); // differences −0.5, −1.5, 3
    for (const [loss, want] of [['MSE', 11.5 / 3], ['mean_squared_error', 11.5 / 3], ['Mae', 5 / 3], ['huber', 3.625 / 3]] as const) {
      compile(m, { optimizer: 'sgd', loss: loss as LossName });
      expect((await evaluate(m, x, y)).loss, loss).toBeCloseTo(want, 5);
    }
  });
  it('binary cross-entropy: probabilities by name, logits with fromLogits, and the accuracy threshold follows (0.5, then 0)', async () => {
    const m = identity(1);
    const probs = tensor([[0.8], [0.3], [0.6]]);
    const y = tensor([[1], [0], [0]]);
    const want = -(Math.log(0.8) + Math.log(0.7) + Math.log(0.4)) / 3;
    compile(m, { optimizer: 'sgd', loss: 'binary_crossentropy', metrics: ['ACC' as never] });
    let s = await evaluate(m, probs, y);
    expect(s.loss).toBeCloseTo(want, 5);
    expect(s.acc).toBeCloseTo(2 / 3, 10); // 0.8 → 1 ✓, 0.3 → 0 ✓, 0.6 → 1 ✗
    const logits = tensor([[Math.log(4)], [Math.log(0.3 / 0.7)], [Math.log(1.5)]]);
    compile(m, { optimizer: 'sgd', loss: new BinaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    s = await evaluate(m, logits, y);
    expect(s.loss).toBeCloseTo(want, 5);
    expect(s.accuracy).toBeCloseTo(2 / 3, 10);
    compile(m, { optimizer: 'sgd', loss: { name: 'binary_crossentropy', fromLogits: true }, metrics: ['Binary_Accuracy' as never] });
    s = await evaluate(m, logits, y);
    expect(s.binary_accuracy).toBeCloseTo(2 / 3, 10);
  });
  it("a PyTorch loss module reading logits sets the threshold to 0 as 'cross_entropy' does", async () => {
    const m = identity(1);
    compile(m, { optimizer: 'sgd', loss: new CrossEntropyLoss(), metrics: ['acc'] });
    // one logit per sample against a float target of the same shape: thresholded at 0
    const s = await evaluate(m, tensor([[0.2], [-0.1], [-3]]), tensor([[1], [1], [0]]));
    expect(s.acc).toBeCloseTo(2 / 3, 10);
  });
  it("'acc', 'Accuracy' and 'accuracy' are one metric; logs keep Keras's key", async () => {
    const m = identity(3);
    compile(m, { optimizer: 'sgd', loss: 'cross_entropy', metrics: ['acc', 'Accuracy' as never] });
    const s = await evaluate(m, tensor(Z), tensor(LABELS, { dtype: 'int32' }));
    expect(s.acc).toBe(0.5); // argmax [0, 1] vs labels [0, 2]
    expect(s.accuracy).toBe(0.5);
    expect(Object.keys(s)).toEqual(['loss', 'acc', 'accuracy']);
  });
  it("'mean_absolute_error' and 'RMSE' are the regression metrics 'mae' and 'rmse'", async () => {
    const m = identity(1);
    compile(m, { optimizer: 'sgd', loss: 'mse', metrics: ['mean_absolute_error', 'RMSE' as never] });
    const s = await evaluate(m, tensor([[0.5], [-1], [2]]), tensor([[1], [0.5], [-1]]));
    expect(s.mae).toBeCloseTo(5 / 3, 6);
    expect(s.rmse).toBeCloseTo(Math.sqrt(11.5 / 3), 6);
  });
  it('unknown names say the closest valid one', () => {
    const m = identity(1);
    expect(() => compile(m, { optimizer: 'sgd', loss: 'mean_squared_eror' as LossName })).toThrow(/compile: unknown loss 'mean_squared_eror'; did you mean 'mean_squared_error'\?/);
    expect(() => compile(m, { optimizer: 'sgd', loss: 'binary_crossentropy_from_logits' as LossName })).toThrow(/pass \{ name: 'binary_crossentropy', fromLogits: true \}/);
    expect(() => compile(m, { optimizer: 'sgd', loss: 'mse', metrics: ['acuracy' as never] })).toThrow(/unknown metric 'acuracy'; did you mean 'accuracy'\?/);
    expect(() => compile(m, { optimizer: 'adma' as never, loss: 'mse' })).toThrow(/unknown optimizer 'adma'; did you mean 'adam'\?/);
    expect(() => compile(m, { optimizer: 'sgd', loss: { name: 'mse', from_logits: true } as never })).toThrow(/compile: loss: unknown option 'from_logits'; did you mean 'fromLogits'\?/);
    expect(() => compile(m, { optimizer: 'sgd', loss: { name: 'mse', fromLogits: true } })).toThrow(/'mse' reads values; it takes no fromLogits/);
  });
});

describe('compile: saving the loss by name', () => {
  it('{ name, fromLogits } survives a save and load; the loaded model computes the same loss', async () => {
    const m = identity(3);
    compile(m, { optimizer: 'adam', loss: { name: 'sparse_categorical_crossentropy', fromLogits: true }, metrics: ['acc'] });
    const dir = tmp();
    await saveModel(m, dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { compile: { loss: unknown } };
    expect(config.compile.loss).toEqual({ name: 'sparse_categorical_crossentropy', fromLogits: true });
    const back = await loadModel(dir);
    expect((await evaluate(back, tensor(Z), tensor(LABELS, { dtype: 'int32' }))).loss).toBeCloseTo(ceOf(P), 5);
  });
  it("a name given in another case is saved in the table's spelling", async () => {
    const m = identity(1);
    compile(m, { optimizer: 'sgd', loss: 'MSE' as LossName });
    const a = await modelToBytes(m);
    expect((JSON.parse(new TextDecoder().decode(a.config)) as { compile: { loss: unknown } }).compile.loss).toBe('mse');
  });
  it('an earlier save with a *_from_logits name still loads, as { name, fromLogits: true }', async () => {
    const m = identity(3);
    compile(m, { optimizer: 'sgd', loss: { name: 'sparse_categorical_crossentropy', fromLogits: true } });
    const dir = tmp();
    await saveModel(m, dir);
    const file = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { compile: { loss: unknown } };
    config.compile.loss = 'sparse_categorical_crossentropy_from_logits';
    writeFileSync(file, JSON.stringify(config));
    const back = await loadModel(dir);
    expect((await evaluate(back, tensor(Z), tensor(LABELS, { dtype: 'int32' }))).loss).toBeCloseTo(ceOf(P), 5);
  });
});

describe('lazy models: compile before the weights exist', () => {
  const data = () => {
    manualSeed(3);
    const x = randn([64, 4]);
    const y = x.narrow(1, 0, 1).mul(2).sub(x.narrow(1, 1, 1)); // y = 2x₀ − x₁
    return { x, y };
  };
  it('optimizerOf throws until fit builds the model at its first batch', async () => {
    manualSeed(1);
    const model = new Sequential([new Dense(16), new ReLU(), new Dense(1)]);
    compile(model, { optimizer: 'adam', lr: 0.01, loss: 'mse' });
    expect(isBuilt(model)).toBe(false);
    expect(() => optimizerOf(model)).toThrow(/lazy layers without weights yet; its optimizer is made at the first batch of fit/);
    const { x, y } = data();
    const h = await fit(model, x, y, { epochs: 40, batchSize: 16, verbose: 0, seed: 0 });
    expect(isBuilt(model)).toBe(true);
    expect(model.parameters().map((p) => p.shape)).toEqual([[16, 4], [16], [1, 16], [1]]);
    expect(optimizerOf(model).paramGroups[0].params.length).toBe(4);
    expect(h.history.loss[39]).toBeLessThan(h.history.loss[0] / 20);
  });
  it('with batches from a one-shot iterable, the batch used to build is trained on too', async () => {
    const model = new Sequential([new Dense(3)]);
    compile(model, { optimizer: 'sgd', loss: 'mse' });
    const { x, y } = data();
    function* batches(): Generator<[Tensor, Tensor]> {
      for (let i = 0; i < 4; i++) yield [x.narrow(0, i * 16, 16), y.narrow(0, i * 16, 16).expand([16, 3])];
    }
    let seen = 0;
    await fit(model, batches(), { verbose: 0, callbacks: [new LambdaCallback({ onBatchEnd: () => void seen++ })] });
    expect(seen).toBe(4);
    expect(isBuilt(model)).toBe(true);
  });
  it('evaluate and predict build a lazy model first', async () => {
    const { x, y } = data();
    const a = new Sequential([new Dense(1)]);
    compile(a, { optimizer: 'sgd', loss: 'mse' });
    const s = await evaluate(a, x, y);
    expect(Number.isFinite(s.loss)).toBe(true);
    expect(isBuilt(a)).toBe(true);
    const b = new Sequential([new Dense(2)]);
    const out = await predict(b, x, { batchSize: 10 });
    expect(out.shape).toEqual([64, 2]);
  });
});

describe('@ml/train options never fail silently', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['EarlyStopping', () => new EarlyStopping({ min_delta: 0.1 } as never), /EarlyStopping: unknown option 'min_delta'; did you mean 'minDelta'\?/],
    ['EarlyStopping restore', () => new EarlyStopping({ restore_best_weights: true } as never), /did you mean 'restoreBestWeights'\?/],
    ['ModelCheckpoint', () => new ModelCheckpoint('w.safetensors', { save_best_only: true } as never), /ModelCheckpoint: unknown option 'save_best_only'; did you mean 'saveBestOnly'\?/],
    ['CSVLogger', () => new CSVLogger('log.csv', { separator: ';' } as never), /CSVLogger: unknown option 'separator'/],
    ['LambdaCallback', () => new LambdaCallback({ on_epoch_end: () => undefined } as never), /LambdaCallback: unknown option 'on_epoch_end'; did you mean 'onEpochEnd'\?/],
    ['LearningRateScheduler', () => new LearningRateScheduler((_e, lr) => lr, { verbose: 1 } as never), /LearningRateScheduler: unknown option 'verbose'/],
    ['Accuracy', () => new Accuracy({ treshold: 0 } as never), /Accuracy: unknown option 'treshold'; did you mean 'threshold'\?/],
    ['Precision', () => new Precision({ num_classes: 3 } as never), /Precision: unknown option 'num_classes'; did you mean 'numClasses'\?/],
    ['F1Score', () => new F1Score({ averaging: 'macro' } as never), /F1Score: unknown option 'averaging'; did you mean 'average'\?/],
    ['getMetric', () => getMetric('acc', { from_logits: true } as never), /getMetric: unknown option 'from_logits'; did you mean 'fromLogits'\?/],
  ];
  for (const [name, f, msg] of cases) it(`${name} rejects an unknown key`, () => expect(f).toThrow(msg));
  it('saveModel, loadModel and modelToBytes reject unknown keys', async () => {
    const m = identity(1);
    await expect(saveModel(m, tmp(), { include_optimizer: false } as never)).rejects.toThrow(/saveModel: unknown option 'include_optimizer'/);
    await expect(loadModel(tmp(), { compiled: true } as never)).rejects.toThrow(/loadModel: unknown option 'compiled'; did you mean 'compile'\?/);
    await expect(modelToBytes(m, { file: {} } as never)).rejects.toThrow(/modelToBytes: unknown option 'file'; did you mean 'files'\?/);
  });
});

describe('README: Keras names and a lazy model', () => {
  it('a lazy Sequential compiled with Keras names learns the four points', async () => {
    manualSeed(0);
    const model = new Sequential([new Dense(8, { activation: 'relu' }), new Dense(3, { activation: 'softmax' })]);
    model.compile({ optimizer: 'Adam', lr: 0.05, loss: 'sparse_categorical_crossentropy', metrics: ['acc'] });
    const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const y = tensor([0, 1, 1, 2], { dtype: 'int32' });
    const history = await model.fit(x, y, { epochs: 200, batchSize: 4, verbose: 0 });
    expect(history.history.acc.at(-1)).toBe(1);
  });
});
