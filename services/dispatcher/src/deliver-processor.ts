/**
 * The deliver job processor (SPEC §4): one attempt to deliver one request's outcome to its tenant's callback URL,
 * signed with the tenant's secret, with the body fixed the first time so that every attempt and every redelivery sends
 * the same bytes under the same `webhook-id`. What to do after the attempt (done, retry later, stop, dead-letter) is
 * decided here; the retry timing is the queue's `webhook` backoff strategy.
 */
import { type Tenant, webhookSecrets } from '@batchbridge/config';
import {
  isTerminal,
  outcomeType,
  type PartitionId,
  type RequestRecord,
  type Store,
  toRequestObject,
  webhookIdFor,
} from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { MetricsCatalog } from '@batchbridge/metrics';
import { DeliverJob, type DeliverJobData } from '@batchbridge/queues';
import { type HostLimiter, hostKey, type ReleaseSlot, signWebhook, type WebhookSender } from '@batchbridge/webhooks';
import { DelayedError, type Job } from 'bullmq';
import { deliverBatchEvent } from './batch-event.js';
import { DeliveryRetryError } from './errors.js';

export interface DeliverProcessorDeps {
  store: Store;
  tenants: { get(id: string): Tenant | undefined };
  sender: WebhookSender;
  limiter: HostLimiter;
  /** Slots per tenant (keyed by tenant id): one tenant's slow hosts cannot hold every worker slot (issue 16.8). */
  tenantLimiter?: HostLimiter;
  metrics: MetricsCatalog;
  logger: Logger;
  /** How long a job waits when its host is at its concurrency limit. */
  parkMs: number;
}

/** What a finished job records as its return value (visible in BullMQ, handy when reading a job by id). */
export type DeliverResult =
  | 'delivered'
  | 'gone'
  | 'dead_letter'
  | 'skipped'
  | 'not_found'
  | 'not_terminal'
  | 'no_callback_url'
  | 'invalid_job';

export type DeliverProcessor = (
  job: Job<DeliverJobData>,
  token: string | undefined,
  partition: PartitionId,
) => Promise<DeliverResult>;

export function createDeliverProcessor(deps: DeliverProcessorDeps): DeliverProcessor {
  const { store, metrics: m } = deps;

  return async (job, token, partition) => {
    const parsed = DeliverJob.safeParse(job.data);
    if (!parsed.success) {
      deps.logger.error({ jobId: job.id, partition }, 'deliver job with an invalid payload; dropped');
      return 'invalid_job';
    }
    const { requestId, redeliver } = parsed.data;
    if (parsed.data.batch === true) {
      // A Batch API batch ended (SPEC §12): its one webhook, not a request's.
      if (store.facade.partitionOf(requestId) !== partition) return 'invalid_job';
      return deliverBatchEvent(deps, requestId, job.attemptsMade + 1, job.opts.attempts ?? 1);
    }
    // The request id names its partition; the job's queue partition must agree, or the record is not ours to read.
    const p = store.requests.partitionOf(requestId);
    const attempt = job.attemptsMade + 1;
    const webhookId = webhookIdFor(requestId);
    // This job's log bindings; the pino child is made only when a line is written (child() serialises its bindings at
    // once, a cost paid thousands of times a second for lines that are mostly never written).
    const bind: Record<string, unknown> = { requestId, webhookId, attempt, jobId: job.id };
    const log = () => deps.logger.child(bind);
    if (p === undefined || p !== partition) {
      log().error({ partition }, 'deliver job for a request of another partition; dropped');
      return 'invalid_job';
    }

    const record = await store.requests.get(requestId);
    if (record === undefined) {
      log().warn('request record is gone (expired or never existed); nothing to deliver');
      return 'not_found';
    }
    // The batch the outcome came from (absent for cancelled requests), so a grep of the batch id finds deliveries too.
    bind.tenant = record.tenant;
    bind.batchId = record.batch_id;
    if (!isTerminal(record.status)) {
      log().warn({ status: record.status }, 'request is not terminal; nothing to deliver yet');
      return 'not_terminal';
    }
    if (!redeliver && (record.delivered_at !== undefined || record.gone_at !== undefined)) {
      // Delivered, or refused for good with 410, by an earlier run of this job whose completion was lost.
      m.webhookDeliveries.inc({ outcome: 'skipped' });
      log().debug({ gone: record.gone_at !== undefined }, 'outcome already delivered or gone; skipped');
      return 'skipped';
    }

    const tenant = deps.tenants.get(record.tenant);
    if (tenant === undefined) {
      // Nothing to sign with: keep the outcome replayable once the tenant is configured again.
      await store.deadLetters.add(p, requestId);
      m.webhookDeliveries.inc({ outcome: 'dead_letter' });
      log().error('tenant of the request is not configured; outcome dead-lettered');
      return 'dead_letter';
    }
    // Only the record the tenant created, or that tenant's own default, names where its results go (I3).
    const callbackUrl = record.callback_url ?? tenant.default_callback_url;
    if (callbackUrl === undefined) {
      // Nothing will ever be delivered (a request that waited for its answer, SPEC §8): out of the undelivered index,
      // or its sweep would make a deliver job for it again and again.
      await store.requests.forgetUndelivered(p, requestId);
      log().debug('no callback URL for this request or its tenant; the outcome is only available through the API');
      return 'no_callback_url';
    }
    let url: URL;
    try {
      url = new URL(callbackUrl);
    } catch {
      await store.deadLetters.add(p, requestId);
      m.webhookDeliveries.inc({ outcome: 'refused' });
      log().error('callback URL cannot be parsed; outcome dead-lettered');
      return 'dead_letter';
    }
    const host = hostKey(url);
    bind.host = host;

    const release = acquireSlots(deps, record.tenant, host);
    if (release === null) {
      // The host or the tenant already has its share of deliveries in flight: wait a little without spending an
      // attempt, so a slow receiver holds at most `hostConcurrency` worker slots, one tenant at most
      // `tenantConcurrency`, and other hosts and tenants keep flowing.
      // Jittered, so that many jobs parked for one host do not all come back at the same instant.
      await job.moveToDelayed(Date.now() + Math.round(deps.parkMs * (0.5 + Math.random())), token);
      throw new DelayedError();
    }

    let result: Awaited<ReturnType<WebhookSender['send']>>;
    try {
      const body = await store.requests.webhookBody(p, requestId, () => buildBody(record));
      const headers = signWebhook({ secret: webhookSecrets(tenant), id: webhookId, timestamp: new Date(), body });
      result = await deps.sender.send({ url, headers, body });
    } finally {
      release();
    }
    m.webhookDeliveryDuration.observe(result.durationMs / 1000);
    const status = result.status;

    switch (result.outcome) {
      case 'delivered': {
        const first = await store.requests.markDelivered(p, requestId);
        if (first) m.requestTurnaround.observe(Math.max(0, Date.now() - record.created_at) / 1000);
        m.webhookDeliveries.inc({ outcome: 'delivered' });
        log().info({ status, redeliver: redeliver === true, durationMs: result.durationMs }, 'webhook delivered');
        return 'delivered';
      }
      case 'gone':
        await store.requests.markGone(p, requestId);
        m.webhookDeliveries.inc({ outcome: 'gone' });
        log().warn({ status }, 'receiver answered 410 Gone; no further attempts');
        return 'gone';
      case 'refused':
        await store.deadLetters.add(p, requestId);
        m.webhookDeliveries.inc({ outcome: 'refused' });
        log().warn({ error: result.error }, 'callback address refused by the address policy; outcome dead-lettered');
        return 'dead_letter';
      case 'retry': {
        const attempts = job.opts.attempts ?? 1;
        if (attempt >= attempts) {
          await store.deadLetters.add(p, requestId);
          m.webhookDeliveries.inc({ outcome: 'dead_letter' });
          log().warn({ status, error: result.error, attempts }, 'last delivery attempt failed; outcome dead-lettered');
          return 'dead_letter';
        }
        m.webhookDeliveries.inc({ outcome: 'retry' });
        log().info(
          { status, error: result.error, retryAfterMs: result.retryAfterMs },
          'delivery attempt failed; will retry',
        );
        throw new DeliveryRetryError(result.error ?? 'delivery failed', result.retryAfterMs);
      }
    }
  };
}

/** The webhook body of an outcome; its `timestamp` is the outcome's time, so rebuilding it gives the same bytes. */
function buildBody(record: RequestRecord): string {
  const at = record.completed_at ?? record.updated_at;
  return JSON.stringify({
    type: outcomeType(record.status),
    timestamp: new Date(at).toISOString(),
    data: toRequestObject(record),
  });
}

/** A slot of the tenant's share and one of the host's, or null (holding neither) when either is full. */
function acquireSlots(deps: DeliverProcessorDeps, tenant: string, host: string): ReleaseSlot | null {
  const tenantSlot = deps.tenantLimiter ? deps.tenantLimiter.tryAcquire(tenant) : () => undefined;
  if (tenantSlot === null) return null;
  const hostSlot = deps.limiter.tryAcquire(host);
  if (hostSlot === null) {
    tenantSlot();
    return null;
  }
  return () => {
    hostSlot();
    tenantSlot();
  };
}
