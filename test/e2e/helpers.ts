/** Shared set-up of the end-to-end tests: everything in one process against the shared test Redis. */
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Embedded, startEmbedded } from '@batchbridge/all-in-one';
import type { Tenant } from '@batchbridge/config';
import { freshPrefix, sharedRedisUrl, TEST_TENANTS } from '@batchbridge/testkit';

export const ACME_KEY = TEST_TENANTS[0]!.api_keys[0]!;
export const GLOBEX_KEY = TEST_TENANTS[1]!.api_keys[0]!;

/** A tenant whose requests wait for their outcome by default (transparent mode, SPEC §8), beside the test tenants. */
export const WAITER_KEY = 'bb_test_waiter_key_0123456789';
export function withWaitingTenant(defaultWaitS: number): Tenant[] {
  return [
    ...TEST_TENANTS,
    {
      id: 'waiter',
      api_keys: [WAITER_KEY],
      webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      allowed_models: ['*'],
      default_wait_s: defaultWaitS,
    },
  ];
}

/** The pipeline with fast test timings; `env` overrides them (and may name another Redis, e.g. a cluster). */
export async function startPipeline(
  env: Record<string, string> = {},
  tenants: Tenant[] = TEST_TENANTS,
): Promise<Embedded & { dispose(): Promise<void> }> {
  const redis = env.REDIS_URL ? { url: env.REDIS_URL, stop: async () => undefined } : await sharedRedisUrl();
  const tenantsFile = join(tmpdir(), `bb-tenants-${freshPrefix()}.json`);
  writeFileSync(tenantsFile, JSON.stringify({ tenants }));
  const prefix = freshPrefix('e2e');
  const embedded = await startEmbedded({
    env: {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      TENANTS_FILE: tenantsFile,
      PORT: '0',
      LOG_LEVEL: 'silent',
      BATCH_MAX_WAIT_MS: '200',
      POLL_INTERVAL_MS: '50',
      POLL_MAX_INTERVAL_MS: '200',
      SIM_VALIDATING_MS: '0',
      SIM_FINALIZING_MS: '0',
      SIM_LINES_PER_SECOND: '0',
      WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,400ms',
      ...env,
    },
  });
  return Object.assign(embedded, {
    dispose: async () => {
      await embedded.close();
      await redis.stop();
      rmSync(tenantsFile, { force: true });
    },
  });
}

/**
 * Submits one chat request as a well-behaved client does: with an Idempotency-Key (its own unless the caller gives
 * one), and a 429 or 503 (quota, capacity, a Redis hiccup on a busy test box) retried after its Retry-After (capped at
 * 1 s), a few times. A 200 replay answering such a retry means the first attempt was accepted after all: it is reported
 * as that attempt's 202. Any other answer is returned as it is.
 */
export async function submit(
  url: string,
  apiKey: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const idempotency = Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')
    ? {}
    : { 'idempotency-key': randomUUID() };
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...idempotency, ...headers },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (attempt > 1 && res.status === 200 && res.headers.get('idempotent-replayed') === 'true')
      return { status: 202, json };
    if ((res.status !== 429 && res.status !== 503) || attempt >= 5) return { status: res.status, json };
    const retryAfterS = Number(res.headers.get('retry-after') ?? '1');
    await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(50, retryAfterS * 1_000))));
  }
}
