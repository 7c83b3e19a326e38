/**
 * The escalation pass (SPEC §10, `ESCALATE_CANCEL_BATCHES`, off by default): a live provider batch whose share of
 * requests expected to miss their deadline passes `ESCALATE_CANCEL_AT_RISK_SHARE` is cancelled, so that those requests
 * get a faster lane — but only once the cancel is confirmed, never while the batch may still answer them (I2):
 *
 * 1. `escalate-batch.lua` marks the batch (`escalated_at`) and each at-risk request still in it (`escalate_lane`);
 * 2. the provider is asked to cancel the batch (the poller keeps polling it as any live batch);
 * 3. the poller routes it once it is `cancelled`: every line of its partial output settles its request as usual, then
 *    the requests without a line are settled with kind `escalate` — a marked one is handed to its lane in that same
 *    script (a lane run and its job, like a lane claim), an unmarked one goes back to the queue, its attempt given back.
 *
 * A crash between 1 and 2 leaves a marked batch nobody cancelled: the pass asks again for a marked batch still live
 * after `RECANCEL_MS` (a cancel is idempotent at the provider). Two packers running the pass: the mark is taken once
 * (`already` for the second), and two cancels of one batch are one. A batch that finishes anyway (the cancel came too
 * late) is routed as usual: its marked requests are answered by it, or retried like any missing line.
 *
 * At risk: the last moment a cancel could start and still get the request a fast-lane answer by its deadline —
 * deadline − the provider's cancel delay (p90 of the cancels seen confirmed, `G:canceldelay:<provider>`; the profile's
 * `cancelConfirmMs` until some) − the fast call's expected time — is before the batch's expected completion,
 * max(submitted + observed turnaround, now) + margin. A cancel is not instant: the pass acts while there is still time
 * for it, rather than once the deadline itself is past the batch's expectation. Finished requests leave the
 * live-deadline index in their settle script (`includes/finish.lua`), so it holds only requests in flushes and live
 * batches.
 * The pass reads the earliest deadlines of the live-deadline index (the deadline pass moves a request there when it
 * sees it in a flush): a request at risk in a live batch has an earlier deadline than any queued request the deadline
 * pass keeps on the batch lane, so it is near the front of the deadline index and moved soon after its flush.
 */
import type { FastLane, LiveDeadline, PartitionId, Store } from '@batchbridge/domain';
import { classifyProviderError } from '@batchbridge/provider';
import { fastLaneExpectedMs, fastLaneFor, type LaneScheduler, type Runtime } from '@batchbridge/runtime';

/** Requests of the live-deadline index looked at per partition and pass, earliest deadline first. */
export const ESCALATE_WINDOW = 2_000;
/** A marked batch still live after this long is asked to cancel again (the first ask may have been lost). */
export const RECANCEL_MS = 30_000;

const CANCEL_STATES: ReadonlySet<string> = new Set(['cancelling', 'cancelled']);

/** One pass over a partition; returns how many batches it asked to cancel. */
export async function escalatePass(
  runtime: Runtime,
  store: Store,
  scheduler: LaneScheduler,
  p: PartitionId,
  /** When this process last asked the provider to cancel a batch (its re-asks are spaced by RECANCEL_MS). */
  asked: Map<string, number>,
): Promise<number> {
  const { atRiskShare } = runtime.config.deadlines.escalate;
  const margin = runtime.config.deadlines.marginMs;
  const m = runtime.metrics.m;
  const entries = await store.lanes.liveDue(p, ESCALATE_WINDOW);
  const gone: string[] = [];
  const byBatch = new Map<string, LiveDeadline[]>();
  for (const e of entries) {
    // In a flush not yet submitted: not a live batch yet; looked at again next pass.
    if (e.status === 'batched') continue;
    if (e.status !== 'submitted' || !e.batchId || e.batchId.startsWith('lane_')) {
      gone.push(e.id);
      continue;
    }
    const list = byBatch.get(e.batchId);
    if (list) list.push(e);
    else byBatch.set(e.batchId, [e]);
  }
  await store.lanes.unindexLive(p, gone);

  let cancelled = 0;
  const now = Date.now();
  for (const [batchId, list] of byBatch) {
    const batch = await store.batches.get(p, batchId);
    if (!batch || batch.routed_at !== undefined || CANCEL_STATES.has(batch.status)) continue;
    if (batch.escalated_at !== undefined) {
      if (now - Math.max(batch.escalated_at, asked.get(batchId) ?? 0) < RECANCEL_MS) continue;
    } else {
      const group = list[0]?.group ?? batch.group;
      const [turnaround, cancelMs] = await Promise.all([
        scheduler.groupTurnaroundMs(group),
        scheduler.cancelDelayMs(batch.provider),
      ]);
      const expectedAt = Math.max(batch.submitted_at + turnaround, now) + margin;
      const atRisk: Array<{ id: string; lane: FastLane }> = [];
      for (const e of list) {
        const lanes = scheduler.lanesFor(e.group, runtime.tenants.get(e.tenant));
        // The lane it would take once the cancel is confirmed, `cancelMs` from now.
        const lane = fastLaneFor(lanes, e.deadlineAt - now - cancelMs, margin);
        // A request allowed no faster lane is not helped by a cancel: it does not count.
        if (!lane) continue;
        // The last moment a cancel can start and still get it a fast-lane answer by its deadline: a cancel is not
        // instant. At risk when the batch is not expected to have answered by then — waiting longer to see would
        // leave the cancel too late.
        const lastCancelAt = e.deadlineAt - cancelMs - fastLaneExpectedMs(lane);
        if (lastCancelAt >= expectedAt) continue;
        atRisk.push({ id: e.id, lane });
      }
      if (atRisk.length === 0 || atRisk.length < atRiskShare * Math.max(1, batch.count)) continue;
      const mark = await store.lanes.markEscalated(p, batchId, atRisk);
      if (!mark.marked) continue;
      const byLane = new Map<FastLane, number>();
      for (const r of atRisk) byLane.set(r.lane, (byLane.get(r.lane) ?? 0) + 1);
      for (const [lane, n] of byLane) {
        m.escalatedRequests.inc({ lane, provider: batch.provider }, n);
        // Counts for the operator page; never in the way of the cancel itself.
        await store.lanes.countEscalation(p, { lane, provider: batch.provider, n }).catch(() => undefined);
      }
      runtime.logger.warn(
        { batchId, atRisk: atRisk.length, marked: mark.requests, count: batch.count, expectedAt },
        'live batch expected to miss too many deadlines: cancelling it',
      );
    }
    asked.set(batchId, Date.now());
    const result = await cancelAtProvider(runtime, batch.provider, batchId);
    await store.lanes.countEscalation(p, { cancel: result, provider: batch.provider }).catch(() => undefined);
    if (result === 'requested') cancelled += 1;
  }
  for (const [id, at] of asked) if (now - at > 10 * RECANCEL_MS) asked.delete(id);
  return cancelled;
}

/** Asks the provider to cancel; a batch it will not cancel (finished meanwhile) is routed as it ends. */
async function cancelAtProvider(
  runtime: Runtime,
  providerId: string,
  batchId: string,
): Promise<'requested' | 'refused' | 'error'> {
  const m = runtime.metrics.m;
  try {
    await runtime.providers.adapter(providerId).cancelBatch(batchId);
    m.escalationCancels.inc({ provider: providerId, result: 'requested' });
    return 'requested';
  } catch (err) {
    const info = classifyProviderError(err);
    const result = info.status !== undefined && info.status >= 400 && info.status < 500 ? 'refused' : 'error';
    m.escalationCancels.inc({ provider: providerId, result });
    runtime.logger.warn({ batchId, err: info.message }, 'provider did not take the cancel of a live batch');
    return result;
  }
}
