import { defineConfig } from 'vitest/config';

// One test command for the whole workspace: unit tests sit next to the code, cross-service tests in test/.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/faults/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers than that only makes every test slower.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
