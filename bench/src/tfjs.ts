import { dawnCandidates } from '@ml/backend-webgpu';
import { mnist } from '@ml/data';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { timeIt, type Measurement } from './timing.js';
import { CONVS, MATMUL_SIZES, type Budget } from './workloads.js';

/** A short reason for the table: TensorFlow.js names the kernel a backend lacks. */
function reason(e: unknown): string {
  const message = (e as Error).message;
  const kernel = /Kernel '(\w+)' not registered/.exec(message)?.[1];
  return kernel ? `no ${kernel} kernel` : message.split('\n')[0].slice(0, 40);
}

const STEPS_PER_EPOCH = Math.ceil(60000 / 64);

/**
 * TensorFlow.js's WebGPU backend looks for `navigator.gpu`, which Node 20 lacks: give it
 * Dawn's, on the first of the backends @ml's webgpu backend tries that has an adapter —
 * only while TensorFlow.js runs (@ml's webgpu runs take their own Dawn instance, and would
 * take a `navigator.gpu` left behind).
 */
let dawnGpu: Promise<GPU> | null = null;

async function withNavigatorGpu<T>(log: (s: string) => void, fn: () => Promise<T>): Promise<T> {
  const gpu = await (dawnGpu ??= dawnForTfjs(log));
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator'); // Node ≥ 21 has one
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true });
  try {
    return await fn();
  } finally {
    if (before) Object.defineProperty(globalThis, 'navigator', before);
    else Reflect.deleteProperty(globalThis, 'navigator');
  }
}

async function dawnForTfjs(log: (s: string) => void): Promise<GPU> {
  const { globals } = (await import('webgpu')) as unknown as { globals: object };
  Object.assign(globalThis, globals); // GPUBufferUsage and the other constants TensorFlow.js reads
  for (const c of await dawnCandidates()) {
    const gpu = c.create();
    const request = gpu.requestAdapter.bind(gpu);
    if (c.compatibility) gpu.requestAdapter = (o?: GPURequestAdapterOptions) => request({ ...o, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if ((await gpu.requestAdapter()) === null) continue;
    log(`  TensorFlow.js webgpu on ${c.label}`);
    return gpu;
  }
  throw new Error('no WebGPU adapter from Dawn');
}

/**
 * TensorFlow.js 4.22 on its cpu, wasm or webgpu backend, on the same workloads and inputs
 * (on webgpu every timed run ends by reading its result back, as @ml's webgpu runs do).
 */
export async function runTfjs(backend: 'cpu' | 'wasm' | 'webgpu', b: Budget, log: (s: string) => void, only: ReadonlySet<string>): Promise<Record<string, Measurement>> {
  if (backend !== 'webgpu') return runOn(backend, b, log, only);
  return withNavigatorGpu(log, async () => {
    await import('@tensorflow/tfjs-backend-webgpu'); // registers itself only where navigator.gpu is
    return runOn(backend, b, log, only);
  });
}

async function runOn(backend: 'cpu' | 'wasm' | 'webgpu', b: Budget, log: (s: string) => void, only: ReadonlySet<string>): Promise<Record<string, Measurement>> {
  const gpu = backend === 'webgpu';
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js could not start its ${backend} backend`);
  await tf.ready();
  if (backend === 'wasm') log(`  TensorFlow.js wasm: SIMD ${String(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))}, threads ${String(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'))}`);
  const out: Record<string, Measurement> = {};
  for (const n of MATMUL_SIZES.filter((m) => only.has(`matmul${m}`))) {
    const [A, B] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
    // the cpu backend needs minutes for 2048²: one timed run is enough there
    // the product alone, as PyTorch's row (these backends compute when the op is called);
    // reading the result back would add a copy into fresh memory to every row
    const product = gpu
      ? async () => {
          const c = tf.matMul(A, B);
          await c.data();
          c.dispose();
        }
      : () => tf.matMul(A, B).dispose();
    const r = await timeIt(product, { maxReps: 10, budgetMs: b.budgetMs, warmup: backend === 'cpu' && n >= 1024 ? 0 : 1 });
    out[`matmul${n}`] = { value: (2 * n ** 3) / r.ms / 1e6, reps: r.reps };
    tf.dispose([A, B]);
    log(`  tfjs-${backend} matmul ${n}: ${out[`matmul${n}`].value.toFixed(2)} GFLOP/s`);
  }
  for (const { id, cin, hw, cout } of CONVS) {
    if (!only.has(id)) continue;
    const x = tf.randomNormal([64, hw, hw, cin]);
    const w = tf.randomNormal([3, 3, cin, cout]);
    const grads = tf.grads((a: tf.Tensor, k: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid').sum());
    try {
      const r = await timeIt(async () => {
        const g = tf.tidy(() => grads([x, w])[1]);
        if (gpu) await g.data();
        else g.dataSync();
        g.dispose();
      }, { maxReps: 20, budgetMs: b.budgetMs });
      out[id] = { value: r.ms, reps: r.reps };
      log(`  tfjs-${backend} ${id}: ${r.ms.toFixed(2)} ms`);
    } catch (e) {
      out[id] = { value: NaN, reps: 0, note: `fails: ${reason(e)}` };
      log(`  tfjs-${backend} ${id}: ${out[id].note}`);
    }
    tf.dispose([x, w]);
  }

  if (!only.has('mlpEpoch') && !only.has('cnnStep')) return out;
  const data = await mnist({ flatten: true });
  const images = data.train.images.dataSync();
  const labels = data.train.labels.dataSync();
  for (const t of [data.train.images, data.train.labels, data.test.images, data.test.labels]) t.dispose();
  const batch = (i: number, shape: number[]): [tf.Tensor, tf.Tensor] => {
    const xs = new Float32Array(64 * 784);
    const ys = new Int32Array(64);
    for (let k = 0; k < 64; k++) {
      const j = (i * 64 + k) % 60000;
      xs.set(images.subarray(j * 784, (j + 1) * 784), k * 784);
      ys[k] = labels[j];
    }
    return [tf.tensor(xs, shape), tf.oneHot(tf.tensor1d(ys, 'int32'), 10)];
  };
  const train = async (model: tf.Sequential, shape: number[], maxReps: number, warmup: number) => {
    const opt = tf.train.adam(1e-3);
    let i = 0;
    return timeIt(
      async () => {
        const [x, y] = batch(i++, shape);
        const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar, true);
        if (gpu) await loss?.data();
        else loss?.dataSync();
        tf.dispose([x, y, loss as tf.Tensor]);
      },
      { warmup, maxReps, budgetMs: b.budgetMs },
    );
  };
  if (only.has('mlpEpoch')) {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu' }), tf.layers.dense({ units: 128, activation: 'relu' }), tf.layers.dense({ units: 10 })],
    });
    const r = await train(model, [64, 784], b.mlpSteps, 5);
    out.mlpEpoch = { value: (r.ms * STEPS_PER_EPOCH) / 1000, reps: r.reps, note: r.reps < STEPS_PER_EPOCH ? `median of ${r.reps} steps × ${STEPS_PER_EPOCH}` : undefined };
    log(`  tfjs-${backend} MLP epoch: ${out.mlpEpoch.value.toFixed(2)} s (${r.reps} steps timed)`);
    model.dispose();
  }
  if (only.has('cnnStep')) {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 10 }),
      ],
    });
    try {
      const r = await train(model, [64, 28, 28, 1], b.cnnSteps, 1);
      out.cnnStep = { value: r.ms, reps: r.reps };
      log(`  tfjs-${backend} CNN step: ${r.ms.toFixed(1)} ms (${r.reps} steps)`);
    } catch (e) {
      out.cnnStep = { value: NaN, reps: 0, note: `cannot train: ${reason(e)}` };
      log(`  tfjs-${backend} CNN: ${out.cnnStep.note}`);
    }
    model.dispose();
  }
  return out;
}
