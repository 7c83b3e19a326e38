import { deletePrefixKeys, freshPrefix, sharedRedisUrl, TEST_REDIS_URL_ENV } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countLeftoverKeys } from '../global-setup/redis.js';

// Issue 14 item 2: the run has a Redis of its own (never the developer's 6379), and the global setup's leftover
// counter — which fails the run at teardown — sees a key left under a prefix and nothing once the prefix is cleaned.
describe('the test run’s private Redis', () => {
  let url: string;
  let redis: Redis;

  beforeAll(async () => {
    url = (await sharedRedisUrl()).url;
    redis = new Redis(url);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('is the one the global setup started, not 127.0.0.1:6379, and answers PING', async () => {
    expect(process.env[TEST_REDIS_URL_ENV]).toBe(url);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    expect(new URL(url).port).not.toBe('6379');
    expect(await redis.ping()).toBe('PONG');
  });

  it('the leftover counter reports a planted key under its prefix, and zero after deletePrefixKeys', async () => {
    const prefix = freshPrefix('leak');
    await redis.set(`{${prefix}:p0}:req:x`, '1');
    await redis.set(`${prefix}:plain`, '1');
    const before = await countLeftoverKeys(url, `*${prefix}*`);
    expect(before).toEqual({ total: 2, byPrefix: { [prefix]: 2 } });
    expect(await deletePrefixKeys(redis, prefix)).toBe(2);
    expect(await countLeftoverKeys(url, `*${prefix}*`)).toEqual({ total: 0, byPrefix: {} });
  });
});
