import { defineConfig } from 'vitest/config';

// One Node project for now; the edge's workerd tests get their own project when src/edge lands.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
