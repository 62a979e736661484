// The cars MLP of `cars()` (src/cars.ts: 2-32-32-1 with ReLU on standardized horsepower and
// weight, Adam on MPG minus its mean) exported to ONNX and run in ONNX Runtime (CPU) on 100 real
// rows of vega-datasets' cars.json: within |ort − ml| ≤ 1e-5·max(1, |ml|) of @ml's forward (fp32).
import { readJsonRecords } from '@ml/data';
import { Linear, ReLU, Sequential } from '@ml/nn';
import { exportOnnx } from '@ml/onnx';
import { fromArray, manualSeed } from '@ml/tensor';
import '@ml/train';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { carsFile } from '../src/cars.js';
import { fitScaler } from '../src/linalg.js';

it('the cars MLP gives the same MPG predictions on 100 real rows in ONNX Runtime', async () => {
  const table = await readJsonRecords(carsFile());
  const rows = table.rows.filter((r) => typeof r.Miles_per_Gallon === 'number' && typeof r.Horsepower === 'number');
  const X = rows.map((r) => [r.Horsepower as number, r.Weight_in_lbs as number]);
  const y = rows.map((r) => r.Miles_per_Gallon as number);
  expect(rows.length).toBeGreaterThanOrEqual(300);
  const scaled = fitScaler(X).apply(X);
  const yMean = y.reduce((a, b) => a + b) / y.length;

  manualSeed(1);
  // the same architecture as cars() builds
  const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 32 }), new ReLU(), new Linear({ inFeatures: 32, outFeatures: 32 }), new ReLU(), new Linear({ inFeatures: 32, outFeatures: 1 })]);
  model.compile({ optimizer: 'adam', lr: 3e-3, loss: 'mse' });
  const xAll = fromArray(Float32Array.from(scaled.flat()), [rows.length, 2]);
  await model.fit(xAll, fromArray(Float32Array.from(y.map((v) => v - yMean)), [rows.length, 1]), { epochs: 30, batchSize: 32, seed: 1, verbose: 0 });

  const bytes = exportOnnx(model, { inputShapes: [[1, 2]] });
  const x = xAll.narrow(0, 0, 100);
  model.eval();
  const expected = model.forward(x).dataSync();
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x.dataSync()), [100, 2]) });
  await session.release();
  expect([...out.output.dims]).toEqual([100, 1]);
  const got = out.output.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < 100; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThanOrEqual(1e-5);
  // trained: the predictions explain most of the MPG variance of these rows (R² > 0.5)
  const target = y.slice(0, 100).map((v) => v - yMean);
  const mean = target.reduce((a, b) => a + b) / 100;
  const ssRes = target.reduce((s, v, i) => s + (v - got[i]) ** 2, 0);
  const ssTot = target.reduce((s, v) => s + (v - mean) ** 2, 0);
  expect(1 - ssRes / ssTot).toBeGreaterThan(0.5);
});
