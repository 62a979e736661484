/**
 * @ml/backend-wasm — a WebAssembly SIMD backend for @ml/tensor.
 *
 *   import { useWasm } from '@ml/backend-wasm';
 *   useWasm(); // registers the 'wasm' backend and makes it the default
 */
import { checkOptions, getBackend, listBackends, registerBackend, setBackend } from '@ml/tensor';
import { WASM_KEYS, WasmBackend, type WasmOptions } from './backend.js';
import { kernelModule } from './kernels.js';

export { WasmBackend, type WasmOptions } from './backend.js';
export { WasmGemm, type KernelExports, type Strided } from './gemm.js';
export { MemoryFullError, WasmHeap } from './heap.js';
export { defaultThreads, threadHost, SPLIT_KERNELS, type SplitKernel, type SplitPlan } from './threads.js';
export { enableRelaxedSimd, relaxedSimdSupported, type KernelName } from './kernels/index.js';

/** Whether this JavaScript engine runs WebAssembly with SIMD (Node ≥ 16.4, current browsers). */
export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(kernelModule(false));
  } catch {
    return false;
  }
}

/**
 * Register the 'wasm' backend (once) without making it the default; returns it. `threads`
 * defaults to the cores where worker threads and SharedArrayBuffer exist (Node), else 1 —
 * `backend.threads` reports the choice. `name` registers another configuration beside it
 * (e.g. `{ threads: 1, name: 'wasm-1t' }`).
 */
export function registerWasmBackend(options: WasmOptions = {}): WasmBackend {
  checkOptions('registerWasmBackend', options, WASM_KEYS);
  const name = options.name ?? 'wasm';
  if (listBackends().includes(name)) return getBackend(name) as WasmBackend;
  if (!wasmSimdSupported()) throw new Error('@ml/backend-wasm: this JavaScript engine has no WebAssembly SIMD; stay on the cpu backend');
  const backend = new WasmBackend(options);
  registerBackend(backend);
  return backend;
}

/** Register the 'wasm' backend and make it the default for new tensors. */
export function useWasm(options: WasmOptions = {}): WasmBackend {
  checkOptions('useWasm', options, WASM_KEYS);
  const b = registerWasmBackend(options);
  setBackend(b.name);
  return b;
}

/**
 * What an app's `--backend` flag does: 'wasm' registers this backend, 'cpu' is the
 * built-in one, 'auto' (the default) picks wasm where the engine has WebAssembly SIMD,
 * else cpu. Makes the choice the default backend and returns its name.
 */
export function selectBackend(choice: 'cpu' | 'wasm' | 'auto' = 'auto'): 'cpu' | 'wasm' {
  const name = choice === 'auto' ? (wasmSimdSupported() ? 'wasm' : 'cpu') : choice;
  if (name === 'wasm') registerWasmBackend();
  setBackend(name);
  return name;
}

/** The `--backend` flag's values, for an app's argument check. */
export const BACKEND_CHOICES = ['cpu', 'wasm', 'auto'] as const;

