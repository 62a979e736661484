import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Sequential } from '@ml/nn';
import { saveOnnx } from '@ml/onnx/node';
import { manualSeed, randn } from '@ml/tensor';
import * as ort from 'onnxruntime-node';

manualSeed(0);
const model = new Sequential([
  new Conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
  new BatchNorm2d({ numFeatures: 8 }),
  new MaxPool2d({ kernelSize: 2 }),
  new Flatten(),
  new Linear({ inFeatures: 8 * 14 * 14, outFeatures: 10 }),
]);

// traced at batch 1; dim 0 is written as the symbolic dim 'batch', so any batch size runs
const path = join(await mkdtemp(join(tmpdir(), 'onnx-')), 'cnn.onnx');
await saveOnnx(model, path, { inputShapes: [[1, 1, 28, 28]] });

// ONNX Runtime on a batch of 4, against @ml's own forward (eval mode, as exported)
const x = randn([4, 1, 28, 28]);
const session = await ort.InferenceSession.create(path);
const { output } = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x.dataSync()), [4, 1, 28, 28]) });
const ours = model.eval().forward(x).dataSync();
const theirs = output.data as Float32Array;
const worst = Math.max(...Array.from(ours, (v, i) => Math.abs(theirs[i] - v) / Math.max(1, Math.abs(v))));
console.log(output.dims, worst <= 1e-5); // [ 4, 10 ] true
