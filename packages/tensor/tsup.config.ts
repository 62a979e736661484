import { defineConfig } from 'tsup';

export default defineConfig({
  // named entries: the kit lives in src/testing/ but still builds to dist/testing.js
  entry: { index: 'src/index.ts', testing: 'src/testing/index.ts', node: 'src/node.ts', backend: 'src/backend-api.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
