// An imported graph runs on other backends: the PyTorch-exported fixtures on the wasm and webgpu
// backends give PyTorch's recorded outputs (within 1e-5; 1e-4 on webgpu, whose exp and tanh are
// the GPU's) and gradients flow to the imported parameters there. WebGPU runs on a software GPU
// in CI (ML_REQUIRE_WEBGPU=1 there); on a machine without any device it is skipped, as in
// @ml/backend-webgpu's own tests.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerWasmBackend } from '@ml/backend-wasm';
import { registerWebGpuBackend } from '@ml/backend-webgpu';
import { fromArray, randn } from '@ml/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { importOnnx } from '../src/index.js';

interface Recorded {
  name: string;
  dtype: string;
  shape: number[];
  data: number[];
}

const dir = fileURLToPath(new URL('./fixtures/torch/', import.meta.url));
const names = readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, -5));

async function webgpu(): Promise<boolean> {
  try {
    await registerWebGpuBackend();
    return true;
  } catch (e) {
    if (process.env.ML_REQUIRE_WEBGPU === '1') throw e;
    console.warn(`webgpu import tests skipped: ${(e as Error).message}`);
    return false;
  }
}
const hasGpu = await webgpu();

beforeAll(async () => {
  await registerWasmBackend();
});

for (const [backend, tol] of [['wasm', 1e-5], ['webgpu', 1e-4]] as const) {
(backend === 'webgpu' && !hasGpu ? describe.skip : describe)(`imported models on the ${backend} backend`, () => {
  for (const name of names) {
    it(`${name} gives PyTorch's outputs`, async () => {
      const fx = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as { inputs: Recorded[]; outputs: Recorded[] };
      const model = importOnnx(new Uint8Array(readFileSync(`${dir}${name}.onnx`)), { backend });
      expect(model.parameters().every((p) => p.backend.name === backend)).toBe(true);
      const feeds = Object.fromEntries(fx.inputs.map((i) => [i.name, fromArray(i.data, i.shape, { dtype: i.dtype.startsWith('float') ? 'float32' : 'int32', backend })]));
      const out = model.run(feeds);
      for (const o of fx.outputs) {
        const t = out[o.name];
        expect(t.backend.name).toBe(backend);
        expect([...t.shape]).toEqual(o.shape);
        const a = await t.data();
        o.data.forEach((b, i) => {
          if (!(Math.abs(a[i] - b) / Math.max(1, Math.abs(b)) <= tol)) throw new Error(`${name}.${o.name}[${i}]: ${a[i]} on ${backend}, PyTorch gave ${b}`);
        });
      }
    });
  }

  it(`gradients reach the parameters on ${backend}`, async () => {
    const model = importOnnx(new Uint8Array(readFileSync(`${dir}cnn_bn_pool.onnx`)), { backend });
    model.forward(randn([2, 1, 12, 12], { backend })).square().mean().backward();
    for (const p of model.parameters()) {
      expect(p.grad?.backend.name).toBe(backend);
      const g = await (p.grad as NonNullable<typeof p.grad>).data();
      expect(Array.from(g).some((v) => v !== 0)).toBe(true);
    }
  });
});
}
