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

/** Claims a request's group into a flush and submits it as provider batch `batchId`; the request is then `submitted`. */
async function intoBatch(store: Store, group: string, batchId: string): Promise<void> {
  const claim = await store.flushes.claim(0, group, newFlushId(), limits, true);
  if (!claim.claimed) throw new Error('not claimed');
  const flush = await store.flushes.get(0, claim.flushId);
  if (!flush) throw new Error('no flush');
  await store.flushes.recordSubmission(0, flush, batchId, `file_${batchId}`);
}

describe('the deadline index on the ways back to the queue and out of it', () => {
  it('holds a request sent back by its batch (failed and split, expired, cancelled) and drops a finished one', async () => {
    const { store, keys } = setup();
    const deadlines = keys.partitionKeys(0).deadlines;
    const deadlineAt = Date.now() + 600_000;
    const req = newRequestFixture({ deadlineAt });
    await store.requests.enqueue(req, {});

    // A failed batch split into isolation groups (requeue into another group, attempt given back).
    await intoBatch(store, req.group, 'batch_split');
    // The deadline pass saw it in the batch and took it out of the index.
    await store.lanes.unindex(0, req.id);
    const iso = `${req.group}|iso:fx_a`;
    const split = await store.requests.settle(0, 'batch_split', [
      { id: req.id, kind: 'requeue', message: 'batch_failed', group: iso },
    ]);
    expect(split.outcomes).toEqual(['retried']);
    expect(await store.requests.get(req.id)).toMatchObject({ status: 'queued', group: iso, attempts: 0 });
    expect(Number(await redis.zscore(deadlines, req.id))).toBe(deadlineAt);
    // Planned again from there: a lane may take it.
    expect((await store.lanes.due(0, '+inf', 10)).map((c) => c.id)).toEqual([req.id]);

    // An expired batch (retry: the attempt counts).
    await intoBatch(store, iso, 'batch_expired');
    await store.lanes.unindex(0, req.id);
    await store.requests.settle(0, 'batch_expired', [{ id: req.id, kind: 'retry', message: 'batch_expired' }]);
    expect(await store.requests.get(req.id)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(Number(await redis.zscore(deadlines, req.id))).toBe(deadlineAt);

    // A batch cancelled to meet deadlines, this request not marked at risk: requeued, attempt given back, indexed.
    await intoBatch(store, iso, 'batch_escalated');
    await store.lanes.toLive(0, req.id, deadlineAt);
    expect(await redis.zscore(deadlines, req.id)).toBeNull();
    await store.requests.settle(0, 'batch_escalated', [{ id: req.id, kind: 'escalate', message: 'batch_cancelled' }]);
    expect(await store.requests.get(req.id)).toMatchObject({ status: 'queued', attempts: 1, lane: 'batch' });
    expect(Number(await redis.zscore(deadlines, req.id))).toBe(deadlineAt);

    // Cancelled by its tenant while queued: finished, out of the index.
    expect((await store.requests.cancel(req.id, req.tenant)).kind).toBe('cancelled');
    expect(await redis.zscore(deadlines, req.id)).toBeNull();

    // A flush the provider refused for good: its requests fail, out of the index.
    const other = newRequestFixture({ deadlineAt });
    await store.requests.enqueue(other, {});
    const claim = await store.flushes.claim(0, other.group, newFlushId(), limits, true);
    if (!claim.claimed) throw new Error('not claimed');
    await store.flushes.fail(0, claim.flushId, 'refused');
    expect(await store.requests.get(other.id)).toMatchObject({ status: 'failed' });
    expect(await redis.zscore(deadlines, other.id)).toBeNull();
  });
});

describe('escalation (ESCALATE_CANCEL_BATCHES)', () => {
  it('hands a marked request of a cancelled batch to its lane in the settle itself, once; requeues the others', async () => {
    const { store, keys } = setup();
    const k = keys.partitionKeys(0);
    const deadlineAt = Date.now() + 60_000;
    const atRisk = newRequestFixture({ deadlineAt, content: 'at risk' });
    const patient = newRequestFixture({ deadlineAt: deadlineAt + 3_600_000, content: 'patient' });
    await store.requests.enqueue(atRisk, {});
    await store.requests.enqueue(patient, {});
    await intoBatch(store, atRisk.group, 'batch_esc');
    for (const r of [atRisk, patient]) await store.lanes.toLive(0, r.id, r.deadlineAt as number);
    expect((await store.lanes.liveDue(0, 10)).map((e) => [e.id, e.batchId])).toEqual([
      [atRisk.id, 'batch_esc'],
      [patient.id, 'batch_esc'],
    ]);

    expect(await store.lanes.markEscalated(0, 'batch_esc', [{ id: atRisk.id, lane: 'realtime' }])).toEqual({
      marked: true,
      requests: 1,
    });
    // A second packer running the same pass: the mark is taken once.
    expect((await store.lanes.markEscalated(0, 'batch_esc', [{ id: atRisk.id, lane: 'flex' }])).marked).toBe(false);
    expect((await store.batches.get(0, 'batch_esc'))?.escalated_at).toBeGreaterThan(0);
    // Marked, nothing moved: the batch may still answer it.
    expect(await store.requests.get(atRisk.id)).toMatchObject({ status: 'submitted', batch_id: 'batch_esc' });

    const items = [atRisk, patient].map((r) => ({ id: r.id, kind: 'escalate' as const, message: 'batch_cancelled' }));
    const first = await store.requests.settle(0, 'batch_esc', items);
    expect(first.outcomes).toEqual(['retried', 'retried']);
    const run = `lane_realtime_${atRisk.id}_1e`;
    expect(first.outbox.map((m) => JSON.parse(m))).toEqual([
      expect.objectContaining({ queue: 'lane', data: expect.objectContaining({ requestId: atRisk.id, runId: run }) }),
    ]);
    expect(await store.requests.get(atRisk.id)).toMatchObject({ status: 'submitted', lane: 'realtime', attempts: 1 });
    expect(await redis.hget(k.req(atRisk.id), 'batch_id')).toBe(run);
    expect(await redis.zscore(k.laneRuns, atRisk.id)).not.toBeNull();
    expect(await store.requests.get(patient.id)).toMatchObject({ status: 'queued', lane: 'batch', attempts: 0 });
    // Routed again (a crash after the settle): nothing changes.
    const again = await store.requests.settle(0, 'batch_esc', items);
    expect(again.outcomes).toEqual(['stale', 'stale']);
    expect(again.outbox).toEqual([]);

    // The lane run answers it, once.
    const answer = { status_code: 200, body: { object: 'chat.completion' } };
    const done = await store.requests.settle(0, run, [{ id: atRisk.id, kind: 'completed', response: answer }]);
    expect(done.outcomes).toEqual(['completed']);
    expect(await store.requests.get(atRisk.id)).toMatchObject({
      status: 'completed',
      lane: 'realtime',
      deadline_met: true,
    });
    expect(await store.requests.stateCounts()).toEqual({ queued: 1, batched: 0, submitted: 0 });
  });
});

describe('the live-deadline index (ESCALATE_CANCEL_BATCHES)', () => {
  it('loses a request when it finishes, goes back to the queue or to a lane: it stays bounded', async () => {
    const { store, keys } = setup();
    const live = keys.partitionKeys(0).liveDeadlines;
    const deadlineAt = Date.now() + 600_000;
    const answered = newRequestFixture({ deadlineAt, content: 'answered by its batch' });
    const failed = newRequestFixture({ deadlineAt, content: 'refused by the provider' });
    const requeued = newRequestFixture({ deadlineAt, content: 'sent back to the queue' });
    const escalated = newRequestFixture({ deadlineAt, content: 'handed to a lane' });
    const all = [answered, failed, requeued, escalated];
    for (const r of all) await store.requests.enqueue(r, {});
    await intoBatch(store, answered.group, 'batch_live');
    // The deadline pass saw them in the live batch.
    for (const r of all) await store.lanes.toLive(0, r.id, deadlineAt);
    expect(await redis.zcard(live)).toBe(4);
    await store.lanes.markEscalated(0, 'batch_live', [{ id: escalated.id, lane: 'realtime' }]);

    const answer = { status_code: 200, body: { object: 'chat.completion' } };
    const refusal = { status_code: 400, body: { error: { message: 'no' } } };
    const settled = await store.requests.settle(0, 'batch_live', [
      { id: answered.id, kind: 'completed', response: answer },
      { id: failed.id, kind: 'rejected', response: refusal, message: 'no' },
      { id: requeued.id, kind: 'retry', message: 'batch_expired' },
      { id: escalated.id, kind: 'escalate', message: 'batch_cancelled' },
    ]);
    expect(settled.outcomes).toEqual(['completed', 'failed', 'retried', 'retried']);
    // Each left the index in its own settle, with no escalation pass running: nothing lingers until a pass.
    expect(await redis.zcard(live)).toBe(0);
    expect(await store.lanes.liveDue(0, 10)).toEqual([]);
    expect(await store.requests.get(escalated.id)).toMatchObject({ status: 'submitted', lane: 'realtime' });
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
