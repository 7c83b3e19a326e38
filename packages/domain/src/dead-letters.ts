/**
 * Dead letters: finished requests whose delivery retries are used up (zset `T:dead`, and `dead` on the record) until
 * a redeliver succeeds (mark-delivered takes them out) or their record expires (pruned on the way when counted).
 */
import type { PartitionId } from './keys.js';
import type { StoreContext } from './store-context.js';

export class DeadLetters {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Retries used up (or the endpoint disabled, the address refused, the tenant gone — `reason`): into the dead letters
   * (if the record still exists), out of the undelivered index; with `event`, the tenant's `message.attempt.exhausted`
   * job goes to the outbox in the same step. Answers the outbox member written, if any.
   */
  async add(
    p: PartitionId,
    id: string,
    reason?: string,
    event?: { jobId: string; data: Record<string, unknown> },
  ): Promise<string | undefined> {
    const k = this.ctx.keys.partitionKeys(p);
    const options = { tag: k.tag, id, now: Date.now(), ...(reason ? { reason } : {}), ...(event ? { event } : {}) };
    const reply = await this.ctx.redis.bbMarkDead(k.req(id), JSON.stringify(options));
    // The outbox member of the event written with the dead letter (the caller relays it at once).
    return typeof reply === 'string' ? reply : undefined;
  }

  /** Dead-lettered request ids of a partition, newest first. */
  async list(p: PartitionId, limit = 100): Promise<string[]> {
    return (await this.ctx.redis.zrevrange(this.ctx.keys.partitionKeys(p).dead, 0, limit - 1)) as string[];
  }

  /**
   * Dead letters still waiting for a redeliver, all partitions. Drops, on the way, those whose record has expired
   * (the oldest first, up to `pruneScan` per partition per call), so the set never outlives the records (issue 16.10).
   */
  async count(pruneScan = 200): Promise<number> {
    let n = 0;
    for (const p of this.ctx.keys.allPartitions()) {
      const k = this.ctx.keys.partitionKeys(p);
      n += await this.ctx.redis.bbPruneDead(k.dead, JSON.stringify({ tag: k.tag, scan: pruneScan }));
    }
    return n;
  }
}
