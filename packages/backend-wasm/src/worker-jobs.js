// @ts-check
/* global WebAssembly */
/**
 * The job protocol of a ThreadPool (threads.ts), shared by the calling thread and its
 * workers (worker.js). Plain JavaScript with JSDoc types (checked by tsc): Node starts the
 * same worker file from the sources (the tests) and from dist/ (the package), with no
 * build step between, and a bundler follows `new URL('./worker.js', import.meta.url)`.
 * It imports nothing, so a worker loads only this and worker.js.
 *
 * The control array holds the job's words [seq, next, done, parts, kind, failed], its
 * arguments from ARGS, then a ready flag per worker from READY. `next` carries the job's
 * seq in its high 16 bits, so a late worker cannot claim a part of a later job.
 */

/**
 * A split job's words from ARGS (see ThreadPool.split): [units, units per part, the count
 * argument, pointers] at 0; the first six pointers' (argument, bytes per unit) pairs at
 * PTRS; [the last unit's argument, its value, arguments, f32 bits] at TAIL; up to MAX_ARGS
 * arguments at ARGS; then the pairs of pointers 7 and 8 at MORE_PTRS, after the arguments
 * (so that the words before them are where they were when a kernel had at most six).
 */
export const PLAN = Object.freeze({ PTRS: 4, TAIL: 16, ARGS: 20, MAX_ARGS: 32, MORE_PTRS: 20 + 32, MAX_PTRS: 8 });

/** Positions in the control array: the job's words, its arguments (a product's, or a split job's plan), then a ready flag per worker. */
export const LAYOUT = Object.freeze({ SEQ: 0, NEXT: 1, DONE: 2, PARTS: 3, KIND: 4, FAILED: 5, ARGS: 6, READY: 6 + PLAN.MORE_PTRS + 2 * (PLAN.MAX_PTRS - 6) });

/**
 * Where pointer q's (argument, bytes per unit) pair lies, from ARGS.
 * @param {number} q
 */
export const pointerAt = (q) => (q < 6 ? PLAN.PTRS + 2 * q : PLAN.MORE_PTRS + 2 * (q - 6));

/** polls of the control word before a thread sleeps (about 10 ms: longer than the gaps between a training step's products) */
export const SPIN = 2_000_000;

/** @typedef {Record<string, (...args: number[]) => void>} Kernels */

/**
 * Run part `part` of the current job: one or two panels of a product (kind 0), or a range
 * of a split kernel's units (kind k > 0 runs `names[k − 1]`; its plan is at ARGS, see
 * ThreadPool.split).
 * @param {Int32Array} ctl the control array
 * @param {Float32Array} f32 the same words as f32 (a split kernel's float arguments)
 * @param {Kernels} kernels this thread's instance of the module
 * @param {number} part
 * @param {readonly string[]} names the kernels a pool can split
 */
export function runPart(ctl, f32, kernels, part, names) {
  const A = LAYOUT.ARGS;
  const kind = ctl[LAYOUT.KIND];
  if (kind === 0) {
    // a, b, c, M, K, Np (gemm's), then B's source, how to pack it (0: packed, 1: packB,
    // 2: packBT, 3: read row-major where it lies), its columns, the bias row (0: none), the
    // panels per part, the rows per part, and the parts per block of rows (part = block ·
    // that + panel group)
    // read word by word: a subarray and its destructuring allocate on every part
    const a = ctl[A], b = ctl[A + 1], c = ctl[A + 2], M = ctl[A + 3], K = ctl[A + 4], Np = ctl[A + 5], src = ctl[A + 6];
    const pack = ctl[A + 7], N = ctl[A + 8], bias = ctl[A + 9], per = ctl[A + 10], rows = ctl[A + 11], across = ctl[A + 12];
    const block = Math.floor(part / across), group = part % across;
    const p0 = group * per;
    const p1 = Math.min(p0 + per, Np >> 3);
    const r0 = block * rows;
    const m = Math.min(rows, M - r0);
    const at = a + 4 * r0 * K, ct = c + 4 * r0 * Np;
    if (pack === 3) return kernels.gemmRows(at, src, ct, m, K, Np, p0, p1, 4 * N);
    if (pack === 1) kernels.packB(src, b, K, N, p0, p1);
    else if (pack === 2) kernels.packBT(src, b, K, N, p0, p1);
    if (bias !== 0) kernels.gemmBias(at, b, ct, m, K, Np, p0, p1, bias);
    else kernels.gemm(at, b, ct, m, K, Np, p0, p1);
    return;
  }
  // the plan (see PLAN): units, units per part, count argument, pointers, last unit's change, arguments
  const units = ctl[A], per = ctl[A + 1], count = ctl[A + 2], nPtr = ctl[A + 3];
  const T = A + PLAN.TAIL;
  const lastArg = ctl[T], lastValue = ctl[T + 1], nArgs = ctl[T + 2], floats = ctl[T + 3];
  const u0 = part * per;
  const u1 = Math.min(u0 + per, units);
  const a0 = A + PLAN.ARGS;
  /** @type {number[]} */
  const args = [];
  for (let i = 0; i < nArgs; i++) args.push((floats >> i) & 1 ? f32[a0 + i] : ctl[a0 + i]);
  const kernel = kernels[names[kind - 1]];
  advance(ctl, args, nPtr, u0);
  args[count] = lastArg < 0 ? u1 - u0 : u1 - u0 - 1;
  if (args[count] > 0) kernel(...args);
  if (lastArg < 0) return;
  advance(ctl, args, nPtr, u1 - u0 - 1);
  args[count] = 1;
  args[lastArg] = lastValue;
  kernel(...args);
}

/**
 * Move a split job's pointer arguments on by `by` units (each by its bytes per unit).
 * @param {Int32Array} ctl
 * @param {number[]} args
 * @param {number} nPtr
 * @param {number} by
 */
function advance(ctl, args, nPtr, by) {
  for (let q = 0; q < nPtr; q++) {
    const at = LAYOUT.ARGS + pointerAt(q);
    args[ctl[at]] += by * ctl[at + 1];
  }
}

/**
 * Claim parts of the current job (tag: its seq << 16) and run them until none are left; a
 * part that throws (a kernel's trap) is reported in FAILED and the thread lives on.
 * @param {Int32Array} ctl
 * @param {number} tag
 * @param {(part: number) => void} run
 */
export function claim(ctl, tag, run) {
  const { NEXT, PARTS, DONE, FAILED } = LAYOUT;
  for (;;) {
    const v = Atomics.load(ctl, NEXT);
    if ((v & ~0xffff) !== tag || (v & 0xffff) >= ctl[PARTS]) return;
    if (Atomics.compareExchange(ctl, NEXT, v, v + 1) !== v) continue;
    try {
      run(v & 0xffff);
    } catch {
      Atomics.store(ctl, FAILED, 1);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === ctl[PARTS]) Atomics.notify(ctl, DONE);
  }
}

/**
 * What a worker gets when it starts.
 * @typedef {object} WorkerInit
 * @property {Uint8Array<ArrayBuffer>} bytes the kernels' module
 * @property {WebAssembly.Memory} memory the shared memory
 * @property {SharedArrayBuffer} control the control array's buffer
 * @property {number} slot this worker's ready flag: READY + slot
 * @property {readonly string[]} names the kernels a pool can split
 */

/**
 * A worker's life: instantiate the module on the shared memory, report ready, then take
 * parts of each job until the pool closes (seq < 0).
 * @param {WorkerInit} init
 */
export function serve({ bytes, memory, control, slot, names }) {
  const { SEQ, READY } = LAYOUT;
  const kernels = /** @type {Kernels} */ (/** @type {unknown} */ (new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports));
  const ctl = new Int32Array(control);
  const f32 = new Float32Array(control);
  Atomics.store(ctl, READY + slot, 1);
  let seen = 0;
  for (;;) {
    // spin a little before sleeping: training loops call again within microseconds, and
    // waking a sleeping thread costs more than many small products take
    for (let i = 0; i < SPIN && Atomics.load(ctl, SEQ) === seen; i++);
    Atomics.wait(ctl, SEQ, seen);
    seen = Atomics.load(ctl, SEQ);
    if (seen < 0) return;
    claim(ctl, seen << 16, (part) => runPart(ctl, f32, kernels, part, names));
  }
}
