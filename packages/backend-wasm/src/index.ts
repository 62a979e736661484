/**
 * @ml/backend-wasm — a WebAssembly SIMD backend for @ml/tensor.
 *
 *   import { useWasm } from '@ml/backend-wasm';
 *   useWasm(); // registers the 'wasm' backend and makes it the default
 */
import { getBackend, listBackends, registerBackend, registerCpuKernels, registerKernel, setBackend } from '@ml/tensor';
import { WasmBackend, type WasmOptions } from './backend.js';
import { kernelModule } from './kernels.js';

export { WasmBackend, type WasmOptions } from './backend.js';
export { WasmGemm, type Strided } from './gemm.js';
export { MemoryFullError, WasmHeap } from './heap.js';
export { defaultThreads, threadHost } from './threads.js';

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
  const name = options.name ?? 'wasm';
  if (listBackends().includes(name)) return getBackend(name) as WasmBackend;
  if (!wasmSimdSupported()) throw new Error('@ml/backend-wasm: this JavaScript engine has no WebAssembly SIMD; stay on the cpu backend');
  const backend = new WasmBackend(options);
  registerBackend(backend);
  registerCpuKernels(name);
  registerKernel('adamUpdate', name, backend.adamUpdate);
  return backend;
}

/** Register the 'wasm' backend and make it the default for new tensors. */
export function useWasm(options: WasmOptions = {}): WasmBackend {
  const b = registerWasmBackend(options);
  setBackend(b.name);
  return b;
}
