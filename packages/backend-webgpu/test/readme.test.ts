// The README's example, line for line (its own process: it destroys the device at the end).
import { matmul, randn } from '@ml/tensor';
import { expect, it } from 'vitest';
import { useWebGpu } from '../src/index.js';
import { gpu as found } from './gpu.js';

it.skipIf(found === null)('README: a product and relu on the GPU, read asynchronously; heap and stats', async () => {
  const gpu = await useWebGpu();
  const a = randn([256, 512]);
  const b = randn([512, 128]);
  const c = matmul(a, b).relu();
  expect([c.shape, (await c.data()).length]).toEqual([[256, 128], 32768]);
  expect([gpu.heap().liveBlocks, gpu.stats.kernels]).toEqual([4, 2]);
  gpu.destroy();
  expect(() => randn([2]).add(1)).toThrow(/webgpu: the GPU device was lost \(destroy\(\) was called\)/);
  // registering again gives a new backend on a new device
  const fresh = await useWebGpu();
  expect(fresh).not.toBe(gpu);
  expect(Array.from(await randn([2]).mul(0).add(1).data())).toEqual([1, 1]);
  fresh.destroy();
});
