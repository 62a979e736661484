/**
 * Getting a GPUDevice: `navigator.gpu` where the engine has one (browsers, Deno), else the
 * `webgpu` package (Dawn) in Node. Dawn is tried on its default backend first (Vulkan,
 * Metal or D3D12: a real GPU), then on OpenGL ES in compatibility mode, which Mesa
 * provides on machines without a GPU (slow, but correct: what the tests run on).
 */
import { checkOptions, optionKeys } from '@ml/tensor';

export interface DeviceOptions {
  /**
   * Dawn toggles for Node, tried in order until one gives an adapter (default: `[[], ['backend=opengles']]`;
   * `ML_WEBGPU_DAWN`, e.g. `backend=vulkan`, comma-separated, replaces the list with that one).
   */
  dawn?: readonly (readonly string[])[];
  powerPreference?: GPUPowerPreference;
}

const DEVICE_KEYS = optionKeys<DeviceOptions>()(['dawn', 'powerPreference']);

export interface AcquiredDevice {
  device: GPUDevice;
  /** where it came from, for logs: e.g. 'navigator.gpu' or 'dawn (backend=opengles)' */
  source: string;
  /** the adapter's vendor/architecture/description, as far as it tells */
  adapter: string;
}

/** The limits the kernels need (above the compatibility-mode defaults where an adapter allows it). */
const WANTED: Record<string, number> = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 2 ** 31 - 4,
  maxBufferSize: 2 ** 31 - 4,
};

/** Required limits for a device: what the kernels want, capped at what the adapter has. */
function limitsFor(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  const have = adapter.limits as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(WANTED)) if (typeof have[k] === 'number') out[k] = Math.min(v, have[k]);
  return out;
}

function describe(adapter: GPUAdapter): string {
  const info = adapter.info;
  return [info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' ') || 'unnamed adapter';
}

async function deviceFrom(gpu: GPU, compatibility: boolean, options: DeviceOptions): Promise<{ device: GPUDevice; adapter: string } | null> {
  const request: GPURequestAdapterOptions & { featureLevel?: string } = { powerPreference: options.powerPreference };
  if (compatibility) request.featureLevel = 'compatibility';
  const adapter = await gpu.requestAdapter(request);
  if (adapter === null) return null;
  const device = await adapter.requestDevice({ requiredLimits: limitsFor(adapter) });
  if (device.limits.maxComputeInvocationsPerWorkgroup < 256) {
    device.destroy();
    throw new Error(`webgpu: the adapter (${describe(adapter)}) allows ${device.limits.maxComputeInvocationsPerWorkgroup} invocations per workgroup; the kernels need 256`);
  }
  return { device, adapter: describe(adapter) };
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Dawn's instances, kept for the life of the process: a device outlives the JavaScript
 * object of the instance that made it, and collecting that object while the device works
 * crashes the process.
 */
const instances: GPU[] = [];

/** Node's `process`, read through globalThis: a browser has none, and a bundler sees no reference to polyfill. */
const nodeProcess = (globalThis as { process?: { versions?: { node?: string }; env: Record<string, string | undefined> } }).process;

function isNode(): boolean {
  return typeof nodeProcess?.versions?.node === 'string';
}

/** One Dawn backend to try: `create()` makes its instance (kept alive for the process). */
export interface DawnCandidate {
  /** for logs: e.g. 'dawn (backend=opengles)' */
  label: string;
  /** whether its adapters must be asked for in compatibility mode (OpenGL ES) */
  compatibility: boolean;
  create(): GPU;
}

/**
 * Dawn (npm `webgpu`) in Node, the backends to try in order: `ML_WEBGPU_DAWN` (comma-separated
 * toggles), else `options.dawn`, else the default backend (a real GPU), then OpenGL ES
 * (Mesa's, without a GPU). Throws, saying how to install it, when the package is missing.
 */
export async function dawnCandidates(options: DeviceOptions = {}): Promise<DawnCandidate[]> {
  checkOptions('dawnCandidates', options, DEVICE_KEYS);
  let dawn: DawnModule;
  try {
    // a specifier bundlers leave alone: a browser build never includes Dawn's native addon
    const specifier = 'webgpu';
    dawn = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as DawnModule;
  } catch (e) {
    throw new Error(`the webgpu package did not load — in Node, install it next to this one (npm install webgpu): ${(e as Error).message}`);
  }
  // Mesa's EGL needs no display for compute when told so (read when the GL backend starts)
  const env = nodeProcess?.env ?? {};
  env.EGL_PLATFORM ??= 'surfaceless';
  const fromEnv = env.ML_WEBGPU_DAWN;
  const tries = fromEnv ? [fromEnv.split(',').filter((s) => s)] : (options.dawn ?? [[], ['backend=opengles']]);
  return tries.map((flags) => ({
    label: `dawn (${flags.join(', ') || 'default backend'})`,
    compatibility: flags.some((f) => f.includes('opengl')),
    create: () => {
      const gpu = dawn.create([...flags]);
      instances.push(gpu);
      return gpu;
    },
  }));
}

/** A device, or null with the reasons each way failed (no WebGPU at all, no adapter…). */
export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice | { error: string }> {
  checkOptions('acquireDevice', options, DEVICE_KEYS);
  const reasons: string[] = [];
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    try {
      const got = (await deviceFrom(nav.gpu, false, options)) ?? (await deviceFrom(nav.gpu, true, options));
      if (got) return { ...got, source: 'navigator.gpu' };
      reasons.push('navigator.gpu gave no adapter');
    } catch (e) {
      reasons.push(`navigator.gpu: ${(e as Error).message}`);
    }
  }
  if (!isNode()) return { error: reasons.join('; ') || 'this engine has no navigator.gpu' };
  let tries: DawnCandidate[];
  try {
    tries = await dawnCandidates(options);
  } catch (e) {
    reasons.push((e as Error).message);
    return { error: reasons.join('; ') };
  }
  for (const c of tries) {
    try {
      const got = await deviceFrom(c.create(), c.compatibility, options);
      if (got) return { ...got, source: c.label };
      reasons.push(`${c.label}: no adapter`);
    } catch (e) {
      reasons.push(`${c.label}: ${(e as Error).message}`);
    }
  }
  return { error: reasons.join('; ') };
}
