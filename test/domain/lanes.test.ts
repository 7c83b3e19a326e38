// The lane store (SPEC §10) against real Redis: a fast lane takes a request only while it is queued (never one a flush
// claimed: I2), through the same settle as a batch line; deadlines met and missed are recorded by the finish step;
// the realtime/flex budget is one for every store (replica) on the same Redis.
import { KeySpace, newFlushId, Store } from '@batchbridge/domain';
import { freshPrefix, newRequestFixture, sharedRedisUrl } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let redis: Redis;
let stopRedis: () => Promise<void>;

beforeAll(async () => {
  const shared = await sharedRedisUrl();
  stopRedis = shared.stop;
  redis = new Redis(shared.url);
});
afterAll(async () => {
  await redis.quit();
  await stopRedis();
});

function setup() {
  const keys = new KeySpace(freshPrefix(), 1);
  return { keys, store: new Store(redis, keys, { retentionMs: 60_000, maxAttempts: 3 }) };
}

const limits = { maxRequests: 100, maxBytes: 1_000_000, maxTokens: 1_000_000, maxWaitMs: 0 };

describe('lane claims', () => {
  it('takes a queued request off its queue and settles it as one answer; a second claim finds it stale', async () => {
    const { store, keys } = setup();
    const req = newRequestFixture({ deadlineAt: Date.now() + 10_000 });
    expect((await store.requests.enqueue(req, {})).kind).toBe('created');
    expect(await redis.zscore(keys.partitionKeys(0).deadlines, req.id)).not.toBeNull();

    const claim = await store.lanes.claim(0, req.id, 'realtime');
    expect(claim.claimed).toBe(true);
    if (!claim.claimed) return;
    expect(JSON.parse(claim.outbox)).toMatchObject({ queue: 'lane', data: { requestId: req.id, lane: 'realtime' } });
    expect(await store.lanes.claim(0, req.id, 'flex')).toEqual({ claimed: false, status: 'submitted' });
    // Off the group: a packer finds nothing to claim.
    expect(await store.flushes.claim(0, req.group, newFlushId(), limits, true)).toMatchObject({ claimed: false });
    expect(await redis.zscore(keys.partitionKeys(0).deadlines, req.id)).toBeNull();
    const record = await store.requests.get(req.id);
    expect(record).toMatchObject({ status: 'submitted', lane: 'realtime', attempts: 1, batch_id: claim.runId });

    const answer = { status_code: 200, body: { object: 'chat.completion' } };
    const first = await store.requests.settle(0, claim.runId, [{ id: req.id, kind: 'completed', response: answer }]);
    expect(first.outcomes).toEqual(['completed']);
    expect(first.outbox).toEqual([]);
    expect(await redis.zrange(keys.partitionKeys(0).dlvDue, '0', '-1')).toEqual([req.id]);
    const again = await store.requests.settle(0, claim.runId, [{ id: req.id, kind: 'completed', response: answer }]);
    expect(again.outcomes).toEqual(['stale']);
    const done = await store.requests.get(req.id);
    expect(done).toMatchObject({ status: 'completed', lane: 'realtime', deadline_met: true });
    expect(await store.lanes.deadlineStats(0)).toEqual({ [`realtime|met|${req.group}`]: 1 });
    expect(await store.requests.stateCounts()).toEqual({ queued: 0, batched: 0, submitted: 0 });
  });

  it('never takes a request a flush has claimed', async () => {
    const { store } = setup();
    const req = newRequestFixture({ deadlineAt: Date.now() + 10_000 });
    await store.requests.enqueue(req, {});
    expect(await store.flushes.claim(0, req.group, newFlushId(), limits, true)).toMatchObject({ claimed: true });
    expect(await store.lanes.claim(0, req.id, 'realtime')).toEqual({ claimed: false, status: 'batched' });
    expect((await store.requests.get(req.id))?.lane).toBe('batch');
  });

  it('sends a failed fast-lane call back to the batch queue, indexed again', async () => {
    const { store, keys } = setup();
    const req = newRequestFixture({ deadlineAt: Date.now() + 10_000 });
    await store.requests.enqueue(req, {});
    const claim = await store.lanes.claim(0, req.id, 'flex');
    if (!claim.claimed) throw new Error('not claimed');
    expect(
      (await store.requests.settle(0, claim.runId, [{ id: req.id, kind: 'retry', message: 'boom' }])).outcomes,
    ).toEqual(['retried']);
    expect(await store.requests.get(req.id)).toMatchObject({ status: 'queued', lane: 'batch', attempts: 1 });
    expect(await redis.zscore(keys.partitionKeys(0).deadlines, req.id)).not.toBeNull();
    expect(await store.flushes.claim(0, req.group, newFlushId(), limits, true)).toMatchObject({ claimed: true });
  });

  it('records a missed deadline', async () => {
    const { store } = setup();
    const req = newRequestFixture({ deadlineAt: Date.now() + 20 });
    await store.requests.enqueue(req, {});
    const claim = await store.lanes.claim(0, req.id, 'realtime');
    if (!claim.claimed) throw new Error('not claimed');
    await new Promise((r) => setTimeout(r, 40));
    await store.requests.settle(0, claim.runId, [{ id: req.id, kind: 'rejected', message: 'no' }]);
    expect(await store.requests.get(req.id)).toMatchObject({ status: 'failed', deadline_met: false });
  });
});

describe('the shared budget', () => {
  it('is one for every store on the same Redis: concurrency, requests per minute, Retry-After', async () => {
    const { keys } = setup();
    const a = new Store(redis, keys, { retentionMs: 60_000, maxAttempts: 3 });
    const other = redis.duplicate();
    const b = new Store(other, keys, { retentionMs: 60_000, maxAttempts: 3 });
    const call = (member: string) => ({ member, tokens: 10, leaseMs: 5_000 });
    expect(await a.lanes.acquire('p1', 'realtime', { concurrency: 1 }, call('r1'))).toEqual({ ok: true });
    expect(await b.lanes.acquire('p1', 'realtime', { concurrency: 1 }, call('r2'))).toMatchObject({ ok: false });
    await a.lanes.release('p1', 'r1');
    expect(await b.lanes.acquire('p1', 'realtime', { concurrency: 1 }, call('r2'))).toEqual({ ok: true });

    expect(await a.lanes.acquire('p2', 'realtime', { rpm: 2 }, call('x1'))).toEqual({ ok: true });
    expect(await b.lanes.acquire('p2', 'realtime', { rpm: 2 }, call('x2'))).toEqual({ ok: true });
    const third = await a.lanes.acquire('p2', 'realtime', { rpm: 2 }, call('x3'));
    expect(third.ok).toBe(false);
    if (!third.ok) expect(third.waitMs).toBeLessThanOrEqual(60_000);

    await b.lanes.backOff('p3', 'flex', 5_000);
    const waiting = await a.lanes.acquire('p3', 'flex', {}, call('f1'));
    expect(waiting.ok).toBe(false);
    if (!waiting.ok) expect(waiting.waitMs).toBeGreaterThan(4_000);
    // Flex's 429 does not stop realtime.
    expect(await a.lanes.acquire('p3', 'realtime', {}, call('f2'))).toEqual({ ok: true });
    await other.quit();
  });

  it('keeps the turnarounds of the last 50 batches', async () => {
    const { store } = setup();
    for (let i = 1; i <= 60; i++) await store.lanes.recordTurnaround('default', 'm', i * 1000);
    const samples = await store.lanes.turnarounds('default', 'm');
    expect(samples).toHaveLength(50);
    expect(samples[0]).toBe(60_000);
  });
});
