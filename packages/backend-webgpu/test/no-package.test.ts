// Node without npm's webgpu package (an optional peer dependency): registering says how to
// install it, and nothing is registered.
import { listBackends } from '@ml/tensor';
import { expect, it, vi } from 'vitest';
import { registerWebGpuBackend } from '../src/index.js';

// the import fails as a missing package's would (vitest wraps the factory's error)
vi.mock('webgpu', () => {
  throw new Error("Cannot find package 'webgpu'");
});

it('without the webgpu package, registering rejects, saying to install it; no backend is registered', async () => {
  await expect(registerWebGpuBackend()).rejects.toThrow(/@ml\/backend-webgpu: no WebGPU device \(the webgpu package did not load — in Node, install it next to this one \(npm install webgpu\): /);
  expect(listBackends()).not.toContain('webgpu');
});
