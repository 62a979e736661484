/** What this browser offers to compute on: WebGPU, WebAssembly (threads when cross-origin isolated), CPU. */
export interface BackendInfo {
  name: 'webgpu' | 'wasm' | 'cpu';
  label: string;
  available: boolean;
  detail?: string;
}

export async function describeBackends(): Promise<BackendInfo[]> {
  let webgpu: BackendInfo = { name: 'webgpu', label: 'WebGPU', available: false, detail: 'navigator.gpu is missing' };
  if ('gpu' in navigator) {
    try {
      const adapter = await navigator.gpu.requestAdapter();
      webgpu = adapter ? { name: 'webgpu', label: 'WebGPU', available: true, detail: adapter.info?.description || adapter.info?.vendor || undefined } : { ...webgpu, detail: 'no GPU adapter' };
    } catch (e) {
      webgpu = { ...webgpu, detail: (e as Error).message };
    }
  }
  const isolated = globalThis.crossOriginIsolated === true;
  const wasm: BackendInfo = {
    name: 'wasm',
    label: 'WebAssembly',
    available: typeof WebAssembly === 'object',
    detail: isolated ? `${navigator.hardwareConcurrency} threads (cross-origin isolated)` : 'one thread: the page is not cross-origin isolated',
  };
  return [webgpu, wasm, { name: 'cpu', label: 'CPU (JavaScript)', available: true }];
}
