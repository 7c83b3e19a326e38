/**
 * vitest setupFile: after a test file's own hooks have run (hooks run as a stack, and this one is registered first),
 * delete every key under each prefix the file took from `freshPrefix` — in the run's private Redis
 * (BATCHBRIDGE_TEST_REDIS_URL). Request records carry 7-day TTLs and BullMQ job hashes none: without this, a
 * runtime a test forgot to dispose, or a worker that wrote after dispose, leaves keys behind (issue 14 item 2).
 */

import { deletePrefixKeys, TEST_REDIS_URL_ENV, takeCreatedPrefixes } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';

afterAll(async () => {
  const prefixes = takeCreatedPrefixes();
  const url = process.env[TEST_REDIS_URL_ENV];
  if (prefixes.length === 0 || !url) return;
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of prefixes) await deletePrefixKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
});
