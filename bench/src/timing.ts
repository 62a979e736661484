/** One measured workload on one system. */
export interface Measurement {
  /** the median, in the workload's unit */
  value: number;
  /** how many repetitions the median is over */
  reps: number;
  /** a note for the table (extrapolated, unsupported, …) */
  note?: string;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Untimed runs go on at least this long (when there are any), on every system alike
 * (torch_bench.py and torch_sequence.py use the same 2 s): first runs in a fresh process
 * are slow. For `@ml` V8 is still optimizing the library's JavaScript for a second or two
 * (ml-wasm's MLP training step, median over 0.5–1.5 s after its first step 0.67–1.19 ms,
 * over 1.5–3 s 0.60–0.70 ms, later 0.61–0.76 ms; PyTorch's the same in every window), so
 * half a second of warm-up timed part of the compiling and not the steps a training run
 * spends most of its time in.
 */
export const WARMUP_MS = 2000;

/**
 * Run `once` (after `warmup` untimed runs, and more until WARMUP_MS have passed) until
 * `maxReps` runs or `budgetMs` of timed work, at least one run; returns the median time
 * of one run in milliseconds.
 */
export async function timeIt(once: () => unknown, options: { warmup?: number; maxReps: number; budgetMs: number }): Promise<{ ms: number; reps: number }> {
  const warmup = options.warmup ?? 1;
  const w0 = performance.now();
  for (let i = 0; i < warmup || (warmup > 0 && performance.now() - w0 < WARMUP_MS); i++) await once();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < options.maxReps && (times.length === 0 || performance.now() - start < options.budgetMs)) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), reps: times.length };
}
