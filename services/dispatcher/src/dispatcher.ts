/**
 * The dispatcher service: one `deliver` worker per partition running the deliver processor, one webhook sender (one
 * connection pool, address policy enforced at connect time), one per-host limiter, the dead-letter gauge and the
 * periodic outbox sweep that relays jobs left behind by processes that died between a state change and its relay, and
 * the undelivered sweep that gives a finished outcome whose deliver job went missing a job again.
 */
import type { DeliverJobData } from '@batchbridge/queues';
import { backoffStrategy, startWorkers, webhookBackoff } from '@batchbridge/queues';
import type { Runtime, Service } from '@batchbridge/runtime';
import { createAddressPolicy, createHostLimiter, createWebhookSender } from '@batchbridge/webhooks';
import type { Worker } from 'bullmq';
import { createDeliverProcessor } from './deliver-processor.js';
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
    metrics: metrics.m,
    logger,
    parkMs: options.parkMs ?? 200,
  });

  const workers: Worker[] = startWorkers<DeliverJobData>('deliver', runtime.keys, runtime.workerRedis, processor, {
    concurrency: config.webhook.concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    // BullMQ fails a job that stalls twice (default maxStalledCount 1) without running the processor, so an outcome
    // whose dispatchers were killed twice mid-delivery was neither delivered nor dead-lettered, and its deliver job
    // id then blocked the outbox relay (found by the fault suite, test/faults). Resending is safe: same webhook-id.
    maxStalledCount: 100,
    settings: { backoffStrategy: backoffStrategy({ webhook: webhookBackoff(config.webhook.retryScheduleMs) }) },
  });
  for (const worker of workers) {
    // Connection trouble is reported here (and through readiness); an 'error' without a listener would crash.
    worker.on('error', (err) => logger.warn({ err: err.message }, 'deliver worker error'));
    // Delivery failures are logged by the processor; this catches a job that ran out of attempts on something else
    // (Redis unreachable, a bug), which would otherwise leave an outcome neither delivered nor dead-lettered silently.
    worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1) && !(err instanceof DeliveryRetryError)) {
        logger.error(
          { jobId: job.id, requestId: (job.data as Partial<DeliverJobData>).requestId, err: err.message },
          'deliver job failed for good',
        );
      }
    });
  }

  let closed = false;
  metrics.onCollect(async () => {
    if (!closed) metrics.m.webhookDeadLetters.set(await store.deadLetters.count());
  });

  let sweeping: Promise<unknown> | undefined;
  const sweep = () => {
    sweeping ??= runtime.relay
      .sweep(options.sweepGraceMs ?? 5_000)
      .catch((err: Error) => logger.warn({ err: err.message }, 'outbox sweep failed'))
      .finally(() => {
        sweeping = undefined;
      });
  };
  sweep();
  const sweepTimer = setInterval(sweep, options.sweepIntervalMs ?? 5_000);
  sweepTimer.unref();

  let undelivered: Promise<unknown> | undefined;
  const undeliveredTimer = setInterval(() => {
    undelivered ??= sweepUndelivered(runtime, logger, { graceMs: options.undeliveredGraceMs ?? 60_000 })
      .catch((err: Error) => logger.warn({ err: err.message }, 'undelivered sweep failed'))
      .finally(() => {
        undelivered = undefined;
      });
  }, options.undeliveredSweepIntervalMs ?? 30_000);
  undeliveredTimer.unref();

  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info(
    {
      partitions: workers.length,
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
    ready: async () => {
      if (closed || !workers.every((w) => w.isRunning())) return false;
      return (await runtime.redis.ping().catch(() => '')) === 'PONG';
    },
    close: () => {
      closing ??= (async () => {
        closed = true;
        clearInterval(sweepTimer);
        clearInterval(undeliveredTimer);
        // Workers first: in-flight deliveries finish (and record their outcome) before the sender's pool closes.
        await Promise.allSettled(workers.map((w) => w.close()));
        await Promise.allSettled([sender.close(), sweeping, undelivered]);
        logger.info('dispatcher stopped');
      })();
      return closing;
    },
  };
}
