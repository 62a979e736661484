// Inference latency of the mnist-classifier CNN (conv32-pool-conv64-pool-dense10) at batch 1
// and batch 64: @ml on its wasm backend, the same weights exported with @ml/onnx and run in
// onnxruntime-node (CPU execution provider), and TensorFlow.js 4.22 on its wasm backend with
// the same weights, in one process and one run. Each timed run starts from a batch of real
// MNIST test images in a plain Float32Array and ends with the logits read back into one,
// so each system pays its own input upload and output read.
//
//   pnpm --filter @ml/onnx... build && pnpm --filter @ml/bench... build
//   node bench/onnx-latency.mjs [--budget-ms 3000] [--rounds 3]
//
// The systems take turns, round after round (the order reversed every round; this VM's
// speed drifts over minutes); each turn is a median over up to 500 runs or the budget, and
// a cell of the table is the median of its rounds. Before timing, the three systems' logits
// on the same 64 images must agree within 1e-4 (relative), so all three compute one network.
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import '@ml/autograd';
import { registerWasmBackend } from '@ml/backend-wasm';
import { mnist } from '@ml/data';
import { cnn } from '@ml/mnist-classifier/models';
import { fromArray, manualSeed, setBackend, tidy } from '@ml/tensor';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

// @ml/onnx and onnxruntime-node are the onnx package's (onnxruntime-node is its devDependency)
const onnxRequire = createRequire(new URL('../packages/onnx/package.json', import.meta.url));
const ort = onnxRequire('onnxruntime-node');
const { exportOnnx } = await import(new URL('../packages/onnx/dist/index.js', import.meta.url).href);

// the harness's timing rule (src/timing.ts): untimed runs for at least half a second, then
// runs until maxReps or the budget; the median of one run in ms
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
async function timeIt(once, { warmup, maxReps, budgetMs }) {
  const w0 = performance.now();
  for (let i = 0; i < warmup || performance.now() - w0 < 500; i++) await once();
  const t = [];
  const start = performance.now();
  while (t.length < maxReps && (t.length === 0 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  return { ms: median(t), reps: t.length };
}

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const budgetMs = arg('--budget-ms', 3000);
const rounds = arg('--rounds', 3);
const BATCHES = [1, 64];

// ------------------------------------------------------------ the network and its weights
manualSeed(0);
const model = cnn(); // built on the cpu backend: exported from there, then moved to wasm
model.eval();
const onnxBytes = exportOnnx(model, { inputShapes: [[1, 1, 28, 28]] });
const state = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.dataSync()) }]));
const { test } = await mnist();
const images = Float32Array.from(test.images.dataSync().subarray(0, 64 * 784));
const inputOf = (n) => images.subarray(0, n * 784);

// ------------------------------------------------------------ @ml, wasm backend
registerWasmBackend();
setBackend('wasm');
await model.to('wasm');
const mlRun = (n) => tidy(() => Float32Array.from(model.forward(fromArray(inputOf(n), [n, 1, 28, 28])).dataSync()));

// ------------------------------------------------------------ onnxruntime-node, CPU
const session = await ort.InferenceSession.create(onnxBytes);
const ortRun = async (n) => {
  const out = await session.run({ input: new ort.Tensor('float32', inputOf(n), [n, 1, 28, 28]) });
  return out.output.data;
};

// ------------------------------------------------------------ TensorFlow.js, wasm backend
if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js could not start its wasm backend');
await tf.ready();
// PyTorch layouts → TensorFlow's: conv kernels [out, in, kh, kw] → [kh, kw, in, out]; the
// dense layer reads @ml's channels-first flatten, so the activations go back to NCHW first
const tw = (k) => tf.tensor(state[k].data, state[k].shape);
const w = {
  c1: tf.transpose(tw('0.weight'), [2, 3, 1, 0]), b1: tw('0.bias'),
  c2: tf.transpose(tw('3.weight'), [2, 3, 1, 0]), b2: tw('3.bias'),
  d: tf.transpose(tw('8.weight')), bd: tw('8.bias'),
};
const tfRun = (n) =>
  tf.tidy(() => {
    const x = tf.tensor4d(inputOf(n), [n, 1, 28, 28]).transpose([0, 2, 3, 1]);
    let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w.c1, 1, 'valid'), w.b1)), 2, 2, 'valid');
    h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, w.c2, 1, 'valid'), w.b2)), 2, 2, 'valid');
    const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [n, 64 * 5 * 5]);
    return tf.add(tf.matMul(flat, w.d), w.bd).dataSync();
  });

const systems = [
  { id: 'ml-wasm', run: mlRun },
  { id: 'onnxruntime-node', run: ortRun },
  { id: 'tfjs-wasm', run: tfRun },
];

// ------------------------------------------------------------ the three compute one network
const reference = mlRun(64);
for (const s of systems.slice(1)) {
  const got = await s.run(64);
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(got[i] - reference[i]) / Math.max(1, Math.abs(reference[i])));
  if (!(worst <= 1e-4)) throw new Error(`${s.id} differs from ml-wasm by ${worst} on the same 64 images`);
  console.log(`${s.id} agrees with ml-wasm: largest scaled difference ${worst.toExponential(2)}`);
}

// ------------------------------------------------------------ timing
const times = Object.fromEntries(systems.map((s) => [s.id, Object.fromEntries(BATCHES.map((b) => [b, []]))]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? systems : [...systems].reverse();
  for (const s of order) {
    for (const n of BATCHES) {
      const t = await timeIt(() => s.run(n), { warmup: 3, maxReps: 500, budgetMs });
      times[s.id][n].push(t.ms);
      console.log(`round ${r + 1}: ${s.id} batch ${n}: ${t.ms.toFixed(3)} ms (median of ${t.reps})`);
    }
  }
}

const cell = (id, n) => median(times[id][n]);
console.log(`\n${new Date().toISOString().slice(0, 10)}: ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores; Node ${process.version}, onnxruntime-node ${onnxRequire('onnxruntime-node/package.json').version}, TensorFlow.js ${tf.version.tfjs}`);
console.log('| batch | ml-wasm (ms) | onnxruntime-node (ms) | tfjs-wasm (ms) | onnxruntime ÷ ml-wasm | tfjs-wasm ÷ ml-wasm |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const n of BATCHES) {
  const [m, o, t] = ['ml-wasm', 'onnxruntime-node', 'tfjs-wasm'].map((id) => cell(id, n));
  // ratios: time of the peer over ml's (> 1: ml is faster), as bench/README.md's ratio columns
  console.log(`| ${n} | ${m.toFixed(3)} | ${o.toFixed(3)} | ${t.toFixed(3)} | ${(o / m).toFixed(2)}× | ${(t / m).toFixed(2)}× |`);
}
await session.release();
process.exit(0);
