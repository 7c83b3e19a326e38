/**
 * The shared test Redis for the store tests of this folder: one connection per file, opened before its tests and
 * closed after them. Keys need no cleanup here: every prefix from `freshPrefix` is deleted after the file by
 * test/global-setup/clean-prefixes.ts.
 */
import { sharedRedisUrl } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export function useSharedRedis(): { readonly redis: Redis } {
  let redis: Redis | undefined;
  let stop: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    const shared = await sharedRedisUrl();
    stop = shared.stop;
    redis = new Redis(shared.url);
  });
  afterAll(async () => {
    await redis?.quit();
    await stop();
  });
  return {
    get redis() {
      if (!redis) throw new Error('useSharedRedis: read `redis` inside a test or hook');
      return redis;
    },
  };
}
