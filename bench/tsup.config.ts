import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/run.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  // TensorFlow.js and the @ml packages load from node_modules as a user's program would
  skipNodeModulesBundle: true,
});
