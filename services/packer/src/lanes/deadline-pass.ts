/**
 * The deadline pass (SPEC §10): every DEADLINE_PASS_MS, per partition, the queued requests with the earliest deadlines
 * (a bounded window of the deadline index) are planned again; one whose batch expectation turned bad — its group is
 * held, the observed turnaround grew, the flush is late — is moved to a faster lane by the lane claim, which takes it
 * only while it is still queued: a request already in a flush or a live provider batch is never sent a second way.
 * Where its provider has a faster completion window that meets the deadline (Doubleword's 1 h), it moves to that
 * window's group instead (`lane-window-1.lua`, queued only), still on the batch lane and at a batch price.
 */
import { type PartitionId, providerOfGroup, type Store, windowOfGroup } from '@batchbridge/domain';
import { isFastLane, type LaneScheduler, type Runtime } from '@batchbridge/runtime';

/** Requests looked at per partition and pass, earliest deadline first. */
export const DEADLINE_PASS_WINDOW = 500;

/** One pass over a partition; returns how many requests moved lanes. */
export async function deadlinePass(
  runtime: Runtime,
  store: Store,
  scheduler: LaneScheduler,
  p: PartitionId,
): Promise<number> {
  const m = runtime.metrics.m;
  const escalate = runtime.config.deadlines.escalate.enabled;
  let moved = 0;
  // One look at each group per pass (many of its requests may be due).
  const toFlush = new Map<string, number>();
  const due = await store.lanes.due(p, '+inf', DEADLINE_PASS_WINDOW);
  for (const c of due) {
    if (c.status !== 'queued') {
      // Claimed into a flush (or gone): it is the batch's now; the settle script indexes it again if it comes back.
      // With ESCALATE_CANCEL_BATCHES, one in a flush or a batch joins the live-deadline index (the escalation pass's).
      if (escalate && (c.status === 'batched' || c.status === 'submitted'))
        await store.lanes.toLive(p, c.id, c.deadlineAt);
      else await store.lanes.unindex(p, c.id);
      continue;
    }
    let toFlushMs = toFlush.get(c.group);
    if (toFlushMs === undefined) {
      toFlushMs = await scheduler.timeToFlushMs(p, c.group, true);
      toFlush.set(c.group, toFlushMs);
    }
    const plan = await scheduler.plan({
      partition: p,
      group: c.group,
      tenant: runtime.tenants.get(c.tenant),
      deadlineAt: c.deadlineAt,
      queued: true,
      toFlushMs,
    });
    if (plan.lane === 'batch' && plan.group !== c.group) {
      // A faster completion window of its provider meets the deadline (Doubleword's 1 h): same lane, other group.
      if (!(await store.lanes.moveToWindow(p, c.id, c.group, plan.group))) continue;
      moved += 1;
      const window = windowOfGroup(plan.group) ?? runtime.config.batch.completionWindow;
      m.laneMoves.inc({ from: 'batch', to: `batch@${window}`, provider: providerOfGroup(c.group) });
      runtime.logger.info(
        { requestId: c.id, window, deadlineAt: c.deadlineAt, expectedBatchAt: plan.expectedBatchAt },
        'queued request moved to a faster completion window',
      );
      continue;
    }
    if (!isFastLane(plan.lane)) continue;
    const claim = await store.lanes.claim(p, c.id, plan.lane);
    if (!claim.claimed) continue;
    await runtime.relay.relay(p, [claim.outbox]);
    moved += 1;
    m.laneMoves.inc({ from: 'batch', to: plan.lane, provider: providerOfGroup(c.group) });
    runtime.logger.info(
      { requestId: c.id, lane: plan.lane, deadlineAt: c.deadlineAt, expectedBatchAt: plan.expectedBatchAt },
      'queued request moved to a faster lane',
    );
  }
  return moved;
}
