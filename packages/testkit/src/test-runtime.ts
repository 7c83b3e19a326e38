/**
 * A runtime for in-process service tests: the shared test Redis with a fresh key prefix (so tests never see each
 * other's keys), configuration from an env-style record, and test tenants with known keys and secrets.
 */
import { parseConfig, type Tenant } from '@batchbridge/config';
import { type Logger, silentLogger } from '@batchbridge/logger';
import { createRuntime, type Runtime, TenantDirectory } from '@batchbridge/runtime';
import { freshPrefix, sharedRedisUrl } from '@batchbridge/test-redis';

export const TEST_TENANTS: Tenant[] = [
  {
    id: 'acme',
    api_keys: ['bb_test_acme_key_0123456789'],
    webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    allowed_models: ['*'],
  },
  {
    id: 'globex',
    api_keys: ['bb_test_globex_key_0123456789'],
    webhook_secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
    allowed_models: ['gpt-4o-mini'],
    max_queued: 5,
    rate_limit_per_s: 1000,
  },
];

export interface TestRuntimeOptions {
  /** Environment overrides (same names as production), e.g. `{ UPSTREAM_BASE_URL, BATCH_MAX_WAIT_MS: '100' }`. */
  env?: Record<string, string>;
  tenants?: Tenant[];
  logger?: Logger;
  /** Redis URL; default: the shared test Redis. */
  redisUrl?: string;
  service?: string;
}

export interface TestRuntime extends Runtime {
  prefix: string;
  /** Closes the runtime and deletes every key under its prefix. */
  dispose(): Promise<void>;
}

export async function createTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const shared = options.redisUrl ? { url: options.redisUrl, stop: async () => undefined } : await sharedRedisUrl();
  // Clean the prefix actually used: a test may pass its own REDIS_KEY_PREFIX.
  const prefix = options.env?.REDIS_KEY_PREFIX || freshPrefix();
  const parsed = parseConfig({
    WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8,::1/128',
    UPSTREAM_API_KEY: 'sk-test',
    ...options.env,
    REDIS_KEY_PREFIX: prefix,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  const runtime = await createRuntime({
    config: parsed.config,
    redisUrl: shared.url,
    logger: options.logger ?? silentLogger(),
    service: options.service ?? 'test',
    tenants: new TenantDirectory(options.tenants ?? TEST_TENANTS),
  });
  let disposing: Promise<void> | undefined;
  return Object.assign(runtime, {
    prefix,
    dispose: () => {
      disposing ??= (async () => {
        const r = runtime.redis;
        if (r.status === 'ready') {
          // SCAN sees one node only: on a Redis Cluster, scan every master and unlink key by key (a multi-key UNLINK
          // would span slots).
          const cluster = 'nodes' in r;
          for (const node of cluster ? r.nodes('master') : [r]) {
            const stream = node.scanStream({ match: `{${prefix}:*`, count: 1000 });
            for await (const keys of stream as AsyncIterable<string[]>) {
              if (keys.length === 0) continue;
              if (cluster) await Promise.all(keys.map((k) => node.unlink(k)));
              else await node.unlink(...keys);
            }
          }
        }
        await runtime.close();
        await shared.stop();
      })();
      return disposing;
    },
  });
}
