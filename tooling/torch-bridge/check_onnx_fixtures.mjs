// Check the PyTorch-exported ONNX fixtures with ONNX Runtime (onnxruntime-node from the
// dev dependencies of @ml/onnx): each file loads, gives PyTorch's recorded outputs within 1e-5, and its batch
// dimension is dynamic (the first sample alone gives the first sample's outputs).
//   node tooling/torch-bridge/check_onnx_fixtures.mjs [fixtures folder]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// onnxruntime-node is a dev dependency of @ml/onnx: resolve it from there
const ort = createRequire(new URL('../../packages/onnx/package.json', import.meta.url))('onnxruntime-node');

const dir = process.argv[2] ?? fileURLToPath(new URL('../../packages/onnx/test/fixtures/torch/', import.meta.url));
const TOL = 1e-5;

/** Rows [i] of `data` (shape `shape`) along axis `axis` as a new flat array and shape. */
function take(data, shape, axis, i) {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = [];
  for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) out.push(data[(o * shape[axis] + i) * inner + k]);
  return { data: out, shape: shape.map((d, j) => (j === axis ? 1 : d)) };
}

function worst(got, want) {
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return w;
}

let failed = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const rec = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const session = await ort.InferenceSession.create(join(dir, `${rec.name}.onnx`));
  const tensor = (t) => (t.dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(t.data, BigInt), t.shape) : new ort.Tensor('float32', Float32Array.from(t.data), t.shape));
  const feeds = (inputs) => Object.fromEntries(inputs.map((t) => [t.name, tensor(t)]));
  const full = await session.run(feeds(rec.inputs));
  let err = 0;
  for (const o of rec.outputs) {
    if (JSON.stringify([...full[o.name].dims]) !== JSON.stringify(o.shape)) throw new Error(`${rec.name}: ${o.name} has shape ${full[o.name].dims}, PyTorch ${o.shape}`);
    err = Math.max(err, worst(full[o.name].data, o.data));
  }
  // batch of one: the first sample along each tensor's batch axis
  const axis = (name) => Number(Object.keys(rec.dynamicAxes[name])[0]);
  const one = await session.run(feeds(rec.inputs.map((t) => ({ ...t, ...take(t.data, t.shape, axis(t.name), 0) }))));
  let errOne = 0;
  for (const o of rec.outputs) errOne = Math.max(errOne, worst(one[o.name].data, take(o.data, o.shape, axis(o.name), 0).data));
  const ok = err < TOL && errOne < TOL;
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${rec.name}: opset ${rec.opset}, max relative difference ${err.toExponential(1)} (batch of one ${errOne.toExponential(1)})`);
}
if (failed) process.exit(1);
