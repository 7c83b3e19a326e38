/**
 * The undelivered sweep (issue 14.6): a deleted or lost deliver job must never mean a lost outcome. Every finished
 * request sits in its partition's `undelivered` index until its outcome is delivered, gone (410) or dead-lettered; a
 * member older than the grace whose deliver job is missing — deleted by hand, or finished without recording an
 * outcome — gets a deliver job again. Job ids are deterministic (`jobIds.deliver`, or `jobIds.resweep` after a
 * finished job), so dispatchers sweeping at once add one job, not several; the webhook-id is the request's, so a receiver that
 * did get the first attempt dedupes the second.
 */
import type { PartitionId } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import { jobIds } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';

/** Job states in which the outcome is still on its way. */
const LIVE = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

export interface UndeliveredSweepOptions {
  /** A finished request this old with no live deliver job gets one again. @defaultValue 60 000 ms */
  graceMs?: number;
  /** Members read per round trip. @defaultValue 200 */
  limit?: number;
  /**
   * Members looked at per partition per sweep, at most (the pass stays bounded in time; the next one goes on).
   * @defaultValue 10 000
   */
  maxPerPass?: number;
}

/** One pass over every partition; answers how many deliver jobs it (re)created. */
export async function sweepUndelivered(
  runtime: Runtime,
  logger: Logger,
  options: UndeliveredSweepOptions = {},
): Promise<number> {
  const graceMs = options.graceMs ?? 60_000;
  let recreated = 0;
  const page = options.limit ?? 200;
  const maxPerPass = options.maxPerPass ?? 10_000;
  for (const p of runtime.keys.allPartitions()) {
    // Paged: with a receiver down for hours the oldest members are all live retries, and a newer one whose job was
    // deleted must still be found in this pass, not once those have drained.
    const before = Date.now() - graceMs;
    let offset = 0;
    for (let seen = 0; seen < maxPerPass; ) {
      const ids = await runtime.store.requests.undeliveredBefore(p, before, page, offset);
      if (ids.length === 0) break;
      seen += ids.length;
      const owed = await runtime.store.requests.outcomesOwed(p, ids);
      let removed = 0;
      for (const [i, id] of ids.entries()) {
        if (!owed[i]) {
          // Expired, or its outcome was recorded (a mark that raced the index): nothing to deliver.
          await runtime.store.requests.forgetUndelivered(p, id);
          removed += 1;
        } else if (await sweepOne(runtime, p, id)) recreated++;
      }
      offset += ids.length - removed;
      if (ids.length < page) break;
    }
  }
  if (recreated > 0) logger.warn({ recreated }, 'deliver jobs recreated for outcomes never delivered (job missing)');
  return recreated;
}

/** Gives an owed outcome a deliver job again when it has none alive; answers whether it did. */
async function sweepOne(runtime: Runtime, p: PartitionId, id: string): Promise<boolean> {
  const job = await runtime.queues.queue('deliver', p).getJob(jobIds.deliver(id));
  const state = job ? await job.getState() : 'missing';
  if (LIVE.has(state)) return false;
  const jobId = job ? jobIds.resweep(id, job.finishedOn ?? 0) : jobIds.deliver(id);
  await runtime.queues.addBulk('deliver', p, [{ jobId, data: { partition: p, requestId: id } }]);
  return true;
}
