/**
 * Terminal requests made the way the pipeline makes them — enqueue, claim, submit, settle through the store's
 * scripts — so the dispatcher's tests need no provider. The settle's outbox
 * entries are relayed like the poller does, unless a test wants to play a process that died before relaying.
 */
import {
  type BillItem,
  deliveryMember,
  groupFor,
  JOB_ID_PREFIXES,
  jobIds,
  newFlushId,
  type PartitionId,
  type SettleKind,
} from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import { newRequestFixture } from './fixtures.js';

export interface OutcomeSpec {
  tenant?: string;
  callbackUrl?: string;
  clientRef?: string;
  /** `completed` (default), `rejected` (→ failed) or `cancelled` (cancelled while queued). */
  kind?: SettleKind | 'cancelled';
  /** A completed one is billed with this (as the poller prices an answer, SPEC §15). */
  bill?: BillItem;
}

const MODEL = 'gpt-4o-mini';
const LIMITS = { maxRequests: 50_000, maxBytes: 100_000_000, maxTokens: 1_000_000_000, maxWaitMs: 60_000 };

/** Makes one terminal request per spec (all in partition 0); returns their ids in order. */
export async function makeOutcomes(
  runtime: Runtime,
  specs: readonly OutcomeSpec[],
  options: { relay?: boolean } = {},
): Promise<string[]> {
  const { store } = runtime;
  const p: PartitionId = 0;
  const group = groupFor('/v1/chat/completions', MODEL, false);
  const ids: string[] = [];
  const outbox: string[] = [];
  for (const spec of specs) {
    const req = newRequestFixture({
      partition: p,
      tenant: spec.tenant ?? 'acme',
      model: MODEL,
      content: `question ${ids.length}`,
      clientRef: spec.clientRef,
      callbackUrl: spec.callbackUrl,
      tokens: 8,
    });
    const id = req.id;
    const created = await store.requests.enqueue(req, {});
    if (created.kind !== 'created') throw new Error(`enqueue: ${created.kind}`);
    if (spec.kind === 'cancelled') {
      const cancelled = await store.requests.cancel(id, spec.tenant ?? 'acme');
      if (cancelled.kind !== 'cancelled') throw new Error(`cancel: ${cancelled.kind}`);
      outbox.push(cancelled.outbox);
    }
    ids.push(id);
  }
  const toSettle = ids.filter((_, i) => specs[i]?.kind !== 'cancelled');
  if (toSettle.length > 0) {
    const flushId = newFlushId();
    const claim = await store.flushes.claim(p, group, flushId, LIMITS, true);
    if (!claim.claimed) throw new Error(`claim: ${claim.why}`);
    const flush = await store.flushes.get(p, flushId);
    if (flush === undefined) throw new Error('flush missing');
    const batchId = `batch_${flushId}`;
    await store.flushes.recordSubmission(p, flush, batchId, `file_${flushId}`);
    const settled = await store.requests.settle(
      p,
      batchId,
      toSettle.map((id) => {
        const kind = specs[ids.indexOf(id)]?.kind ?? 'completed';
        const bill = specs[ids.indexOf(id)]?.bill;
        return kind === 'completed'
          ? {
              id,
              kind,
              response: { status_code: 200, body: { id: `chatcmpl_${id}`, object: 'chat.completion' } },
              ...(bill ? { bill } : {}),
            }
          : { id, kind: kind as SettleKind, message: 'invalid request line' };
      }),
    );
    outbox.push(...settled.outbox);
  }
  if (options.relay !== false) await runtime.relay.relay(p, outbox);
  return ids;
}

/** The outcome delivery a `dlv-` id names (`jobIds.deliver`, `jobIds.redeliver`), if it names one. */
function outcomeDeliveryOf(jobId: string): { requestId: string; redeliver: boolean } | undefined {
  const m = new RegExp(`^${JOB_ID_PREFIXES.deliver}(breq_[0-9a-z]+)(-r\\d.*)?$`).exec(jobId);
  return m ? { requestId: m[1] as string, redeliver: m[2] !== undefined } : undefined;
}

/**
 * Waits until a delivery is finished; returns its result, or `failed: <reason>` for a BullMQ job that failed. An
 * outcome's delivery (`jobIds.deliver(id)`, or the id `redeliver` answered) is done once it is neither due nor claimed;
 * its result is the one the dispatcher kept on the record (`dlv_last`), `not_found` for a record that is gone. Other
 * ids are BullMQ deliver jobs (events, aggregated runs, batch webhooks).
 */
export async function jobOutcome(runtime: Runtime, jobId: string, timeoutMs = 15_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  const outcome = outcomeDeliveryOf(jobId);
  if (outcome) {
    const p = runtime.store.requests.partitionOf(outcome.requestId) ?? 0;
    const member = deliveryMember(outcome.requestId, outcome.redeliver);
    while (Date.now() < deadline) {
      const [pending] = await runtime.store.deliveries.pending(p, [member]);
      if (!pending) {
        const exists = await runtime.redis.exists(runtime.keys.partitionKeys(p).req(outcome.requestId));
        if (exists === 0) return 'not_found';
        const last = await runtime.store.deliveries.lastResult(p, outcome.requestId);
        if (last !== undefined) return last;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`delivery ${member} did not finish within ${timeoutMs} ms`);
  }
  const queue = runtime.queues.queue('deliver', 0);
  while (Date.now() < deadline) {
    const job = await queue.getJob(jobId);
    const state = job ? await job.getState() : 'missing';
    // Read the job again: the copy fetched before it finished has no return value yet.
    if (state === 'completed') return (await queue.getJob(jobId))?.returnvalue;
    if (state === 'failed') return `failed: ${(await queue.getJob(jobId))?.failedReason}`;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`job ${jobId} did not finish within ${timeoutMs} ms`);
}

/**
 * Makes a redeliver due as the ingest API's redeliver endpoint does; answers an id for jobOutcome. The request's
 * last result is cleared first, so that jobOutcome waits for this redeliver's.
 */
export async function redeliver(runtime: Runtime, requestId: string): Promise<string> {
  const p = runtime.store.requests.partitionOf(requestId) ?? 0;
  await runtime.redis.hdel(runtime.keys.partitionKeys(p).req(requestId), 'dlv_last');
  await runtime.store.deliveries.add(p, [deliveryMember(requestId, true)]);
  return jobIds.redeliver(requestId, Date.now());
}

/** Makes an outcome's (first) delivery due again, as a relay of its entry after a crash would; answers its id. */
export async function deliverAgain(runtime: Runtime, requestId: string): Promise<string> {
  const p = runtime.store.requests.partitionOf(requestId) ?? 0;
  await runtime.redis.hdel(runtime.keys.partitionKeys(p).req(requestId), 'dlv_last');
  await runtime.store.deliveries.add(p, [deliveryMember(requestId)]);
  return jobIds.deliver(requestId);
}
