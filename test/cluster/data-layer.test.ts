// Issue 10: the data layer on a real 3-master Redis Cluster. Every Lua script, MULTI and BullMQ queue touches one
// partition's hash tag only (no CROSSSLOT), the 16 partitions spread over the masters, and queues, workers and the
// outbox relay run jobs on the cluster.
import { jobIds, KeySpace, newFlushId, newRequestId, Store } from '@batchbridge/domain';
import { type DeliverJobData, OutboxRelay, PartitionedQueues, startWorkers } from '@batchbridge/queues';
import { closeRedis, createRedis, type RedisClient, waitReady } from '@batchbridge/redis';
import {
  createTestRuntime,
  freshPrefix,
  newRequestFixture,
  startRedisCluster,
  type TestRedisCluster,
} from '@batchbridge/testkit';
import type { Worker } from 'bullmq';
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const PARTITIONS = 16;
const GROUP = 'chat.completions|m';
const limits = { maxRequests: 100, maxBytes: 1_000_000, maxTokens: 1_000_000, maxWaitMs: 60_000 };

let cluster: TestRedisCluster;
let producer: RedisClient;
let worker: RedisClient;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  producer = createRedis({ url: cluster.url, mode: 'cluster' }, 'producer', 'test-producer');
  worker = createRedis({ url: cluster.url, mode: 'cluster' }, 'worker', 'test-worker');
  await Promise.all([waitReady(producer), waitReady(worker)]);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await closeRedis(worker);
  await closeRedis(producer);
  await cluster.stop();
});

function masters(): ReturnType<Cluster['nodes']> {
  return (producer as Cluster).nodes('master');
}

/** Every key under `prefix` on each master, by the master's port. */
async function keysPerMaster(prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of masters()) {
    const keys: string[] = [];
    for await (const batch of node.scanStream({ match: `{${prefix}:*`, count: 1000 }) as AsyncIterable<string[]>) {
      keys.push(...batch);
    }
    out.set(String(node.options.port), keys);
  }
  return out;
}

function setup() {
  const keys = new KeySpace(freshPrefix('cl'), PARTITIONS);
  const store = new Store(producer, keys, { retentionMs: 60_000, maxAttempts: 2 });
  return { keys, store };
}

async function add(store: Store, partition: number, idem?: string) {
  const body = '{"model":"m","messages":[]}';
  const req = newRequestFixture({
    partition,
    model: 'm',
    group: GROUP,
    body,
    bytes: 100,
    tokens: 10,
    idempotencyKey: idem,
    bodyHash: body,
  });
  const r = await store.requests.enqueue(req, { tenantMax: 1_000, globalMax: 1_000 });
  return { id: req.id, r };
}

describe('RequestStore on a 3-master Redis Cluster with REDIS_PARTITIONS=16', () => {
  it('runs the whole lifecycle in every partition without CROSSSLOT', async () => {
    const { store } = setup();
    const byPartition = new Map<number, string[]>();
    for (let p = 0; p < PARTITIONS; p++) {
      const ids = [(await add(store, p)).id, (await add(store, p)).id];
      expect((await store.requests.get(ids[0]!))?.status).toBe('queued');
      byPartition.set(p, ids);
    }
    expect(await store.requests.stateCounts()).toEqual({ queued: 2 * PARTITIONS, batched: 0, submitted: 0 });
    // Capacity checks read every partition at once (the ingest path).
    const open = await store.requests.openCounts('acme');
    expect(open.global).toEqual(Array(PARTITIONS).fill(2));
    expect(open.tenant).toEqual(Array(PARTITIONS).fill(2));

    for (const [p, ids] of byPartition) {
      expect((await store.flushes.groups(p)).map((g) => [g.group, g.count])).toEqual([[GROUP, 2]]);
      const fid = newFlushId();
      expect(await store.flushes.claim(p, GROUP, fid, limits, true)).toMatchObject({ claimed: true, count: 2 });
      // Same enqueue millisecond: the pending zset orders ties by id, so compare as sets.
      expect((await store.flushes.ids(p, fid, 0, -1)).sort()).toEqual([...ids].sort());
      expect(await store.requests.bodies(p, ids)).toEqual([expect.any(String), expect.any(String)]);
      const flush = (await store.flushes.get(p, fid))!;
      const poll = await store.flushes.recordSubmission(p, flush, `batch_${p}`, `file_${p}`);
      expect(JSON.parse(poll)).toMatchObject({ queue: 'poll', jobId: `poll-batch_${p}` });
      expect(await store.batches.live(p)).toEqual([`batch_${p}`]);
      const settled = await store.requests.settle(p, `batch_${p}`, [
        // A body as bytes (an embeddings answer as the provider wrote it): a script call written piece by piece
        // (spread-eval.ts), routed to the partition's master like any other.
        {
          id: ids[0]!,
          kind: 'completed',
          response: { status_code: 200, body: { ok: p } },
          responseBody: Buffer.from(`{"ok":${p}}`),
        },
        { id: ids[1]!, kind: 'rejected', response: { status_code: 400, body: {} }, message: 'bad' },
      ]);
      expect(settled.outcomes).toEqual(['completed', 'failed']);
      expect((await store.requests.get(ids[0]!))?.response).toEqual({ status_code: 200, body: { ok: p } });
      // Replaying the results changes nothing.
      expect((await store.requests.settle(p, `batch_${p}`, [{ id: ids[0]!, kind: 'completed' }])).outcomes).toEqual([
        'stale',
      ]);
      await store.batches.finish(p, (await store.batches.get(p, `batch_${p}`))!, 'completed');
      expect(await store.batches.live(p)).toEqual([]);
      expect(await store.requests.markDelivered(p, ids[0]!)).toBe(true);
      await store.deadLetters.add(p, ids[1]!);
    }
    expect(await store.requests.stateCounts()).toEqual({ queued: 0, batched: 0, submitted: 0 });
    expect(await store.deadLetters.count()).toBe(PARTITIONS);
    const done = (await store.requests.get(byPartition.get(7)![0]!))!;
    expect(done).toMatchObject({ status: 'completed', batch_id: 'batch_7', attempts: 1 });
  });

  it('cancels, replays Idempotency-Keys and fails a refused flush in any partition', async () => {
    const { store } = setup();
    for (const p of [0, 5, 11, 15]) {
      const a = await add(store, p);
      expect((await store.requests.cancel(a.id, 'acme')).kind).toBe('cancelled');
      expect((await store.requests.get(a.id))?.status).toBe('cancelled');

      const first = await add(store, p, `key-${p}`);
      expect(await add(store, p, `key-${p}`)).toMatchObject({ r: { kind: 'replayed', id: first.id } });

      const fid = newFlushId();
      await store.flushes.claim(p, GROUP, fid, limits, true);
      expect(await store.requests.cancel(first.id, 'acme')).toEqual({ kind: 'conflict', status: 'batched' });
      // The failed request's delivery is due in its own partition (no outbox member).
      expect(await store.flushes.fail(p, fid, 'refused')).toEqual([]);
      expect(await store.deliveries.pending(p, [first.id])).toEqual([true]);
      expect((await store.requests.get(first.id))?.error).toEqual({ code: 'provider_rejected', message: 'refused' });
    }
  });

  it('spreads the 16 partitions over the masters, each partition on exactly one', async () => {
    const { keys, store } = setup();
    for (let p = 0; p < PARTITIONS; p++) await add(store, p);
    const perMaster = await keysPerMaster(keys.prefix);
    const tagsOf = (list: string[]) => new Set(list.map((k) => k.slice(0, k.indexOf('}') + 1)));
    const owners = new Map<string, string>();
    for (const [port, list] of perMaster) {
      for (const tag of tagsOf(list)) {
        expect(owners.get(tag), `${tag} on two masters`).toBeUndefined();
        owners.set(tag, port);
      }
    }
    expect([...owners.keys()].sort()).toEqual(
      keys
        .allPartitions()
        .map((p) => keys.tag(p))
        .sort(),
    );
    const used = new Set(owners.values());
    expect(used.size).toBeGreaterThanOrEqual(2);
  });
});

describe('slot migration (resharding) under a live client', () => {
  it('follows ASK during a migration and MOVED after it, for plain commands and scripts', async () => {
    const { keys, store } = setup();
    const p = 6;
    const ids = [(await add(store, p)).id, (await add(store, p)).id];
    const nodes = masters();
    const slot = Number(await nodes[0]!.call('CLUSTER', 'KEYSLOT', keys.tag(p)));
    const idOf = async (n: (typeof nodes)[number]) => String(await n.call('CLUSTER', 'MYID'));
    let source = nodes[0]!;
    for (const n of nodes) {
      if (Number(await n.call('CLUSTER', 'COUNTKEYSINSLOT', slot)) > 0) source = n;
    }
    const target = nodes.find((n) => n !== source)!;
    const [sourceId, targetId] = [await idOf(source), await idOf(target)];
    const migrate = (list: string[]) =>
      source.call('MIGRATE', '127.0.0.1', String(target.options.port), '', '0', '5000', 'KEYS', ...list);

    await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
    await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
    // Half-way: one request record already moved, so the source answers ASK for it.
    await migrate([keys.partitionKeys(p).req(ids[0]!)]);
    expect((await store.requests.get(ids[0]!))?.status).toBe('queued');
    expect((await store.requests.get(ids[1]!))?.status).toBe('queued');

    const rest = (await source.call('CLUSTER', 'GETKEYSINSLOT', slot, '1000')) as string[];
    await migrate(rest);
    for (const n of nodes) await n.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
    // The client's slot map is stale now: every command below is answered MOVED first.
    const fid = newFlushId();
    expect(await store.flushes.claim(p, GROUP, fid, limits, true)).toMatchObject({ claimed: true, count: 2 });
    expect((await store.requests.get(ids[1]!))?.status).toBe('batched');
    expect(Number(await target.call('CLUSTER', 'COUNTKEYSINSLOT', slot))).toBeGreaterThan(0);
    expect(Number(await source.call('CLUSTER', 'COUNTKEYSINSLOT', slot))).toBe(0);
  });
});

describe('BullMQ queues, workers and the outbox relay on the cluster', () => {
  it('relays outbox entries of every partition to per-partition workers, and the sweep picks up leftovers', async () => {
    const { keys, store } = setup();
    const queues = new PartitionedQueues(worker, keys);
    const relay = new OutboxRelay(producer, keys, queues);
    const seen: Array<{ partition: number; requestId: string; jobId: string | undefined }> = [];
    let resolveAll!: () => void;
    const allSeen = new Promise<void>((r) => {
      resolveAll = r;
    });
    const workers: Worker[] = startWorkers<DeliverJobData>(
      'deliver',
      keys,
      worker,
      async (job, _token, partition) => {
        seen.push({ partition, requestId: job.data.requestId, jobId: job.id });
        if (seen.length === PARTITIONS) resolveAll();
      },
      { concurrency: 2 },
    );
    cleanups.push(
      () => Promise.all(workers.map((w) => w.close())),
      () => queues.close(),
    );

    // An outbox entry per partition, written as a script writes one (a finished request's delivery no longer goes
    // through the outbox, see the bulk deliveries below; the relay carries the control jobs and the events).
    const expected: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const { id } = await add(store, p);
      expected.push(id);
      const entry = JSON.stringify({
        queue: 'deliver',
        jobId: jobIds.deliver(id),
        data: { partition: p, requestId: id },
      });
      await producer.zadd(keys.partitionKeys(p).outbox, Date.now() - 60_000, entry);
      // Half the partitions relay at once (the writer's fast path); the others are left for the sweep, as after a
      // crash between the script and the relay.
      if (p % 2 === 0) await relay.relay(p, [entry]);
    }
    expect(await relay.sweep(0)).toBe(PARTITIONS / 2);
    await allSeen;
    expect(seen.map((s) => s.requestId).sort()).toEqual(expected.sort());
    for (const s of seen) {
      expect(s.jobId).toBe(jobIds.deliver(s.requestId));
      expect(store.requests.partitionOf(s.requestId)).toBe(s.partition);
    }
    // A relay that runs twice adds nothing: BullMQ ignores the duplicate jobId.
    await relay.relay(0, [
      JSON.stringify({ queue: 'deliver', jobId: seen[0]!.jobId, data: { partition: 0, requestId: expected[0] } }),
    ]);
    const counts = await queues.counts('deliver');
    expect(counts.waiting ?? 0).toBe(0);
    expect(await relay.sweep(0)).toBe(0);
  });
});

describe('bulk outcome deliveries on the cluster', () => {
  it('makes a cancelled request due in its own partition, claims, extends and completes it there', async () => {
    const { store } = setup();
    for (let p = 0; p < PARTITIONS; p++) {
      const { id } = await add(store, p);
      const cancelled = await store.requests.cancel(id, 'acme');
      if (cancelled.kind !== 'cancelled') throw new Error(cancelled.kind);
      // No outbox hop: the cancel script made the delivery due itself.
      expect(cancelled.outbox).toBe('');
      const claim = await store.deliveries.claim(p, 10, 60_000);
      expect(claim.deliveries.map((d) => d.requestId)).toEqual([id]);
      expect(await store.deliveries.extend(p, claim.deliveries, 60_000)).toEqual([]);
      const [answer] = await store.deliveries.complete(
        p,
        claim.deliveries.map((d) => ({ ...d, mark: 'delivered' as const, result: 'delivered' })),
        20,
      );
      expect(answer).toEqual({ marked: 1, ours: true });
      expect(await store.deliveries.counts(p)).toEqual({ due: 0, leased: 0 });
      expect((await store.requests.get(id))?.delivered_at).toBeTypeOf('number');
    }
  });
});

describe('createTestRuntime against the cluster', () => {
  it('builds a cluster runtime and its dispose() removes every key of its prefix from every master', async () => {
    const rt = await createTestRuntime({
      redisUrl: cluster.url,
      env: { REDIS_MODE: 'cluster', REDIS_URL: cluster.url },
    });
    let disposed = false;
    cleanups.push(async () => {
      if (!disposed) await rt.dispose();
    });
    expect(rt.keys.partitions).toBe(PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) await add(rt.store, p);
    await rt.queues.addBulk('deliver', 3, [
      { jobId: jobIds.deliver('x'), data: { partition: 3, requestId: 'breq_x' } },
    ]);
    const before = [...(await keysPerMaster(rt.prefix)).values()].flat();
    expect(before.length).toBeGreaterThan(PARTITIONS);
    await rt.dispose();
    disposed = true;
    expect([...(await keysPerMaster(rt.prefix)).values()].flat()).toEqual([]);
  });
});

describe('a password-protected cluster', () => {
  it('reaches every master with the credentials of the seed URL, and is refused without them', async () => {
    const secured = await startRedisCluster({ masters: 3, password: 's3cret/pw' });
    cleanups.push(() => secured.stop());
    const client = createRedis({ url: secured.url, mode: 'cluster' }, 'producer');
    cleanups.push(() => closeRedis(client));
    await waitReady(client);
    const keys = new KeySpace(freshPrefix('pw'), PARTITIONS);
    const store = new Store(client, keys, { retentionMs: 60_000, maxAttempts: 2 });
    // 16 partitions span all three masters (see above), so each node client had to authenticate.
    const ids = [];
    for (let p = 0; p < PARTITIONS; p++) ids.push((await add(store, p)).id);
    for (const id of ids) expect((await store.requests.get(id))?.status).toBe('queued');

    const anonymous = createRedis({ url: secured.url.replaceAll(/:[^/@]*@/g, ''), mode: 'cluster' }, 'producer');
    cleanups.push(async () => anonymous.disconnect());
    anonymous.on('error', () => undefined);
    await expect(waitReady(anonymous, 1_500)).rejects.toThrow();
  });
});
