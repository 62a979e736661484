import { describe, it } from 'vitest';
import { describeDifferential, DIFFERENTIAL_OPS } from '@ml/differential';
import { gpu } from './gpu.js';

// Issue 17: every primitive and the Adam kernel against the cpu backend in float64 over
// generated shapes, views and sizes (around the 64×64 product tiles, workgroups of 64, the
// reductions' workgroup path), values and gradients, each case twice for determinism. Fewer
// cases than on the CPU-family backends: a software GPU (CI's) compiles a pipeline per
// kernel structure. A failure prints its seed: rerun with ML_DIFF_SEED=<seed>.
if (gpu !== null) describeDifferential('webgpu', { describe, it }, { ops: DIFFERENTIAL_OPS, scale: 0.8 });
else it.skip('differential: webgpu (no WebGPU device here)', () => {});
