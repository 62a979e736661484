// An imported graph runs on other backends: the PyTorch-exported fixtures on the wasm backend
// give PyTorch's recorded outputs (within 1e-5) and gradients flow to the imported parameters there.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerWasmBackend } from '@ml/backend-wasm';
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

beforeAll(async () => {
  await registerWasmBackend();
});

describe('imported models on the wasm backend', () => {
  for (const name of names) {
    it(`${name} gives PyTorch's outputs`, async () => {
      const fx = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as { inputs: Recorded[]; outputs: Recorded[] };
      const model = importOnnx(new Uint8Array(readFileSync(`${dir}${name}.onnx`)), { backend: 'wasm' });
      expect(model.parameters().every((p) => p.backend.name === 'wasm')).toBe(true);
      const feeds = Object.fromEntries(fx.inputs.map((i) => [i.name, fromArray(i.data, i.shape, { dtype: i.dtype.startsWith('float') ? 'float32' : 'int32', backend: 'wasm' })]));
      const out = model.run(feeds);
      for (const o of fx.outputs) {
        const t = out[o.name];
        expect(t.backend.name).toBe('wasm');
        expect([...t.shape]).toEqual(o.shape);
        const a = await t.data();
        o.data.forEach((b, i) => {
          if (!(Math.abs(a[i] - b) / Math.max(1, Math.abs(b)) <= 1e-5)) throw new Error(`${name}.${o.name}[${i}]: ${a[i]} on wasm, PyTorch gave ${b}`);
        });
      }
    });
  }

  it('gradients reach the parameters on wasm', async () => {
    const model = importOnnx(new Uint8Array(readFileSync(`${dir}cnn_bn_pool.onnx`)), { backend: 'wasm' });
    model.forward(randn([2, 1, 12, 12], { backend: 'wasm' })).square().mean().backward();
    for (const p of model.parameters()) {
      expect(p.grad?.backend.name).toBe('wasm');
      const g = await (p.grad as NonNullable<typeof p.grad>).data();
      expect(Array.from(g).some((v) => v !== 0)).toBe(true);
    }
  });
});
