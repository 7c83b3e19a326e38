/**
 * The shared wiring of every service: Redis connections (a fail-fast producer and a worker connection for BullMQ),
 * the key space, the request store, the partitioned queues, the outbox relay and the provider client. A service's
 * `main` builds one; the all-in-one process builds one and hands it to every service.
 */
import type { Config } from '@batchbridge/config';
import { KeySpace, RequestStore } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import { createMetrics, type Metrics } from '@batchbridge/metrics';
import { createProviderClient } from '@batchbridge/provider';
import { OutboxRelay, PartitionedQueues, QUEUE_KINDS } from '@batchbridge/queues';
import { checkEvictionPolicy, closeRedis, createRedis, type RedisClient, waitReady } from '@batchbridge/redis';
import type OpenAI from 'openai';
import type { TenantDirectory } from './tenants.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Fail-fast connection for request-path commands (no offline queue). */
  redis: RedisClient;
  /** Connection for BullMQ queues and workers (`maxRetriesPerRequest: null`). */
  workerRedis: RedisClient;
  keys: KeySpace;
  store: RequestStore;
  queues: PartitionedQueues;
  relay: OutboxRelay;
  /** The provider; undefined when no upstream is configured (ingest-only processes). */
  provider: OpenAI | undefined;
  providerName: string;
  tenants: TenantDirectory;
  close(): Promise<void>;
}

export interface CreateRuntimeOptions {
  config: Config;
  /** The Redis URL to use (after the embedded-default resolution). */
  redisUrl: string;
  logger: Logger;
  metrics?: Metrics;
  /** Connection name prefix shown in CLIENT LIST. */
  service: string;
  tenants: TenantDirectory;
}

export async function createRuntime(options: CreateRuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const settings = { url: options.redisUrl, mode: config.redis.mode };
  const redis = createRedis(settings, 'producer', `${options.service}-producer`);
  const workerRedis = createRedis(settings, 'worker', `${options.service}-worker`);
  // Errors are reported through readiness and failing commands; an unhandled 'error' event would crash the process.
  let lastError = '';
  const onError = (err: Error) => {
    if (err.message !== lastError) logger.warn({ err: err.message }, 'redis connection error');
    lastError = err.message;
  };
  redis.on('error', onError);
  workerRedis.on('error', onError);
  try {
    await Promise.all([waitReady(redis), waitReady(workerRedis)]);
    await checkEvictionPolicy(redis, { allowEviction: config.redis.allowEviction, logger });
  } catch (err) {
    redis.disconnect();
    workerRedis.disconnect();
    throw err;
  }
  const metrics = options.metrics ?? createMetrics();
  const keys = new KeySpace(config.redis.keyPrefix, config.redis.partitions);
  const store = new RequestStore(redis, keys, {
    retentionMs: config.limits.resultRetentionMs,
    idempotencyTtlMs: config.limits.idempotencyTtlMs,
    maxAttempts: config.maxAttempts,
  });
  const queues = new PartitionedQueues(workerRedis, keys, {
    deliver: { attempts: config.webhook.retryScheduleMs.length + 1 },
  });
  const relay = new OutboxRelay(redis, keys, queues, logger);
  const provider =
    config.upstream.baseUrl && config.upstream.apiKey
      ? createProviderClient({
          baseUrl: config.upstream.baseUrl,
          apiKey: config.upstream.apiKey,
          timeoutMs: config.upstream.timeoutMs,
          metrics: metrics.m,
        })
      : undefined;

  // Queue depth for operators (batchbridge_queue_jobs), refreshed at each scrape.
  metrics.onCollect(async () => {
    for (const kind of QUEUE_KINDS) {
      const counts = await queues.counts(kind);
      for (const [state, n] of Object.entries(counts)) metrics.m.queueJobs.set({ queue: kind, state }, n);
    }
  });

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    metrics,
    redis,
    workerRedis,
    keys,
    store,
    queues,
    relay,
    provider,
    providerName: config.upstream.profile.name,
    tenants: options.tenants,
    close: () => {
      closing ??= (async () => {
        await queues.close().catch(() => undefined);
        await closeRedis(workerRedis);
        await closeRedis(redis);
      })();
      return closing;
    },
  };
}
