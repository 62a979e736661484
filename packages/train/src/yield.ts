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
