import { jobIds, KeySpace, newFlushId, newRequestId, Store } from '@batchbridge/domain';
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

function setup(maxAttempts = 2) {
  const keys = new KeySpace(freshPrefix(), 2);
  const store = new Store(redis, keys, { retentionMs: 60_000, maxAttempts });
  return { keys, store };
}

async function add(store: Store, partition: number, extra: Partial<{ idem: string; body: string }> = {}) {
  const body = extra.body ?? '{"model":"m","messages":[]}';
  const req = newRequestFixture({
    partition,
    model: 'm',
    body,
    bytes: 100,
    tokens: 10,
    idempotencyKey: extra.idem,
    bodyHash: body,
  });
  const r = await store.requests.enqueue(req, {});
  return { id: req.id, r };
}

const limits = { maxRequests: 3, maxBytes: 1_000_000, maxTokens: 1_000_000, maxWaitMs: 60_000 };

describe('RequestStore lifecycle', () => {
  it('enqueues, claims by count, submits and completes with one outbox entry per step', async () => {
    const { store } = setup();
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await add(store, 1)).id);
    expect((await store.requests.get(ids[0]!))?.status).toBe('queued');
    expect(await store.requests.stateCounts()).toEqual({ queued: 4, batched: 0, submitted: 0 });

    const fid = newFlushId();
    const claim = await store.flushes.claim(1, 'chat.completions|m', fid, limits);
    expect(claim).toMatchObject({ claimed: true, count: 3, reason: 'count' });
    // The fourth is not due yet (count 1 < 3, age < wait).
    expect(await store.flushes.claim(1, 'chat.completions|m', newFlushId(), limits)).toEqual({
      claimed: false,
      why: 'not_due',
    });
    // Oldest first; requests enqueued within the same millisecond come in id order.
    const flushIds = await store.flushes.ids(1, fid, 0, -1);
    expect(flushIds).toHaveLength(3);
    expect(new Set([...flushIds, ...ids]).size).toBe(4);
    // From here on, ids[0..2] are the claimed ones in line order, ids[3] the one left queued.
    ids.splice(0, ids.length, ...flushIds, ...ids.filter((id) => !flushIds.includes(id)));

    const flush = (await store.flushes.get(1, fid))!;
    const poll = await store.flushes.recordSubmission(1, flush, 'batch_1', 'file_1');
    expect(JSON.parse(poll)).toEqual({
      queue: 'poll',
      jobId: jobIds.poll('batch_1'),
      data: { partition: 1, batchId: 'batch_1' },
    });
    // A second recording (after a crash) changes nothing and gives the same entry.
    expect(await store.flushes.recordSubmission(1, flush, 'batch_1', 'file_1')).toBe(poll);
    const rec = (await store.requests.get(ids[0]!))!;
    expect(rec).toMatchObject({ status: 'submitted', batch_id: 'batch_1', attempts: 1 });

    const settled = await store.requests.settle(1, 'batch_1', [
      { id: ids[0]!, kind: 'completed', response: { status_code: 200, body: { ok: 1 } } },
      { id: ids[1]!, kind: 'rejected', response: { status_code: 400, body: {} }, message: 'bad' },
      { id: ids[2]!, kind: 'retry', message: 'batch_expired' },
      { id: 'breq_01nope', kind: 'completed' },
    ]);
    expect(settled.outcomes).toEqual(['completed', 'failed', 'retried', 'unknown']);
    // The finished ones are due for delivery in the same step (no outbox entry, no BullMQ job).
    expect(settled.outbox).toEqual([]);
    expect((await redis.zrange(store.keys.partitionKeys(1).dlvDue, '0', '-1')).sort()).toEqual(
      [ids[0]!, ids[1]!].sort(),
    );
    // Routing the same results again changes nothing.
    const again = await store.requests.settle(1, 'batch_1', [{ id: ids[0]!, kind: 'completed', response: {} }]);
    expect(again.outcomes).toEqual(['stale']);
    expect((await store.requests.get(ids[1]!))?.error).toEqual({ code: 'provider_rejected', message: 'bad' });
    const retried = (await store.requests.get(ids[2]!))!;
    expect(retried).toMatchObject({ status: 'queued', attempts: 1, batch_id: undefined });
    expect(await store.requests.stateCounts()).toEqual({ queued: 2, batched: 0, submitted: 0 });
  });

  it('settles a large chunk in order with per-request guards; a replay changes nothing', async () => {
    const { store } = setup();
    const n = 600; // more than one SETTLE_MANY slice (500)
    for (let i = 0; i < n; i++) await add(store, 0);
    const fid = newFlushId();
    const big = { ...limits, maxRequests: n };
    expect(await store.flushes.claim(0, 'chat.completions|m', fid, big, true)).toMatchObject({
      claimed: true,
      count: n,
    });
    await store.flushes.recordSubmission(0, (await store.flushes.get(0, fid))!, 'batch_big', 'f');
    const ids = await store.flushes.ids(0, fid, 0, -1);
    const items: Array<{ id: string; kind: 'completed' | 'retry'; response?: unknown; message?: string }> = ids.map(
      (id, i) =>
        i % 5 === 4
          ? { id, kind: 'retry' as const, message: 'batch_expired: late' }
          : { id, kind: 'completed' as const, response: { status_code: 200, body: { n: i, text: 'é "q" \\' } } },
    );
    // The same request twice in one chunk: the second line finds it settled.
    items.push({ id: ids[0]!, kind: 'completed', response: { status_code: 200, body: { n: -1 } } });
    const first = await store.requests.settle(0, 'batch_big', items);
    expect(first.outcomes.slice(0, n)).toEqual(ids.map((_, i) => (i % 5 === 4 ? 'retried' : 'completed')));
    expect(first.outcomes[n]).toBe('stale');
    expect(first.outbox).toEqual([]);
    expect((await redis.zrange(store.keys.partitionKeys(0).dlvDue, '0', '-1')).sort()).toEqual(
      ids.filter((_, i) => i % 5 !== 4).sort(),
    );
    expect((await store.requests.get(ids[7]!))?.response).toEqual({
      status_code: 200,
      body: { n: 7, text: 'é "q" \\' },
    });
    expect((await store.requests.get(ids[0]!))?.response).toEqual({
      status_code: 200,
      body: { n: 0, text: 'é "q" \\' },
    });
    const counts = await store.requests.stateCounts();
    expect(counts).toEqual({ queued: n / 5, batched: 0, submitted: 0 });

    const again = await store.requests.settle(0, 'batch_big', items);
    expect(again.outcomes.every((o) => o === 'stale')).toBe(true);
    expect(again.outbox).toEqual([]);
    expect(await redis.zcard(store.keys.partitionKeys(0).dlvDue)).toBe(n - n / 5);
    // Not submitted in this batch: stale, even for a request of the right partition.
    expect(
      (await store.requests.settle(0, 'other_batch', [{ id: ids[1]!, kind: 'retry', message: 'x' }])).outcomes,
    ).toEqual(['stale']);
    expect(await store.requests.stateCounts()).toEqual(counts);
    expect((await store.requests.settle(0, 'batch_big', [])).outcomes).toEqual([]);
  });

  it('stores a body sent as the provider wrote it byte for byte, wrapped with its status code', async () => {
    const { store } = setup();
    const { id } = await add(store, 0);
    const fid = newFlushId();
    await store.flushes.claim(0, 'chat.completions|m', fid, limits, true);
    await store.flushes.recordSubmission(0, (await store.flushes.get(0, fid))!, 'batch_bytes', 'f');
    // As the provider wrote it (spacing, number forms, escapes): not what JSON.stringify of the parsed body gives.
    const body = Buffer.from('{ "object":"list","data":[{"embedding":[1.50E-3, -0.0]}], "t":"\u00e9 é" }');
    const settled = await store.requests.settle(0, 'batch_bytes', [
      { id, kind: 'completed', response: { status_code: 200, body: {} }, responseBody: body },
    ]);
    expect(settled.outcomes).toEqual(['completed']);
    expect(await redis.hget(store.keys.partitionKeys(0).req(id), 'response')).toBe(
      `{"status_code":200,"body":${body.toString('utf8')}}`,
    );
    expect((await store.requests.get(id))?.response).toEqual({ status_code: 200, body: JSON.parse(body.toString()) });
  });

  it('sends bodies as bytes beside other items, whether Redis has the script loaded or not', async () => {
    const { store } = setup();
    const limits4 = { ...limits, maxRequests: 4 };
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await add(store, 1)).id);
    const fid = newFlushId();
    await store.flushes.claim(1, 'chat.completions|m', fid, limits4, true);
    await store.flushes.recordSubmission(1, (await store.flushes.get(1, fid))!, 'batch_spread', 'f');
    const big = Buffer.from(`{"data":[${'0.125,'.repeat(20_000)}1],"t":"\u00e9 \u{1f600}"}`);
    const small = Buffer.from('{"object":"list"}');
    const calls = async (cmd: string) =>
      Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await redis.info('commandstats'))?.[1] ?? 0);
    // A Redis without the script (restarted, SCRIPT FLUSH): answered NOSCRIPT, then sent the ordinary way.
    await redis.script('FLUSH');
    const first = await store.requests.settle(1, 'batch_spread', [
      { id: ids[0]!, kind: 'completed', response: { status_code: 200, body: {} }, responseBody: big },
      { id: ids[1]!, kind: 'completed', response: { status_code: 200, body: { a: 1 } } },
    ]);
    expect(first.outcomes).toEqual(['completed', 'completed']);
    const evalshaBefore = await calls('evalsha');
    const evalBefore = await calls('eval');
    const second = await store.requests.settle(1, 'batch_spread', [
      { id: ids[2]!, kind: 'completed', response: { status_code: 201, body: {} }, responseBody: small },
      { id: ids[0]!, kind: 'completed', response: { status_code: 200, body: {} }, responseBody: small },
      { id: ids[3]!, kind: 'retry', message: 'expired' },
    ]);
    expect(second.outcomes).toEqual(['completed', 'stale', 'retried']);
    expect(await calls('evalsha')).toBe(evalshaBefore + 1);
    expect(await calls('eval')).toBe(evalBefore);
    const k = store.keys.partitionKeys(1);
    expect(await redis.hget(k.req(ids[0]!), 'response')).toBe(`{"status_code":200,"body":${big.toString('utf8')}}`);
    expect(await redis.hget(k.req(ids[1]!), 'response')).toBe('{"status_code":200,"body":{"a":1}}');
    expect(await redis.hget(k.req(ids[2]!), 'response')).toBe(`{"status_code":201,"body":${small.toString('utf8')}}`);
    expect((await store.requests.get(ids[3]!))?.status).toBe('queued');
  });

  it('fails a request after MAX_ATTEMPTS batches with the last error', async () => {
    const { store } = setup(2);
    const { id } = await add(store, 0);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const fid = newFlushId();
      expect((await store.flushes.claim(0, 'chat.completions|m', fid, limits, true)).claimed).toBe(true);
      await store.flushes.recordSubmission(0, (await store.flushes.get(0, fid))!, `b${attempt}`, 'f');
      await store.requests.settle(0, `b${attempt}`, [{ id, kind: 'retry', message: `expired ${attempt}` }]);
    }
    const rec = (await store.requests.get(id))!;
    expect(rec.status).toBe('failed');
    expect(rec.attempts).toBe(2);
    expect(rec.error).toEqual({
      code: 'max_attempts_exceeded',
      message: 'gave up after 2 attempts; last error: expired 2',
    });
  });

  it('cancels only queued requests of the same tenant', async () => {
    const { store } = setup();
    const a = await add(store, 0);
    expect(await store.requests.cancel(a.id, 'other')).toEqual({ kind: 'not_found' });
    expect((await store.requests.cancel(a.id, 'acme')).kind).toBe('cancelled');
    expect((await store.requests.get(a.id))?.status).toBe('cancelled');
    const b = await add(store, 0);
    await store.flushes.claim(0, 'chat.completions|m', newFlushId(), limits, true);
    expect(await store.requests.cancel(b.id, 'acme')).toEqual({ kind: 'conflict', status: 'batched' });
    expect(await store.flushes.groups(0)).toEqual([]);
  });

  it('replays an Idempotency-Key and says whether the body matched', async () => {
    const { store } = setup();
    const first = await add(store, 1, { idem: 'k1' });
    const same = await add(store, 1, { idem: 'k1' });
    expect(same.r).toEqual({ kind: 'replayed', id: first.id, sameBody: true });
    const other = await add(store, 1, { idem: 'k1', body: '{"x":1}' });
    expect(other.r).toEqual({ kind: 'replayed', id: first.id, sameBody: false });
  });

  it('enforces quotas and never claims one request twice across concurrent claims', async () => {
    const { store } = setup();
    const quota = await store.requests.enqueue(
      newRequestFixture({ model: 'm', group: 'g', body: '{}', bytes: 1, tokens: 1 }),
      {
        tenantMax: 1,
        tenantOpenElsewhere: 1,
      },
    );
    expect(quota).toEqual({ kind: 'quota_tenant' });
    for (let i = 0; i < 50; i++) await add(store, 0);
    const claims = await Promise.all(
      Array.from({ length: 10 }, () =>
        store.flushes.claim(0, 'chat.completions|m', newFlushId(), { ...limits, maxRequests: 7 }, true),
      ),
    );
    const all: string[] = [];
    for (const c of claims) if (c.claimed) all.push(...(await store.flushes.ids(0, c.flushId, 0, -1)));
    expect(all).toHaveLength(50);
    expect(new Set(all).size).toBe(50);
  });

  it('creates requests enqueued together one by one: quotas, repeated keys and both partitions as if sent apart', async () => {
    const { store, keys } = setup();
    const request = (partition: number, n: number, idem?: string) =>
      newRequestFixture({
        partition,
        model: 'm',
        group: 'g',
        body: `{"n":${n}}`,
        bytes: 1,
        tokens: 1,
        clientRef: `ref-${n}`,
        callbackUrl: 'https://example.com/hook',
        idempotencyKey: idem,
        bodyHash: idem === undefined ? undefined : `h${n}`,
      });
    // All in one turn of the event loop: one ENQUEUE_MANY call per partition.
    const reqs = [
      request(0, 1, 'same'),
      request(0, 2, 'same'),
      request(0, 3),
      request(0, 4),
      request(1, 5),
      request(1, 6, 'other'),
    ];
    const results = await Promise.all(reqs.map((r) => store.requests.enqueue(r, { tenantMax: 3 })));
    expect(results).toEqual([
      { kind: 'created', id: reqs[0]!.id },
      { kind: 'replayed', id: reqs[0]!.id, sameBody: false },
      { kind: 'created', id: reqs[2]!.id },
      { kind: 'created', id: reqs[3]!.id },
      { kind: 'created', id: reqs[4]!.id },
      { kind: 'created', id: reqs[5]!.id },
    ]);
    // A fourth open request of the tenant on partition 0 is over its quota of 3 there.
    expect(await store.requests.enqueue(request(0, 7), { tenantMax: 3 })).toEqual({ kind: 'quota_tenant' });
    const third = await store.requests.get(reqs[2]!.id);
    expect(third).toMatchObject({ status: 'queued', client_ref: 'ref-3', callback_url: 'https://example.com/hook' });
    expect(third?.body).toBe('{"n":3}');
    expect((await store.requests.get(reqs[5]!.id))?.body).toBe('{"n":6}');
    expect(await store.requests.get(reqs[1]!.id)).toBeUndefined();
    expect(await store.requests.stateCounts()).toEqual({ queued: 5, batched: 0, submitted: 0 });
    expect(await redis.zcard(keys.partitionKeys(0).pending('g'))).toBe(3);
  });

  it('counts the requests created earlier in one call against the quotas of later ones, and keeps every counter', async () => {
    const { store, keys } = setup();
    const request = (tenant: string, group: string) => ({
      id: newRequestId(0),
      partition: 0,
      tenant,
      model: 'm',
      group,
      body: '{}',
      bytes: 10,
      tokens: 2,
    });
    // One call: acme may hold 2 open requests, everyone together 4.
    const reqs = [
      request('acme', 'g1'),
      request('acme', 'g2'),
      request('acme', 'g1'),
      request('globex', 'g1'),
      request('globex', 'g2'),
      request('globex', 'g1'),
    ];
    const results = await Promise.all(
      reqs.map((r) => store.requests.enqueue(r, { tenantMax: r.tenant === 'acme' ? 2 : 0, globalMax: 4 })),
    );
    expect(results.map((r) => r.kind)).toEqual([
      'created',
      'created',
      'quota_tenant',
      'created',
      'created',
      'quota_global',
    ]);
    const k = keys.partitionKeys(0);
    expect(await redis.get(k.open)).toBe('4');
    expect(await redis.get(k.openTenant('acme'))).toBe('2');
    expect(await redis.get(k.openTenant('globex'))).toBe('2');
    expect(await redis.hgetall(k.group('g1'))).toMatchObject({ count: '2', bytes: '20', tokens: '4' });
    expect(await redis.zrange(k.pending('g1'), '0', '-1')).toEqual([reqs[0]!.id, reqs[3]!.id].sort());
    expect(await store.requests.stateCounts()).toEqual({ queued: 4, batched: 0, submitted: 0 });
    // The next call starts from the stored counts.
    expect(await store.requests.enqueue(request('globex', 'g2'), { globalMax: 4 })).toEqual({ kind: 'quota_global' });
  });

  it('splits a large burst into several calls and answers every request', async () => {
    const { store } = setup();
    const big = 'x'.repeat(64 * 1024);
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        store.requests.enqueue(
          {
            id: newRequestId(0),
            partition: 0,
            tenant: 'acme',
            model: 'm',
            group: 'g',
            body: i % 10 === 0 ? big : '{}',
            bytes: 1,
            tokens: 1,
          },
          {},
        ),
      ),
    );
    expect(results.filter((r) => r.kind === 'created')).toHaveLength(300);
    expect((await store.requests.stateCounts()).queued).toBe(300);
  });

  it('rejects every request of a call when Redis cannot be reached, and none is written', async () => {
    const { store } = setup();
    // A producer connection that is not connected and has no offline queue: what intake holds while Redis is down.
    const client = new Redis((await sharedRedisUrl()).url, { lazyConnect: true, enableOfflineQueue: false });
    const refusing = new Store(client, store.keys, { retentionMs: 60_000, maxAttempts: 2 });
    const ids = [newRequestId(0), newRequestId(0)];
    const results = await Promise.allSettled(
      ids.map((id) =>
        refusing.requests.enqueue(
          { id, partition: 0, tenant: 'acme', model: 'm', group: 'g', body: '{}', bytes: 1, tokens: 1 },
          {},
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const id of ids) expect(await store.requests.get(id)).toBeUndefined();
    client.disconnect();
  });

  it("fixes a webhook body's mark the first time it is built, and every later call rebuilds the same bytes", async () => {
    const { store, keys } = setup();
    const { id } = await add(store, 1);
    const key = keys.partitionKeys(1).req(id);
    const read = async () => (await store.requests.get(id))!;
    const before = await read();
    const first = await store.requests.webhookBody(1, before);
    expect(first.how).toBe('built');
    expect(first.mark).toMatch(/^1\.[A-Za-z0-9_-]{16}$/);
    expect(await redis.hget(key, 'webhook_fp')).toBe(first.mark);
    expect(await redis.hexists(key, 'webhook_body')).toBe(0);
    expect(await store.requests.webhookBody(1, await read())).toEqual({ body: first.body, how: 'rebuilt' });
    // A second attempt that read the record before the first fixed its mark: checked against the fixed one.
    expect(await store.requests.webhookBody(1, before)).toEqual({ body: first.body, how: 'rebuilt' });
    // A record whose mark does not match what this version builds: sent as built now, and said so.
    await redis.hset(key, 'webhook_fp', '1.AAAAAAAAAAAAAAAA');
    expect(await store.requests.webhookBody(1, await read())).toEqual({ body: first.body, how: 'changed' });
    await redis.hset(key, 'webhook_fp', '9.AAAAAAAAAAAAAAAA');
    expect((await store.requests.webhookBody(1, await read())).how).toBe('changed');
    // A record whose body an earlier version stored: those bytes.
    await redis.hset(key, 'webhook_body', '{"stored":1}');
    expect(await store.requests.webhookBody(1, await read())).toEqual({ body: '{"stored":1}', how: 'stored' });
  });

  it('claims a large flush in slices: within the limits, each request in one flush, its outbox entry at the end', async () => {
    const { store, keys } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await add(store, 0)).id);
    let slices = 0;
    const first = await store.flushes.claim(
      0,
      'chat.completions|m',
      newFlushId(),
      { ...limits, maxRequests: 20 },
      true,
      {
        slice: 7,
        afterSlice: async () => {
          slices += 1;
          // Between two calls the flush is visibly unfinished, and its job is not in the outbox yet.
          expect(await redis.zcard(keys.partitionKeys(0).outbox)).toBe(0);
        },
      },
    );
    expect(slices).toBe(2);
    expect(first).toMatchObject({ claimed: true, count: 20, bytes: 2_000, tokens: 200 });
    if (!first.claimed) throw new Error('not claimed');
    const taken = await store.flushes.ids(0, first.flushId, 0, -1);
    expect(taken).toHaveLength(20);
    expect(await store.flushes.get(0, first.flushId)).toMatchObject({ state: 'claimed', count: 20 });
    expect(await redis.zrange(keys.partitionKeys(0).outbox, '0', '-1')).toEqual([first.outbox]);
    // A byte limit reached in a later slice ends the flush there.
    const second = await store.flushes.claim(
      0,
      'chat.completions|m',
      newFlushId(),
      { ...limits, maxRequests: 50, maxBytes: 1_250 },
      true,
      {
        slice: 4,
      },
    );
    expect(second).toMatchObject({ claimed: true, count: 12 });
    const rest = await store.flushes.claim(
      0,
      'chat.completions|m',
      newFlushId(),
      { ...limits, maxRequests: 50 },
      true,
      {
        slice: 4,
      },
    );
    expect(rest).toMatchObject({ claimed: true, count: 18 });
    if (!second.claimed || !rest.claimed) throw new Error('not claimed');
    taken.push(
      ...(await store.flushes.ids(0, second.flushId, 0, -1)),
      ...(await store.flushes.ids(0, rest.flushId, 0, -1)),
    );
    // Every request in exactly one flush.
    expect([...taken].sort()).toEqual([...ids].sort());
    expect(await store.requests.stateCounts()).toEqual({ queued: 0, batched: 50, submitted: 0 });
  });

  it('a flush left claiming is sealed with what it holds, and a late slice adds nothing to it', async () => {
    const { store, keys } = setup();
    for (let i = 0; i < 12; i++) await add(store, 0);
    const fid = newFlushId();
    // The packer "dies" after its first slice: the flush holds 5 requests, is still claiming, has no flush job.
    await expect(
      store.flushes.claim(0, 'chat.completions|m', fid, { ...limits, maxRequests: 12 }, true, {
        slice: 5,
        afterSlice: () => {
          throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(await store.flushes.get(0, fid)).toMatchObject({ state: 'claiming', count: 5 });
    expect(await redis.zcard(keys.partitionKeys(0).outbox)).toBe(0);
    expect(await store.flushes.seal(0, fid)).toBe(true);
    expect(await store.flushes.seal(0, fid)).toBe(false);
    expect(await store.flushes.get(0, fid)).toMatchObject({ state: 'claimed', count: 5 });

    // A slow packer that seals nothing but goes on claiming: its next slice finds the flush sealed.
    const slow = newFlushId();
    const claim = await store.flushes.claim(0, 'chat.completions|m', slow, { ...limits, maxRequests: 7 }, true, {
      slice: 3,
      afterSlice: async () => {
        await store.flushes.seal(0, slow);
      },
    });
    expect(claim).toMatchObject({ claimed: true, count: 3, outbox: '' });
    expect(await store.flushes.ids(0, slow, 0, -1)).toHaveLength(3);
    expect(await store.requests.stateCounts()).toEqual({ queued: 4, batched: 8, submitted: 0 });
  });

  it('drops ids whose record is gone from a flush, keeping line order and count', async () => {
    const { store, keys } = setup();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await add(store, 0)).id);
    const fid = newFlushId();
    await store.flushes.claim(0, 'chat.completions|m', fid, limits);
    // Requests enqueued within one millisecond are claimed in id order: take the flush's own line order.
    ids.splice(0, ids.length, ...(await store.flushes.ids(0, fid, 0, -1)));
    await redis.del(keys.partitionKeys(0).req(ids[1]!));
    expect(await store.requests.bodies(0, ids)).toEqual([expect.any(String), undefined, expect.any(String)]);
    expect(await store.flushes.drop(0, fid, [ids[1]!])).toBe(2);
    expect(await store.flushes.drop(0, fid, [ids[1]!])).toBe(2);
    expect(await store.flushes.ids(0, fid, 0, -1)).toEqual([ids[0], ids[2]]);
    expect((await store.flushes.get(0, fid))?.count).toBe(2);
  });
});

describe('delivery marks on an expired record (issue 16.10)', () => {
  it('never recreate the record, and dead letters do not outlive it', async () => {
    const { keys, store } = setup();
    const { id } = await add(store, 0);
    const k = keys.partitionKeys(0);
    const record = (await store.requests.get(id))!;
    await store.deadLetters.add(0, id);
    expect(await store.deadLetters.count()).toBe(1);

    await redis.del(k.req(id)); // the record's retention ran out
    expect(await store.deadLetters.count()).toBe(0);
    expect(await redis.zcard(k.dead)).toBe(0);

    expect(await store.requests.markDelivered(0, id)).toBe(false);
    await store.requests.markGone(0, id);
    await store.deadLetters.add(0, id);
    expect((await store.requests.webhookBody(0, record)).how).toBe('built');
    expect(await redis.exists(k.req(id))).toBe(0);
    expect(await redis.zcard(k.dead)).toBe(0);
  });

  it('still mark a live record once', async () => {
    const { keys, store } = setup();
    const { id } = await add(store, 1);
    const first = await store.requests.webhookBody(1, (await store.requests.get(id))!);
    expect((await store.requests.webhookBody(1, (await store.requests.get(id))!)).body).toBe(first.body);
    await store.deadLetters.add(1, id);
    expect(await store.requests.markDelivered(1, id)).toBe(true);
    expect(await store.requests.markDelivered(1, id)).toBe(false);
    expect(await redis.zcard(keys.partitionKeys(1).dead)).toBe(0);
    expect(await redis.hexists(keys.partitionKeys(1).req(id), 'dead')).toBe(0);
    expect((await store.requests.get(id))?.dead).toBe(false);
  });
});
