/**
 * Start-up check: does the configured Redis answer PING within a short connect timeout? Run before anything else
 * starts, so that an unreachable Redis is one line naming REDIS_URL (password redacted), never a stack trace.
 */
import { Redis } from 'ioredis';
import { RedisSetupError } from './errors.js';

/** `redis://user:secret@host:6379` → `redis://user:***@host:6379` (each seed of a comma-separated list). */
export function redactRedisUrl(url: string): string {
  return url
    .split(',')
    .map((seed) => seed.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@'))
    .join(',');
}

/** Resolves when one seed of `url` answers PING; else throws a RedisSetupError whose message is one line. */
export async function probeRedis(url: string, timeoutMs = 2_000): Promise<void> {
  let last = 'no seed node';
  for (const seed of url.split(',').map((s) => s.trim())) {
    const client = new Redis(seed, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (err) {
      last = (err as Error).message.split('\n')[0] ?? 'unknown error';
      client.disconnect();
    }
  }
  throw new RedisSetupError(
    'redis.unavailable',
    `batchbridge: cannot reach Redis at REDIS_URL=${redactRedisUrl(url)} (${last}); start Redis or fix REDIS_URL`,
  );
}
