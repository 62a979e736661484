// The README's example, line for line; what it prints is asserted here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, ReLU, Sequential } from '@ml/nn';
import { manualSeed, randn } from '@ml/tensor';
import { expect, it } from 'vitest';
import { checkSaveTarget, EarlyStopping, loadModel, readSavedFile, saveModel } from '../src/index.node.js';

it('README: two classes of points — compile, fit with a validation split and early stopping, evaluate, predict, save and load', async () => {
  const log: string[] = [];
  const dir = join(mkdtempSync(join(tmpdir(), 'ml-train-readme-')), 'model');

  await checkSaveTarget(dir);
  manualSeed(0);
  const x = randn([512, 2]);
  const y = x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1)).gt(0).cast('int32').reshape([512]); // class: same sign
  const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 16 }), new ReLU(), new Linear({ inFeatures: 16, outFeatures: 2 })]);
  model.compile({ optimizer: 'adam', lr: 0.01, loss: 'cross_entropy', metrics: ['accuracy'] });
  const history = await model.fit(x, y, { epochs: 60, batchSize: 32, validationSplit: 0.2, verbose: 0, seed: 1, callbacks: [new EarlyStopping({ monitor: 'val_loss', patience: 5, restoreBestWeights: true })] });
  log.push(`epochs run: ${history.epoch.length}, last val_accuracy ${history.history.val_accuracy.at(-1)!.toFixed(2)}`);
  const { loss, accuracy } = await model.evaluate(x, y);
  log.push(`accuracy ${accuracy.toFixed(2)}, loss < 0.2: ${loss < 0.2}`);
  const probs = (await model.predict(randn([3, 2]))).softmax(1);
  log.push(`predict: ${probs.shape}`);
  await saveModel(model, dir, { files: { 'labels.json': JSON.stringify(['different', 'same']) } });
  const again = await loadModel(dir);
  const labels = JSON.parse(await readSavedFile(dir, 'labels.json', 'utf8')) as string[];
  log.push(`reloaded: ${(await again.evaluate(x, y)).accuracy.toFixed(2)}, labels ${labels.join(', ')}`);

  expect(log).toEqual(['epochs run: 41, last val_accuracy 1.00', 'accuracy 1.00, loss < 0.2: true', 'predict: 3,2', 'reloaded: 1.00, labels different, same']);
});
