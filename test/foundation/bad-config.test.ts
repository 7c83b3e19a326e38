// Bad configuration under `pnpm start` never prints a stack trace: each is refused before anything starts, with a
// non-zero exit and a line naming the variable.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@batchbridge/redis';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bb-bad-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runMain(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/all-in-one/src/main.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_DATA_DIR: join(dir, 'redis'), ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const tenant = (id: string, key: string) => ({
  id,
  api_keys: [key],
  webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa',
});
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('bad configuration under pnpm start', () => {
  const cases: Array<[string, () => Promise<Record<string, string>>, RegExp]> = [
    ['a /33 IPv4 CIDR', async () => ({ WEBHOOK_ALLOW_CIDRS: '10.0.0.0/33' }), /WEBHOOK_ALLOW_CIDRS: /],
    ['a missing TENANTS_FILE', async () => ({ TENANTS_FILE: join(dir, 'nope.json') }), /TENANTS_FILE: cannot read/],
    [
      'a TENANTS_FILE that is not JSON',
      async () => ({ TENANTS_FILE: file('bad.json', '{nope') }),
      /TENANTS_FILE: .*not valid JSON/,
    ],
    [
      'a TENANTS_FILE that breaks the schema',
      async () => ({ TENANTS_FILE: file('schema.json', JSON.stringify({ tenants: [{ id: 'x' }] })) }),
      /TENANTS_FILE: .*api_keys/,
    ],
    [
      'duplicate tenant ids',
      async () => ({
        TENANTS_FILE: file(
          'dup.json',
          JSON.stringify({ tenants: [tenant('acme', 'key-aaaaaaaaaaaaaaaa'), tenant('acme', 'key-bbbbbbbbbbbbbbbb')] }),
        ),
      }),
      /TENANTS_FILE: .*tenant id "acme" is listed more than once/,
    ],
    [
      'a retention shorter than the retry schedule',
      async () => ({ RESULT_RETENTION: '1h', WEBHOOK_RETRY_SCHEDULE: '1h,1h' }),
      /RESULT_RETENTION: .*WEBHOOK_RETRY_SCHEDULE/,
    ],
    [
      'an unreachable Redis',
      async () => ({ REDIS_URL: `redis://:hunter2-secret@127.0.0.1:${await freePort()}` }),
      /cannot reach Redis at REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ /,
    ],
  ];
  for (const [name, env, expected] of cases) {
    it(`refuses ${name} in one line, without a stack trace`, async () => {
      const run = await runMain(await env());
      expect(run.code).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(run.out).toMatch(expected);
      expect(run.out.split('\n').filter((l) => expected.test(l))).toHaveLength(1);
      expect(run.out).not.toMatch(/^\s+at /m); // no stack-trace line
      expect(run.out).not.toContain('hunter2-secret');
    });
  }
});
