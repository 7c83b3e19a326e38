/**
 * Per-tenant requests-per-second limit shared by every ingest replica: one Redis counter per tenant and unix second
 * (`KeySpace.rate`), INCR + PEXPIRE in one pipeline, so the check costs a single round trip (and auto-pipelining
 * merges it with other requests' commands).
 */
import type { KeySpace } from '@batchbridge/domain';
import type { RedisClient } from '@batchbridge/redis';

/** How long a counter outlives its second: long enough for clock skew between replicas, short enough to stay small. */
const COUNTER_TTL_MS = 2_000;

export class RateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
  ) {}

  /** Counts one request for `tenant` in the current second; true when it is within `perSecond`. */
  async take(tenant: string, perSecond: number): Promise<boolean> {
    const key = this.keys.rate(tenant, Math.floor(Date.now() / 1000));
    const replies = await this.redis.pipeline().incr(key).pexpire(key, COUNTER_TTL_MS).exec();
    const [err, count] = replies?.[0] ?? [new Error('empty pipeline reply'), 0];
    if (err) throw err;
    return Number(count) <= perSecond;
  }
}
