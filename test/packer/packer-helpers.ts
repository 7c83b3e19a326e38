/** Shared helpers of the packer tests: enqueue a chat request the way ingest does, and wait for a condition. */
import { batchLine, estimateInputTokens, groupFor, newRequestId, type RequestRecord } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import { sharedRedisUrl, waitFor } from '@batchbridge/testkit';
import { afterAll, afterEach, beforeAll } from 'vitest';

/**
 * The suite's Redis (the shared test Redis, or a private one) and its clean-ups, which run last in, first out after each
 * test. Call once at the top of a test file; read `redisUrl` inside tests.
 */
export { waitFor };

export function useSuiteRedis(): { readonly redisUrl: string; cleanups: Array<() => unknown> } {
  let url = '';
  let stop: () => Promise<void> = async () => undefined;
  const cleanups: Array<() => unknown> = [];
  beforeAll(async () => {
    const shared = await sharedRedisUrl();
    url = shared.url;
    stop = shared.stop;
  });
  afterEach(async () => {
    while (cleanups.length > 0) await Promise.resolve(cleanups.pop()?.()).catch(() => undefined);
  });
  afterAll(async () => {
    await stop();
  });
  return {
    get redisUrl() {
      return url;
    },
    cleanups,
  };
}

export interface ChatOptions {
  model?: string;
  /** The user message. */
  content?: string;
  tenant?: string;
}

/** Enqueues one chat request directly in the store (as ingest-api does after validation); returns its id. */
export async function enqueueChat(runtime: Runtime, options: ChatOptions = {}): Promise<string> {
  const model = options.model ?? 'gpt-4o-mini';
  const messages = [{ role: 'user', content: options.content ?? 'Say hello.' }];
  const body = JSON.stringify({ model, messages });
  const id = newRequestId(0);
  const result = await runtime.store.requests.enqueue(
    {
      id,
      partition: 0,
      tenant: options.tenant ?? 'acme',
      model,
      group: groupFor('/v1/chat/completions', model, runtime.config.batch.mixModels),
      body,
      bytes: Buffer.byteLength(batchLine(id, body)),
      tokens: estimateInputTokens(messages),
    },
    {},
  );
  if (result.kind !== 'created') throw new Error(`enqueue: ${result.kind}`);
  return id;
}

/** Waits until every request has left `queued`/`batched`, and returns their records. */
export async function waitSubmitted(runtime: Runtime, ids: readonly string[], timeoutMs?: number) {
  return waitFor(
    `${ids.length} request(s) submitted`,
    async () => {
      const records = await Promise.all(ids.map((id) => runtime.store.requests.get(id)));
      return records.every((r) => r && r.status !== 'queued' && r.status !== 'batched')
        ? (records as RequestRecord[])
        : undefined;
    },
    timeoutMs,
  );
}

/** The flush trigger that took a request into its batch. */
export async function flushReason(runtime: Runtime, id: string): Promise<string | undefined> {
  const record = await runtime.store.requests.get(id);
  if (!record?.flush_id) return undefined;
  return (await runtime.store.flushes.get(0, record.flush_id))?.reason;
}

/** Options that make a packer react quickly in tests. */
export const FAST_PACKER = {
  tickIntervalMs: 20,
  sweepIntervalMs: 100,
  outboxAgeMs: 200,
  staleFlushMs: 300,
  lockDurationMs: 2_000,
  stalledIntervalMs: 500,
  backoff: { baseMs: 50, capMs: 500 },
} as const;
