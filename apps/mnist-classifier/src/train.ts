import { join } from 'node:path';
import { DatasetNotFoundError, fashionMnist, mnist, type MnistData } from '@ml/data';
import { confusionMatrix as confusionChart, lossCurves, toSvg } from '@ml/plot';
import { onHost } from '@ml/cli-kit';
import { getBackend, manualSeed, type Tensor } from '@ml/tensor';
import { checkSaveTarget, ConfusionMatrix, LearningRateScheduler, SaveTargetError, saveModel, type History } from '@ml/train';
import { buildModel, inputShape, type ModelKind } from './models.js';
import { metaFor } from './labels.js';
import { AUGMENT, augmentedBatches } from './augment.js';

export interface TrainOptions {
  model: ModelKind;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  fashion: boolean;
  dataDir?: string;
  out: string;
  /** save into `out` even when it holds files that are not the model's (they are kept) */
  overwrite?: boolean;
  seed: number;
  quick: boolean;
  verbose: 0 | 1 | 2;
  /** shift (±2 px) and turn (±10°) every training image anew each epoch; validation and test images stay as they are */
  augment?: boolean;
}

/** 'cpu', or 'wasm (2 threads)' */
function describeBackend(): string {
  const b = getBackend() as { name: string; threads?: number };
  return b.threads === undefined ? b.name : `${b.name} (${b.threads} thread${b.threads > 1 ? 's' : ''})`;
}


/** The confusion matrix as a table: rows are true classes, columns predictions. */
export function formatConfusion(m: number[][], labels: readonly string[]): string {
  const w = Math.max(5, ...m.flat().map((v) => String(v).length + 1));
  const lw = Math.max(...labels.map((l) => l.length)) + 1;
  const head = `${'true\\pred'.padEnd(lw)}${labels.map((_, j) => String(j).padStart(w)).join('')}`;
  const rows = m.map((row, i) => `${labels[i].padEnd(lw)}${row.map((v) => String(v).padStart(w)).join('')}`);
  return [head, ...rows].join('\n');
}

/** checkSaveTarget, with a folder holding other files reported in the app's words (`--overwrite`). */
async function checkOut(out: string, overwrite: boolean): Promise<void> {
  try {
    await checkSaveTarget(out, { overwrite });
  } catch (e) {
    if (!(e instanceof SaveTargetError) || e.foreign.length === 0) throw e;
    throw new SaveTargetError(
      `--out ${out} already holds files that are not the model's (${e.foreign.slice(0, 5).join(', ')}${e.foreign.length > 5 ? `, and ${e.foreign.length - 5} more` : ''}); choose an empty or new folder, ` +
        'or pass --overwrite to save the model next to them (they are kept; only the model’s own files are replaced)',
      e.dir,
      e.foreign,
    );
  }
}

/** The dataset, with a missing folder reported in the flag's words (`--data-dir`), not the library's (`dir`). */
async function loadData(fashion: boolean, dir: string | undefined, flatten: boolean): Promise<MnistData> {
  try {
    return await (fashion ? fashionMnist({ dir, flatten }) : mnist({ dir, flatten }));
  } catch (e) {
    if (!(e instanceof DatasetNotFoundError)) throw e;
    throw new DatasetNotFoundError(e.message.replaceAll('pass `dir`', 'pass --data-dir').replaceAll('leave dir out', 'leave --data-dir out'));
  }
}

async function take(t: Tensor, n: number): Promise<Tensor> {
  return n >= t.shape[0] ? t : t.narrow(0, 0, n).contiguous();
}

export async function runTrain(o: TrainOptions): Promise<{ testAccuracy: number; history: History; seconds: number }> {
  manualSeed(o.seed);
  const flatten = o.model === 'mlp';
  const t0 = performance.now();
  // under a GPU backend the images stay in host memory; fit and evaluate move each batch over
  const data = await onHost(() => loadData(o.fashion, o.dataDir, flatten));
  // then the destination: a folder that cannot be written, or that holds a user's files,
  // is refused before minutes of training, not after
  await checkOut(o.out, o.overwrite ?? false);
  let { images: xTrain, labels: yTrain } = data.train;
  let { images: xTest, labels: yTest } = data.test;
  if (o.quick) {
    xTrain = await take(xTrain, 2000);
    yTrain = await take(yTrain, 2000);
    xTest = await take(xTest, 500);
    yTest = await take(yTest, 500);
  }
  const log = (s: string) => {
    if (o.verbose > 0) console.log(s);
  };
  log(`${o.fashion ? 'Fashion-MNIST' : 'MNIST'}: ${xTrain.shape[0]} training images (the last 1/12 held out for validation), ${xTest.shape[0]} test images, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; backend ${describeBackend()}`);

  const model = buildModel(o.model);
  if (o.verbose > 0) model.summary({ inputShape: inputShape[o.model] });
  const lr = o.lr ?? 1e-3;
  model.compile({ optimizer: 'adam', lr, loss: 'cross_entropy', metrics: ['accuracy'] });
  const epochs = o.quick ? 1 : (o.epochs ?? (o.model === 'mlp' ? 10 : 9));
  // cosine annealing of the rate over the epochs: lr·½(1 + cos(π·epoch/epochs))
  const cosine = new LearningRateScheduler((epoch) => lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)));
  const tFit = performance.now();
  const batchSize = o.batchSize ?? 64;
  const fitOptions = { epochs, seed: o.seed, verbose: o.verbose, callbacks: [cosine] };
  let history: History;
  if (o.augment) {
    // the same split as validationSplit: 1/12 (the last images), the training part augmented per batch
    const n = xTrain.shape[0];
    const nVal = Math.floor(n / 12);
    const [xFit, yFit] = [xTrain.narrow(0, 0, n - nVal), yTrain.narrow(0, 0, n - nVal)];
    const validationData = [xTrain.narrow(0, n - nVal, nVal), yTrain.narrow(0, n - nVal, nVal)] as const;
    log(`Augmenting the training images: each batch shifted by up to ±${AUGMENT.pixels} px and rotated by up to ±${AUGMENT.degrees}°, anew every epoch`);
    history = await model.fit(augmentedBatches(xFit, yFit, batchSize, o.seed), { ...fitOptions, validationData });
  } else {
    history = await model.fit(xTrain, yTrain, { ...fitOptions, batchSize, validationSplit: 1 / 12 });
  }
  const seconds = (performance.now() - tFit) / 1000;

  const test = await model.evaluate(xTest, yTest, { batchSize: 500 });
  const { labels } = metaFor(o.fashion, o.model);
  const cm = new ConfusionMatrix(10);
  const logits = await model.predict(xTest, { batchSize: 500 });
  await cm.update(logits, yTest);
  logits.dispose();

  // the model, its labels and its charts are one save: all of them or the previous ones
  await saveModel(model, o.out, {
    overwrite: o.overwrite,
    files: {
      'labels.json': JSON.stringify(metaFor(o.fashion, o.model)),
      'loss.svg': await toSvg(lossCurves(history)),
      'confusion.svg': await toSvg(confusionChart(cm.matrix, labels)),
    },
  });

  console.log(`\nConfusion matrix (test set):\n${formatConfusion(cm.matrix, labels)}`);
  console.log(`\nTest accuracy: ${(100 * test.accuracy).toFixed(2)}% (test loss ${test.loss.toFixed(4)}) — ${o.model.toUpperCase()}, ${epochs} epoch${epochs > 1 ? 's' : ''}, ${seconds.toFixed(0)} s of training`);
  console.log(`Saved the model to ${o.out}/ and charts to ${join(o.out, 'loss.svg')}, ${join(o.out, 'confusion.svg')}`);
  return { testAccuracy: test.accuracy, history, seconds };
}
