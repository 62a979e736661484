// @ts-check
/**
 * A ThreadPool's worker (threads.ts starts it from `new URL('./worker.js', import.meta.url)`):
 * in Node a worker_threads Worker whose `workerData` is its WorkerInit; in a browser a
 * module Web Worker whose first message is. Either way it serves jobs until the pool
 * closes. It imports only the job protocol, not the package.
 */
import { serve } from './worker-jobs.js';

/** @typedef {import('./worker-jobs.js').WorkerInit} WorkerInit */

const node = /** @type {{ process?: { getBuiltinModule?: (id: string) => unknown } }} */ (globalThis).process;
const threads = /** @type {{ workerData?: WorkerInit } | undefined} */ (node?.getBuiltinModule?.('node:worker_threads'));

if (threads?.workerData) {
  serve(threads.workerData);
} else {
  const scope = /** @type {{ onmessage: ((e: { data: WorkerInit }) => void) | null, close(): void }} */ (/** @type {unknown} */ (globalThis));
  scope.onmessage = (e) => {
    scope.onmessage = null;
    serve(e.data);
    scope.close();
  };
}
