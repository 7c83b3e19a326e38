/**
 * Poll a batch at once (SPEC §13, a provider's batch event): through its one poll job (`jobIds.poll`), never a second
 * one, so that push and poll cannot route a batch twice — and routing is idempotent anyway (settle-many applies a line
 * only to a request still `submitted` in this batch; finish-batch sets `routed_at` once).
 *
 * - delayed (waiting for its next poll): promoted, it runs now;
 * - waiting: it runs soon anyway;
 * - active: a poll is running; it may have read the status just before the provider finished and move itself back to
 *   delayed, so the state is looked at again every `stepMs` for `budgetMs`, and promoted once delayed;
 * - failed: retried (as the poll sweep would);
 * - completed or missing while the caller knows the batch is live (not routed): added again (as the poll sweep would).
 *
 * Every step is safe to repeat, and a process that dies anywhere here leaves the poll job as it was: the next poll
 * (the backstop) or the provider's retry of the event does the rest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PartitionId } from '@batchbridge/domain';
import { jobIds } from './catalog.js';
import type { PartitionedQueues } from './queues.js';

/** What became of the poll job: `running` = still active when the budget ran out (it routes or reschedules). */
export type PollNowResult = 'promoted' | 'queued' | 'retried' | 'added' | 'running';

export interface PollNowOptions {
  /** How long an active poll job is waited for. @defaultValue 5 000 ms */
  budgetMs?: number;
  /** Between two looks at an active job. @defaultValue 50 ms */
  stepMs?: number;
}

export async function pollNow(
  queues: PartitionedQueues,
  p: PartitionId,
  batchId: string,
  options: PollNowOptions = {},
): Promise<PollNowResult> {
  const budgetMs = options.budgetMs ?? 5_000;
  const stepMs = options.stepMs ?? 50;
  const queue = queues.queue('poll', p);
  const jobId = jobIds.poll(batchId);
  const until = Date.now() + budgetMs;
  for (;;) {
    const job = await queue.getJob(jobId);
    const state = job ? await job.getState() : 'missing';
    if (job && state === 'delayed') {
      try {
        await job.promote();
        return 'promoted';
      } catch {
        // It left `delayed` meanwhile (its poll came due, or it was promoted by another event): look again.
        if (Date.now() > until) return 'running';
        continue;
      }
    }
    if (state === 'waiting' || state === 'prioritized' || state === 'waiting-children') return 'queued';
    if (state === 'active') {
      if (Date.now() > until) return 'running';
      await sleep(stepMs);
      continue;
    }
    if (job && state === 'failed') {
      await job.retry('failed');
      return 'retried';
    }
    // completed, unknown or missing while the batch is live: the same id again (BullMQ ignores a duplicate add).
    if (job) await job.remove();
    await queues.addBulk('poll', p, [{ data: { partition: p, batchId }, jobId }]);
    return 'added';
  }
}
