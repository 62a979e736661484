import { kernelModule } from './kernels.js';

/**
 * Worker threads that run the same kernels on the same shared WebAssembly memory. Each
 * worker owns a slot of a shared control array: [seq, done, 8 kernel arguments]; the main
 * thread writes the arguments, bumps seq and wakes the worker, does its own share, then
 * waits on done. Node only (the main thread may block in Atomics.wait there); elsewhere
 * the backend stays single-threaded.
 */

const SLOT = 16;
/** polls of the control word before a thread sleeps (a few hundred microseconds) */
const SPIN = 200000;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { bytes, memory, control, slot } = workerData;
const gemm = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemm;
const ctl = new Int32Array(control);
const base = slot * ${SLOT};
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
}
`;

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
}

interface NodeBuiltins {
  Worker: new (source: string, options: { eval: true; workerData: unknown }) => WorkerLike;
  availableParallelism?: () => number;
}

function nodeBuiltins(): NodeBuiltins | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof p?.getBuiltinModule !== 'function' || typeof SharedArrayBuffer === 'undefined') return null;
  const wt = p.getBuiltinModule('node:worker_threads') as { Worker: NodeBuiltins['Worker']; isMainThread: boolean } | undefined;
  const os = p.getBuiltinModule('node:os') as { availableParallelism?: () => number } | undefined;
  if (!wt?.Worker) return null;
  return { Worker: wt.Worker, availableParallelism: os?.availableParallelism };
}

/** How many threads a pool would use here: the cores, or 1 where workers are unavailable. */
export function defaultThreads(): number {
  const n = nodeBuiltins();
  return n ? Math.max(1, n.availableParallelism?.() ?? 1) : 1;
}

export class ThreadPool {
  readonly size: number;
  readonly #workers: WorkerLike[] = [];
  readonly #ctl: Int32Array;
  #seq = 0;

  /** `extra` workers besides the calling thread, sharing `memory` (created shared). */
  constructor(memory: WebAssembly.Memory, extra: number) {
    const node = nodeBuiltins();
    if (!node) throw new Error('ThreadPool: worker threads need Node with SharedArrayBuffer');
    const control = new SharedArrayBuffer(4 * SLOT * Math.max(1, extra));
    this.#ctl = new Int32Array(control);
    const bytes = kernelModule(true);
    for (let slot = 0; slot < extra; slot++) {
      const w = new node.Worker(WORKER_SOURCE, { eval: true, workerData: { bytes, memory, control, slot } });
      w.unref(); // an idle pool must not keep the process alive
      this.#workers.push(w);
    }
    this.size = extra + 1;
  }

  /**
   * Run `gemm` over the panels [0, P): the workers take the first shares, the calling
   * thread (through `own`) the last, then wait for the workers.
   */
  gemm(args: [number, number, number, number, number, number], panels: number, own: (p0: number, p1: number) => void): void {
    const seq = ++this.#seq;
    const share = Math.ceil(panels / this.size);
    const started: number[] = [];
    this.#workers.forEach((_, slot) => {
      const p0 = slot * share;
      const p1 = Math.min(panels, p0 + share);
      if (p0 >= p1) return;
      const base = slot * SLOT;
      this.#ctl.set([...args, p0, p1], base + 2);
      Atomics.store(this.#ctl, base, seq);
      Atomics.notify(this.#ctl, base);
      started.push(base);
    });
    const mine = this.#workers.length * share;
    if (mine < panels) own(mine, panels);
    for (const base of started) {
      for (let i = 0; i < SPIN && Atomics.load(this.#ctl, base + 1) !== seq; i++);
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
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
