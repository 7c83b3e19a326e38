/**
 * BullMQ queues and workers per partition, built from the catalog. Producers share one connection; each Worker needs
 * its own blocking connection (BullMQ creates it from the connection options we pass).
 */

import type { KeySpace, PartitionId } from '@batchbridge/domain';
import { type Job, type Processor, Queue, Worker, type WorkerOptions } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { ZodType } from 'zod';
import { QUEUES, type QueueDefinition, type QueueKind } from './catalog.js';

export class PartitionedQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis | Cluster,
    readonly keys: KeySpace,
    private readonly overrides: Partial<Record<QueueKind, { attempts?: number }>> = {},
  ) {}

  queue(kind: QueueKind, p: PartitionId): Queue {
    const id = `${kind}/${p}`;
    let q = this.queues.get(id);
    if (!q) {
      const def = QUEUES[kind];
      q = new Queue(def.name, {
        connection: this.connection,
        prefix: this.keys.tag(p),
        defaultJobOptions: { ...def.jobOptions, ...this.overrides[kind] },
      });
      this.queues.set(id, q);
    }
    return q;
  }

  async addBulk(
    kind: QueueKind,
    p: PartitionId,
    jobs: Array<{ data: Record<string, unknown>; jobId: string; delayMs?: number }>,
  ) {
    const def: QueueDefinition<ZodType> = QUEUES[kind];
    const now = Date.now();
    await this.queue(kind, p).addBulk(
      jobs.map((j) => {
        const priority = def.priorityOf?.(j.data, now);
        return {
          name: def.jobName,
          data: def.schema.parse(j.data),
          opts: { jobId: j.jobId, ...(j.delayMs ? { delay: j.delayMs } : {}), ...(priority ? { priority } : {}) },
        };
      }),
    );
  }

  /** Job counts per state, summed over partitions. */
  async counts(kind: QueueKind): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const p of this.keys.allPartitions()) {
      const c = await this.queue(kind, p).getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
      for (const [state, n] of Object.entries(c)) out[state] = (out[state] ?? 0) + n;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}

/**
 * Starts one worker per partition for a queue kind. `connection` must be a worker-role connection
 * (`maxRetriesPerRequest: null`); BullMQ duplicates it for the blocking client.
 */
export function startWorkers<T>(
  kind: QueueKind,
  keys: KeySpace,
  connection: Redis | Cluster,
  processor: (job: Job<T>, token: string | undefined, partition: PartitionId) => Promise<unknown>,
  options: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
): Worker[] {
  const def = QUEUES[kind];
  return keys.allPartitions().map((p) => {
    const fn: Processor<T> = (job, token) => processor(job, token, p);
    return new Worker<T>(def.name, fn, { ...options, connection, prefix: keys.tag(p) });
  });
}
