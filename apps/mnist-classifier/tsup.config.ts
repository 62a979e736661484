import { defineConfig } from 'tsup';

export default defineConfig({
  // main: the CLI; models: the networks, also used by bench/ (so it measures this very CNN);
  // preprocess and labels: browser-safe, the web app's digit page uses the CLI's very functions
  entry: ['src/main.ts', 'src/models.ts', 'src/preprocess.ts', 'src/labels.ts'],
  dts: { entry: { models: 'src/models.ts', preprocess: 'src/preprocess.ts', labels: 'src/labels.ts' } },
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
});
