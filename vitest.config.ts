import { defineConfig } from 'vitest/config';

// One test command for the whole workspace: unit tests sit next to the code, cross-service tests in test/.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/faults/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A private Redis for the whole run; fails the run if any keys are left behind (test/global-setup/redis.ts).
    globalSetup: ['test/global-setup/redis.ts'],
    // After each file's own hooks: delete the keys of every prefix it took from freshPrefix.
    setupFiles: ['test/global-setup/clean-prefixes.ts'],
    pool: 'forks',
    // Two cores: more workers than that only makes every test slower.
    maxWorkers: 2,
    // Under CI a JSON report too, from which .ci/run prints one 'N passed, N failed' line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results/unit.json' }]] : ['default'],
  },
});
