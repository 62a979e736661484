import type { Backend, DataId, HeapInfo } from './backend.js';
import { CpuBackend } from './backends/cpu.js';
import { bytesPerElement, type DType } from './dtype.js';
import { checkOptions, optionKeys } from './options.js';
import type { OpDef } from './op.js';
import type { Tensor } from './tensor.js';

/** A backend buffer shared by every tensor that views it; freed when the last view goes. */
export class Storage {
  refs = 0;
  /** @internal its backend's memory counters (held, not looked up per tensor: ops make and free tensors at a high rate) */
  readonly stats: BackendStats;
  constructor(
    readonly backend: Backend,
    public data: DataId,
    readonly dtype: DType,
    readonly size: number,
  ) {
    const st = statsOf(backend);
    st.numStorages++;
    st.numBytes += size * bytesPerElement(dtype);
    this.stats = st;
  }
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs > 0) return;
    const st = this.stats;
    st.numStorages--;
    st.numBytes -= this.size * bytesPerElement(this.dtype);
    this.backend.dispose(this.data);
  }
}

// ---------------------------------------------------------------- backends

const backends = new Map<string, Backend>();
let current: Backend | null = null;

const REGISTER_KEYS = optionKeys<{ setDefault?: boolean }>()(['setDefault']);

export function registerBackend(backend: Backend, options: { setDefault?: boolean } = {}): void {
  checkOptions('registerBackend', options, REGISTER_KEYS);
  backends.set(backend.name, backend);
  if (options.setDefault) current = backend;
}

export function setBackend(name: string): Backend {
  const b = backends.get(name);
  if (!b) {
    throw new Error(`setBackend: no backend named '${name}' is registered (registered: ${[...backends.keys()].join(', ')})`);
  }
  current = b;
  return b;
}

export function getBackend(name?: string): Backend {
  if (name !== undefined) {
    const b = backends.get(name);
    if (!b) throw new Error(`getBackend: no backend named '${name}' is registered`);
    return b;
  }
  if (current === null) current = backends.get('cpu') ?? null;
  if (current === null) throw new Error('no backend registered');
  return current;
}

export function listBackends(): string[] {
  return [...backends.keys()];
}

registerBackend(new CpuBackend());

// ---------------------------------------------------------------- memory

/** @internal live tensors, buffers and bytes of one backend */
export interface BackendStats {
  numTensors: number;
  numStorages: number;
  numBytes: number;
}
const perBackend = new Map<string, BackendStats>();
function stats(name: string): BackendStats {
  let s = perBackend.get(name);
  if (!s) {
    s = { numTensors: 0, numStorages: 0, numBytes: 0 };
    perBackend.set(name, s);
  }
  return s;
}
/** The last backend asked for and its counters: one backend runs nearly every op, so the name lookup is skipped. */
let lastBackend: Backend | null = null;
let lastStats: BackendStats | null = null;
function statsOf(backend: Backend): BackendStats {
  if (backend === lastBackend && lastStats !== null) return lastStats;
  lastStats = stats(backend.name);
  lastBackend = backend;
  return lastStats;
}

export interface MemoryInfo {
  /** live (not disposed) tensors, all backends */
  numTensors: number;
  /** bytes held by live buffers, all backends */
  numBytes: number;
  /** per backend; `heap` where the backend manages a memory of its own (the wasm backend's module memory) */
  backends: Record<string, BackendStats & { heap?: HeapInfo }>;
}

export function memory(): MemoryInfo {
  const out: MemoryInfo = { numTensors: 0, numBytes: 0, backends: {} };
  for (const [name, s] of perBackend) {
    const heap = backends.get(name)?.heap?.();
    out.backends[name] = heap ? { ...s, heap } : { ...s };
    out.numTensors += s.numTensors;
    out.numBytes += s.numBytes;
  }
  return out;
}

// ---------------------------------------------------------------- tidy scopes

/**
 * The tensors each open `tidy` created, oldest first: an array, as every op adds one (a
 * tensor passed to `keep` stays in it, marked, and is skipped).
 */
const scopes: Tensor[][] = [];

export function trackInScope(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].push(t);
}

/** Mark a tensor so no enclosing `tidy` disposes it. */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

function collectTensors(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, into, isTensor, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, into, isTensor, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, isTensor, depth + 1);
  }
}

let isTensorFn: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
export function setTensorPredicate(f: (v: unknown) => v is Tensor): void {
  isTensorFn = f;
}

/**
 * Dispose the tensors of a scope but the kept ones and those in `spare`, the newest first:
 * buffers then go back in the reverse order of their allocation, which a stack-like
 * allocator (the wasm backend's heap lowers its top) takes back at the least cost.
 */
function disposeNewestFirst(scope: readonly Tensor[], spare: Set<Tensor> | null): void {
  for (let i = scope.length - 1; i >= 0; i--) {
    const t = scope[i];
    if (!t.kept && (spare === null || !spare.has(t))) t.dispose();
  }
}

/**
 * Run `fn`, then dispose every tensor it created except those it returns (arrays and
 * plain objects of tensors are searched) and those passed to `keep`. Returned tensors
 * move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Tensor[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    disposeNewestFirst(scope, null);
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    throw new Error('tidy: the function returned a Promise; tidy only works with synchronous functions (await outside it)');
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned, isTensorFn);
  disposeNewestFirst(scope, returned);
  const parent = scopes[scopes.length - 1];
  // only tensors this scope created move up (in the order they were made); a returned input keeps its own owner
  if (parent && returned.size > 0) for (const t of scope) if (returned.has(t) && !t.kept && !t.isDisposed) parent.push(t);
  return result;
}

// ---------------------------------------------------------------- gradient recording

let gradEnabled = true;
let nodeCounter = 0;
/** the empty `saved` list (shared: one less array per recorded op) */
const NONE: readonly Tensor[] = Object.freeze([]);

/** Whether any of `inputs` requires a gradient (a loop: this runs once per op). */
export function anyRequiresGrad(inputs: readonly Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i].requiresGrad) return true;
  return false;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}
export function setGradEnabled(on: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = on;
  return prev;
}

/**
 * Attach a tape node for op `def` to `output` when gradients are on and any input needs
 * one; `saved` are tensors a fused kernel kept for the backward pass (the node owns them).
 */
export function record<A extends object>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A, output: Tensor, saved: readonly Tensor[] = NONE): Tensor {
  if (!gradEnabled || !anyRequiresGrad(inputs)) {
    for (let i = 0; i < saved.length; i++) saved[i].dispose();
    return output;
  }
  output.gradNode = { op: def.name, def, inputs, attrs, output, saved, id: ++nodeCounter };
  output.requiresGrad = true;
  return output;
}

/** The hook @ml/autograd installs so `t.backward()` works as a method. */
export interface AutogradHooks {
  backward(t: Tensor, gradient?: Tensor): void;
}
let hooks: AutogradHooks | null = null;
export function installAutograd(h: AutogradHooks): void {
  hooks = h;
}
export function autogradHooks(): AutogradHooks {
  if (!hooks) throw new Error("backward: no autograd engine is loaded — add `import '@ml/autograd'` to your program");
  return hooks;
}

// ---------------------------------------------------------------- debug

/** `ML_DEBUG=1` in the environment (Node); read through globalThis, so a browser, which has no `process`, reads false. */
export const DEBUG: boolean = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.ML_DEBUG === '1';

export function debugLog(op: string, backend: string, shapes: readonly (readonly number[])[], ms: number): void {
  console.error(`[ml] ${op} on ${backend} ${shapes.map((s) => `[${s.join(',')}]`).join(' ')} ${ms.toFixed(3)} ms`);
}
