/// <reference types="@webgpu/types" />
/**
 * @ml/backend-webgpu — tensors on the GPU through WebGPU.
 *
 * ```ts
 * import { registerWebGpuBackend } from '@ml/backend-webgpu';
 * await registerWebGpuBackend();      // finds a device; throws with the reasons when there is none
 * setBackend('webgpu');
 * ```
 */
import { checkOptions, getBackend, listBackends, optionKeys, registerBackend, setBackend } from '@ml/tensor';
import { WebGpuBackend, type WebGpuOptions } from './backend.js';
import { acquireDevice, type DeviceOptions } from './device.js';

export { WebGpuBackend, type WebGpuOptions, type WebGpuStats } from './backend.js';
export { acquireDevice, dawnCandidates, type AcquiredDevice, type DawnCandidate, type DeviceOptions } from './device.js';

export interface RegisterOptions extends WebGpuOptions, DeviceOptions {
  /** use this device instead of finding one */
  device?: GPUDevice;
}

/** Where the registered backend's device came from (e.g. 'dawn (backend=opengles)') and which adapter it is. */
const REGISTER_KEYS = optionKeys<RegisterOptions>()(['name', 'poolBytes', 'dawn', 'powerPreference', 'device']);

export interface WebGpuInfo {
  source: string;
  adapter: string;
}

const infos = new WeakMap<WebGpuBackend, WebGpuInfo>();
/** Registrations under way, by name: two calls at once get one backend. */
const pending = new Map<string, Promise<WebGpuBackend>>();

/**
 * Find a WebGPU device and register a backend on it under `options.name` ('webgpu'); the
 * one already registered under that name is returned as it is, unless its device is gone
 * (lost or destroyed): then a new one takes the name. Throws an Error naming every way it
 * tried when no device can be had.
 */
export async function registerWebGpuBackend(options: RegisterOptions = {}): Promise<WebGpuBackend> {
  checkOptions('registerWebGpuBackend', options, REGISTER_KEYS);
  const name = options.name ?? 'webgpu';
  if (listBackends().includes(name)) {
    const existing = getBackend(name);
    if (!(existing instanceof WebGpuBackend && existing.isLost)) return existing as WebGpuBackend;
  }
  let p = pending.get(name);
  if (p === undefined) {
    p = register(name, options).finally(() => pending.delete(name));
    pending.set(name, p);
  }
  return p;
}

async function register(name: string, options: RegisterOptions): Promise<WebGpuBackend> {
  let info: WebGpuInfo = { source: 'given device', adapter: 'given device' };
  let device = options.device;
  if (device === undefined) {
    const got = await acquireDevice({ dawn: options.dawn, powerPreference: options.powerPreference });
    if ('error' in got) throw new Error(`@ml/backend-webgpu: no WebGPU device (${got.error})`);
    device = got.device;
    info = { source: got.source, adapter: got.adapter };
  }
  const backend = new WebGpuBackend(device, { name, poolBytes: options.poolBytes });
  infos.set(backend, info);
  registerBackend(backend);
  return backend;
}

/** Register the 'webgpu' backend and make it the default for new tensors. */
export async function useWebGpu(options: RegisterOptions = {}): Promise<WebGpuBackend> {
  checkOptions('useWebGpu', options, REGISTER_KEYS);
  const b = await registerWebGpuBackend(options);
  setBackend(b.name);
  return b;
}

/** Where a backend registered here got its device. */
export function webgpuInfo(backend: WebGpuBackend): WebGpuInfo | undefined {
  return infos.get(backend);
}
