import type { FusedKernels } from '../backend.js';
import { CpuBackend } from '../backends/cpu.js';
import { registerBackend, setBackend } from '../engine.js';

/** Every fused kernel of the backend contract (a new one left out here is a compile error). */
const FUSED: Record<keyof FusedKernels, true> = {
  linear: true, conv2d: true, conv2dBackwardInput: true, conv2dBackwardWeight: true, maxPool2d: true, maxPool2dBackward: true, avgPool2d: true,
  reluBackward: true, softmax: true, logSoftmax: true, softmaxCrossEntropy: true, softmaxCrossEntropyBackward: true,
  lstmCell: true, lstmCellBackward: true, adamUpdate: true,
  lstmSequence: true, lstmSequenceBackward: true, gruSequence: true, gruSequenceBackward: true, rnnSequence: true, rnnSequenceBackward: true,
  layerNorm: true, layerNormBackward: true, gelu: true, geluBackward: true, scaledDotProductAttention: true, scaledDotProductAttentionBackward: true,
};
const ALL_FUSED = Object.keys(FUSED) as (keyof FusedKernels)[];

/**
 * Register a cpu backend named `name` whose fused kernels `methods` (default: all of them)
 * decline, so the ops run their composites there: the reference a fused kernel is tested
 * against. Returns the backend (registering the same name again returns a new one).
 */
export function registerCompositeBackend(name: string, methods: readonly (keyof FusedKernels)[] = ALL_FUSED): CpuBackend {
  const backend = new CpuBackend();
  Object.defineProperty(backend, 'name', { value: name });
  const declines = backend as unknown as Record<string, () => null>;
  for (const m of methods) declines[m] = () => null;
  registerBackend(backend);
  return backend;
}

/**
 * Register a cpu backend named `name` that counts, per fused kernel in `methods`, the calls
 * that did not decline (a non-null result): what a test reads to see a kernel really ran.
 * Returns the backend and its counts (`counts[method]`, undefined until the first call).
 */
export function registerCountingBackend(name: string, methods: readonly (keyof FusedKernels)[] = ALL_FUSED): { backend: CpuBackend; counts: Record<string, number> } {
  const backend = new CpuBackend();
  Object.defineProperty(backend, 'name', { value: name });
  const counts: Record<string, number> = {};
  const table = backend as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const m of methods) {
    const kernel = table[m].bind(backend);
    table[m] = (...args: unknown[]) => {
      const out = kernel(...args);
      if (out !== null) counts[m] = (counts[m] ?? 0) + 1;
      return out;
    };
  }
  registerBackend(backend);
  return { backend, counts };
}

/** `f()` with `name` as the current backend, then the cpu backend again (also when `f` throws). */
export function onBackend<R>(name: string, f: () => R): R {
  setBackend(name);
  try {
    return f();
  } finally {
    setBackend('cpu');
  }
}
