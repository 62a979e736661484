import { defineConfig } from 'tsup';

export default defineConfig({
  // main: the CLI; models: the networks, also used by bench/ (so it measures this very CNN)
  entry: ['src/main.ts', 'src/models.ts'],
  dts: { entry: { models: 'src/models.ts' } },
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
});
