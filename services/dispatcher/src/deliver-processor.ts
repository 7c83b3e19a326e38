/**
 * Delivering outcomes (SPEC §4). `outcome` makes one attempt to deliver one claimed delivery (delivery-loop.ts) of a
 * request's outcome to its tenant's callback URL, signed with the tenant's secret, with the body fixed the first time
 * so that every attempt and every redelivery sends the same bytes under the same `webhook-id`; it answers what became
 * of it (ended, retry at a time chosen by the WEBHOOK_RETRY_SCHEDULE backoff, parked), which the loop completes in bulk
 * with the attempt's log entry and mark. `job` is the processor of the BullMQ deliver queue, which keeps the jobs that
 * are not one outcome each: operational events, aggregated runs, Batch API batch webhooks (and hands a plain deliver
 * job of an older version to the due zset).
 */
import { createHash } from 'node:crypto';
import { type Tenant, webhookSecrets } from '@batchbridge/config';
import {
  type ClaimedDelivery,
  type DeliveryAttemptInput,
  deliveryMember,
  type EndpointHealthOptions,
  isTerminal,
  type PartitionId,
  type Store,
  webhookBodyFor,
  webhookIdFor,
} from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { MetricsCatalog } from '@batchbridge/metrics';
import {
  DeliverJob,
  type DeliverJobData,
  jobIds,
  type OperationalEventData,
  type OutboxRelay,
  type PartitionedQueues,
  webhookBackoff,
} from '@batchbridge/queues';
import {
  createFairShareLimiter,
  type DeliveryResult,
  type FairShareLimiter,
  type HostLimiter,
  hostKey,
  type ReleaseSlot,
  signWebhook,
  type WebhookSender,
} from '@batchbridge/webhooks';
import type { Job } from 'bullmq';
import { createAggregator } from './aggregate.js';
import { deliverBatchEvent } from './batch-event.js';
import { DeliveryRetryError } from './errors.js';

export interface DeliverProcessorDeps {
  store: Store;
  tenants: { get(id: string): Tenant | undefined };
  sender: WebhookSender;
  limiter: HostLimiter;
  /** Slots per tenant (keyed by tenant id): one tenant's slow hosts cannot hold every worker slot (issue 16.8). */
  tenantLimiter?: HostLimiter;
  /**
   * Fair share of each partition's delivery slots across tenants (SPEC §16): `slots` per partition, a tenant at most
   * `maxPerTenant` and at most slots / (active tenants + 1). Unset: no fair-share limit.
   */
  fairShare?: { slots: number; maxPerTenant?: number };
  metrics: MetricsCatalog;
  logger: Logger;
  /** How long a job waits when its host is at its concurrency limit. */
  parkMs: number;
  /** WEBHOOK_RETRY_SCHEDULE: the delay before the next attempt is chosen here, so the delivery log can show it. */
  retryScheduleMs?: readonly number[];
  /** Circuit and disabling per endpoint (SPEC §16); unset: no endpoint health. */
  health?: EndpointHealthOptions & { probeMs: number };
  /** Attempts kept in each outcome's delivery log. @defaultValue 20 */
  logAttempts?: number;
  /** For operational events (`endpoint.disabled`, `message.attempt.exhausted`): queues and the outbox relay. */
  queues?: PartitionedQueues;
  relay?: OutboxRelay;
  /** Attempts per outcome delivery (WEBHOOK_RETRY_SCHEDULE + 1). @defaultValue retryScheduleMs.length + 1 */
  attempts?: number;
  /** How long an endpoint seen healthy skips its gate and success writes (0: never). @defaultValue 1000 ms */
  healthCacheMs?: number;
}

/** What a finished job records as its return value (visible in BullMQ, handy when reading a job by id). */
export type DeliverResult =
  | 'delivered'
  | 'gone'
  | 'aborted'
  | 'event_failed'
  | 'dead_letter'
  | 'skipped'
  | 'not_found'
  | 'not_terminal'
  | 'no_callback_url'
  | 'aggregated'
  | 'moved'
  | 'invalid_job';

/**
 * What became of one claimed delivery: its result, and what its bulk completion writes — the attempt's log entry,
 * the outcome's mark, and whether it is due again (`retryAtMs`: a retry, the attempt counts; `parkUntilMs`: it waits
 * without spending one). `onMarked` is told the mark's answer once written (1: the first delivery).
 */
export interface DeliveryVerdict {
  result: DeliverResult | 'retry' | 'parked';
  log?: DeliveryAttemptInput;
  mark?: 'delivered' | 'gone' | 'aborted';
  retryAtMs?: number;
  parkUntilMs?: number;
  /** The mark of the body this attempt built first, for the completion to fix on the record (none: it was fixed). */
  bodyMark?: string;
  onMarked?: (marked: number) => void;
}

export type DeliverProcessor = (
  job: Job<DeliverJobData>,
  token: string | undefined,
  partition: PartitionId,
) => Promise<DeliverResult>;

export type OutcomeDeliverer = (partition: PartitionId, delivery: ClaimedDelivery) => Promise<DeliveryVerdict>;

export function createDeliverProcessor(deps: DeliverProcessorDeps): {
  job: DeliverProcessor;
  outcome: OutcomeDeliverer;
} {
  const { store, metrics: m } = deps;
  const backoff = webhookBackoff(deps.retryScheduleMs ?? [5_000]);
  const fair = new Map<PartitionId, FairShareLimiter>();
  const fairFor = (p: PartitionId): FairShareLimiter | undefined => {
    if (deps.fairShare === undefined) return undefined;
    let limiter = fair.get(p);
    if (limiter === undefined) {
      limiter = createFairShareLimiter({
        slots: deps.fairShare.slots,
        ...(deps.fairShare.maxPerTenant !== undefined ? { maxPerKey: deps.fairShare.maxPerTenant } : {}),
      });
      fair.set(p, limiter);
    }
    return limiter;
  };
  /** Each tenant's configured secrets, listed once per tenant object (a tenants reload makes new ones). */
  const configured = new WeakMap<Tenant, string[]>();
  const configuredOf = (tenant: Tenant) => {
    let list = configured.get(tenant);
    if (list === undefined) {
      list = webhookSecrets(tenant);
      configured.set(tenant, list);
    }
    return list;
  };
  /** The tenant's signing secrets now: rotated ones (Redis, every replica) and configured ones. */
  const secretsOf = (tenant: Tenant) => store.secrets.active(tenant.id, configuredOf(tenant));
  const events = eventSender(deps, secretsOf);
  /**
   * Endpoints (`<tenant> <host>`) whose gate answered closed and whose last attempt succeeded, until when: within
   * `healthCacheMs` their gate is not asked and a success is not recorded (two global-slot scripts per delivery
   * saved at a healthy receiver); any failure forgets the entry. Another dispatcher's circuit opening there is seen
   * at most that much later.
   */
  const healthy = new Map<string, number>();
  const healthCacheMs = deps.healthCacheMs ?? 1_000;
  const markHealthy = (endpoint: string) => {
    if (healthCacheMs <= 0) return;
    if (healthy.size >= 10_000) healthy.clear();
    healthy.set(endpoint, Date.now() + healthCacheMs);
  };
  /**
   * Whether an attempt's answer leaves its endpoint's health as it is, so that recordHealth writes nothing: no health
   * policy, a refused address (it says nothing of the receiver), or a success at an endpoint seen healthy a moment
   * ago. Synchronous: the hot path asks it before awaiting recordHealth (no promise per delivery).
   */
  const healthUnchanged = (tenant: Tenant, host: string, result: DeliveryResult): boolean =>
    !deps.health ||
    result.outcome === 'refused' ||
    (result.outcome !== 'retry' && (healthy.get(`${tenant.id} ${host}`) ?? 0) > Date.now());
  /**
   * An attempt's answer into its endpoint's health (circuit, disabling); answers whether it disabled the endpoint now
   * (its `endpoint.disabled` event is then queued). A receiver that answered (2xx, 410, abort) is alive; errors,
   * timeouts and other statuses count as failures; a refused address says nothing of the receiver.
   */
  const recordHealth = async (
    p: PartitionId,
    tenant: Tenant,
    host: string,
    result: DeliveryResult,
    requestId: string,
  ): Promise<boolean> => {
    if (!deps.health || healthUnchanged(tenant, host, result)) return false;
    const ok = result.outcome !== 'retry';
    const endpoint = `${tenant.id} ${host}`;
    // The disabling's time is its event's id: the same one a delivery that meets the disabled gate meanwhile uses, so
    // the two queue one event, not two (bulk claims send to one host at once).
    const now = Date.now();
    const health = await store.endpoints.record(tenant.id, host, ok, result.error, deps.health, now);
    if (ok && health === 'closed') markHealthy(endpoint);
    else healthy.delete(endpoint);
    if (health === 'open') m.webhookCircuit.inc({ event: 'opened' });
    if (health === 'closed' && !ok) m.webhookCircuit.inc({ event: 'closed' });
    if (health !== 'disabled_now') return false;
    m.webhookCircuit.inc({ event: 'disabled' });
    deps.logger.warn({ tenant: tenant.id, host }, 'endpoint failing for WEBHOOK_DISABLE_AFTER; disabled');
    await events.endpointDisabled(p, tenant, host, now, requestId);
    return true;
  };
  const aggregator = createAggregator({
    deps,
    secretsOf,
    backoff,
    slots: (p, tenant, host) => acquireSlots(deps, fairFor(p), tenant, host),
    deadLetter: deadLetterOutcome,
    recordHealth,
  });
  /**
   * When the provider says each recent batch ended (`terminal_at`, set by the poll that saw it) and who holds it, for the
   * terminal-to-delivery latency (SPEC §13): one read per batch per dispatcher, not one per outcome. Bounded.
   */
  const terminals = new Map<string, { at: number | undefined; provider: string } | null>();
  const observeTerminalToDelivery = async (p: PartitionId, batchId: string): Promise<void> => {
    let known = terminals.get(batchId);
    if (known === undefined) {
      const batch = await store.batches.get(p, batchId);
      known = batch ? { at: batch.terminal_at, provider: batch.provider } : null;
      // Written by the poll that saw the batch terminal, before any of its lines was routed: final once there.
      if (batch?.terminal_at !== undefined) {
        if (terminals.size >= 1_000) terminals.clear();
        terminals.set(batchId, known);
      }
    }
    if (known?.at !== undefined) {
      m.providerTerminalToDelivery.observe({ provider: known.provider }, Math.max(0, Date.now() - known.at) / 1000);
    }
  };

  /**
   * Callback URLs parsed, with their limiter host: most outcomes of a tenant go to one URL, parsed once, not once per
   * delivery. Bounded; an unparseable URL is not kept. The URL objects are never changed.
   */
  const targets = new Map<string, { url: URL; host: string }>();
  const targetOf = (callbackUrl: string): { url: URL; host: string } | undefined => {
    let target = targets.get(callbackUrl);
    if (target === undefined) {
      let url: URL;
      try {
        url = new URL(callbackUrl);
      } catch {
        return undefined;
      }
      target = { url, host: hostKey(url) };
      if (targets.size >= 10_000) targets.clear();
      targets.set(callbackUrl, target);
    }
    return target;
  };

  const attempts = deps.attempts ?? (deps.retryScheduleMs?.length ?? 0) + 1;
  /** A short wait without spending an attempt, jittered so that many parked deliveries do not come back at once. */
  const park = (base: number, spread = 1): DeliveryVerdict => ({
    result: 'parked',
    parkUntilMs: Date.now() + Math.round(base + deps.parkMs * spread * Math.random()),
  });

  const job: DeliverProcessor = async (job, token, partition) => {
    const parsed = DeliverJob.safeParse(job.data);
    if (!parsed.success) {
      deps.logger.error({ jobId: job.id, partition }, 'deliver job with an invalid payload; dropped');
      return 'invalid_job';
    }
    const { requestId, redeliver, event, aggregate } = parsed.data;
    if (event !== undefined) return events.deliver(job, event);
    if (aggregate !== undefined) return aggregator.run(job, token, partition, aggregate);
    if (parsed.data.batch === true) {
      // A Batch API batch ended (SPEC §12): its one webhook, not a request's.
      if (store.facade.partitionOf(requestId) !== partition) return 'invalid_job';
      return deliverBatchEvent(deps, requestId, job.attemptsMade + 1, job.opts.attempts ?? 1);
    }
    // One outcome's deliver job (an older version's, or added by hand): its delivery goes to the due zset.
    if (store.requests.partitionOf(requestId) !== partition) return 'invalid_job';
    await store.deliveries.add(partition, [deliveryMember(requestId, redeliver === true)]);
    return 'moved';
  };

  const outcome: OutcomeDeliverer = async (partition, delivery) => {
    const { requestId, redeliver } = delivery;
    // The request id names its partition; the delivery's partition must agree, or the record is not ours to read.
    const p = store.requests.partitionOf(requestId);
    const attempt = delivery.attemptsMade + 1;
    const webhookId = webhookIdFor(requestId);
    // This delivery's log bindings; the pino child is made only when a line is written (child() serialises its
    // bindings at once, a cost paid thousands of times a second for lines that are mostly never written).
    const bind: Record<string, unknown> = { requestId, webhookId, attempt, redeliver };
    const log = () => deps.logger.child(bind);
    /** Lines written for most deliveries: not even the child is made when their level is off. */
    const info = (obj: Record<string, unknown>, msg: string) => {
      if (deps.logger.isLevelEnabled('info')) log().info(obj, msg);
    };
    if (p === undefined || p !== partition) {
      log().error({ partition }, 'delivery of a request of another partition; dropped');
      return { result: 'invalid_job' };
    }

    // Read by the claim itself (one script call for the whole batch) a moment ago, else here: a claim that waited
    // longer (slots busy) reads it again, so a mark written meanwhile (delivered, 410) is seen as before.
    const fresh = delivery.record !== undefined && Date.now() - (delivery.readAt ?? 0) <= RECORD_FRESH_MS;
    const record = fresh ? (delivery.record ?? undefined) : await store.requests.get(requestId);
    if (record === undefined) {
      log().warn('request record is gone (expired or never existed); nothing to deliver');
      return { result: 'not_found' };
    }
    // The batch the outcome came from (absent for cancelled requests), so a grep of the batch id finds deliveries too.
    bind.tenant = record.tenant;
    bind.batchId = record.batch_id;
    if (!isTerminal(record.status)) {
      log().warn({ status: record.status }, 'request is not terminal; nothing to deliver yet');
      return { result: 'not_terminal' };
    }
    if (!redeliver && (record.delivered_at !== undefined || record.gone_at !== undefined)) {
      // Delivered, or refused for good with 410, by an earlier claim whose completion was lost (its dispatcher died).
      m.webhookDeliveries.inc({ outcome: 'skipped' });
      if (deps.logger.isLevelEnabled('debug')) {
        log().debug({ gone: record.gone_at !== undefined }, 'outcome already delivered or gone; skipped');
      }
      return { result: 'skipped' };
    }

    const tenant = deps.tenants.get(record.tenant);
    if (tenant === undefined) {
      // Nothing to sign with: keep the outcome replayable once the tenant is configured again.
      await store.deadLetters.add(p, requestId, 'no_tenant');
      m.webhookDeliveries.inc({ outcome: 'dead_letter' });
      log().error('tenant of the request is not configured; outcome dead-lettered');
      return { result: 'dead_letter' };
    }
    // Only the record the tenant created, or that tenant's own default, names where its results go (I3).
    const callbackUrl = record.callback_url ?? tenant.default_callback_url;
    if (callbackUrl === undefined) {
      // Nothing will ever be delivered (a request that waited for its answer, SPEC §8): out of the undelivered index,
      // or its sweep would make it due again and again.
      await store.requests.forgetUndelivered(p, requestId);
      log().debug('no callback URL for this request or its tenant; the outcome is only available through the API');
      return { result: 'no_callback_url' };
    }
    const target = targetOf(callbackUrl);
    if (target === undefined) {
      await store.deadLetters.add(p, requestId, 'refused');
      m.webhookDeliveries.inc({ outcome: 'refused' });
      log().error('callback URL cannot be parsed; outcome dead-lettered');
      return { result: 'dead_letter' };
    }
    const { url, host } = target;
    bind.host = host;

    const deadLetter = (reason: string, last?: DeliveryResult) =>
      deadLetterOutcome(deps, p, tenant, requestId, reason, attempt, last);

    if (!redeliver && tenant.webhook_batch !== undefined && deps.queues !== undefined) {
      // Aggregated deliveries (SPEC §16): into the URL's buffer; this delivery stays due (parked, waking now and then)
      // until the outcome is settled.
      const wakeAt = await aggregator.buffer(p, tenant, record, callbackUrl);
      return wakeAt === undefined ? { result: 'dead_letter' } : { result: 'aggregated', parkUntilMs: wakeAt };
    }

    if (deps.health && !((healthy.get(`${tenant.id} ${host}`) ?? 0) > Date.now())) {
      const gate = await store.endpoints.gate(tenant.id, host, deps.health.probeMs);
      if (gate.kind !== 'closed') healthy.delete(`${tenant.id} ${host}`);
      if (gate.kind === 'disabled') {
        if (!gate.notified) await events.endpointDisabled(p, tenant, host, gate.at, requestId);
        await deadLetter('endpoint_disabled');
        m.webhookDeliveries.inc({ outcome: 'dead_letter' });
        log().warn('endpoint is disabled; outcome dead-lettered');
        return { result: 'dead_letter' };
      }
      if (gate.kind === 'open') {
        // The receiver is failing: wait for the circuit's probe instead of spending an attempt or a worker slot.
        m.webhookCircuit.inc({ event: 'delayed' });
        return park(Math.max(0, gate.until - Date.now()) + deps.parkMs);
      }
      if (gate.kind === 'probe') m.webhookCircuit.inc({ event: 'probe' });
    }

    const release = acquireSlots(deps, fairFor(p), record.tenant, host);
    if (release === null) {
      // The host or the tenant already has its share of deliveries in flight: wait a little without spending an
      // attempt, so a slow receiver holds at most `hostConcurrency` slots, one tenant at most `tenantConcurrency`,
      // and other hosts and tenants keep flowing.
      return park(deps.parkMs * 0.5);
    }

    let result: Awaited<ReturnType<WebhookSender['send']>>;
    const startedAt = new Date();
    // Rebuilt from the terminal record on every attempt (webhook-body.ts): the first one's mark is fixed on the record
    // by its completion, a later one (a retry, a redeliver, a resend after a crash) checks it sends the same bytes.
    const { body, how, mark: bodyMark } = webhookBodyFor(record);
    if (how === 'changed') {
      m.webhookBodyChanged.inc();
      log().error(
        { mark: record.webhook_fp },
        "webhook body rebuilt from the record differs from the first attempt's; sent under the same webhook-id",
      );
    }
    try {
      // Mostly from the cache without a promise; a read when it is older than its second.
      const secret = store.secrets.fresh(tenant.id, configuredOf(tenant)) ?? (await secretsOf(tenant));
      // Encoded once: the signature and the socket take the same bytes.
      const bytes = Buffer.from(body, 'utf8');
      const headers = signWebhook({ secret, id: webhookId, timestamp: startedAt, body: bytes });
      result = await deps.sender.send({ url, headers, body: bytes });
    } finally {
      release();
    }
    const newBody = bodyMark === undefined ? {} : { bodyMark };
    m.webhookDeliveryDuration.observe(result.durationMs / 1000);
    const status = result.status;
    // The next attempt's delay, chosen now so that the delivery log can say when it is.
    const nextDelayMs = result.outcome === 'retry' && attempt < attempts ? backoff(attempt, result) : undefined;

    const disabledNow = healthUnchanged(tenant, host, result)
      ? false
      : await recordHealth(p, tenant, host, result, requestId);
    const entry: DeliveryAttemptInput = {
      at: startedAt.toISOString(),
      status_code: status ?? null,
      error: result.outcome === 'delivered' ? null : (result.error ?? null),
      duration_ms: result.durationMs,
      next_attempt_at:
        nextDelayMs === undefined || disabledNow ? null : new Date(Date.now() + nextDelayMs).toISOString(),
    };

    switch (result.outcome) {
      case 'delivered': {
        m.webhookDeliveries.inc({ outcome: 'delivered' });
        info({ status, redeliver, durationMs: result.durationMs }, 'webhook delivered');
        return {
          result: 'delivered',
          ...newBody,
          log: entry,
          mark: 'delivered',
          onMarked: (marked) => {
            if (marked !== 1) return;
            m.requestTurnaround.observe(Math.max(0, Date.now() - record.created_at) / 1000);
            if (record.batch_id !== undefined) {
              observeTerminalToDelivery(p, record.batch_id).catch((err: Error) =>
                log().debug({ err: err.message }, 'terminal-to-delivery latency not observed'),
              );
            }
          },
        };
      }
      case 'gone':
        m.webhookDeliveries.inc({ outcome: 'gone' });
        log().warn({ status }, 'receiver answered 410 Gone; no further attempts');
        return { result: 'gone', ...newBody, log: entry, mark: 'gone' };
      case 'aborted':
        m.webhookDeliveries.inc({ outcome: 'aborted' });
        log().warn({ status }, 'receiver answered webhook-delivery: abort-message; no further attempts');
        return { result: 'aborted', ...newBody, log: entry, mark: 'aborted' };
      case 'refused':
        await deadLetter('refused', result);
        m.webhookDeliveries.inc({ outcome: 'refused' });
        log().warn({ error: result.error }, 'callback address refused by the address policy; outcome dead-lettered');
        return { result: 'dead_letter', ...newBody, log: entry };
      case 'retry': {
        if (disabledNow) {
          await deadLetter('endpoint_disabled', result);
          m.webhookDeliveries.inc({ outcome: 'dead_letter' });
          log().warn(
            { status, error: result.error },
            'delivery failed and its endpoint is now disabled; dead-lettered',
          );
          return { result: 'dead_letter', ...newBody, log: entry };
        }
        if (nextDelayMs === undefined) {
          await deadLetter('exhausted', result);
          m.webhookDeliveries.inc({ outcome: 'dead_letter' });
          log().warn({ status, error: result.error, attempts }, 'last delivery attempt failed; outcome dead-lettered');
          return { result: 'dead_letter', ...newBody, log: entry };
        }
        m.webhookDeliveries.inc({ outcome: 'retry' });
        log().info(
          { status, error: result.error, retryAfterMs: result.retryAfterMs },
          'delivery attempt failed; will retry',
        );
        return { result: 'retry', ...newBody, log: entry, retryAtMs: Date.now() + nextDelayMs };
      }
    }
  };

  return { job, outcome };
}

/** How long a record read by the claim is used as it is (ms); older, it is read again before sending. */
const RECORD_FRESH_MS = 250;

/** Dead-letters an outcome; the tenant's `message.attempt.exhausted` event goes to the outbox with it. */
async function deadLetterOutcome(
  deps: DeliverProcessorDeps,
  p: PartitionId,
  tenant: Tenant,
  requestId: string,
  reason: string,
  attempts: number,
  last?: DeliveryResult,
): Promise<void> {
  const eventJob =
    tenant.operations_url === undefined
      ? undefined
      : exhaustedEvent(p, tenant.id, requestId, webhookIdFor(requestId), reason, attempts, last);
  const member = await deps.store.deadLetters.add(p, requestId, reason, eventJob);
  if (member !== undefined && deps.relay) {
    deps.metrics.webhookEvents.inc({ type: 'message.attempt.exhausted', outcome: 'queued' });
    await deps.relay.relay(p, [member]).catch(() => undefined); // else the outbox sweep relays it
  }
}

/**
 * A slot of the tenant's fair share of the partition, one of the tenant's share and one of the host's, or null
 * (holding none) when any is full.
 */
function acquireSlots(
  deps: DeliverProcessorDeps,
  fair: FairShareLimiter | undefined,
  tenant: string,
  host: string,
): ReleaseSlot | null {
  const fairSlot = fair ? fair.tryAcquire(tenant) : () => undefined;
  if (fairSlot === null) {
    deps.metrics.webhookFairParked.inc();
    return null;
  }
  const tenantSlot = deps.tenantLimiter ? deps.tenantLimiter.tryAcquire(tenant) : () => undefined;
  if (tenantSlot === null) {
    fairSlot();
    return null;
  }
  const hostSlot = deps.limiter.tryAcquire(host);
  if (hostSlot === null) {
    tenantSlot();
    fairSlot();
    return null;
  }
  return () => {
    hostSlot();
    tenantSlot();
    fairSlot();
  };
}

/** The `message.attempt.exhausted` event job of a dead-lettered outcome (written to the outbox with the dead letter). */
function exhaustedEvent(
  p: PartitionId,
  tenant: string,
  requestId: string,
  webhookId: string,
  reason: string,
  attempts: number,
  last: DeliveryResult | undefined,
): { jobId: string; data: Record<string, unknown> } {
  const now = Date.now();
  const id = `evt_exh_${requestId}_${now}`;
  const body = JSON.stringify({
    type: 'message.attempt.exhausted',
    timestamp: new Date(now).toISOString(),
    data: {
      request_id: requestId,
      webhook_id: webhookId,
      reason,
      attempts,
      last_status_code: last?.status ?? null,
      last_error: last?.error ?? null,
    },
  });
  const event: OperationalEventData = { id, tenant, type: 'message.attempt.exhausted', body };
  return { jobId: jobIds.event(id), data: { partition: p, requestId, event } };
}

/** Sends operational events to tenants' operations_url, signed like every webhook (SPEC §16). */
function eventSender(deps: DeliverProcessorDeps, secretsOf: (tenant: Tenant) => Promise<string[]>) {
  const m = deps.metrics;
  return {
    /** Queues the `endpoint.disabled` event of an endpoint (once per disabling) and marks it sent. */
    async endpointDisabled(p: PartitionId, tenant: Tenant, host: string, at: number, requestId: string) {
      if (tenant.operations_url !== undefined && deps.queues) {
        const digest = createHash('sha256').update(host).digest('hex').slice(0, 16);
        const id = `evt_dis_${tenant.id}_${digest}_${at}`;
        const body = JSON.stringify({
          type: 'endpoint.disabled',
          timestamp: new Date(at).toISOString(),
          data: { tenant: tenant.id, host, disabled_at: new Date(at).toISOString(), request_id: requestId },
        });
        const event: OperationalEventData = { id, tenant: tenant.id, type: 'endpoint.disabled', body };
        // A deterministic job id: a second dispatcher seeing the same disabling adds nothing.
        await deps.queues.addBulk('deliver', p, [
          { jobId: jobIds.event(id), data: { partition: p, requestId, event } },
        ]);
        m.webhookEvents.inc({ type: 'endpoint.disabled', outcome: 'queued' });
      }
      await deps.store.endpoints.markNotified(tenant.id, host);
    },

    /** One attempt to send an event job; retried on the webhook schedule, logged and counted when it gives up. */
    async deliver(job: Job<DeliverJobData>, event: OperationalEventData): Promise<DeliverResult> {
      const tenant = deps.tenants.get(event.tenant);
      if (tenant?.operations_url === undefined) return 'no_callback_url';
      const headers = signWebhook({
        secret: await secretsOf(tenant),
        id: event.id,
        timestamp: new Date(),
        body: event.body,
      });
      const result = await deps.sender.send({ url: tenant.operations_url, headers, body: event.body });
      if (result.outcome === 'delivered') {
        m.webhookEvents.inc({ type: event.type, outcome: 'delivered' });
        return 'delivered';
      }
      const attempts = job.opts.attempts ?? 1;
      if (result.outcome === 'retry' && job.attemptsMade + 1 < attempts) {
        m.webhookEvents.inc({ type: event.type, outcome: 'retry' });
        throw new DeliveryRetryError(result.error ?? 'event delivery failed', result.retryAfterMs);
      }
      m.webhookEvents.inc({ type: event.type, outcome: 'failed' });
      deps.logger.warn(
        { tenant: tenant.id, eventId: event.id, type: event.type, status: result.status, error: result.error },
        'operational event not delivered; given up',
      );
      return 'event_failed';
    },
  };
}
