import '@ml/autograd';
import '@ml/train';
import { Conv2d, crossEntropy, Embedding, Flatten, Linear, LSTM, MaxPool2d, ReLU, Sequential, TransformerEncoderLayer } from '@ml/nn';
import { Adam, AdamW, clipGradNorm, clipGradNormTensor, SGD } from '@ml/optim';
import {
  fromArray,
  gather,
  getBackend,
  indexSelect,
  manualSeed,
  matmul,
  memory,
  randn,
  setBackend,
  sum,
  tensor,
  tidy,
  toBackend,
  zeros,
  type Tensor,
} from '@ml/tensor';
import { describe, expect, it, vi } from 'vitest';
import { registerWebGpuBackend, useWebGpu } from '../src/index.js';
import { gpu } from './gpu.js';

/** Run `f` on a backend from the same seed; its outputs as plain arrays. */
async function on(name: string, f: () => Tensor[]): Promise<number[][]> {
  const prev = getBackend().name;
  setBackend(name);
  try {
    manualSeed(3);
    // copies, so gradients of leaves made inside (freed with them) outlive the scope
    const outs = tidy(() => f().map((t) => t.detach().clone()));
    const values = await Promise.all(outs.map(async (t) => Array.from(await t.data())));
    outs.forEach((t) => t.dispose());
    return values;
  } finally {
    setBackend(prev);
  }
}

function expectClose(a: number[][], b: number[][], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((xs, i) => {
    expect(xs.length, `output ${i} length`).toBe(b[i].length);
    xs.forEach((v, j) => expect(Math.abs(v - b[i][j]), `output ${i}[${j}]: ${v} vs ${b[i][j]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i][j]))));
  });
}

const maybe = gpu === null ? describe.skip : describe;

maybe('the webgpu backend equals the cpu backend (float32 sums in another order: 1e-4 relative)', () => {
  it('matmul: tile edges, k not a multiple of the k-step, transposed, batched and broadcast operands', async () => {
    const f = () => {
      const outs: Tensor[] = [];
      for (const [m, k, n] of [[64, 784, 128], [7, 33, 5], [1, 512, 10], [130, 17, 130], [65, 16, 63]]) {
        const a = randn([m, k]);
        const b = randn([n, k]);
        outs.push(matmul(a, b.transpose(0, 1)));
        outs.push(matmul(randn([3, k, m]).transpose(1, 2), randn([3, k, n])));
        outs.push(matmul(randn([2, 1, m, k]), randn([4, k, n]))); // the left operand broadcast over a batch
      }
      return outs;
    };
    expectClose(await on('webgpu', f), await on('cpu', f), 1e-4);
  });

  it('a dense layer, a convolution with padding and stride, an LSTM, an embedding and a Transformer layer: outputs and every gradient', async () => {
    const f = () => {
      const lin = new Linear({ inFeatures: 20, outFeatures: 30 });
      const conv = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, stride: 2 });
      const lstm = new LSTM({ inputSize: 6, hiddenSize: 16, batchFirst: true });
      const emb = new Embedding({ numEmbeddings: 11, embeddingDim: 8 });
      const enc = new TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 16, dropout: 0, batchFirst: true });
      const x = randn([16, 20], { requiresGrad: true });
      const img = randn([4, 3, 13, 13], { requiresGrad: true });
      const seq = randn([5, 9, 6], { requiresGrad: true });
      const ids = tensor([[1, 4, 4, 10], [0, 3, 9, 4]], { dtype: 'int32' });
      const y = lin.forward(x);
      const z = conv.forward(img);
      const [h] = lstm.forward(seq);
      const e = enc.forward(emb.forward(ids));
      const target = tensor(Array.from({ length: 16 }, (_, i) => (i * 7) % 30), { dtype: 'int32' });
      const loss = crossEntropy(y, target).add(z.square().mean()).add(h.square().mean()).add(e.tanh().sum());
      loss.backward();
      const grads = [lin, conv, lstm, emb, enc].flatMap((m) => m.parameters().map((p) => p.grad!));
      return [loss, y, z, h, e, x.grad!, img.grad!, seq.grad!, ...grads];
    };
    expectClose(await on('webgpu', f), await on('cpu', f), 1e-4);
  });

  it('reductions over large and strided axes, and index ops with negative indices', async () => {
    const f = () => {
      const x = randn([6, 50, 70]);
      const big = randn([300_000]);
      const rows = indexSelect(x, 1, tensor([49, 0, 7, 7], { dtype: 'int32' }));
      const picked = gather(x, 2, tensor(Array.from({ length: 6 * 50 * 3 }, (_, i) => (i % 140) - 70), { dtype: 'int32' }).reshape([6, 50, 3]));
      return [sum(big), big.max(), x.sum([0, 2]), x.transpose(0, 2).mean(1), x.argmax(1), x.min(0), rows, picked];
    };
    expectClose(await on('webgpu', f), await on('cpu', f), 1e-4);
  });

  // (SGD, whose step is linear in the gradient: Adam's first steps move a parameter by ±lr
  // whatever the size of its gradient, so a float32 rounding of a zero gradient shows as lr)
  it('float → int32 casts as the cpu backend stores them: toward zero, modulo 2³² past the range, NaN and ±∞ to 0', async () => {
    const v = [NaN, Infinity, -Infinity, -2.7, 2.7, 3e9, -3e9, 2147483648, -2147483648, 1e20, 5e9];
    const f = () => [tensor(v).cast('int32')];
    expect(await on('webgpu', f)).toEqual(await on('cpu', f));
  });

  it('SGD steps with momentum on a small CNN: the parameters after five steps', async () => {
    const f = () => {
      const net = new Sequential([
        new Conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3 }),
        new ReLU(),
        new MaxPool2d({ kernelSize: 2 }),
        new Flatten(),
        new Linear({ inFeatures: 4 * 5 * 5, outFeatures: 3 }),
      ]);
      const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
      const x = randn([8, 1, 12, 12]);
      const y = tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int32' });
      for (let i = 0; i < 5; i++) {
        opt.zeroGrad();
        crossEntropy(net.forward(x), y).backward();
        opt.step();
      }
      return net.parameters();
    };
    expectClose(await on('webgpu', f), await on('cpu', f), 1e-4);
  });
});

maybe('the fused Adam kernel', () => {
  it('Adam steps on the kernel equal the op-by-op path on cpu (1e-5 relative), with weight decay, the moments carried from step to step in place; a kernel per parameter', async () => {
    const f = (decoupled: boolean) => () => {
      const lin = new Linear({ inFeatures: 30, outFeatures: 20 });
      const opt = decoupled ? new AdamW(lin.parameters(), { lr: 0.01 }) : new Adam(lin.parameters(), { lr: 0.01, weightDecay: 0.1 });
      const x = randn([50, 30]);
      const y = randn([50, 20]);
      for (let i = 0; i < 4; i++) {
        opt.zeroGrad();
        lin.forward(x).sub(y).square().mean().backward();
        opt.step();
      }
      return lin.parameters();
    };
    const before = gpu!.stats.kernels;
    for (const decoupled of [false, true]) expectClose(await on('webgpu', f(decoupled)), await on('cpu', f(decoupled)), 1e-5);
    // 2 parameters × 4 steps × 2 runs, one kernel each, next to the forward and backward ones
    const kernels = gpu!.stats.kernels - before;
    const opByOp = await (async () => {
      // the backend declining the fused step: the op-by-op formula runs
      const declined = vi.spyOn(gpu!, 'adamUpdate').mockReturnValue(null);
      const k0 = gpu!.stats.kernels;
      try {
        await on('webgpu', f(false));
        return gpu!.stats.kernels - k0;
      } finally {
        declined.mockRestore();
      }
    })();
    expect(kernels / 2).toBeLessThan(opByOp - 2 * 4 * 5);
  });
});

maybe('usage and errors', () => {
  it('useWebGpu makes it the default; sync reads, float64 and mixed backends get clear errors', async () => {
    const prev = getBackend().name;
    await useWebGpu();
    try {
      const a = randn([2, 2]);
      expect(a.backend.name).toBe('webgpu');
      // registering again, even twice at once, gives the one backend
      const again = await Promise.all([registerWebGpuBackend(), registerWebGpuBackend()]);
      expect(again.every((b) => b === gpu)).toBe(true);
      const [x, y] = await Promise.all([registerWebGpuBackend({ name: 'webgpu-second' }), registerWebGpuBackend({ name: 'webgpu-second' })]);
      expect(x).toBe(y);
      expect(x).not.toBe(gpu);
      x.destroy();
      expect(() => a.dataSync()).toThrow(/dataSync: backend 'webgpu' cannot read synchronously — use `await t.data\(\)`/);
      expect(() => a.sum().item()).toThrow(/cannot read synchronously/);
      expect(a.toString()).toMatch(/tensor\(<on webgpu: await t\.data\(\) to read>, shape=\[2, 2\]/);
      expect(() => tensor([1, 2], { dtype: 'float64' })).toThrow(/webgpu: .*float64.*WGSL has no 64-bit floats/);
      expect(() => a.double()).toThrow(/float64/);
      setBackend('cpu');
      const b = randn([2, 2]);
      expect(() => a.add(b)).toThrow(/add: tensors are on different backends \('webgpu' and 'cpu'\)/);
      const moved = await toBackend(a, 'cpu');
      expect(Array.from(moved.add(b).dataSync())).toHaveLength(4);
      const back = await toBackend(b, 'webgpu');
      expect(Array.from(await back.data())).toEqual(Array.from(b.dataSync()));
      a.dispose();
      await expect(a.data()).rejects.toThrow(/disposed/);
    } finally {
      setBackend(prev);
    }
  });

  it('gradient clipping: clipGradNorm (a number: a sync read) says to use clipGradNormTensor, which equals the cpu result', async () => {
    const grads = (name: string) => {
      setBackend(name);
      manualSeed(8);
      const ps = [randn([30, 20], { requiresGrad: true }), randn([20], { requiresGrad: true })];
      ps.forEach((p) => (p.grad = randn(p.shape).mul(3).keep()));
      return ps;
    };
    const prev = getBackend().name;
    try {
      const g = grads('webgpu');
      expect(() => clipGradNorm(g, 1)).toThrow(/clipGradNorm: backend 'webgpu' cannot read the norm synchronously — use clipGradNormTensor/);
      const norm = clipGradNormTensor(g, 1)!;
      const c = grads('cpu');
      const want = clipGradNorm(c, 1);
      expect(Math.abs((await norm.data())[0] - want) / want).toBeLessThan(1e-5);
      expectClose(await Promise.all(g.map(async (p) => Array.from(await p.grad!.data()))), c.map((p) => Array.from(p.grad!.dataSync())), 1e-5);
    } finally {
      setBackend(prev);
    }
  });

  it('an index out of range is found on the GPU and reported at the next read, which fails; the backend works on after it', async () => {
    const prev = getBackend().name;
    setBackend('webgpu');
    try {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      const bad = gather(x, 1, tensor([[0, 3], [1, -4]], { dtype: 'int32' }));
      await expect(bad.data()).rejects.toThrow(/gather: index (3|-4) is out of range for a dim of size 3 \(found on the GPU/);
      const good = gather(x, 1, tensor([[2, -1], [0, 1]], { dtype: 'int32' }));
      expect(Array.from(await good.data())).toEqual([3, 3, 4, 5]);
      const y = tensor([0, 5], { dtype: 'int32' });
      const loss = crossEntropy(randn([2, 3]), y);
      await expect(loss.data()).rejects.toThrow(/out of range for a dim of size 3/);
    } finally {
      setBackend(prev);
    }
  });

  it('a tensor past the binding limit: a view inside it is bound as its window; an op reading or writing more is refused clearly', async () => {
    const prev = getBackend().name;
    setBackend('webgpu');
    try {
      const limit = gpu!.device.limits.maxStorageBufferBindingSize / 4;
      const n = limit + 300_000; // elements: a buffer the device cannot bind whole
      const host = new Float32Array(n);
      for (let i = n - 2000; i < n; i++) host[i] = i % 7;
      const big = fromArray(host, [n]);
      const tail = big.narrow(0, n - 1000, 1000);
      const want = Array.from(host.subarray(n - 1000));
      expect(Array.from(await tail.mul(2).data())).toEqual(want.map((v) => v * 2));
      expect((await tail.sum().data())[0]).toBe(want.reduce((a, b) => a + b));
      expect(() => big.sum()).toThrow(/webgpu: sum reads \d+ MiB of one \d+ MiB buffer; this device binds at most \d+ MiB at once/);
      expect(() => big.add(1)).toThrow(/webgpu: add reads \d+ MiB of one/);
      expect(() => zeros([n])).toThrow(/webgpu: fill would write a tensor of \d+ elements \(\d+ MiB\); this device binds at most/);
      const blocks = gpu!.heap().liveBlocks;
      tail.dispose();
      big.dispose();
      expect(gpu!.heap().liveBlocks).toBe(blocks - 1); // the refused ops took no buffer
      expect(gpu!.heap().liveBlocks).toBe(memory().backends.webgpu.numStorages);
    } finally {
      setBackend(prev);
    }
  });

  it('fit on the GPU from data kept on cpu: batches moved over and freed, GPU memory and tensor counts flat across epochs', async () => {
    const prev = getBackend().name;
    try {
      setBackend('cpu');
      manualSeed(4);
      const x = randn([300, 8]);
      const y = x.sum(1).gt(0).cast('int32');
      setBackend('webgpu');
      const model = new Sequential([new Linear({ inFeatures: 8, outFeatures: 16 }), new ReLU(), new Linear({ inFeatures: 16, outFeatures: 2 })]);
      model.compile({ optimizer: 'adam', lr: 0.02, loss: 'cross_entropy', metrics: ['accuracy'] });
      await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, seed: 1, validationSplit: 0.2 });
      const [tensors, live] = [memory().numTensors, gpu!.heap().liveBytes];
      const h = await model.fit(x, y, { epochs: 6, batchSize: 32, verbose: 0, seed: 2, validationSplit: 0.2 });
      expect(memory().numTensors).toBe(tensors);
      expect(gpu!.heap().liveBytes).toBe(live);
      expect(h.history.val_accuracy.at(-1)).toBeGreaterThan(0.9);
    } finally {
      setBackend(prev);
    }
  });

  it('CNN training steps keep tensor counts and GPU memory flat, and compile no new pipeline after the first', async () => {
    const prev = getBackend().name;
    setBackend('webgpu');
    try {
      manualSeed(2);
      const net = new Sequential([
        new Conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3 }),
        new ReLU(),
        new MaxPool2d({ kernelSize: 2 }),
        new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3 }),
        new ReLU(),
        new MaxPool2d({ kernelSize: 2 }),
        new Flatten(),
        new Linear({ inFeatures: 16 * 5 * 5, outFeatures: 10 }),
      ]);
      const opt = new Adam(net.parameters(), { lr: 1e-3 });
      const x = randn([16, 1, 28, 28]).keep();
      const y = tensor(Array.from({ length: 16 }, (_, i) => i % 10), { dtype: 'int32' }).keep();
      const losses: number[] = [];
      const step = async () => {
        const loss = tidy(() => {
          opt.zeroGrad();
          const l = crossEntropy(net.forward(x), y);
          l.backward();
          opt.step();
          return l;
        });
        losses.push((await loss.data())[0]);
        loss.dispose();
      };
      for (let i = 0; i < 3; i++) await step();
      const tensors = memory().numTensors;
      const heap = gpu!.heap();
      const pipelines = gpu!.stats.pipelines;
      for (let i = 0; i < 30; i++) await step();
      expect(memory().numTensors).toBe(tensors);
      expect(gpu!.heap().liveBytes).toBe(heap.liveBytes);
      expect(gpu!.heap().liveBlocks).toBe(memory().backends.webgpu.numStorages);
      expect(gpu!.heap().reservedBytes).toBe(heap.reservedBytes);
      expect(gpu!.stats.pipelines).toBe(pipelines);
      expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.5); // and it learns the batch
    } finally {
      setBackend(prev);
    }
  });
});
