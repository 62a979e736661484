import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { Linear, Sequential } from '@ml/nn';
import { manualSeed, randn } from '@ml/tensor';
import { describe, it } from 'vitest';
import {
  Accuracy,
  BinaryAccuracy,
  checkSaveTarget,
  compile,
  CSVLogger,
  EarlyStopping,
  evaluate,
  F1Score,
  fit,
  getMetric,
  LambdaCallback,
  LearningRateScheduler,
  loadModel,
  ModelCheckpoint,
  modelFromSaved,
  modelToBytes,
  Precision,
  predict,
  Recall,
  saveModel,
} from '../src/index.node.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ml-train-options-'));
manualSeed(0);

const x = randn([8, 2]);
const y = randn([8, 1]);
const model = (): Sequential => new Sequential([new Linear({ inFeatures: 2, outFeatures: 1 })]);
const compiled = (): Sequential => compile(model(), { optimizer: 'sgd', loss: 'mse' });
let saves = 0;
const savedDir = async (): Promise<string> => {
  const path = join(dir, `saved-${saves++}`);
  await saveModel(compiled(), path);
  return path;
};

describeOptionsContract(packageDir, { describe, it }, {
  entries: ['src/index.node.ts'],
  timeout: 60_000,
  recipes: {
    Accuracy: (o) => new Accuracy(o),
    BinaryAccuracy: (o) => new BinaryAccuracy(o),
    checkSaveTarget: (o) => checkSaveTarget(join(dir, `target-${saves++}`), o),
    compile: (o) => compile(model(), { optimizer: 'sgd', loss: 'mse', ...o }),
    CSVLogger: (o) => new CSVLogger(join(dir, 'log.csv'), o),
    EarlyStopping: (o) => new EarlyStopping(o),
    evaluate: (o) => evaluate(compiled(), x, y, o),
    F1Score: (o) => new F1Score(o),
    fit: (o) => fit(compiled(), x, y, { epochs: 1, verbose: 0, ...o }),
    getMetric: (o) => getMetric('accuracy', o),
    LambdaCallback: (o) => new LambdaCallback(o),
    LearningRateScheduler: (o) => new LearningRateScheduler((_epoch, lr) => lr, o),
    loadModel: async (o) => loadModel(await savedDir(), o),
    ModelCheckpoint: (o) => new ModelCheckpoint(join(dir, 'ckpt'), o),
    modelFromSaved: async (o) => modelFromSaved(await modelToBytes(compiled()), o),
    modelToBytes: (o) => modelToBytes(compiled(), o),
    Precision: (o) => new Precision(o),
    predict: (o) => predict(compiled(), x, o),
    Recall: (o) => new Recall(o),
    saveModel: (o) => saveModel(compiled(), join(dir, `save-${saves++}`), o),
  },
  exempt: {
    // an Error's options, { cause }, as the standard Error takes them (which does not check either)
    ModelFileError: 'the standard ErrorOptions of an Error subclass',
  },
});
