import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '@ml/autograd';
import { Linear, ReLU, Sequential, mseLoss } from '@ml/nn';
import { SGD } from '@ml/optim';
import { fromArray, listBackends, manualSeed, memory, randn, registerBackend, setBackend, tensor, tidy, type Tensor } from '@ml/tensor';
import { CpuBackend } from '@ml/tensor/backend';
import { describe, expect, it } from 'vitest';
import {
  CSVLogger,
  DivergenceError,
  EarlyStopping,
  LambdaCallback,
  LearningRateScheduler,
  ModelCheckpoint,
  TerminateOnNaN,
  compile,
  evaluate,
  fit,
  loadModel,
  optimizerOf,
  predict,
  saveModel,
} from '../src/index.node.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ml-train-'));

/** y = 3x − 1 + noise, 64 samples */
function line(n = 64): { x: Tensor; y: Tensor } {
  manualSeed(0);
  const x = randn([n, 1]);
  const y = x.mul(3).sub(1).add(randn([n, 1]).mul(0.05));
  return { x, y };
}

/** Scripted values for a monitored key, written into the logs before later callbacks run. */
function script(key: string, values: number[]): LambdaCallback {
  return new LambdaCallback({ onEpochEnd: (epoch, logs) => void (logs[key] = values[epoch]) });
}

describe('fit', () => {
  it('fits a line and returns Keras-style History (loss, val_loss, metrics)', async () => {
    const { x, y } = line();
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'sgd', lr: 0.1, loss: 'mse', metrics: ['mae'] });
    const h = await model.fit(x, y, { epochs: 30, batchSize: 16, validationSplit: 0.25, verbose: 0, seed: 1 });
    expect(Object.keys(h.history).sort()).toEqual(['loss', 'mae', 'val_loss', 'val_mae']);
    expect(h.epoch).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(h.history.loss[29]).toBeLessThan(0.01);
    expect(h.history.val_loss[29]).toBeLessThan(0.01);
    expect(model.weight.item()).toBeCloseTo(3, 1);
    expect(model.bias!.item()).toBeCloseTo(-1, 1);
  });

  it('equals a hand-written loop (full batch, no shuffle, plain SGD)', async () => {
    const { x, y } = line(32);
    manualSeed(3);
    const a = new Linear({ inFeatures: 1, outFeatures: 1 });
    manualSeed(3);
    const b = new Linear({ inFeatures: 1, outFeatures: 1 });
    compile(a, { optimizer: (p) => new SGD(p, { lr: 0.05 }), loss: 'mse' });
    await fit(a, x, y, { epochs: 5, batchSize: 32, shuffle: false, verbose: 0 });
    for (let i = 0; i < 5; i++) {
      tidy(() => {
        b.zeroGrad();
        mseLoss(b.forward(x), y).backward();
        noGrad(() => b.parameters().forEach((p) => p.assign(p.sub(p.grad!.mul(0.05)))));
      });
    }
    expect(await a.weight.data()).toEqual(await b.weight.data());
    expect(await a.bias!.data()).toEqual(await b.bias!.data());
  });

  it('accepts batches (any iterable of [x, y]) and validationData', async () => {
    const { x, y } = line(64);
    const batches = [0, 1, 2, 3].map((i) => [x.narrow(0, 16 * i, 16), y.narrow(0, 16 * i, 16)] as const);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'adam', lr: 0.1, loss: 'mse' });
    const h = await model.fit(batches, { epochs: 3, validationData: [x, y], verbose: 0 });
    expect(h.history.val_loss).toHaveLength(3);
  });

  it('evaluate and predict run in eval mode without gradients, in batches', async () => {
    manualSeed(2);
    const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 3 }), new ReLU(), new Linear({ inFeatures: 3, outFeatures: 1 })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = randn([10, 2]);
    const out = await predict(model, x, { batchSize: 3 });
    expect(await out.data()).toEqual(await noGrad(() => model.forward(x)).data());
    expect(out.requiresGrad).toBe(false);
    const logs = await evaluate(model, x, tensor(new Array(10).fill([0])), { batchSize: 4 });
    const want = (await noGrad(() => model.forward(x).square().mean()).data())[0];
    expect(logs.loss).toBeCloseTo(want, 6);
    expect(model.training).toBe(true);
    // one batch holding all of x: predict must not dispose the caller's tensor
    const whole = await predict(model, x, { batchSize: 32 });
    expect(x.isDisposed).toBe(false);
    expect(await whole.data()).toEqual(await out.data());
  });

  it("an unknown or Keras-spelt option is an error naming the closest of ours, not ignored (batch_size trained with batch 32)", async () => {
    const { x, y } = line(16);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'sgd', lr: 0.01, loss: 'mse' });
    await expect(model.fit(x, y, { batch_size: 100, validation_split: 0.2 } as never)).rejects.toThrow(new TypeError("fit: unknown option 'batch_size'; did you mean 'batchSize'?"));
    await expect(fit(model, [[x, y]] as never, { epoch: 2 } as never)).rejects.toThrow(/fit: unknown option 'epoch'; did you mean 'epochs'\?/);
    await expect(model.evaluate(x, y, { batch_size: 4 } as never)).rejects.toThrow(/evaluate: unknown option 'batch_size'; did you mean 'batchSize'\?/);
    await expect(model.predict(x, { batchsize: 4 } as never)).rejects.toThrow(/predict: unknown option 'batchsize'; did you mean 'batchSize'\?/);
    expect(() => compile(model, { optimizer: 'adam', learning_rate: 0.1, loss: 'mse' } as never)).toThrow(/compile: unknown option 'learning_rate'; did you mean 'lr'\?/);
  });

  it('takes plain arrays as Keras takes NumPy arrays: fit, evaluate and predict; integer targets of an index loss become class indices; nothing leaks', async () => {
    manualSeed(5);
    const xs = [[0, 0], [0, 1], [1, 0], [1, 1], [0.1, 0.9], [0.9, 0.1]];
    const model = new Linear({ inFeatures: 2, outFeatures: 2 });
    model.compile({ optimizer: 'adam', lr: 0.1, loss: 'cross_entropy', metrics: ['accuracy'] });
    const h = await model.fit(xs, [0, 1, 1, 1, 1, 1], { epochs: 3, batchSize: 3, verbose: 0 });
    expect(h.epoch).toHaveLength(3);
    const before = memory().numTensors; // after the optimizer made its state
    await model.fit(xs, [0, 1, 1, 1, 1, 1], { epochs: 1, batchSize: 3, verbose: 0 });
    expect((await model.evaluate(xs, [0, 1, 1, 1, 1, 1])).length).toBe(2);
    const p = await model.predict([[1, 2]]);
    expect(p.shape).toEqual([1, 2]);
    p.dispose();
    expect(memory().numTensors).toBe(before);
    const reg = new Linear({ inFeatures: 2, outFeatures: 1 });
    reg.compile({ optimizer: 'sgd', lr: 0.1, loss: 'mse' });
    await expect(predict(reg, ['a', 'b'] as never)).rejects.toThrow(/^predict: x must be a Tensor or nested arrays of numbers, got an array of a string/);
    await expect(fit(reg, xs, { epochs: 1 } as never)).rejects.toThrow(/fit: with x as plain arrays, pass y \(a Tensor or nested arrays\) as the next argument/);
    await expect(fit(reg, [[1, 2], [3]], [[1], [2]])).rejects.toThrow(/^fit: x: /);
  });

  it('classification with cross-entropy and accuracy', async () => {
    manualSeed(4);
    // two blobs: class = x0 > 0
    const x = randn([200, 2]);
    const labels = Int32Array.from(await x.narrow(1, 0, 1).data(), (v) => (v > 0 ? 1 : 0));
    const y = fromArray(labels, [200], { dtype: 'int32' });
    const model = new Linear({ inFeatures: 2, outFeatures: 2 });
    model.compile({ optimizer: 'adam', lr: 0.05, loss: 'cross_entropy', metrics: ['accuracy'] });
    const h = await model.fit(x, y, { epochs: 20, batchSize: 20, verbose: 0, seed: 4 });
    expect(h.history.accuracy.at(-1)).toBeGreaterThan(0.95);
    // Keras's notes: score = model.evaluate(x, y); score[0] is the loss, score[1] the accuracy
    const score = await model.evaluate(x, y);
    expect([score[0], score[1], score.length]).toEqual([score.loss, score.accuracy, 2]);
    const [loss, accuracy] = score;
    expect([loss, accuracy]).toEqual([score.loss, score.accuracy]);
    expect(Object.keys(score)).toEqual(['loss', 'accuracy']);
    expect(JSON.parse(JSON.stringify(score))).toEqual({ loss: score.loss, accuracy: score.accuracy });
  });

  it('memory stays flat across epochs', async () => {
    const { x, y } = line(64);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'adam', loss: 'mse', metrics: ['mse'] });
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    const before = memory().numTensors;
    await model.fit(x, y, { epochs: 10, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    expect(memory().numTensors).toBe(before);
  });

  it('a model on another backend trains on data kept on cpu: each batch is moved over and freed, the same result as on cpu', async () => {
    // a second CPU backend stands in for a GPU (its tensors cannot mix with cpu ones without a move)
    class Device extends CpuBackend {
      override readonly name = 'device-under-test';
    }
    if (!listBackends().includes('device-under-test')) registerBackend(new Device());
    const { x, y } = line(64);
    const run = async (backend: string) => {
      setBackend(backend);
      try {
        manualSeed(5);
        const model = new Sequential([new Linear({ inFeatures: 1, outFeatures: 4 }), new ReLU(), new Linear({ inFeatures: 4, outFeatures: 1 })]);
        model.compile({ optimizer: 'adam', lr: 0.05, loss: 'mse', metrics: ['mae'] });
        const h = await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, seed: 2, validationData: [x, y] });
        const out = await predict(model, x, { batchSize: 10 });
        const logs = await evaluate(model, x, y, { batchSize: 20 });
        expect(out.backend.name).toBe(backend);
        // the moved batches are freed: more epochs leave as many tensors on each backend
        const count = () => Object.values(memory().backends).map((m) => m.numTensors);
        const before = count();
        await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, validationData: [x, y] });
        expect(count()).toEqual(before);
        return { loss: h.history.loss, val: h.history.val_loss, out: Array.from(await out.data()), logs };
      } finally {
        setBackend('cpu');
      }
    };
    expect(await run('device-under-test')).toEqual(await run('cpu'));
  });

  it('memory stays flat across epochs with class metrics on logits (the argmax they read is freed)', async () => {
    manualSeed(6);
    const x = randn([96, 3]);
    const y = fromArray(Int32Array.from(await x.narrow(1, 0, 1).data(), (v) => (v > 0 ? 1 : 0)), [96], { dtype: 'int32' });
    const model = new Linear({ inFeatures: 3, outFeatures: 2 });
    model.compile({ optimizer: 'adam', loss: 'cross_entropy', metrics: ['accuracy', 'precision', 'f1'] });
    await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, validationSplit: 0.25 });
    const before = memory().numTensors;
    await model.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0, validationSplit: 0.25 });
    await model.evaluate(x, y);
    expect(memory().numTensors).toBe(before);
  });

  it('bad usage gets clear errors', async () => {
    const { x, y } = line(8);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    await expect(fit(model, x, y)).rejects.toThrow(/fit: call compile\(model, \{ optimizer, loss, metrics \}\) first/);
    expect(() => compile(model, { optimizer: 'sgd', loss: 'hinge' as 'mse' })).toThrow(/unknown loss 'hinge'/);
    expect(() => compile(model, { optimizer: 'lbfgs' as 'sgd', loss: 'mse' })).toThrow(/unknown optimizer 'lbfgs'/);
    // Keras's spellings of the names work, in any case
    for (const [name, cls] of [['Adam', 'Adam'], ['SGD', 'SGD'], ['RMSprop', 'RMSprop'], ['AdamW', 'AdamW'], ['Adagrad', 'Adagrad']] as const) {
      expect(optimizerOf(compile(new Linear({ inFeatures: 1, outFeatures: 1 }), { optimizer: name, loss: 'mse' })).constructor.name).toBe(cls);
    }
    expect(() => compile(model, { optimizer: 'toString' as 'sgd', loss: 'mse' })).toThrow(/unknown optimizer 'toString'/);
    expect(() => compile(model, { optimizer: 'sgd', loss: 'mse', metrics: ['auc' as 'mae'] })).toThrow(/unknown metric 'auc'/);
    compile(model, { optimizer: 'sgd', loss: 'mse' });
    await expect(fit(model, x, y.narrow(0, 0, 4), { verbose: 0 })).rejects.toThrow(/x \[8,1\] and y \[4,1\] have different numbers of samples/);
    await expect(fit(model, x, y, { validationSplit: 1.5, verbose: 0 })).rejects.toThrow(/validationSplit must be in \(0, 1\)/);
    await expect(fit(model, x, y, { epochs: 0, verbose: 0 })).rejects.toThrow(/epochs must be a positive integer/);
  });
});

describe('callbacks', () => {
  const setup = () => {
    const { x, y } = line(32);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'sgd', lr: 0.01, loss: 'mse' });
    return { x, y, model };
  };

  it('EarlyStopping stops after `patience` epochs without improvement beyond minDelta', async () => {
    const { x, y, model } = setup();
    const es = new EarlyStopping({ monitor: 'val_loss', patience: 2, minDelta: 0.01 });
    // best at epoch 1 (0.5); 0.495 is not better by 0.01; epochs 2, 3 wait; stop after epoch 3
    const h = await model.fit(x, y, { epochs: 10, verbose: 0, callbacks: [script('val_loss', [1, 0.5, 0.495, 0.6, 0.1]), es] });
    expect(h.epoch).toEqual([0, 1, 2, 3]);
    expect(es.bestEpoch).toBe(1);
    expect(es.stoppedEpoch).toBe(3);
  });

  it('EarlyStopping restores the best weights', async () => {
    const { x, y, model } = setup();
    let bestW = NaN;
    const record = new LambdaCallback({ onEpochEnd: (e) => void (e === 1 && (bestW = model.weight.item())) });
    await model.fit(x, y, { epochs: 10, verbose: 0, callbacks: [record, script('val_loss', [3, 1, 2, 2, 2]), new EarlyStopping({ patience: 1, restoreBestWeights: true })] });
    expect(model.weight.item()).toBe(bestW);
  });

  it("EarlyStopping maximizes accuracy-like metrics in 'auto' mode", () => {
    expect(new EarlyStopping({ monitor: 'val_accuracy' }).mode).toBe('max');
    expect(new EarlyStopping({ monitor: 'val_loss' }).mode).toBe('min');
  });

  it('LearningRateScheduler sets the lr each epoch from (epoch, lr)', async () => {
    const { x, y, model } = setup();
    const seen: number[] = [];
    const spy = new LambdaCallback({ onEpochBegin: (_e, ctx) => void seen.push(ctx.paramGroups[0].lr) });
    await model.fit(x, y, { epochs: 4, verbose: 0, callbacks: [new LearningRateScheduler((epoch, lr) => (epoch === 0 ? 0.1 : lr / 2)), spy] });
    expect(seen).toEqual([0.1, 0.05, 0.025, 0.0125]);
    expect(optimizerOf(model).paramGroups[0].lr).toBe(0.0125);
  });

  it('ModelCheckpoint with saveBestOnly writes only on improvement', async () => {
    const { x, y, model } = setup();
    const dir = tmp();
    const saved: number[] = [];
    const spy = new LambdaCallback({ onEpochEnd: (e) => void (existsSync(join(dir, `w${e + 1}.safetensors`)) && saved.push(e)) });
    await model.fit(x, y, { epochs: 4, verbose: 0, callbacks: [script('val_loss', [2, 3, 1, 1]), new ModelCheckpoint(join(dir, 'w{epoch}.safetensors'), { saveBestOnly: true }), spy] });
    expect(saved).toEqual([0, 2]);
  });

  it('CSVLogger writes a header and one row per epoch', async () => {
    const { x, y, model } = setup();
    const path = join(tmp(), 'log.csv');
    await model.fit(x, y, { epochs: 3, verbose: 0, validationSplit: 0.25, callbacks: [new CSVLogger(path)] });
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('epoch,loss,val_loss');
    expect(lines).toHaveLength(4);
    expect(lines[3].startsWith('2,')).toBe(true);
  });

  it('a loss that becomes NaN or infinite stops fit with a DivergenceError naming the epoch and batch, not 50 epochs of NaN', async () => {
    const { x, y } = line(32);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'sgd', lr: 1e6, loss: 'mse' });
    const err = await model.fit(x, y, { epochs: 50, batchSize: 4, verbose: 0 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DivergenceError);
    const d = err as DivergenceError;
    expect(d.message).toMatch(/^fit: the loss became (NaN|Infinity) at epoch \d+, batch \d+; training stopped .*Lower the learning rate/);
    expect(Number.isFinite(d.loss)).toBe(false);
    expect(d.history.epoch.length).toBe(d.epoch);
    // non-finite data: the first batch
    const fresh = new Linear({ inFeatures: 1, outFeatures: 1 });
    fresh.compile({ optimizer: 'sgd', lr: 0.01, loss: 'mse' });
    const bad = await fit(fresh, tensor([[1], [Infinity]]), tensor([[1], [2]]), { verbose: 0, batchSize: 2 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DivergenceError);
    expect((bad as DivergenceError).batch).toBe(0);
  });

  it('TerminateOnNaN stops when the loss diverges', async () => {
    const { x, y } = line(32);
    const model = new Linear({ inFeatures: 1, outFeatures: 1 });
    model.compile({ optimizer: 'sgd', lr: 1e6, loss: 'mse' });
    const h = await model.fit(x, y, { epochs: 50, batchSize: 4, verbose: 0, callbacks: [new TerminateOnNaN()] });
    expect(h.epoch.length).toBeLessThan(50);
  });
});

describe('saveModel / loadModel', () => {
  const make = () => {
    manualSeed(7);
    return new Sequential([new Linear({ inFeatures: 1, outFeatures: 8 }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 1 })]);
  };

  it('resuming from a checkpoint continues the same loss curve (weights + Adam state)', async () => {
    const { x, y } = line(32);
    const a = make();
    a.compile({ optimizer: 'adam', lr: 0.01, loss: 'mse' });
    const opts = { batchSize: 8, shuffle: false, verbose: 0 as const };
    await a.fit(x, y, { ...opts, epochs: 3 });
    const dir = join(tmp(), 'ckpt');
    await a.save(dir);
    const cont = await a.fit(x, y, { ...opts, epochs: 3 });
    const b = await loadModel(dir);
    const resumed = await b.fit(x, y, { ...opts, epochs: 3 });
    expect(resumed.history.loss).toEqual(cont.history.loss);
  });

  it('an interrupted save leaves the previous checkpoint loadable', async () => {
    const { x, y } = line(16);
    const a = make();
    a.compile({ optimizer: 'sgd', loss: 'mse' });
    const dir = join(tmp(), 'ckpt');
    await saveModel(a, dir);
    const w = await a.stateDict()['0.weight'].data();
    // a crash after the old directory was moved aside and before the new one was moved in
    renameSync(dir, `${dir}.prev`);
    const b = await loadModel(dir);
    expect(await b.stateDict()['0.weight'].data()).toEqual(w);
    await a.fit(x, y, { epochs: 1, verbose: 0 });
    await saveModel(a, dir); // a later save cleans up
    expect(existsSync(`${dir}.prev`)).toBe(false);
  });

  it('a corrupt weights file is rejected with a message', async () => {
    const a = make();
    const dir = join(tmp(), 'ckpt');
    await saveModel(a, dir);
    const f = join(dir, 'model.safetensors');
    writeFileSync(f, readFileSync(f).subarray(0, 40));
    await expect(loadModel(dir)).rejects.toThrow(/safetensors:/);
    await expect(loadModel(join(tmp(), 'nothing'))).rejects.toThrow(/no saved model in .*nothing \(missing config.json\)/);
  });
});
