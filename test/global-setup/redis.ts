/**
 * vitest globalSetup (both vitest.config.ts and vitest.faults.config.ts): the run gets a Redis of its own — a private
 * `redis-server` on a free loopback port, no persistence — so `pnpm test` never writes to a developer's Redis on 6379.
 * Its URL reaches every forked worker through BATCHBRIDGE_TEST_REDIS_URL (read by the testkit's `sharedRedisUrl`).
 * At teardown it counts the keys the suites left behind: any leftover fails the run, naming the prefixes.
 */

import { startRedis, TEST_REDIS_URL_ENV, type TestRedis } from '@batchbridge/testkit';
import { Redis } from 'ioredis';

export interface Leftovers {
  total: number;
  /** Key count per prefix (first `:` segment, hash-tag brace removed). */
  byPrefix: Record<string, number>;
}

/** Counts the keys in a Redis, grouped by prefix. */
export async function countLeftoverKeys(url: string, match = '*'): Promise<Leftovers> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const byPrefix: Record<string, number> = {};
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const prefix = (key.split(':')[0] ?? key).replace(/^\{/, '');
        byPrefix[prefix] = (byPrefix[prefix] ?? 0) + 1;
        total += 1;
      }
    } while (cursor !== '0');
    return { total, byPrefix };
  } finally {
    redis.disconnect();
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  const server: TestRedis = await startRedis({ forceProcess: true, aof: false, args: ['--save', ''] });
  const previous = process.env[TEST_REDIS_URL_ENV];
  process.env[TEST_REDIS_URL_ENV] = server.url;
  return async () => {
    try {
      const left = await countLeftoverKeys(server.url);
      if (left.total > 0) {
        const prefixes = Object.entries(left.byPrefix)
          .sort((a, b) => b[1] - a[1])
          .map(([p, n]) => `${p} (${n})`)
          .join(', ');
        console.error(`test Redis: ${left.total} keys left behind by the run, by prefix: ${prefixes}`);
        process.exitCode = 1;
      } else {
        console.log('test Redis: 0 keys left behind');
      }
    } finally {
      if (previous === undefined) delete process.env[TEST_REDIS_URL_ENV];
      else process.env[TEST_REDIS_URL_ENV] = previous;
      await server.stop();
    }
  };
}
