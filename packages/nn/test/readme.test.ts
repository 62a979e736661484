// The README's examples, line for line (the weights file goes to a temporary folder);
// what they print is asserted here.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '@ml/autograd';
import { loadSafetensors, manualSeed, randint, randn, tidy, type Tensor } from '@ml/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Conv2d, concatenate, crossEntropy, CrossEntropyLoss, Flatten, input, l2Penalty, Linear, MaxPool2d, Model, Module, ReLU, Sequential, weightsOnly } from '../src/index.js';

const dir = await mkdtemp(join(tmpdir(), 'ml-nn-readme-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('the CNN: summary, three SGD steps by hand, weights saved under PyTorch’s keys', async () => {
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    try {
      manualSeed(0);
      const model = new Sequential([
        new Conv2d({ inChannels: 1, outChannels: 32, kernelSize: 3, padding: 'same' }),
        new ReLU(),
        new MaxPool2d({ kernelSize: 2 }),
        new Flatten(),
        new Linear({ inFeatures: 32 * 14 * 14, outFeatures: 10 }),
      ]);
      model.summary({ inputShape: [1, 28, 28] }); // Keras's table: layers, output shapes, params
      const lossFn = new CrossEntropyLoss();
      const x = randn([8, 1, 28, 28]);
      const y = randint(0, 10, [8], { dtype: 'int32' });
      for (let step = 0; step < 3; step++) {
        tidy(() => {
          model.zeroGrad();
          const loss = lossFn.forward(model.forward(x), y);
          loss.backward();
          noGrad(() => model.parameters().forEach((p) => p.assign(p.sub(p.grad!.mul(0.003)))));
          console.log(loss.item()); // 2.50, 1.49, 1.23
        });
      }
      await model.saveWeights(join(dir, 'model.safetensors'));
      const table = printed.slice(0, -3).join('\n');
      // 1·32·9 + 32 = 320 and 6,272·10 + 10 = 62,730 parameters
      expect(table).toMatch(/Total params: 63,050/);
      expect(table).toMatch(/\(None, 32, 14, 14\)|\[-1, 32, 14, 14\]|32, 14, 14/);
      const losses = printed.slice(-3).map(Number);
      expect(losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      // the README's comment: 2.50, 1.49, 1.23 (seed 0)
      expect(losses.map((l) => l.toFixed(2))).toEqual(['2.50', '1.49', '1.23']);
      const saved = await loadSafetensors(join(dir, 'model.safetensors'));
      expect(Object.keys(saved.tensors).sort()).toEqual(['0.bias', '0.weight', '4.bias', '4.weight']);
    } finally {
      log.mockRestore();
    }
  });

  it('a custom module: registered submodules give the state-dict keys', () => {
    class TwoLayer extends Module {
      readonly fc1 = this.registerModule('fc1', new Linear({ inFeatures: 4, outFeatures: 8 }));
      readonly fc2 = this.registerModule('fc2', new Linear({ inFeatures: 8, outFeatures: 1 }));
      forward(x: Tensor): Tensor {
        return this.fc2.forward(this.fc1.forward(x).relu());
      }
    }
    const m = new TwoLayer();
    expect(Object.keys(m.stateDict())).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(m.forward(randn([5, 4])).shape).toEqual([5, 1]);
  });

  it('a functional model with two inputs: summary with a "Connected to" column', () => {
    const image = input({ shape: [784], name: 'image' });
    const meta = input({ shape: [4], name: 'meta' });
    const h = new ReLU().call(new Linear({ inFeatures: 784, outFeatures: 64 }).call(image));
    const out = new Linear({ inFeatures: 68, outFeatures: 10 }).call(concatenate([h, meta]));
    const model = new Model({ inputs: [image, meta], outputs: out });
    const table = model.summary({ printFn: null });
    expect(table).toMatch(/Connected to/);
    // 784·64 + 64 + 68·10 + 10 = 50,930
    expect(table).toMatch(/Total params: 50,930/);
  });

  it('a loss with label smoothing and an L2 penalty on the weights only', () => {
    manualSeed(1);
    const model = new Linear({ inFeatures: 3, outFeatures: 4 });
    const x = randn([6, 3]);
    const labels = randint(0, 4, [6], { dtype: 'int32' });
    const loss = crossEntropy(model.forward(x), labels, { labelSmoothing: 0.1 }).add(l2Penalty(weightsOnly(model), 1e-4));
    const plain = crossEntropy(model.forward(x), labels, { labelSmoothing: 0.1 }).item();
    // the penalty: λ·Σ w² over the weight alone, the bias left out
    const w2 = Array.from(model.weight.dataSync()).reduce((s, v) => s + v * v, 0);
    expect(Math.abs(loss.item() - plain - 1e-4 * w2)).toBeLessThan(1e-6);
  });
});
