import { defineConfig } from 'vitest/config';

// the CLI tests train small models in subprocesses: allow for a loaded CI machine
export default defineConfig({ test: { include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 } });
