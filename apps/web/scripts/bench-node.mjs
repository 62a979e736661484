// The Train page's training speed measured the same way in Node, for the README: the same
// models (@ml/mnist-classifier/models), batch 64, Adam, the first 10,000 MNIST training
// images, fit with the same step count; steps/s counted from the 5th step, on the wasm
// backend (threads: the cores) and the built-in cpu one. Run: node scripts/bench-node.mjs
import { performance } from 'node:perf_hooks';
import { registerWasmBackend } from '@ml/backend-wasm';
import { mnist } from '@ml/data';
import { buildModel } from '@ml/mnist-classifier/models';
import { fromArray, manualSeed, setBackend } from '@ml/tensor';
import { LambdaCallback } from '@ml/train';

const RUNS = [
  ['mlp', 'wasm', 1000],
  ['mlp', 'cpu', 60],
  ['cnn', 'wasm', 150],
  ['cnn', 'cpu', 8],
];
const N = 10_000;

// the page's tensors: the first N images as one contiguous float32 array in [0, 1] and int32
// labels, on the cpu backend (fit moves each batch to the model's backend)
const { train } = await mnist();
const pixels = Float32Array.from(await train.images.narrow(0, 0, N).data());
const classes = Int32Array.from(await train.labels.narrow(0, 0, N).data());
const labels = fromArray(classes, [N], { dtype: 'int32', backend: 'cpu' });
const wasm = registerWasmBackend();
const rows = [];
for (const [kind, backend, steps] of RUNS) {
  setBackend(backend);
  manualSeed(1);
  const model = buildModel(kind);
  model.compile({ optimizer: 'adam', lr: 0.002, loss: 'cross_entropy', metrics: ['accuracy'] });
  const x = fromArray(pixels, kind === 'mlp' ? [N, 784] : [N, 1, 28, 28], { dtype: 'float32', backend: 'cpu' });
  let step = 0;
  let tWarm = 0;
  let rate = 0;
  const cb = new LambdaCallback({
    onBatchEnd: (_b, _logs, ctx) => {
      step++;
      const now = performance.now();
      if (step === 5) tWarm = now;
      if (step > 5) rate = ((step - 5) * 1000) / (now - tWarm);
      if (step >= steps) ctx.stopTraining = true;
    },
  });
  await model.fit(x, labels, { epochs: Math.ceil(steps / Math.ceil(N / 64)), batchSize: 64, seed: 1, verbose: 0, callbacks: [cb] });
  x.dispose();
  if (step !== steps) throw new Error(`${kind} on ${backend}: ${step} steps, expected ${steps}`);
  rows.push({ kind, backend, steps, rate });
  console.log(JSON.stringify(rows.at(-1)));
}
console.log(`\nNode ${process.version}, wasm on ${wasm.threads} threads\n| model | backend | steps | steps/s |\n|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.kind} | ${r.backend} | ${r.steps} | ${r.rate.toFixed(1)} |`);
