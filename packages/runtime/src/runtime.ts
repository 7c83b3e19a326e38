/**
 * The shared wiring of every service: Redis connections (a fail-fast producer and a worker connection for BullMQ),
 * the key space, the request store, the partitioned queues, the outbox relay and the provider client. A service's
 * `main` builds one; the all-in-one process builds one and hands it to every service.
 */
import { type Config, type ProviderConfig, upstreamLanes } from '@batchbridge/config';
import { KeySpace, modelOfGroup, providerOfGroup, Store } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import { createMetrics, type Metrics } from '@batchbridge/metrics';
import {
  type AdapterContext,
  createProviderClient,
  defaultAdapter,
  type ProviderAdapter,
  ProviderRegistry,
  providerLabel,
  withHealth,
} from '@batchbridge/provider';
import { OutboxRelay, PartitionedQueues, QUEUE_KINDS } from '@batchbridge/queues';
import {
  adviseListpackValue,
  checkDurability,
  checkEvictionPolicy,
  closeRedis,
  createRedis,
  type RedisClient,
  RedisSetupError,
  waitReady,
  writeConfirmer,
} from '@batchbridge/redis';
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
  store: Store;
  /**
   * The same store on the worker connection, for background work whose scripts may run longer than the request path's
   * 1 s command timeout (packer, poller). Same options — REDIS_DURABILITY=replica confirms its writes too (WAIT on
   * this connection): a flush's create marker or a settle that a promoted replica lacks would mean a second batch.
   */
  workerStore: Store;
  queues: PartitionedQueues;
  relay: OutboxRelay;
  /**
   * The first provider's SDK client (UPSTREAM_*, or the preferred one of PROVIDERS_FILE); undefined when no upstream
   * is configured (ingest-only processes). Tests may replace it: the `default` adapter reads it at every call.
   */
  provider: OpenAI | undefined;
  providerName: string;
  /** Every provider (SPEC §11): routing by model and one adapter each, its calls counted against its circuit. */
  providers: ProviderRegistry;
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
  const settings = {
    url: options.redisUrl,
    mode: config.redis.mode,
    sentinels: config.redis.sentinels,
    sentinelMaster: config.redis.sentinelMaster,
  };
  const durability = { mode: config.redis.durability, timeoutMs: config.redis.durabilityTimeoutMs };
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
    await adviseListpackValue(redis, logger);
    await checkDurability(redis, durability, logger);
  } catch (err) {
    redis.disconnect();
    workerRedis.disconnect();
    throw err;
  }
  const keys = new KeySpace(config.redis.keyPrefix, config.redis.partitions);
  try {
    await checkPartitionCount(redis, keys);
  } catch (err) {
    redis.disconnect();
    workerRedis.disconnect();
    throw err;
  }
  const metrics = options.metrics ?? createMetrics();
  const storeOn = (connection: RedisClient) =>
    new Store(connection, keys, {
      retentionMs: config.limits.resultRetentionMs,
      idempotencyTtlMs: config.limits.idempotencyTtlMs,
      maxAttempts: config.maxAttempts,
      circuit: config.circuit,
      ...(durability.mode === 'replica' ? { confirmWrites: writeConfirmer(connection, durability) } : {}),
    });
  const store = storeOn(redis);
  const workerStore = storeOn(workerRedis);
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
  const runtime: Runtime = {
    config,
    logger,
    metrics,
    redis,
    workerRedis,
    keys,
    store,
    workerStore,
    queues,
    relay,
    provider,
    providerName: config.upstream.profile.name,
    providers: new ProviderRegistry([]),
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
  runtime.providers = buildProviderRegistry(runtime);
  // Each provider's circuit for operators (SPEC §11), read from Redis at each scrape.
  metrics.onCollect(async () => {
    for (const c of runtime.providers.configs) {
      const h = await store.providers.get(c.id);
      const provider = providerLabel(c.id, c.profile);
      metrics.m.providerCircuitOpen.set({ provider }, h.state === 'open' ? 1 : 0);
      for (const operation of ['upload', 'create', 'poll', 'download'] as const) {
        metrics.m.providerCallFailures.set({ provider, operation }, h.failures[operation] ?? 0);
      }
    }
  });
  // Deadlines met and missed (SPEC §10), counted by the finish script per partition; fast-lane calls in flight.
  metrics.onCollect(async () => {
    const totals = new Map<string, number>();
    for (const p of keys.allPartitions()) {
      for (const [field, n] of Object.entries(await store.lanes.deadlineStats(p))) {
        const [lane = 'batch', outcome = 'met', ...rest] = field.split('|');
        const group = rest.join('|');
        const label = `${lane}\n${providerOfGroup(group)}\n${modelOfGroup(group)}\n${outcome}`;
        totals.set(label, (totals.get(label) ?? 0) + n);
      }
    }
    for (const [label, n] of totals) {
      const [lane, provider, model, outcome] = label.split('\n') as [string, string, string, string];
      metrics.m.deadlineOutcomes.set({ lane, provider, model, outcome }, n);
    }
    for (const c of runtime.providers.configs) {
      if (c.lanes.length > 1) metrics.m.laneInflight.set({ provider: c.id }, await store.lanes.inflight(c.id));
    }
  });
  const missing = runtime.providers.missingAdapters();
  if (missing.length > 0) {
    await runtime.close();
    throw new Error(
      `PROVIDERS_FILE: no adapter is available for provider(s) ${missing.join(', ')} (their profile's protocol is not built in)`,
    );
  }
  return runtime;
}

/**
 * The providers of a runtime as adapters, each call counted against its provider's circuit. The `default` provider
 * (UPSTREAM_*) reads `runtime.provider` at every call, so that a test that replaces the client is obeyed; the packer
 * builds its own registry with a streaming upload fetch (`context.uploadFetch`).
 */
export function buildProviderRegistry(
  runtime: Pick<Runtime, 'config' | 'metrics' | 'store' | 'logger' | 'provider'>,
  context: AdapterContext = {},
): ProviderRegistry {
  const { config } = runtime;
  const adapters: Record<string, ProviderAdapter> = {};
  // Without PROVIDERS_FILE the one provider is `default` over `runtime.provider` — also when a test sets that client
  // itself on a runtime configured without UPSTREAM_BASE_URL.
  const providers: ProviderConfig[] =
    config.providers.length > 0
      ? config.providers
      : [
          {
            id: 'default',
            profile: config.upstream.profile,
            baseUrl: config.upstream.baseUrl ?? 'http://127.0.0.1:1/v1',
            apiKey: config.upstream.apiKey ?? '',
            models: [],
            aliases: {},
            priority: 100,
            webhookSecret: config.upstream.webhookSecret,
            push: config.upstream.webhookSecret !== undefined,
            lanes: upstreamLanes(undefined, config.upstream.profile),
            realtime: undefined,
            timeoutMs: config.upstream.timeoutMs,
            batchCreatesPerMinute: config.upstream.profile.batchCreatesPerMinute,
            defaultMaxTokens: config.upstream.profile.defaultMaxTokens,
          },
        ];
  const first = providers[0];
  // The `default` adapter over `runtime.provider` is the OpenAI-compatible one; another protocol (UPSTREAM_* with
  // PROVIDER_PROFILE=anthropic) gets its factory's adapter.
  if (first && first.id === 'default' && (first.profile.api ?? 'openai') === 'openai') {
    const upload = context.uploadFetch;
    adapters.default = defaultAdapter(
      first.profile,
      () => {
        if (!runtime.provider) throw new Error('no provider configured (UPSTREAM_BASE_URL and UPSTREAM_API_KEY)');
        return runtime.provider;
      },
      upload ? () => (runtime.provider as OpenAI).withOptions({ fetch: upload }) : undefined,
    );
  }
  const health = runtime.store.providers;
  return new ProviderRegistry(providers, {
    context: { metrics: runtime.metrics.m, ...context },
    adapters,
    wrap: (adapter) =>
      withHealth(adapter, {
        success: (provider, op) => health.success(provider, op),
        failure: (provider, op, message) => health.failure(provider, op, message),
        onError: (err) => runtime.logger.warn({ err: (err as Error).message }, 'could not record provider health'),
      }),
  });
}

/**
 * A key prefix keeps the REDIS_PARTITIONS it was first started with (issue 16.18): an Idempotency-Key is looked up in
 * the partition its hash names, so another count would send a client's retry to another partition and create the
 * request twice; request ids name their partition too. A different count is refused at start, in one line.
 */
async function checkPartitionCount(redis: RedisClient, keys: KeySpace): Promise<void> {
  const key = keys.partitionCount();
  await redis.set(key, String(keys.partitions), 'NX');
  const stored = Number(await redis.get(key));
  if (stored !== keys.partitions) {
    throw new RedisSetupError(
      'redis.partitions_changed',
      `REDIS_PARTITIONS is ${keys.partitions}, but this REDIS_KEY_PREFIX was started with ${stored}: changing it would ` +
        `let Idempotency-Key retries create duplicates. Keep ${stored}, or use a new REDIS_KEY_PREFIX (drain the old one first).`,
    );
  }
}
