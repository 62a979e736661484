import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (file: string): string => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

export default defineConfig({
  // the README example imports '@ml/onnx/node' as a user would; in the tests that is the source
  resolve: { alias: [{ find: /^@ml\/onnx\/node$/, replacement: src('node.ts') }, { find: /^@ml\/onnx$/, replacement: src('index.ts') }] },
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
