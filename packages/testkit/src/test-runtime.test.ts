import { expect, it } from 'vitest';
import { createTestRuntime } from './test-runtime.js';

it('creates an isolated runtime and removes its keys on dispose', async () => {
  const rt = await createTestRuntime({ env: { REDIS_PARTITIONS: '2' } });
  expect(rt.keys.partitions).toBe(2);
  await rt.redis.set(`${rt.keys.tag(1)}:probe`, '1');
  expect(rt.tenants.byApiKey('bb_test_acme_key_0123456789')?.id).toBe('acme');
  const probeKey = `${rt.keys.tag(1)}:probe`;
  await rt.dispose();
  // A new runtime on the same prefix would see nothing: check with a fresh one.
  const other = await createTestRuntime();
  expect(await other.redis.exists(probeKey)).toBe(0);
  await other.dispose();
});
