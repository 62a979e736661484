import { readFile } from 'node:fs/promises';
import { noGrad } from '@ml/autograd';
import { importOnnx } from '@ml/onnx';
import { fromArray, manualSeed, randn } from '@ml/tensor';

// a CNN exported by PyTorch (torch.onnx.export, opset 17, dynamic batch) and the outputs PyTorch recorded
const dir = new URL('../test/fixtures/torch/', import.meta.url);
const bytes = await readFile(new URL('cnn_bn_pool.onnx', dir));
const recorded = JSON.parse(await readFile(new URL('cnn_bn_pool.json', dir), 'utf8'));

const model = importOnnx(bytes); // an @ml/nn Module; { backend: 'wasm' } puts it on another backend
const [x] = recorded.inputs;
const y = model.forward(fromArray(x.data, x.shape));
const expected: number[] = recorded.outputs[0].data;
console.log(model.inputNames, y.shape, Array.from(y.dataSync()).every((v, i) => Math.abs(v - expected[i]) <= 1e-5));

// fine-tune: the file's float initializers are parameters, named as in PyTorch's state dict where they can be
manualSeed(0);
const inputs = randn([16, 1, 12, 12]);
const targets = randn([16, 3]);
const loss = () => model.forward(inputs).sub(targets).square().mean();
const before = loss().item();
for (let step = 0; step < 20; step++) {
  model.zeroGrad();
  loss().backward();
  noGrad(() => {
    for (const p of model.parameters()) p.assign(p.sub(p.grad!.mul(0.05)));
  });
}
console.log(loss().item() < before); // true
