import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the README example imports '@ml/plot' as a user would; in the tests that is the source
  resolve: { alias: { '@ml/plot': fileURLToPath(new URL('./src/node.ts', import.meta.url)) } },
  // isolate: false shares one import of vega per worker across the test files (no file keeps global state): 10 s → 4 s on 2 cores
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000, isolate: false },
});
