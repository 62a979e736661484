import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Cross-origin isolation (COOP + COEP) on the dev and preview servers: SharedArrayBuffer,
 * hence @ml/backend-wasm's Web Worker threads, exists only in an isolated page. A static
 * host must send the same two headers for threads (the pages still work without them, on
 * one thread).
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

const page = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

export default defineConfig({
  // relative asset URLs: the build works from any folder of any static host
  base: './',
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  worker: { format: 'es' },

  build: {
    target: 'es2022',
    // the Train page carries Vega (about 0.9 MB minified) for its charts
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      input: {
        index: page('index.html'),
        digits: page('digits.html'),
        train: page('train.html'),
        regression: page('regression.html'),
      },
    },
  },
});
