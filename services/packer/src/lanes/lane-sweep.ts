/**
 * The lane sweep (SPEC §10, I1): a request a fast lane claimed is `submitted` under a lane run until its job settles
 * it. Should that job be gone (removed by hand, or failed for good on something the processor could not settle, such
 * as Redis going away on its last attempt), the request would wait forever: the sweep looks at the partition's lane
 * runs (`T:lane-runs`, written by the claim, cleared by the settle) older than `olderThanMs` and gives each one whose
 * job is missing, failed or completed its job again. The job id is the run's, so a sweep racing a live job changes
 * nothing: BullMQ ignores the add, and a second settle would be `stale`.
 */
import { jobIds, type Store } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';

/** Lane runs looked at per partition and sweep. */
const SWEEP_LIMIT = 200;

/** Returns how many lane jobs were given again. */
export async function laneSweep(runtime: Runtime, store: Store, olderThanMs: number): Promise<number> {
  let revived = 0;
  for (const p of runtime.keys.allPartitions()) {
    for (const id of await store.lanes.runsBefore(p, Date.now() - olderThanMs, SWEEP_LIMIT)) {
      const record = await store.requests.get(id);
      const runId = record?.batch_id;
      if (!record || record.status !== 'submitted' || !runId?.startsWith('lane_')) {
        await store.lanes.dropRun(p, id);
        continue;
      }
      const jobId = jobIds.lane(runId);
      const queue = runtime.queues.queue('lane', p);
      const job = await queue.getJob(jobId);
      const state = job ? await job.getState() : 'missing';
      if (state === 'failed' && job) await job.retry();
      else if (state === 'missing' || state === 'completed' || state === 'unknown') {
        if (job) await job.remove();
        const lane = record.lane === 'flex' ? 'flex' : 'realtime';
        const deadlineAt = record.deadline_at;
        const data = { partition: p, requestId: id, runId, lane, ...(deadlineAt !== undefined ? { deadlineAt } : {}) };
        await runtime.queues.addBulk('lane', p, [{ data, jobId }]);
      } else continue;
      revived += 1;
      runtime.logger.warn({ requestId: id, runId, state }, 'lane sweep gave a fast-lane run its job again');
    }
  }
  return revived;
}
