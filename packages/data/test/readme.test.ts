import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { compose, DataLoader, kFold, mnist, randomRotation, randomShift, randomSplit, readCsv, StandardScaler, tableToTensors, TensorDataset } from '../src/node.js';

// The README's examples, line for line; what they print is asserted here.
describe('README examples', () => {
  it('MNIST → DataLoader: 860 batches per epoch, every training image once per epoch', async () => {
    const log: string[] = [];
    const { train } = await mnist();
    const [trainSet, valSet] = randomSplit(new TensorDataset(train.images, train.labels), [55000, 5000], { seed: 0 });
    expect(valSet.length).toBe(5000);
    const loader = new DataLoader(trainSet, { batchSize: 64, shuffle: true, seed: 0 });
    log.push(String(loader.length));
    for (let epoch = 0; epoch < 2; epoch++) {
      let seen = 0;
      for await (const [x, y] of loader) {
        expect(x.shape.slice(1)).toEqual([1, 28, 28]);
        seen += y.shape[0];
        x.dispose();
        y.dispose();
      }
      log.push(`epoch ${epoch}: ${seen} images`);
    }
    expect(log).toEqual(['860', 'epoch 0: 55000 images', 'epoch 1: 55000 images']);
  });

  it('image augmentation: each training batch shifted and turned, its ink kept', async () => {
    const { test } = await mnist();
    const images = test.images.narrow(0, 0, 128);
    const labels = test.labels.narrow(0, 0, 128);
    const augment = compose(randomShift({ pixels: 2, seed: 0 }), randomRotation({ degrees: 10, seed: 1 }));
    let batches = 0;
    for await (const [x, y] of new DataLoader(new TensorDataset(images, labels), { batchSize: 64, shuffle: true, seed: 0 })) {
      const xa = augment(x);
      expect(xa.shape).toEqual([64, 1, 28, 28]);
      // MNIST's digits sit in the centre 20×20: a shift of 2 px and a turn of 10° lose no ink,
      // and bilinear interpolation keeps the total within a few percent per image
      const before = x.sum([1, 2, 3]).dataSync();
      const after = xa.sum([1, 2, 3]).dataSync();
      for (let i = 0; i < 64; i++) expect(Math.abs(after[i] - before[i]) / before[i]).toBeLessThan(0.05);
      expect(Array.from(xa.dataSync())).not.toEqual(Array.from(x.dataSync()));
      for (const t of [x, xa, y]) t.dispose();
      batches++;
    }
    expect(batches).toBe(2);
  });

  it('tables, scalers and k-fold', async () => {
    const vega = join(dirname(dirname(createRequire(import.meta.url).resolve('vega-datasets'))), 'data');
    const weather = await readCsv(join(vega, 'seattle-weather.csv'));
    const { x, y, classes } = tableToTensors(weather, { features: ['temp_max', 'temp_min', 'wind'], target: 'weather' });
    expect(x.shape).toEqual([1461, 3]);
    expect(y.shape).toEqual([1461]);
    expect(classes).toHaveLength(5);
    let folds = 0;
    for (const { train, validation } of kFold(x.shape[0], 5, { shuffle: true, seed: 0 })) {
      const scaler = new StandardScaler().fit(x.indexSelect(0, tensor(train, { dtype: 'int32' })));
      const z = scaler.transform(x.indexSelect(0, tensor(validation, { dtype: 'int32' })));
      expect(z.shape).toEqual([validation.length, 3]);
      folds++;
    }
    expect(folds).toBe(5);
  });
});
