/**
 * Threads that run the same kernels on the same shared WebAssembly memory: Node's
 * `worker_threads`, or Web Workers in a cross-origin-isolated page. Each worker owns a
 * slot of a shared control array: [seq, done, 8 kernel arguments, ready]; the calling
 * thread writes the arguments, bumps seq and wakes the worker, does its own share, then
 * waits on done (Node's main thread may sleep in Atomics.wait; a page's main thread may
 * not, so it spins). Workers start asynchronously: until one reports ready, the calling
 * thread does its share too.
 */

const SLOT = 16;
const READY = 10;
/** polls of the control word before a thread sleeps (about 10 ms: longer than the gaps between a training step's products) */
const SPIN = 2_000_000;

/** The worker's loop, shared by both kinds of worker (`ctl`, `base`, `gemm` in scope). */
const LOOP = `
Atomics.store(ctl, base + ${READY}, 1);
let seen = 0;
for (;;) {
  // spin a little before sleeping: training loops call again within microseconds, and
  // waking a sleeping thread costs more than many small products take
  for (let i = 0; i < ${SPIN} && Atomics.load(ctl, base) === seen; i++);
  Atomics.wait(ctl, base, seen);
  seen = Atomics.load(ctl, base);
  if (seen < 0) break;
  const a = base + 2;
  gemm(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7]);
  Atomics.store(ctl, base + 1, seen);
  Atomics.notify(ctl, base + 1);
}`;

const NODE_WORKER = `
const { workerData } = require('node:worker_threads');
const { bytes, memory, control, slot } = workerData;
const gemm = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemm;
const ctl = new Int32Array(control);
const base = slot * ${SLOT};
${LOOP}
`;

const WEB_WORKER = `
self.onmessage = (e) => {
  const { bytes, memory, control, slot } = e.data;
  const gemm = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemm;
  const ctl = new Int32Array(control);
  const base = slot * ${SLOT};
  ${LOOP}
  self.close();
};
`;

interface WorkerInit {
  bytes: Uint8Array;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  slot: number;
}

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
  const wt = p.getBuiltinModule('node:worker_threads') as { Worker?: new (source: string, options: { eval: true; workerData: unknown }) => NodeWorker } | undefined;
  const os = p.getBuiltinModule('node:os') as { availableParallelism?: () => number } | undefined;
  const Worker = wt?.Worker;
  if (!Worker) return null;
  return {
    kind: 'node',
    cores: Math.max(1, os?.availableParallelism?.() ?? 1),
    canBlock: true,
    start(init) {
      const w = new Worker(NODE_WORKER, { eval: true, workerData: init });
      w.unref(); // an idle pool must not keep the process alive
      return { stop: async () => void (await w.terminate()) };
    },
  };
}

interface WebGlobals {
  Worker?: new (url: string) => { postMessage(data: unknown): void; terminate(): void };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
}

/** Web Workers, where SharedArrayBuffer is enabled (a cross-origin-isolated page). */
function webHost(): Host | null {
  const g = globalThis as WebGlobals;
  const { Worker, Blob, URL } = g;
  if (typeof Worker !== 'function' || !Blob || !URL || g.crossOriginIsolated !== true || typeof SharedArrayBuffer === 'undefined') return null;
  const url = URL.createObjectURL(new Blob([WEB_WORKER], { type: 'text/javascript' }));
  return {
    kind: 'web',
    cores: Math.max(1, g.navigator?.hardwareConcurrency ?? 1),
    canBlock: false,
    start(init) {
      const w = new Worker(url);
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
  readonly #canBlock: boolean;
  #seq = 0;

  /** `extra` workers besides the calling thread, sharing `memory` (created shared), each running the module `bytes`. */
  constructor(memory: WebAssembly.Memory, extra: number, bytes: Uint8Array) {
    const h = host();
    if (!h) throw new Error('ThreadPool: worker threads need Node, or a cross-origin-isolated page, with SharedArrayBuffer');
    this.kind = h.kind;
    this.#canBlock = h.canBlock;
    const control = new SharedArrayBuffer(4 * SLOT * Math.max(1, extra));
    this.#ctl = new Int32Array(control);
    for (let slot = 0; slot < extra; slot++) this.#workers.push(h.start({ bytes, memory, control, slot }));
    this.size = extra + 1;
  }

  /** How many workers have started and can take work. */
  get ready(): number {
    return this.#workers.filter((_, slot) => Atomics.load(this.#ctl, slot * SLOT + READY) === 1).length;
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
   * Run `gemm` over the panels [0, P): the started workers take the first shares, the
   * calling thread (through `own`) the rest, then it waits for the workers.
   */
  gemm(args: [number, number, number, number, number, number], panels: number, own: (p0: number, p1: number) => void): void {
    const seq = ++this.#seq;
    const slots = this.#workers.map((_, slot) => slot).filter((slot) => Atomics.load(this.#ctl, slot * SLOT + READY) === 1);
    const share = Math.ceil(panels / (slots.length + 1));
    const started: number[] = [];
    slots.forEach((slot, k) => {
      const p0 = k * share;
      const p1 = Math.min(panels, p0 + share);
      if (p0 >= p1) return;
      const base = slot * SLOT;
      this.#ctl.set([...args, p0, p1], base + 2);
      Atomics.store(this.#ctl, base, seq);
      Atomics.notify(this.#ctl, base);
      started.push(base);
    });
    const mine = slots.length * share;
    if (mine < panels) own(mine, panels);
    for (const base of started) {
      for (let i = 0; (i < SPIN || !this.#canBlock) && Atomics.load(this.#ctl, base + 1) !== seq; i++);
      for (;;) {
        const done = Atomics.load(this.#ctl, base + 1);
        if (done === seq) break;
        Atomics.wait(this.#ctl, base + 1, done);
      }
    }
  }

  /** Stop the workers. */
  async close(): Promise<void> {
    this.#workers.forEach((_, slot) => {
      Atomics.store(this.#ctl, slot * SLOT, -1);
      Atomics.notify(this.#ctl, slot * SLOT);
    });
    await Promise.all(this.#workers.map((w) => w.stop()));
  }
}
