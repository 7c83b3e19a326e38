/**
 * The guarantee that a live batch is never forgotten: relay outbox entries a dead process left behind, then make sure
 * every batch in a partition's live set has a poll job that will run (re-adding it when missing or completed,
 * retrying it when it failed). Harmless to run from many replicas at once: job ids are deterministic.
 */
import type { PartitionId } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import { jobIds } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';

export interface SweepResult {
  relayed: number;
  added: number;
  retried: number;
}

export async function sweepPolls(runtime: Runtime, log: Logger): Promise<SweepResult> {
  const result: SweepResult = { relayed: await runtime.relay.sweep(), added: 0, retried: 0 };
  for (const p of runtime.keys.allPartitions()) await sweepPartition(runtime, p, result, log);
  if (result.added > 0 || result.retried > 0) log.warn(result, 'poll sweep revived poll jobs of live batches');
  return result;
}

async function sweepPartition(runtime: Runtime, p: PartitionId, result: SweepResult, log: Logger): Promise<void> {
  const queue = runtime.queues.queue('poll', p);
  for (const batchId of await runtime.store.batches.live(p)) {
    const jobId = jobIds.poll(batchId);
    try {
      const job = await queue.getJob(jobId);
      const state = job ? await job.getState() : 'missing';
      if (state === 'failed' && job) {
        await job.retry('failed');
        result.retried++;
        continue;
      }
      if (state === 'completed' || state === 'unknown' || state === 'missing') {
        // A completed job whose batch is still live (or a half-removed one) would block a re-add with the same id.
        if (job) await job.remove();
        await runtime.queues.addBulk('poll', p, [{ data: { partition: p, batchId }, jobId }]);
        result.added++;
      }
    } catch (err) {
      log.warn({ partition: p, batchId, err: (err as Error).message }, 'poll sweep could not check a batch');
    }
  }
}
