import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { getBackend, setBackend } from '@ml/tensor';
import { describe, it } from 'vitest';
import { acquireDevice, dawnCandidates, registerWebGpuBackend, useWebGpu, WebGpuBackend } from '../src/index.js';
import { gpu } from './gpu.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const device = (): GPUDevice => {
  if (gpu === null) throw new Error('no WebGPU device');
  return gpu.device;
};
// a name of its own, on the device the other tests use: no second device, and their 'webgpu' stays
const base = (): { name: string; device: GPUDevice } => ({ name: 'webgpu-options-test', device: device() });
const noDevice = 'no WebGPU device on this machine';

describeOptionsContract(packageDir, { describe, it }, {
  timeout: 120_000,
  recipes: {
    // without a device it reports { error } rather than throwing
    acquireDevice: (o) => acquireDevice({ dawn: [['backend=opengles']], ...o }),
    dawnCandidates: (o) => dawnCandidates(o),
    registerWebGpuBackend: (o) => registerWebGpuBackend({ ...base(), ...o }),
    useWebGpu: async (o) => {
      const before = getBackend().name;
      try {
        return await useWebGpu({ ...base(), ...o });
      } finally {
        setBackend(before);
      }
    },
    WebGpuBackend: (o) => new WebGpuBackend(device(), { name: 'webgpu-options-direct', ...o }),
  },
  skip: gpu === null ? { registerWebGpuBackend: noDevice, useWebGpu: noDevice, WebGpuBackend: noDevice } : {},
});
