/**
 * The dispatcher service: one bulk delivery loop per partition (delivery-loop.ts: outcome deliveries claimed N at a
 * time from the partition's due zset, under a lease, completed in bulk), one `deliver` BullMQ worker per partition for
 * the jobs that are not one outcome each (operational events, aggregated runs, Batch API batch webhooks), one webhook
 * sender (one connection pool per host, address policy enforced at connect time), one per-host limiter, the
 * dead-letter and pending-delivery gauges, the periodic outbox sweep that relays jobs left behind by processes that
 * died between a state change and its relay, and the undelivered sweep that makes a finished outcome with no
 * delivery due or claimed due again.
 */
import type { DeliverJobData } from '@batchbridge/queues';
import { backoffStrategy, startWorkerGroup, webhookBackoff } from '@batchbridge/queues';
import type { Runtime, Service } from '@batchbridge/runtime';
import { createAddressPolicy, createHostLimiter, createWebhookSender } from '@batchbridge/webhooks';
import { createDeliverProcessor, type DeliveryVerdict } from './deliver-processor.js';
import { startDeliveryLoops } from './delivery-loop.js';
import { DeliveryRetryError } from './errors.js';
import { sweepUndelivered } from './undelivered-sweep.js';

export interface DispatcherOptions {
  /** How often outbox entries left behind by dead processes are relayed. @defaultValue 5000 ms */
  sweepIntervalMs?: number;
  /** Age at which an outbox entry counts as left behind (its writer relays younger ones itself). @defaultValue 5000 ms */
  sweepGraceMs?: number;
  /** How long a job waits when its callback host is at WEBHOOK_HOST_CONCURRENCY. @defaultValue 200 ms */
  parkMs?: number;
  /** BullMQ job lock: how long a delivery of a dead process stays claimed before another dispatcher takes it over. @defaultValue 30000 ms */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired (their process died). @defaultValue 30000 ms */
  stalledIntervalMs?: number;
  /** How often finished outcomes with no live deliver job get one again (undelivered-sweep.ts). @defaultValue 30000 ms */
  undeliveredSweepIntervalMs?: number;
  /** Age of a finished outcome before the undelivered sweep looks at it. @defaultValue 60000 ms */
  undeliveredGraceMs?: number;
  /**
   * How long a claimed outcome delivery stays this dispatcher's without news (leases of deliveries being sent are
   * extended every third of it): past it (the process died or stalled), another dispatcher's next claim takes it
   * over. @defaultValue lockDurationMs
   */
  leaseMs?: number;
  /** Longest wait between claims while nothing is due. @defaultValue 50 ms */
  idleMs?: number;
  /** The delivery loop's claim step (delivery-loop.ts). @defaultValue WEBHOOK_CONCURRENCY */
  claimBatch?: number;
  /** Every slot held and none freed for this long: claims waiting for a slot are handed back. @defaultValue 1000 ms */
  stuckMs?: number;
  /** Told of each finished outcome delivery (tests). */
  onDelivery?: (partition: number, requestId: string, verdict: DeliveryVerdict) => void;
}

export async function startDispatcher(runtime: Runtime, options: DispatcherOptions = {}): Promise<Service> {
  const { config, store, metrics } = runtime;
  const logger = runtime.logger.child({ component: 'dispatcher' });
  const sender = createWebhookSender({
    policy: createAddressPolicy({ allowCidrs: config.webhook.allowCidrs }),
    timeoutMs: config.webhook.timeoutMs,
  });
  const processor = createDeliverProcessor({
    store,
    tenants: runtime.tenants,
    sender,
    limiter: createHostLimiter({ maxPerHost: config.webhook.hostConcurrency }),
    // The same in-process counter, keyed by tenant id instead of host.
    tenantLimiter: createHostLimiter({ maxPerHost: config.webhook.tenantConcurrency }),
    // Per partition: its WEBHOOK_CONCURRENCY delivery slots shared fairly by the tenants that want them (SPEC §16).
    fairShare: { slots: config.webhook.concurrency, maxPerTenant: config.webhook.tenantConcurrency },
    metrics: metrics.m,
    logger,
    parkMs: options.parkMs ?? 200,
    retryScheduleMs: config.webhook.retryScheduleMs,
    health: {
      threshold: config.webhook.circuitFailures,
      cooldownMs: config.webhook.circuitCooldownMs,
      disableAfterMs: config.webhook.disableAfterMs,
      // The probe holds a half-open circuit for at most one attempt's timeout (and a little).
      probeMs: config.webhook.timeoutMs + 1_000,
    },
    logAttempts: config.webhook.logAttempts,
    queues: runtime.queues,
    relay: runtime.relay,
    attempts: config.webhook.retryScheduleMs.length + 1,
  });

  let closed = false;
  metrics.onCollect(async () => {
    if (closed) return;
    metrics.m.webhookDeadLetters.set(await store.deadLetters.count());
    const pending = await store.deliveries.totals();
    metrics.m.webhookDeliveriesPending.set({ state: 'due' }, pending.due);
    metrics.m.webhookDeliveriesPending.set({ state: 'leased' }, pending.leased);
  });

  const loops = startDeliveryLoops({
    store,
    partitions: runtime.keys.allPartitions(),
    deliver: processor.outcome,
    logger,
    metrics: metrics.m,
    concurrency: config.webhook.concurrency,
    ...(options.claimBatch !== undefined ? { batch: options.claimBatch } : {}),
    ...(options.stuckMs !== undefined ? { stuckMs: options.stuckMs } : {}),
    leaseMs: options.leaseMs ?? options.lockDurationMs ?? 30_000,
    idleMs: options.idleMs ?? 50,
    logAttempts: config.webhook.logAttempts ?? 20,
    ...(options.onDelivery
      ? { onDone: (p: number, d: { requestId: string }, v: DeliveryVerdict) => options.onDelivery?.(p, d.requestId, v) }
      : {}),
  });

  const group = await startWorkerGroup<DeliverJobData>({
    kind: 'deliver',
    keys: runtime.keys,
    connection: runtime.workerRedis,
    ping: runtime.redis,
    logger,
    processor: processor.job,
    // As many worker slots as delivery slots: a job over its tenant's fair share is parked (moved to delayed), which
    // frees its worker slot, so the share kept for other tenants is a worker slot they can be picked up by.
    concurrency: config.webhook.concurrency,
    lockDurationMs: options.lockDurationMs ?? 30_000,
    stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
    backoffStrategy: backoffStrategy({ webhook: webhookBackoff(config.webhook.retryScheduleMs) }),
    gaveUp: {
      message: 'deliver job failed for good',
      // Delivery failures are logged by the processor.
      ignore: (err) => err instanceof DeliveryRetryError,
      bindings: (job) => ({ requestId: (job.data as Partial<DeliverJobData>).requestId }),
    },
    sweeps: [
      {
        name: 'outbox sweep',
        everyMs: options.sweepIntervalMs ?? 5_000,
        run: () => runtime.relay.sweep(options.sweepGraceMs ?? 5_000),
      },
      {
        name: 'undelivered sweep',
        everyMs: options.undeliveredSweepIntervalMs ?? 30_000,
        atStart: false,
        run: () => sweepUndelivered(runtime, logger, { graceMs: options.undeliveredGraceMs ?? 60_000 }),
      },
    ],
  });
  logger.info(
    {
      partitions: group.workers.length,
      concurrency: config.webhook.concurrency,
      hostConcurrency: config.webhook.hostConcurrency,
      tenantConcurrency: config.webhook.tenantConcurrency,
      attempts: config.webhook.retryScheduleMs.length + 1,
    },
    'deliver workers started',
  );

  let closing: Promise<void> | undefined;
  return {
    name: 'dispatcher',
    ready: async () => loops.running() && (await group.ready()),
    close: () => {
      closing ??= (async () => {
        closed = true;
        // Loops and workers first: in-flight deliveries finish (and record their outcome) before the pool closes.
        await Promise.all([loops.close(), group.close()]);
        await sender.close().catch(() => undefined);
        logger.info('dispatcher stopped');
      })();
      return closing;
    },
  };
}
