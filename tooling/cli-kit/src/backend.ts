import { BACKEND_CHOICES as WASM_CHOICES, selectBackend } from '@ml/backend-wasm';
import { registerWebGpuBackend, webgpuInfo } from '@ml/backend-webgpu';
import { getBackend, setBackend } from '@ml/tensor';

/** The apps' `--backend` values. */
export const BACKEND_CHOICES = [...WASM_CHOICES, 'webgpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * What `--backend` does: registers the backend chosen and makes it the default; returns
 * its name and, for webgpu, where the device came from. 'auto' never picks webgpu (a
 * machine without a GPU would get a software one, slower than the wasm backend).
 */
export async function selectBackendFlag(choice: BackendChoice): Promise<{ name: string; device?: string }> {
  if (choice !== 'webgpu') return { name: selectBackend(choice) };
  const backend = await registerWebGpuBackend();
  setBackend(backend.name);
  const info = webgpuInfo(backend);
  return { name: backend.name, device: info ? `${info.adapter} via ${info.source}` : undefined };
}

/**
 * Run `fn` on the cpu backend when the current one reads only asynchronously (a GPU), else
 * where it is: for host-side work such as loading a dataset (kept in host memory, as
 * PyTorch keeps one; fit moves each batch to the model's backend) or a solve on the host.
 */
export async function onHost<T>(fn: () => T | Promise<T>): Promise<T> {
  const current = getBackend().name;
  if (getBackend().readSync !== undefined) return fn();
  setBackend('cpu');
  try {
    return await fn();
  } finally {
    setBackend(current);
  }
}
