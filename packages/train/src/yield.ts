/**
 * Let the event loop run (input, rendering, timers, messages) before going on: a
 * macrotask, not a microtask, or a page's clicks would wait for training to end. A
 * MessageChannel message: setTimeout(0) is clamped to 4 ms after a few nested calls, and
 * `scheduler.yield()` resumes ahead of the page's other tasks, so that its timers did not
 * run until training ended (Chromium, measured in test/browser.test.ts).
 */
export function nextMacrotask(): Promise<void> {
  const Channel = (globalThis as unknown as { MessageChannel?: new () => WebChannel }).MessageChannel;
  if (typeof Channel === 'function') {
    return new Promise((resolve) => {
      const channel = new Channel();
      channel.port1.onmessage = () => {
        channel.port1.close(); // a port left open would keep Node's process alive
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The web's MessageChannel, as pages, workers and Node (≥ 15) have it. */
interface WebChannel {
  port1: { onmessage: (() => void) | null; close(): void };
  port2: { postMessage(message: null): void };
}

/** `'auto'`: yield once this many milliseconds of work have passed since the last yield. */
export const AUTO_YIELD_MS = 8;

/** How often a loop yields: every n batches (0 never), or `'auto'`, by time. */
export type YieldEvery = number | 'auto';

/** Whether `v` is a valid `yieldEvery`. */
export const isYieldEvery = (v: unknown): v is YieldEvery => v === 'auto' || (Number.isInteger(v) && (v as number) >= 0);

/**
 * A function to call after each batch: it returns a promise to await when it is time to
 * yield, else undefined (so a loop that never yields awaits nothing more than before).
 */
export function yielder(every: YieldEvery): () => Promise<void> | undefined {
  if (every === 0) return () => undefined;
  if (every === 'auto') {
    let last = performance.now();
    return () => {
      if (performance.now() - last < AUTO_YIELD_MS) return undefined;
      return nextMacrotask().then(() => {
        last = performance.now();
      });
    };
  }
  let n = 0;
  return () => (++n % every === 0 ? nextMacrotask() : undefined);
}
