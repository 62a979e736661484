/**
 * The backend the tests run on, or null (with a notice) on a machine without any WebGPU
 * device. With ML_REQUIRE_WEBGPU=1 (CI, where Mesa is installed) a missing device fails.
 */
import { registerWebGpuBackend, type WebGpuBackend } from '../src/index.js';

async function find(): Promise<WebGpuBackend | null> {
  try {
    return await registerWebGpuBackend();
  } catch (e) {
    if (process.env.ML_REQUIRE_WEBGPU === '1') throw e;
    console.warn(`@ml/backend-webgpu tests skipped: ${(e as Error).message}`);
    return null;
  }
}

export const gpu: WebGpuBackend | null = await find();
