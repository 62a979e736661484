import '@ml/autograd';
import { registerWasmBackend, enableRelaxedSimd } from '@ml/backend-wasm';
import { registerWebGpuBackend, webgpuInfo, type WebGpuBackend } from '@ml/backend-webgpu';
import { mnist } from '@ml/data';
import { cnn } from '@ml/mnist-classifier/models';
import { Linear, ReLU, Sequential, crossEntropy } from '@ml/nn';
import { Adam } from '@ml/optim';
import { conv2d, fromArray, manualSeed, matmul, randn, setBackend, tidy, toBackend, type Tensor } from '@ml/tensor';
import { timeIt, type Measurement } from './timing.js';
import { CONVS, MATMUL_SIZES, type Budget } from './workloads.js';

// This program asks for WebAssembly's relaxed SIMD (fused multiply-adds in the wasm
// backend's products): on Node 20 it sits behind a V8 flag, set here for this process.
enableRelaxedSimd();

const STEPS_PER_EPOCH = Math.ceil(60000 / 64);

/**
 * This project's cpu, wasm or webgpu backend on the workloads in `only`. On webgpu (reads only
 * asynchronous) every timed run ends by reading its result back, so the GPU's work is in
 * the time, and the MNIST images stay on the cpu backend, each batch moved over.
 */
export async function runMl(backend: 'cpu' | 'wasm' | 'webgpu', b: Budget, log: (s: string) => void, only: ReadonlySet<string>, threads?: number): Promise<Record<string, Measurement>> {
  const wasm = backend === 'wasm' ? registerWasmBackend(threads === undefined ? {} : { threads }) : null;
  const label = threads === 1 ? `ml-${backend}-1t` : `ml-${backend}`;
  const gpu = backend === 'webgpu' ? await registerWebGpuBackend() : null;
  if (gpu) log(`  WebGPU device: ${webgpuInfo(gpu)?.adapter} via ${webgpuInfo(gpu)?.source}`);
  setBackend(backend);
  manualSeed(0);
  const out: Record<string, Measurement> = {};
  if (wasm && only.has('fmaPeak')) {
    // the machine's ceiling for WebAssembly SIMD, on the product's threads
    const peak = await wasm.gemm.fmaPeak(Math.min(b.budgetMs, 5000));
    out.fmaPeak = { value: peak.gflops, reps: peak.runs };
    log(`  ml-wasm f32x4 multiply-add ceiling: ${peak.gflops.toFixed(2)} GFLOP/s on ${peak.threads} threads`);
  }
  for (const n of MATMUL_SIZES.filter((m) => only.has(`matmul${m}`))) {
    const [A, B] = [randn([n, n]).keep(), randn([n, n]).keep()];
    // the product alone (computed when called), as the other rows
    const product = gpu
      ? async () => {
          const c = matmul(A, B);
          await c.data();
          c.dispose();
        }
      : () => tidy(() => void matmul(A, B));
    const r = await timeIt(product, { maxReps: 10, budgetMs: b.budgetMs });
    out[`matmul${n}`] = { value: (2 * n ** 3) / r.ms / 1e6, reps: r.reps };
    A.dispose();
    B.dispose();
    log(`  ${label} matmul ${n}: ${out[`matmul${n}`].value.toFixed(2)} GFLOP/s`);
  }
  for (const { id, cin, hw, cout } of CONVS) {
    if (!only.has(id)) continue;
    const x = randn([64, cin, hw, hw], { requiresGrad: true }).keep();
    const w = randn([cout, cin, 3, 3], { requiresGrad: true }).keep();
    const r = await timeIt(
      async () => {
        tidy(() => {
          // zeroGrad()'s way: the old gradients are disposed (on wasm a dropped tensor's
          // memory comes back only when the garbage collector finds it)
          for (const t of [x, w]) {
            t.grad?.dispose();
            t.grad = null;
          }
          conv2d(x, w).sum().backward();
        });
        if (gpu) await w.grad!.data();
        else w.grad!.dataSync();
      },
      { maxReps: 20, budgetMs: b.budgetMs },
    );
    out[id] = { value: r.ms, reps: r.reps };
    log(`  ${label} ${id}: ${r.ms.toFixed(2)} ms`);
  }

  if (only.has('mlpEpoch') || only.has('cnnStep')) await trainSteps(backend, label, gpu, b, log, only, out);
  if (gpu) {
    gpu.destroy();
    setBackend('cpu');
  }
  return out;
}

/** The MLP epoch and the CNN step (those of them in `only`), into `out`. */
async function trainSteps(backend: 'cpu' | 'wasm' | 'webgpu', label: string, gpu: WebGpuBackend | null, b: Budget, log: (s: string) => void, only: ReadonlySet<string>, out: Record<string, Measurement>): Promise<void> {
  if (gpu) setBackend('cpu');
  const data = await mnist({ flatten: true });
  setBackend(backend);
  const xTrain = data.train.images.keep();
  const yTrain = data.train.labels.keep();
  data.test.images.dispose();
  data.test.labels.dispose();
  const trainStep = async (model: Sequential, opt: Adam, [x, y]: Tensor[]) => {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      return l;
    });
    const value = (await loss.data())[0];
    for (const t of [loss, x, y]) t.dispose();
    return value;
  };
  const batch = async (i: number, shape: number[]): Promise<Tensor[]> => {
    const [x, y] = tidy(() => {
      const idx = fromArray(Int32Array.from({ length: 64 }, (_, k) => (i * 64 + k) % 60000), [64], { dtype: 'int32', backend: xTrain.backend.name });
      return [xTrain.indexSelect(0, idx).reshape(shape), yTrain.indexSelect(0, idx)];
    });
    if (!gpu) return [x, y];
    const moved = [await toBackend(x, backend), await toBackend(y, backend)];
    x.dispose();
    y.dispose();
    return moved;
  };
  if (only.has('mlpEpoch')) {
    const model = new Sequential([new Linear({ inFeatures: 784, outFeatures: 128 }), new ReLU(), new Linear({ inFeatures: 128, outFeatures: 128 }), new ReLU(), new Linear({ inFeatures: 128, outFeatures: 10 })]);
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    let i = 0;
    const r = await timeIt(async () => trainStep(model, opt, await batch(i++, [64, 784])), { warmup: 5, maxReps: b.mlpSteps, budgetMs: b.budgetMs });
    out.mlpEpoch = { value: (r.ms * STEPS_PER_EPOCH) / 1000, reps: r.reps, note: r.reps < STEPS_PER_EPOCH ? `median of ${r.reps} steps × ${STEPS_PER_EPOCH}` : undefined };
    log(`  ${label} MLP epoch: ${out.mlpEpoch.value.toFixed(2)} s (${r.reps} steps timed)`);
  }
  if (only.has('cnnStep')) {
    const model = cnn(); // the mnist-classifier app's network
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    let i = 0;
    const r = await timeIt(async () => trainStep(model, opt, await batch(i++, [64, 1, 28, 28])), { warmup: 2, maxReps: b.cnnSteps, budgetMs: b.budgetMs });
    out.cnnStep = { value: r.ms, reps: r.reps };
    log(`  ${label} CNN step: ${r.ms.toFixed(1)} ms (${r.reps} steps)`);
  }
  xTrain.dispose();
  yTrain.dispose();
}
