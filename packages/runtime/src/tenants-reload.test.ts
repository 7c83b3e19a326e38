import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadTenants } from './tenants.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const tenant = (id: string, key: string, extra: Record<string, unknown> = {}) => ({
  id,
  api_keys: [key],
  webhook_secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD'],
  ...extra,
});

it('reloads TENANTS_FILE when it changes, and keeps the previous tenants when the new file does not parse', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bb-tenants-'));
  dirs.push(dir);
  const file = join(dir, 'tenants.json');
  writeFileSync(file, JSON.stringify({ tenants: [tenant('acme', 'bb_acme_key_0123456789')] }));
  const { directory } = loadTenants(file);
  expect(directory.get('acme')?.webhook_secrets).toHaveLength(2);
  const results: unknown[] = [];
  const stop = directory.watch((r) => results.push(r), 50);
  // The watcher's first look at the file is its baseline: change the file after it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    writeFileSync(
      file,
      JSON.stringify({
        tenants: [
          tenant('acme', 'bb_acme_key_0123456789', { operations_url: 'https://ops.example.com/hook' }),
          tenant('initech', 'bb_initech_key_0123456789'),
        ],
      }),
    );
    await expect.poll(() => directory.get('initech')?.id, { timeout: 5_000 }).toBe('initech');
    expect(directory.byApiKey('bb_initech_key_0123456789')?.id).toBe('initech');
    expect(directory.get('acme')?.operations_url).toBe('https://ops.example.com/hook');

    await new Promise((resolve) => setTimeout(resolve, 100));
    writeFileSync(file, '{"tenants": [ {"id": "broken"} ] }');
    await expect.poll(() => results.some((r) => (r as { ok: boolean }).ok === false), { timeout: 5_000 }).toBe(true);
    expect(directory.tenants.map((t) => t.id)).toEqual(['acme', 'initech']);
    const failure = results.find((r) => (r as { ok: boolean }).ok === false) as { error: string };
    expect(failure.error).toContain('api_keys');
  } finally {
    stop();
  }
});

it('refuses a tenant with neither webhook_secret nor webhook_secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bb-tenants-'));
  dirs.push(dir);
  const file = join(dir, 'tenants.json');
  writeFileSync(file, JSON.stringify({ tenants: [{ id: 'acme', api_keys: ['bb_acme_key_0123456789'] }] }));
  expect(() => loadTenants(file)).toThrow(/webhook_secret or webhook_secrets/);
});
