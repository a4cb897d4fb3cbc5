import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores on CI: keep parallelism modest, servers are shared per run.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
