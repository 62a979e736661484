import { defineConfig } from 'tsup';

export default defineConfig({
  // the worker is an entry of its own: threads.ts starts it from new URL('./worker.js', import.meta.url)
  entry: { index: 'src/index.ts', worker: 'src/worker.js' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
