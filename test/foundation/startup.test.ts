// What a new operator sees at start-up: a bad environment is refused with one clear line per problem and a non-zero
// exit, and a Redis that may evict keys is refused unless explicitly allowed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startRedis, type TestRedis } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a service's main until it exits, or until `until` matches its output (then SIGTERM). */
function runService(entry: string, env: Record<string, string>, until?: RegExp): Promise<Run> {
  return new Promise((resolve) => {
    // `node --import tsx` rather than the tsx CLI: signals and exit codes are the service's own, not a wrapper's.
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry)], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    let stopping = false;
    const check = () => {
      // One SIGTERM only: a second signal means "force exit" (code 130) to a batchbridge service.
      if (!stopping && until?.test(stdout + stderr)) {
        stopping = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      check();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      check();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('start-up checks', () => {
  it('refuses a bad environment with one line per problem, naming the variable, and exit code 2', async () => {
    const run = await runService('services/packer/src/main.ts', {
      PORT: 'eighty',
      MAX_ATTEMPTS: '0',
      WEBHOOK_RETRY_SCHEDULE: '5s,later',
    });
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toBe('batchbridge: invalid configuration');
    expect(lines.slice(1)).toHaveLength(3);
    expect(run.stderr).toMatch(/- PORT: expected a whole number/);
    expect(run.stderr).toMatch(/- MAX_ATTEMPTS: .*got "0"/);
    expect(run.stderr).toMatch(/- WEBHOOK_RETRY_SCHEDULE: expected comma-separated durations/);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('says what a worker needs when it runs alone without a provider', async () => {
    const run = await runService('services/poller/src/main.ts', {});
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/UPSTREAM_BASE_URL and UPSTREAM_API_KEY are required/);
  });

  describe('against a Redis whose maxmemory-policy is allkeys-lru', () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis({ aof: false, args: ['--maxmemory-policy', 'allkeys-lru'] });
    });
    afterAll(async () => {
      await redis.stop();
    });

    it('refuses to start', async () => {
      const run = await runService('services/dispatcher/src/main.ts', { REDIS_URL: redis.url, METRICS_PORT: '0' });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/maxmemory-policy is "allkeys-lru".*REDIS_ALLOW_EVICTION=true/s);
    });

    it('starts when the operator explicitly accepts the risk', async () => {
      const run = await runService(
        'services/dispatcher/src/main.ts',
        { REDIS_URL: redis.url, METRICS_PORT: '0', REDIS_ALLOW_EVICTION: 'true', REDIS_KEY_PREFIX: 'evictiontest' },
        /dispatcher running/,
      );
      expect(run.stdout).toMatch(/not noeviction; continuing/);
      expect(run.stdout).toMatch(/dispatcher running/);
      expect(run.code).toBe(0);
    });
  });
});
