import { defineConfig } from 'vitest/config';

// `pnpm test:faults`: the fault-injection run of test/faults (issue 8), kept out of `pnpm test` because it runs the
// services as processes for minutes. One file, one fork: the run itself needs both cores.
export default defineConfig({
  test: {
    // The main run and the Sentinel phase (issue 27), one file at a time; `pnpm test:faults:sentinel` runs the Sentinel phase alone.
    include: process.env.FAULTS_SENTINEL
      ? ['test/faults/sentinel.test.ts']
      : ['test/faults/invariants.test.ts', 'test/faults/sentinel.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    // A private Redis for the whole run; fails the run if any keys are left behind (test/global-setup/redis.ts).
    globalSetup: ['test/global-setup/redis.ts'],
    // After each file's own hooks: delete the keys of every prefix it took from freshPrefix.
    setupFiles: ['test/global-setup/clean-prefixes.ts'],
    pool: 'forks',
    maxWorkers: 1,
    // Under CI a JSON report too, from which .ci/run prints one 'N passed, N failed' line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results/faults.json' }]] : ['default'],
  },
});
