import { BACKEND_CHOICES as WASM_CHOICES, selectBackend } from '@ml/backend-wasm';
import { registerWebGpuBackend, webgpuInfo } from '@ml/backend-webgpu';
import { setBackend } from '@ml/tensor';

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
