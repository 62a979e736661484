// Models exported by PyTorch (`torch.onnx.export`, fixtures made by
// tooling/torch-bridge/make_onnx_fixtures.py): imported here, run on the recorded inputs and
// compared with PyTorch's recorded outputs, |ml − torch| ≤ 1e-5·max(1, |torch|).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromArray, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../src/index.js';

interface Recorded {
  name: string;
  shape: number[];
  dtype: string;
  data: number[];
}

interface Fixture {
  description: string;
  inputs: Recorded[];
  outputs: Recorded[];
}

const dir = fileURLToPath(new URL('./fixtures/torch/', import.meta.url));
const names = readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, -5));

function compare(name: string, actual: Tensor, expected: Recorded): void {
  expect([...actual.shape], `${name}: shape`).toEqual(expected.shape);
  expect(expected.data.length, `${name}: recorded values`).toBe(expected.shape.reduce((p, d) => p * d, 1));
  expect(expected.data.length).toBeGreaterThan(0);
  const a = actual.dataSync();
  expected.data.forEach((b, i) => {
    const err = Math.abs(a[i] - b) / Math.max(1, Math.abs(b));
    if (!(err <= 1e-5)) throw new Error(`${name}: element ${i} is ${a[i]}, PyTorch gave ${b}`);
  });
}

describe('models exported by PyTorch run as PyTorch ran them', () => {
  it('finds the fixtures', () => expect(names.length).toBeGreaterThanOrEqual(7));
  for (const name of names) {
    it(name, () => {
      const fx = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as Fixture;
      const model = importOnnx(new Uint8Array(readFileSync(`${dir}${name}.onnx`)));
      const feeds = Object.fromEntries(fx.inputs.map((i) => [i.name, fromArray(i.data, i.shape, { dtype: i.dtype.startsWith('float') ? 'float32' : 'int32' })]));
      const out = model.run(feeds);
      expect(model.outputNames).toEqual(fx.outputs.map((o) => o.name));
      for (const o of fx.outputs) compare(`${name}.${o.name}`, out[o.name], o);
    });
  }
});
