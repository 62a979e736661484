import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // the workspace packages go through vitest too (one instance each), so a test can mock
    // node:fs/promises under their file writes (test/save-steps.test.ts)
    server: { deps: { inline: [/[\\/]packages[\\/](tensor|nn|optim|autograd)[\\/]dist[\\/]/, /@ml\//] } },
  },
});
