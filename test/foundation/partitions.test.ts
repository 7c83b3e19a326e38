// Issue 16.18: an Idempotency-Key is looked up in the partition its hash names, so a prefix restarted with another
// REDIS_PARTITIONS would send a retry elsewhere and create the request twice. Such a start is refused, in one line.
import { createTestRuntime, freshPrefix } from '@batchbridge/testkit';
import { expect, it } from 'vitest';

it('refuses to start a key prefix with another REDIS_PARTITIONS than it was started with', async () => {
  const prefix = freshPrefix();
  const first = await createTestRuntime({ env: { REDIS_KEY_PREFIX: prefix, REDIS_PARTITIONS: '2' } });
  try {
    // The same count starts again; the key says what it was started with.
    // (Not disposed before the next start: disposing a runtime deletes its prefix's keys, this one's included.)
    const again = await createTestRuntime({ env: { REDIS_KEY_PREFIX: prefix, REDIS_PARTITIONS: '2' } });
    await expect(createTestRuntime({ env: { REDIS_KEY_PREFIX: prefix, REDIS_PARTITIONS: '4' } })).rejects.toThrow(
      /^REDIS_PARTITIONS is 4, but this REDIS_KEY_PREFIX was started with 2/,
    );
    expect(await first.redis.get(first.keys.partitionCount())).toBe('2');
    await again.dispose();
  } finally {
    await first.redis.unlink(first.keys.partitionCount());
    await first.dispose();
  }
});
