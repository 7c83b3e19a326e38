// The store's read side for operators: recent routed batches with their outcome counts, estimated savings summed
// across writers, and the tenants of request ids for per-request log lines.

import { KeySpace, newFlushId, newRequestId, Store } from '@batchbridge/domain';
import { freshPrefix, newRequestFixture, sharedRedisUrl } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { useSharedRedis } from './shared-redis.js';

const shared = useSharedRedis();

function setup() {
  const prefix = freshPrefix();
  return new Store(shared.redis, new KeySpace(prefix, 1), { retentionMs: 60_000, maxAttempts: 2 });
}

async function submittedBatch(store: Store, batchId: string, tenants: string[]) {
  const ids: string[] = [];
  for (const tenant of tenants) {
    const req = newRequestFixture({ tenant, model: 'm', body: '{"model":"m","messages":[]}', bytes: 10, tokens: 1 });
    await store.requests.enqueue(req, {});
    ids.push(req.id);
  }
  const flushId = newFlushId();
  const claim = await store.flushes.claim(
    0,
    'chat.completions|m',
    flushId,
    { maxRequests: 100, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 60_000 },
    true,
  );
  expect(claim.claimed).toBe(true);
  const flush = (await store.flushes.get(0, flushId))!;
  await store.flushes.recordSubmission(0, flush, batchId, `file_${batchId}`);
  return { ids, flushId, batch: (await store.batches.get(0, batchId))! };
}

describe('RequestStore for operators', () => {
  it('lists routed batches newest first, with status and outcome counts, and leaves live ones out', async () => {
    const store = setup();
    const first = await submittedBatch(store, 'batch_a', ['acme']);
    const second = await submittedBatch(store, 'batch_b', ['acme', 'globex']);
    expect(first.batch.outcomes).toBeUndefined();
    expect(await store.batches.recent(0)).toEqual([]);

    await store.batches.finish(0, first.batch, 'completed', { completed: 1, failed: 0, retried: 0 });
    await new Promise((r) => setTimeout(r, 2)); // distinct routing times
    await store.batches.finish(0, second.batch, 'expired', { completed: 0, failed: 1, retried: 1 });

    const recent = await store.batches.recent(0);
    expect(recent.map((b) => [b.id, b.status, b.count, b.flush_id, b.outcomes])).toEqual([
      ['batch_b', 'expired', 2, second.flushId, { completed: 0, failed: 1, retried: 1 }],
      ['batch_a', 'completed', 1, first.flushId, { completed: 1, failed: 0, retried: 0 }],
    ]);
    expect(recent[0]!.routed_at).toBeGreaterThan(0);
    expect(await store.batches.live(0)).toEqual([]);
  });

  it('routes without outcome counts as before (callers that do not count them)', async () => {
    const store = setup();
    const { batch } = await submittedBatch(store, 'batch_c', ['acme']);
    await store.batches.finish(0, batch, 'failed');
    const [only] = await store.batches.recent(0);
    expect(only).toMatchObject({ id: 'batch_c', status: 'failed' });
    expect(only!.outcomes).toBeUndefined();
  });

  it('sums estimated savings per model from several writers without drift', async () => {
    const store = setup();
    for (let i = 0; i < 100; i++) {
      // A hundred additions of 0.000_123 dollars: floats would drift, micro-dollars do not.
      await store.ledger.addSavings([{ model: 'gpt-4o-mini', usd: 0.000_123, inputTokens: 10, outputTokens: 5 }]);
    }
    await store.ledger.addSavings([
      { model: 'gpt-4o', usd: 2.5, inputTokens: 1_000_000, outputTokens: 0 },
      { model: 'org/model:v1', usd: 0.01, inputTokens: 1, outputTokens: 2 },
    ]);
    expect(await store.ledger.savings()).toEqual([
      { model: 'gpt-4o', usd: 2.5, inputTokens: 1_000_000, outputTokens: 0 },
      { model: 'gpt-4o-mini', usd: 0.0123, inputTokens: 1_000, outputTokens: 500 },
      { model: 'org/model:v1', usd: 0.01, inputTokens: 1, outputTokens: 2 },
    ]);
  });

  it('reads the tenants of request ids in order, undefined for unknown ones', async () => {
    const store = setup();
    const { ids } = await submittedBatch(store, 'batch_d', ['acme', 'globex']);
    expect(await store.requests.tenantsOf(0, [ids[1]!, newRequestId(0), ids[0]!])).toEqual([
      'globex',
      undefined,
      'acme',
    ]);
    expect(await store.requests.tenantsOf(0, [])).toEqual([]);
  });
});
