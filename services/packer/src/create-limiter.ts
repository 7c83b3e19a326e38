/**
 * The provider profile's `batchCreatesPerMinute`, shared by every packer replica: one Redis counter per wall-clock
 * minute (`G:creates:<unixMinute>`, see domain/keys.ts). A flush over the limit is delayed to the next minute, not
 * failed, so the limit costs latency only.
 */
import type { KeySpace } from '@batchbridge/domain';
import type { Cluster, Redis } from 'ioredis';

export type CreateSlot = { ok: true } | { ok: false; retryAt: number };

export class BatchCreateLimiter {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: KeySpace,
    private readonly perMinute: number,
    /** Each provider has its own budget (SPEC §11). */
    private readonly providerId = 'default',
  ) {}

  /** Takes one create slot of the current minute, or says when the next minute starts. */
  async take(now = Date.now()): Promise<CreateSlot> {
    const minute = Math.floor(now / 60_000);
    const key = this.keys.batchCreates(minute, this.providerId);
    const [[, used]] = (await this.redis.multi().incr(key).pexpire(key, 120_000).exec()) as [[unknown, number]];
    if (Number(used) <= this.perMinute) return { ok: true };
    // Spread the waiting flushes over the first seconds of the next minute rather than all at its first millisecond.
    return { ok: false, retryAt: (minute + 1) * 60_000 + Math.floor(Math.random() * 5_000) };
  }
}
