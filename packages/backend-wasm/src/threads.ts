/**
 * Threads that run the same kernels on the same shared WebAssembly memory: Node's
 * `worker_threads`, or Web Workers in a cross-origin-isolated page. A job — a product, or
 * a kernel split over its units (the memory-bound kernels, the recurrent gate passes) — is
 * handed out in parts from a shared counter, so a thread that runs slower (descheduled,
 * say) simply takes fewer; each thread packs the panels of B it takes (they are then in
 * its own cache). The control array holds the job's words [seq, next, done, parts, kind],
 * its arguments (see LAYOUT and PLAN), then a ready flag per worker. The calling thread
 * writes the arguments, starts the counter, bumps seq and wakes the workers, claims parts
 * itself until none are left, then waits until every claimed part is done (Node's main
 * thread may sleep in Atomics.wait; a page's main thread may not, so it spins). `next`
 * carries the job's seq in its high bits, so a late worker cannot claim a part of a later
 * job. Workers start asynchronously and take no share until they report ready. The workers
 * run worker.js; the protocol they share with the calling thread is in worker-jobs.js.
 */

import { SPLIT_KERNELS, kernelOf, type SplitKernel } from './kernels/index.js';
import { LAYOUT, PLAN, SPIN, claim, pointerAt, runPart, type Kernels, type WorkerInit } from './worker-jobs.js';

export { SPLIT_KERNELS, type SplitKernel } from './kernels/index.js';

const { SEQ, NEXT, DONE, PARTS, KIND, FAILED, ARGS, READY } = LAYOUT;
/** most pointers and arguments of a split kernel (the control array's words for its plan: see PLAN) */
const { MAX_PTRS, MAX_ARGS } = PLAN;
/**
 * Panels per claim: two panels are 16 floats of each row of C, a 64-byte cache line, so two
 * threads never write one line of C at once (one panel each would share every line). A
 * product with fewer pairs than threads hands its panels out one at a time instead, so
 * every thread still gets work.
 */
const PANELS_PER_PART = 2;

/**
 * How a call divides into units (images, planes, blocks, vectors, rows), by argument
 * position (`WasmGemm.split` writes it from the kernel's table entry, its `split`).
 */
export interface SplitPlan {
  /** the argument counting the units */
  count: number;
  /** pointer arguments, each with its bytes per unit */
  ptrs: readonly (readonly [number, number])[];
  /**
   * The last unit of each part runs on its own with this argument set to this value: for
   * a kernel whose vector path writes a little past its unit (into the next one, written
   * again right after on one thread, but perhaps already written by another).
   */
  last?: readonly [number, number];
}

/** floatBits's answers, per kernel (read once from the table: split runs in every training step). */
const FLOAT_BITS = new Map<SplitKernel, number>();

/** A bit per f32 argument of a kernel, from its table entry (the control array carries them). */
function floatBits(kernel: SplitKernel): number {
  let bits = FLOAT_BITS.get(kernel);
  if (bits === undefined) {
    const types = Object.values(kernelOf(kernel).params);
    if (types.includes(0x7c)) throw new Error(`ThreadPool.split: ${kernel} takes an f64, which the control array cannot carry`);
    bits = types.reduce((acc, t, i) => (t === 0x7d ? acc | (1 << i) : acc), 0);
    FLOAT_BITS.set(kernel, bits);
  }
  return bits;
}

/** The worker's module, beside this one: worker.js in dist/, and in src/ when the tests run from the sources. */
const WORKER_FILE = './worker.js';

/** How this environment starts a worker, and whether its calling thread may block. */
interface Host {
  kind: 'node' | 'web';
  cores: number;
  canBlock: boolean;
  start(init: WorkerInit): { stop(): Promise<void> };
}

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
}

function nodeHost(): Host | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof p?.getBuiltinModule !== 'function' || typeof SharedArrayBuffer === 'undefined') return null;
  const wt = p.getBuiltinModule('node:worker_threads') as { Worker?: new (file: URL, options: { workerData: unknown }) => NodeWorker } | undefined;
  const os = p.getBuiltinModule('node:os') as { availableParallelism?: () => number } | undefined;
  const Worker = wt?.Worker;
  if (!Worker) return null;
  return {
    kind: 'node',
    cores: Math.max(1, os?.availableParallelism?.() ?? 1),
    canBlock: true,
    start(init) {
      // the URL from a name, not a literal: bundlers turn `new Worker(new URL('…', import.meta.url))` into a Web Worker
      const w = new Worker(new URL(WORKER_FILE, import.meta.url), { workerData: init });
      w.unref(); // an idle pool must not keep the process alive
      return { stop: async () => void (await w.terminate()) };
    },
  };
}

interface WebGlobals {
  Worker?: new (url: URL, options: { type: 'module' }) => { postMessage(data: unknown): void; terminate(): void };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

/** Module Web Workers, where SharedArrayBuffer is enabled (a cross-origin-isolated page). */
function webHost(): Host | null {
  const g = globalThis as WebGlobals;
  const { Worker } = g;
  if (typeof Worker !== 'function' || g.crossOriginIsolated !== true || typeof SharedArrayBuffer === 'undefined') return null;
  return {
    kind: 'web',
    cores: Math.max(1, g.navigator?.hardwareConcurrency ?? 1),
    canBlock: false,
    start(init) {
      // this exact form lets bundlers (Vite, webpack) find the worker and bundle it
      const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      w.postMessage(init);
      return { stop: async () => w.terminate() };
    },
  };
}

const host = (): Host | null => nodeHost() ?? webHost();

/**
 * How many threads a pool would use here: the cores in Node and in cross-origin-isolated
 * pages, else 1 (no SharedArrayBuffer, so no shared memory to work on).
 */
export function defaultThreads(): number {
  return host()?.cores ?? 1;
}

/** Where the threads come from: 'node' (worker_threads), 'web' (Web Workers) or null. */
export function threadHost(): 'node' | 'web' | null {
  return host()?.kind ?? null;
}

export class ThreadPool {
  readonly size: number;
  readonly kind: 'node' | 'web';
  readonly #workers: { stop(): Promise<void> }[] = [];
  readonly #ctl: Int32Array;
  /** the control array's words as f32 (a split kernel's float arguments) */
  readonly #f32: Float32Array;
  /** the calling thread's instance of the module */
  readonly #kernels: Kernels;
  readonly #canBlock: boolean;
  #seq = 0;

  /**
   * `extra` workers besides the calling thread, sharing `memory` (created shared), each
   * running the module `bytes`; `kernels`: the calling thread's instance of it.
   */
  constructor(memory: WebAssembly.Memory, extra: number, bytes: Uint8Array<ArrayBuffer>, kernels: object) {
    const h = host();
    if (!h) throw new Error('ThreadPool: worker threads need Node, or a cross-origin-isolated page, with SharedArrayBuffer');
    this.kind = h.kind;
    this.#canBlock = h.canBlock;
    const control = new SharedArrayBuffer(4 * (READY + Math.max(1, extra)));
    this.#ctl = new Int32Array(control);
    this.#f32 = new Float32Array(control);
    this.#kernels = kernels as Kernels;
    for (let slot = 0; slot < extra; slot++) this.#workers.push(h.start({ bytes, memory, control, slot, names: SPLIT_KERNELS }));
    this.size = extra + 1;
  }

  /** How many workers have started and can take work. */
  get ready(): number {
    return this.#workers.filter((_, slot) => Atomics.load(this.#ctl, READY + slot) === 1).length;
  }

  /** Resolves once every worker has started (they start asynchronously). */
  async whenReady(timeoutMs = 30000): Promise<void> {
    const t0 = Date.now();
    while (this.ready < this.#workers.length) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`ThreadPool: ${this.#workers.length - this.ready} worker(s) did not start within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Run a product over its panels [0, P), two per claim (one when there are fewer pairs
   * than threads), and over blocks of `rows` rows of A and C (default: all rows, one
   * block): the calling thread and every started worker claim parts — the panel groups of
   * the first block of rows, then of the next — until none are left; returns when all are
   * done. `args`: gemm's six, then B's source address, 0 (B is packed) or 1 (packB) or 2
   * (packBT) for how each panel is packed before its product (with one block of rows only:
   * each panel is packed by the part that takes it), 3 (B read row-major where it lies),
   * B's columns, and the bias row gemmBias starts from (0: none, gemm). With M = 0, the
   * parts only pack B.
   */
  gemm(args: readonly number[], P: number, rows = args[3]): void {
    const per = Math.ceil(P / PANELS_PER_PART) >= this.size ? PANELS_PER_PART : 1;
    const across = Math.ceil(P / per);
    const blocks = rows > 0 ? Math.ceil(args[3] / rows) : 1;
    if (blocks > 1 && (args[7] === 1 || args[7] === 2)) throw new Error('ThreadPool.gemm: B must be packed before a product split by rows');
    this.#run(0, across * blocks, () => this.#ctl.set([...args, per, rows, across], ARGS));
  }

  /**
   * Run `kernel(...args)` split into `parts` ranges of its `units` (see SplitPlan), the
   * calling thread and the workers claiming them; returns when all are done.
   */
  split(kernel: SplitKernel, args: readonly number[], plan: SplitPlan, units: number, parts: number): void {
    if (args.length > MAX_ARGS || plan.ptrs.length > MAX_PTRS) throw new Error(`ThreadPool.split: ${kernel} takes more arguments or pointers than the control array holds`);
    const per = Math.ceil(units / parts);
    this.#run(1 + SPLIT_KERNELS.indexOf(kernel), Math.ceil(units / per), () => {
      const [ctl, f32] = [this.#ctl, this.#f32];
      ctl.set([units, per, plan.count, plan.ptrs.length], ARGS);
      plan.ptrs.forEach(([arg, bytes], q) => ctl.set([arg, bytes], ARGS + pointerAt(q)));
      const floats = floatBits(kernel);
      ctl.set([plan.last?.[0] ?? -1, plan.last?.[1] ?? 0, args.length, floats], ARGS + PLAN.TAIL);
      const a0 = ARGS + PLAN.ARGS;
      args.forEach((v, i) => ((floats >> i) & 1 ? (f32[a0 + i] = v) : (ctl[a0 + i] = v)));
    });
  }

  /** Publish a job of `parts` parts (its arguments written by `write`), take parts until none are left, wait for the rest. */
  #run(kind: number, parts: number, write: () => void): void {
    const ctl = this.#ctl;
    this.#seq = (this.#seq % 0x7fff) + 1; // 1 … 32767: a tag that fits above the 16 bits of the counter
    const tag = this.#seq << 16;
    // closed under the new tag first, so a worker still looking at the last job claims
    // nothing while the arguments change; then opened, then announced
    Atomics.store(ctl, NEXT, tag | 0xffff);
    ctl[KIND] = kind;
    write();
    ctl[PARTS] = parts;
    Atomics.store(ctl, FAILED, 0);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, NEXT, tag);
    Atomics.store(ctl, SEQ, this.#seq);
    Atomics.notify(ctl, SEQ); // wakes any worker asleep on it (none started: nothing to do)
    // the same claiming loop as the workers'; a failure is thrown once every part is done,
    // so no thread still writes for this job when the caller sees it
    let failure: unknown = null;
    claim(ctl, tag, (part) => {
      try {
        runPart(ctl, this.#f32, this.#kernels, part, SPLIT_KERNELS);
      } catch (e) {
        failure ??= e;
      }
    });
    // wait for the parts the workers still run
    for (let i = 0; (i < SPIN || !this.#canBlock) && Atomics.load(ctl, DONE) !== parts; i++);
    for (let done = Atomics.load(ctl, DONE); done !== parts; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done);
    if (failure !== null) throw failure;
    if (Atomics.load(ctl, FAILED) !== 0) throw new Error(`@ml/backend-wasm: a worker thread failed on its part of ${kind === 0 ? 'a matrix product' : `the ${SPLIT_KERNELS[kind - 1]} kernel`}`);
  }

  /** Stop the workers. */
  async close(): Promise<void> {
    Atomics.store(this.#ctl, SEQ, -1);
    Atomics.notify(this.#ctl, SEQ);
    await Promise.all(this.#workers.map((w) => w.stop()));
  }
}
