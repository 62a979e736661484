import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeConformance } from '@ml/tensor/testing';
import { registerWebGpuBackend } from '../src/index.js';

await registerWebGpuBackend();
describeConformance('webgpu', { describe, it, beforeAll, afterAll });
