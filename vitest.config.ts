import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 40_000,
    hookTimeout: 20_000,
    // Integration tests fork real clusters; two files at a time on a 2-core machine.
    maxWorkers: 2,
  },
});
