import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeConformance } from '@ml/tensor/testing';
import { gpu } from './gpu.js';

if (gpu !== null) describeConformance('webgpu', { describe, it, beforeAll, afterAll });
else it.skip('backend conformance: webgpu (no WebGPU device here)', () => {});
