import { describe, it } from 'vitest';
import { describeDifferential, DIFFERENTIAL_OPS } from '../src/index.js';

// The cpu backend in float32 against itself in float64: its float32 paths (the fused
// kernels' float32 loops, the float32 stores) against the same code in float64. Lives here
// rather than in packages/tensor: @ml/tensor cannot depend on this package (it depends on
// @ml/tensor and @ml/autograd), and its tests run on its sources.
describeDifferential('cpu', { describe, it }, { ops: DIFFERENTIAL_OPS, scale: 1 });
