// The tenant ledger (SPEC §15) as the settle script writes it: a completed answer is billed once, in its request's
// lane, with its cost on the record; replays, retries and failures bill nothing; the per-partition ledgers sum at
// read time; old days roll up into months.
import { type BillItem, groupFor, KeySpace, ledgerDay, newFlushId, type PartitionId, Store } from '@batchbridge/domain';
import { freshPrefix, newRequestFixture } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { useSharedRedis } from './shared-redis.js';

const shared = useSharedRedis();
const limits = { maxRequests: 100, maxBytes: 10_000_000, maxTokens: 10_000_000, maxWaitMs: 0 };

function setup(options: { ledgerDays?: number } = {}) {
  const keys = new KeySpace(freshPrefix(), 2);
  const store = new Store(shared.redis, keys, { retentionMs: 60_000, maxAttempts: 3, ...options });
  return { keys, store };
}

/** `n` requests of `tenant` submitted in one batch of partition `p`; returns the batch id and the ids in line order. */
async function submitted(store: Store, p: PartitionId, n: number, tenant = 'acme') {
  for (let i = 0; i < n; i++) {
    const r = await store.requests.enqueue(newRequestFixture({ partition: p, tenant, content: `q${i}` }), {});
    expect(r.kind).toBe('created');
  }
  const flushId = newFlushId();
  const claim = await store.flushes.claim(
    p,
    groupFor('/v1/chat/completions', 'gpt-4o-mini', false),
    flushId,
    limits,
    true,
  );
  expect(claim.claimed).toBe(true);
  const batchId = `batch_${flushId}`;
  await store.flushes.recordSubmission(p, (await store.flushes.get(p, flushId))!, batchId, `file_${flushId}`);
  return { batchId, ids: await store.flushes.ids(p, flushId, 0, -1) };
}

const usage = { input_tokens: 1000, cached_tokens: 200, cache_write_tokens: 0, output_tokens: 100 };
/** $0.002 in batch, $0.003 in flex, $0.004 at realtime (nano-USD). */
const bill: BillItem = {
  provider: 'openai',
  model: 'gpt-4o-mini',
  usage,
  lanes: { batch: 2_000_000, flex: 3_000_000, realtime: 4_000_000 },
  rt: 4_000_000,
};
const answer = { status_code: 200, body: { object: 'chat.completion' } };

describe('tenant ledger', () => {
  it('bills a completed answer once, in its lane, and never a replay, a retry or a failure', async () => {
    const { store, keys } = setup();
    const { batchId, ids } = await submitted(store, 0, 5);
    // Issue 20's lane field on the record: this one ran in the flex lane.
    await shared.redis.hset(keys.partitionKeys(0).req(ids[1]!), 'lane', 'flex');
    const items = [
      { id: ids[0]!, kind: 'completed' as const, response: answer, bill },
      { id: ids[1]!, kind: 'completed' as const, response: answer, bill },
      {
        id: ids[2]!,
        kind: 'completed' as const,
        response: answer,
        bill: { provider: bill.provider, model: bill.model, usage, lanes: {} },
      },
      { id: ids[3]!, kind: 'retry' as const, message: 'server_error' },
      { id: ids[4]!, kind: 'rejected' as const, response: { status_code: 400, body: {} }, message: 'bad' },
    ];
    const first = await store.requests.settle(0, batchId, items);
    expect(first.outcomes).toEqual(['completed', 'completed', 'completed', 'retried', 'failed']);
    expect(first.billed).toEqual([
      { tenant: 'acme', lane: 'batch', usdNano: 2_000_000, realtimeNano: 4_000_000, priced: true },
      { tenant: 'acme', lane: 'flex', usdNano: 3_000_000, realtimeNano: 4_000_000, priced: true },
      { tenant: 'acme', lane: 'batch', usdNano: 0, realtimeNano: 0, priced: false },
      undefined,
      undefined,
    ]);
    // The routing of the same files again (a crash, a second poller): everything is stale, nothing billed twice.
    const again = await store.requests.settle(0, batchId, items);
    expect(again.outcomes).toEqual(['stale', 'stale', 'stale', 'stale', 'stale']);
    expect(again.billed).toEqual([undefined, undefined, undefined, undefined, undefined]);

    const records = await store.requests.objects(ids);
    expect(records[0]).toMatchObject({
      usage,
      cost: { usd: 0.002, realtime_usd: 0.004, saved_usd: 0.002, lane: 'batch', priced: true },
    });
    expect(records[1]?.cost).toEqual({ usd: 0.003, realtime_usd: 0.004, saved_usd: 0.001, lane: 'flex', priced: true });
    expect(records[2]?.cost).toEqual({ usd: null, realtime_usd: null, saved_usd: null, lane: 'batch', priced: false });
    expect(records[3]).toMatchObject({ status: 'queued', usage: null, cost: null });
    expect(records[4]).toMatchObject({ status: 'failed', usage: null, cost: null });

    const { day, month } = ledgerDay(Date.now());
    const report = await store.ledger.usage('acme', day, day);
    expect(report.total).toEqual({
      usd: 0.005,
      realtime_usd: 0.008,
      saved_usd: 0.003,
      requests: 3,
      unpriced_requests: 1,
    });
    expect(report.data).toEqual([
      {
        date: day,
        provider: 'openai',
        model: 'gpt-4o-mini',
        lane: 'batch',
        usd: 0.002,
        realtime_usd: 0.004,
        saved_usd: 0.002,
        requests: 2,
        unpriced_requests: 1,
      },
      {
        date: day,
        provider: 'openai',
        model: 'gpt-4o-mini',
        lane: 'flex',
        usd: 0.003,
        realtime_usd: 0.004,
        saved_usd: 0.001,
        requests: 1,
        unpriced_requests: 0,
      },
    ]);
    expect(await store.ledger.spend('acme', day, month)).toEqual({ dayUsd: 0.005, monthUsd: 0.005, monthRequests: 2 });
    expect((await store.ledger.usage('other', day, day)).total.requests).toBe(0);
  });

  it('sums the partitions at read time and groups by one field', async () => {
    const { store } = setup();
    for (const p of [0, 1]) {
      const { batchId, ids } = await submitted(store, p, 2);
      await store.requests.settle(
        p,
        batchId,
        ids.map((id) => ({ id, kind: 'completed' as const, response: answer, bill })),
      );
    }
    const { day } = ledgerDay(Date.now());
    const byLane = await store.ledger.usage('acme', day, day, 'lane');
    expect(byLane.data).toEqual([
      {
        date: day,
        provider: null,
        model: null,
        lane: 'batch',
        usd: 0.008,
        realtime_usd: 0.016,
        saved_usd: 0.008,
        requests: 4,
        unpriced_requests: 0,
      },
    ]);
    expect(byLane.total.requests).toBe(4);
  });

  it('rolls days older than the ledger keeps into their month, keeping the money', async () => {
    const { store, keys } = setup({ ledgerDays: 30 });
    const k = keys.partitionKeys(0);
    // A day 40 days ago, as an earlier settle would have left it.
    const old = ledgerDay(Date.now() - 40 * 86_400_000);
    await shared.redis.zadd(k.ledger('acme'), String(old.epochDay), old.day);
    await shared.redis.hset(k.ledgerPeriod('acme', old.day), {
      'n|openai|gpt-4o-mini|batch': 3,
      'usd|openai|gpt-4o-mini|batch': 6_000_000,
      'rt|openai|gpt-4o-mini|batch': 12_000_000,
    });
    const { batchId, ids } = await submitted(store, 0, 1);
    await store.requests.settle(0, batchId, [{ id: ids[0]!, kind: 'completed', response: answer, bill }]);

    const { day } = ledgerDay(Date.now());
    expect(await shared.redis.zrange(k.ledger('acme'), '0', '-1')).toEqual([old.month, day]);
    expect(await shared.redis.exists(k.ledgerPeriod('acme', old.day))).toBe(0);
    const report = await store.ledger.usage('acme', old.day, day);
    expect(report.data.map((r) => [r.date, r.requests, r.usd])).toEqual([
      [old.month, 3, 0.006],
      [day, 1, 0.002],
    ]);
    expect(report.total).toMatchObject({ usd: 0.008, requests: 4 });
  });

  it('bills the same from the compact item options as from the JSON ones (windows, lanes, unpriced, fractions)', async () => {
    const { store, keys } = setup();
    const { batchId, ids } = await submitted(store, 0, 8);
    const k = keys.partitionKeys(0);
    // A completion window's group (billed at `batch@1h`) and a flex lane, each twice.
    for (const id of [ids[0]!, ids[1]!])
      await shared.redis.hset(k.req(id), 'group', '/v1/chat/completions@1h|gpt-4o-mini');
    for (const id of [ids[2]!, ids[3]!]) await shared.redis.hset(k.req(id), 'lane', 'flex');
    const priced: BillItem = { ...bill, lanes: { ...bill.lanes, 'batch@1h': 1_234_567.5 }, rt: 4_000_000.25 };
    const unpriced: BillItem = { provider: 'openai', model: 'gpt-4o-mini', usage, lanes: {} };
    // A message on a completed item is unused by the script but keeps its options in the JSON form.
    const pair = (i: number, b: BillItem, extra = {}) => [
      { id: ids[i]!, kind: 'completed' as const, response: answer, bill: b, ...extra },
      { id: ids[i + 1]!, kind: 'completed' as const, response: answer, bill: b, message: 'json', ...extra },
    ];
    const result = await store.requests.settle(0, batchId, [
      ...pair(0, priced),
      ...pair(2, priced),
      ...pair(4, unpriced, { truncated: true }),
      ...pair(6, priced),
    ]);
    expect(result.outcomes).toEqual(Array(8).fill('completed'));
    const fields = ['usage', 'cost', 'truncated', 'status', 'lane'];
    for (let i = 0; i < 8; i += 2) {
      expect(result.billed[i]).toEqual(result.billed[i + 1]);
      const [a, b] = await Promise.all([
        shared.redis.hmget(k.req(ids[i]!), ...fields),
        shared.redis.hmget(k.req(ids[i + 1]!), ...fields),
      ]);
      expect(a).toEqual(b);
    }
    expect(result.billed[0]).toMatchObject({ usdNano: 1_234_567, realtimeNano: 4_000_000, priced: true });
    expect(result.billed[2]).toMatchObject({ lane: 'flex', usdNano: 3_000_000 });
    expect(result.billed[4]).toMatchObject({ priced: false });
    expect(result.billed[6]).toMatchObject({ lane: 'batch', usdNano: 2_000_000 });
  });
});
