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
  /** Members looked at per partition per sweep. @defaultValue 200 */
  limit?: number;
}

/** One pass over every partition; answers how many deliver jobs it (re)created. */
export async function sweepUndelivered(
  runtime: Runtime,
  logger: Logger,
  options: UndeliveredSweepOptions = {},
): Promise<number> {
  const graceMs = options.graceMs ?? 60_000;
  let recreated = 0;
  for (const p of runtime.keys.allPartitions()) {
    const ids = await runtime.store.requests.undeliveredBefore(p, Date.now() - graceMs, options.limit ?? 200);
    for (const id of ids) if (await sweepOne(runtime, p, id)) recreated++;
  }
  if (recreated > 0) logger.warn({ recreated }, 'deliver jobs recreated for outcomes never delivered (job missing)');
  return recreated;
}

async function sweepOne(runtime: Runtime, p: PartitionId, id: string): Promise<boolean> {
  const record = await runtime.store.requests.get(id);
  if (!record || record.delivered_at !== undefined || record.gone_at !== undefined || record.dead) {
    // Expired, or its outcome was recorded (a mark that raced the index): nothing to deliver.
    await runtime.store.requests.forgetUndelivered(p, id);
    return false;
  }
  const job = await runtime.queues.queue('deliver', p).getJob(jobIds.deliver(id));
  const state = job ? await job.getState() : 'missing';
  if (LIVE.has(state)) return false;
  const jobId = job ? jobIds.resweep(id, job.finishedOn ?? 0) : jobIds.deliver(id);
  await runtime.queues.addBulk('deliver', p, [{ jobId, data: { partition: p, requestId: id } }]);
  return true;
}
