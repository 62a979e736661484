import { checkCustomOp } from '@ml/autograd/testing';
import { it } from 'vitest';
import { gpu } from './gpu.js';

if (gpu !== null) {
  it('a new op defined in one file (@ml/autograd/testing: softsign) runs on webgpu by its fused kernel, and its gradient matches central differences', async () => {
    await checkCustomOp('webgpu');
  });
} else it.skip('a new op defined in one file: webgpu (no WebGPU device here)', () => {});
