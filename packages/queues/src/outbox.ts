/**
 * The transactional outbox relay. Lua scripts that change a request's state also write the job that must follow
 * (flush, poll or deliver) into the partition's `T:outbox` sorted set in the same atomic step. The relay adds those
 * jobs to BullMQ with their deterministic `jobId` (BullMQ ignores a duplicate id) and only then removes the entries.
 *
 * The writer relays its own entries at once (fast path); a periodic sweep relays entries older than a few seconds,
 * left behind by a process that died in between.
 */

import type { KeySpace, PartitionId } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { Cluster, Redis } from 'ioredis';
import type { QueueKind } from './catalog.js';
import type { PartitionedQueues } from './queues.js';

interface OutboxEntry {
  queue: QueueKind;
  jobId: string;
  data: Record<string, unknown>;
}

export class OutboxRelay {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: KeySpace,
    private readonly queues: PartitionedQueues,
    private readonly logger?: Logger,
  ) {}

  /** Adds the jobs of these outbox entries (written by a script of partition `p`), then removes the entries. */
  async relay(p: PartitionId, all: readonly string[]): Promise<void> {
    // '' is a script's "no entry" (a finished request's delivery goes to the due zset, not through the outbox).
    const members = all.filter((m) => m !== '');
    if (members.length === 0) return;
    const byQueue = new Map<QueueKind, OutboxEntry[]>();
    for (const m of members) {
      let entry: OutboxEntry;
      try {
        entry = JSON.parse(m) as OutboxEntry;
      } catch {
        this.logger?.error({ partition: p }, 'dropping unparseable outbox entry');
        continue;
      }
      const list = byQueue.get(entry.queue) ?? [];
      list.push(entry);
      byQueue.set(entry.queue, list);
    }
    for (const [kind, entries] of byQueue) {
      await this.queues.addBulk(
        kind,
        p,
        entries.map((e) => ({ data: e.data, jobId: e.jobId })),
      );
    }
    await this.redis.zrem(this.keys.partitionKeys(p).outbox, ...members);
  }

  /** Relays entries older than `olderThanMs` in every partition (left by a process that died); returns how many. */
  async sweep(olderThanMs = 5_000): Promise<number> {
    let total = 0;
    for (const p of this.keys.allPartitions()) {
      for (;;) {
        const members = (await this.redis.zrangebyscore(
          this.keys.partitionKeys(p).outbox,
          '-inf',
          Date.now() - olderThanMs,
          'LIMIT',
          0,
          500,
        )) as string[];
        if (members.length === 0) break;
        await this.relay(p, members);
        total += members.length;
        if (members.length < 500) break;
      }
    }
    if (total > 0) this.logger?.warn({ entries: total }, 'outbox sweep relayed entries left behind');
    return total;
  }
}
