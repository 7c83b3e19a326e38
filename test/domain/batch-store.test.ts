// A batch's status changes only by the moves of lifecycle.ts BATCH_TRANSITIONS, inside Redis: a poll records the
// provider's status, routing records the last one once, and a routed batch takes no move at all.

import { KeySpace, newFlushId, newRequestId, Store } from '@batchbridge/domain';
import { freshPrefix, newRequestFixture, sharedRedisUrl } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { useSharedRedis } from './shared-redis.js';

const shared = useSharedRedis();

async function submittedBatch(batchId: string) {
  const prefix = freshPrefix();
  const store = new Store(shared.redis, new KeySpace(prefix, 1), { retentionMs: 60_000, maxAttempts: 2 });
  const body = '{"model":"m","messages":[]}';
  await store.requests.enqueue(newRequestFixture({ model: 'm', body, bytes: 10, tokens: 1 }), {});
  const flushId = newFlushId();
  const limits = { maxRequests: 10, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 60_000 };
  await store.flushes.claim(0, 'chat.completions|m', flushId, limits, true);
  await store.flushes.recordSubmission(0, (await store.flushes.get(0, flushId))!, batchId, `file_${batchId}`);
  return { store, batch: (await store.batches.get(0, batchId))! };
}

const poll = (status: string, polls: number) => ({ status, total: 1, completed: 0, failed: 0, polls });

describe('BatchStore moves', () => {
  it('records polls in any order while live, then refuses to leave a finished status', async () => {
    const { store, batch } = await submittedBatch('batch_moves');
    expect(batch.status).toBe('submitted');
    expect(await store.batches.recordPoll(0, batch.id, poll('validating', 1))).toBe('recorded');
    expect(await store.batches.recordPoll(0, batch.id, poll('in_progress', 2))).toBe('recorded');
    expect(await store.batches.recordPoll(0, batch.id, poll('in_progress', 3))).toBe('recorded');
    expect(await store.batches.recordPoll(0, batch.id, poll('completed', 4))).toBe('recorded');
    // The same status again is no move (routing interrupted, polled again).
    expect(await store.batches.recordPoll(0, batch.id, poll('completed', 5))).toBe('recorded');
    await expect(store.batches.recordPoll(0, batch.id, poll('in_progress', 6))).rejects.toThrow(
      /ILLEGAL_BATCH_TRANSITION completed -> in_progress/,
    );
    expect((await store.batches.get(0, batch.id))?.status).toBe('completed');
    expect(await shared.redis.hget(store.keys.partitionKeys(0).batch(batch.id), 'polls')).toBe('5');
  });

  it('routes a batch once: a routed batch takes neither a poll nor a second routing', async () => {
    const { store, batch } = await submittedBatch('batch_once');
    expect(await store.batches.finish(0, batch, 'completed', { completed: 1, failed: 0, retried: 0 })).toBe(true);
    const routed = (await store.batches.get(0, batch.id))!;
    expect(await store.batches.finish(0, batch, 'not_found', { completed: 0, failed: 0, retried: 0 })).toBe(false);
    expect(await store.batches.recordPoll(0, batch.id, poll('in_progress', 9))).toBe('routed');
    expect(await store.batches.get(0, batch.id)).toEqual(routed);
  });

  it('refuses an unknown status and answers a poll of a batch whose record is gone as missing', async () => {
    const { store, batch } = await submittedBatch('batch_odd');
    await expect(store.batches.finish(0, batch, 'exploded')).rejects.toThrow(/ILLEGAL_BATCH_TRANSITION/);
    expect(await store.batches.live(0)).toEqual([batch.id]);
    expect(await store.batches.recordPoll(0, 'batch_none', poll('in_progress', 1))).toBe('missing');
    expect(await shared.redis.exists(store.keys.partitionKeys(0).batch('batch_none'))).toBe(0);
  });

  it('lets a batch the provider lost after finishing be abandoned', async () => {
    const { store, batch } = await submittedBatch('batch_lost');
    await store.batches.recordPoll(0, batch.id, poll('completed', 1));
    expect(await store.batches.finish(0, batch, 'not_found')).toBe(true);
    expect((await store.batches.get(0, batch.id))?.status).toBe('not_found');
  });
});
