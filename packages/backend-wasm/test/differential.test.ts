import { describe, it } from 'vitest';
import { describeDifferential, DIFFERENTIAL_OPS } from '@ml/differential';
import { registerWasmBackend } from '../src/index.js';

// Issue 17: every primitive and fused kernel against the cpu backend in float64 over
// generated shapes, views and sizes on both sides of the kernels' thresholds, values and
// gradients, each case twice for determinism; the threaded backend and a single-thread one.
// A failure prints its seed: rerun it with ML_DIFF_SEED=<seed> (ML_DIFF_RUNS=<factor> for more cases).
const threaded = registerWasmBackend();
await threaded.gemm.whenReady();
registerWasmBackend({ threads: 1, name: 'wasm-1t' });

describeDifferential('wasm', { describe, it }, { ops: DIFFERENTIAL_OPS, scale: 2 });
describeDifferential('wasm-1t', { describe, it }, { ops: DIFFERENTIAL_OPS, scale: 1 });
