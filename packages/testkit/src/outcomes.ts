/**
 * Terminal requests made the way the pipeline makes them — enqueue, claim, submit, settle through the store's
 * scripts — so the dispatcher's tests need no provider. The settle's outbox
 * entries are relayed like the poller does, unless a test wants to play a process that died before relaying.
 */
import { type BillItem, groupFor, jobIds, newFlushId, type PartitionId, type SettleKind } from '@batchbridge/domain';
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

/** Waits until a deliver job is finished; returns its return value, or `failed: <reason>`. */
export async function jobOutcome(runtime: Runtime, jobId: string, timeoutMs = 15_000): Promise<unknown> {
  const queue = runtime.queues.queue('deliver', 0);
  const deadline = Date.now() + timeoutMs;
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

/** Adds a redeliver job as the ingest API's redeliver endpoint does. */
export async function redeliver(runtime: Runtime, requestId: string): Promise<string> {
  const jobId = jobIds.redeliver(requestId, Date.now());
  await runtime.queues.addBulk('deliver', 0, [{ jobId, data: { partition: 0, requestId, redeliver: true } }]);
  return jobId;
}
