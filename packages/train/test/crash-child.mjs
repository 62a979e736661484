// The training process that test/crash.test.ts kills at random moments. It resumes from
// the model saved in <dir> when there is one (the recovery), then loops: one epoch on a
// tiny problem, ModelCheckpoint writing <ckpt>/weights.safetensors, saveModel into <dir>
// with its optimizer state and an extra meta.json. Before each save it appends the
// outputs it is about to save (on a fixed input) to <log>, fsynced; after each save it
// appends a line saying the save completed. Stage markers go to stdout for the test.
// Imports the built packages only, to start fast.
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Linear, ReLU, Sequential } from '@ml/nn';
import { noGrad } from '@ml/autograd';
import { manualSeed, tensor } from '@ml/tensor';
import { LambdaCallback, ModelCheckpoint, loadModel, readSavedFile, saveModel } from '../dist/index.node.js';

const [dir, ckpt, logPath, maxGen] = process.argv.slice(2);
const stop = maxGen === undefined ? Infinity : Number(maxGen);
const say = (s) => process.stdout.write(`${s}\n`);
say('ready');

let model;
let gen = 0;
try {
  model = await loadModel(dir);
  gen = JSON.parse(await readSavedFile(dir, 'meta.json', 'utf8')).gen;
} catch (e) {
  if (!/no saved model/.test(e.message)) throw e;
  manualSeed(1);
  model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 8 }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 1 })]);
  model.compile({ optimizer: 'adam', lr: 0.05, loss: 'mse' });
}
say(`loaded ${gen}`);

const PROBE = [[0.5, -1], [2, 0.25], [-1.5, 1]];
const probe = tensor(PROBE);
const x = tensor([[1, 2], [-1, 0.5], [0.3, -2], [2, 1]]);
const y = tensor([[1], [-1], [0.5], [2]]);
const outputs = async () => Array.from(await noGrad(() => model.forward(probe)).data());

mkdirSync(ckpt, { recursive: true });
const fd = openSync(logPath, 'a');
const record = (o) => {
  writeSync(fd, `${JSON.stringify(o)}\n`);
  fsyncSync(fd);
};

let out = [];
const logOutputs = new LambdaCallback({
  onEpochEnd: async () => {
    out = await outputs();
    record({ gen, out, pid: process.pid });
  },
});
const checkpoint = new ModelCheckpoint(join(ckpt, 'weights.safetensors'));
while (gen < stop) {
  gen++;
  await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false, callbacks: [logOutputs, checkpoint] });
  record({ ckptDone: gen });
  await saveModel(model, dir, { files: { 'meta.json': JSON.stringify({ gen, out }) } });
  record({ done: gen });
  say(`saved ${gen}`);
}
closeSync(fd);
