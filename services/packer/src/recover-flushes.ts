/**
 * Recovery: outbox entries a dead process left behind are relayed, and every flush claimed but not submitted for a
 * while gets a live flush job again — re-added when it is missing (removed, or never relayed), retried when it failed
 * (attempts used up during a long provider outage). Active, waiting and delayed jobs are left alone: BullMQ's
 * stalled-job check hands back the jobs of a dead worker.
 */
import type { PartitionId, Store } from '@batchbridge/domain';
import { jobIds } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';

export interface RecoverOptions {
  /** Outbox entries older than this are relayed. */
  outboxAgeMs: number;
  /** Flushes claimed longer ago than this are checked. */
  staleFlushMs: number;
}

/** Returns the number of flush jobs re-added or retried. */
export async function recoverFlushes(runtime: Runtime, store: Store, options: RecoverOptions): Promise<number> {
  await runtime.relay.sweep(options.outboxAgeMs);
  let revived = 0;
  for (const p of runtime.keys.allPartitions()) {
    for (const flushId of await store.flushes.stale(p, options.staleFlushMs)) {
      if (await reviveFlushJob(runtime, p, flushId)) revived += 1;
    }
  }
  return revived;
}

async function reviveFlushJob(runtime: Runtime, p: PartitionId, flushId: string): Promise<boolean> {
  const queue = runtime.queues.queue('flush', p);
  const jobId = jobIds.flush(flushId);
  const job = await queue.getJob(jobId);
  const state = job ? await job.getState() : 'missing';
  const log = runtime.logger.child({ flushId, partition: p, jobId });
  if (state === 'failed' && job) {
    log.warn({ reason: job.failedReason }, 'retrying the failed job of an unsubmitted flush');
    await job.retry('failed');
    return true;
  }
  if (state === 'completed' && job) {
    // Completed while the flush is still unsubmitted (it can only be a bug or a hand edit): run it again.
    await job.remove();
  } else if (state !== 'missing' && state !== 'unknown') {
    return false;
  }
  log.warn({ state }, 're-adding the missing job of an unsubmitted flush');
  await runtime.queues.addBulk('flush', p, [{ data: { partition: p, flushId }, jobId }]);
  return true;
}
