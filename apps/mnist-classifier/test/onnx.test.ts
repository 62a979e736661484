// The app's MLP and CNN exported to ONNX and run in ONNX Runtime (CPU) on 100 real MNIST test
// images: each logit within |ort − ml| ≤ 1e-5·max(1, |ml|) of @ml's own forward (fp32), and the
// same predicted digit. The models get a few hundred steps of training first, so the weights are
// not the initializer's.
import { registerWasmBackend } from '@ml/backend-wasm';
import { registerWebGpuBackend } from '@ml/backend-webgpu';
import { mnist } from '@ml/data';
import { exportOnnx } from '@ml/onnx';
import { manualSeed, type Tensor } from '@ml/tensor';
import '@ml/train';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildModel, inputShape, type ModelKind } from '../src/models.js';

// a WebGPU device where there is one (Dawn finds Mesa's software one on CI); else that case is skipped
const webgpu = await registerWebGpuBackend().then(
  () => true,
  (e: unknown) => {
    console.warn(`webgpu case skipped: ${(e as Error).message}`);
    return false;
  },
);

async function ortRun(bytes: Uint8Array, x: Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x.dataSync()), [...x.shape]) });
    return { data: out.output.data as Float32Array, dims: out.output.dims };
  } finally {
    await session.release();
  }
}

const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

describe('mnist-classifier models in ONNX Runtime', () => {
  for (const kind of ['mlp', 'cnn'] as ModelKind[]) {
    it(`the ${kind.toUpperCase()} gives the same logits on 100 real test images`, async () => {
      const { train, test } = await mnist({ flatten: kind === 'mlp' });
      manualSeed(0);
      const model = buildModel(kind);
      model.compile({ optimizer: 'adam', lr: 1e-3, loss: 'cross_entropy' });
      const n = kind === 'mlp' ? 2000 : 1024;
      await model.fit(train.images.narrow(0, 0, n), train.labels.narrow(0, 0, n), { epochs: 1, batchSize: 64, verbose: 0, seed: 0 });
      const bytes = exportOnnx(model, { inputShapes: [[1, ...inputShape[kind]]] });
      const x = test.images.narrow(0, 0, 100);
      model.eval();
      const expected = model.forward(x);
      const got = await ortRun(bytes, x);
      expect([...got.dims]).toEqual([100, 10]);
      const b = expected.dataSync();
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - b[i]) / Math.max(1, Math.abs(b[i])));
      expect(worst).toBeLessThanOrEqual(1e-5);
      const labels = test.labels.dataSync();
      let agree = 0;
      let correct = 0;
      for (let r = 0; r < 100; r++) {
        const p = argmax(got.data.subarray(r * 10, r * 10 + 10));
        if (p === argmax(b.subarray(r * 10, r * 10 + 10))) agree++;
        if (p === labels[r]) correct++;
      }
      expect(agree).toBe(100);
      expect(correct).toBeGreaterThan(50); // trained a little: far above chance (10%), so the weights are real
    });
  }

  it('a model on the wasm backend exports the same file as on cpu', async () => {
    registerWasmBackend();
    manualSeed(0);
    const model = buildModel('cnn');
    const onCpu = exportOnnx(model, { inputShapes: [[1, 1, 28, 28]] });
    await model.to('wasm');
    expect(model.parameters()[0].backend.name).toBe('wasm');
    const onWasm = exportOnnx(model, { inputShapes: [[1, 1, 28, 28]] });
    expect(Buffer.compare(Buffer.from(onWasm), Buffer.from(onCpu))).toBe(0);
  });

  // WebGPU reads are asynchronous only: exportOnnx (synchronous) says to move the model first
  it.skipIf(!webgpu)('a model on the webgpu backend is refused with what to do', async () => {
    const model = buildModel('mlp');
    await model.to('webgpu');
    expect(() => exportOnnx(model, { inputShapes: [[1, 784]] })).toThrow(/weights are on the 'webgpu' backend, which cannot be read synchronously; move the model first: await model.to\('cpu'\)/);
    await model.to('cpu');
    expect(exportOnnx(model, { inputShapes: [[1, 784]] }).length).toBeGreaterThan(784 * 256 * 4);
  });
});
