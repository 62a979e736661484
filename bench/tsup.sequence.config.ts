import { defineConfig } from 'tsup';

// The sequence-model rows (src/sequence.ts), built beside run.ts: `npx tsup --config tsup.sequence.config.ts`
export default defineConfig({
  entry: ['src/sequence.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: false,
  target: 'node20',
  skipNodeModulesBundle: true,
});
