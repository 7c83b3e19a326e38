import { freshPrefix, sharedRedisUrl } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutcomeWaiter } from './outcome-waiter.js';

type Rec = { id: string; status: string };

describe('OutcomeWaiter (real Redis pub/sub)', () => {
  let url: string;
  let stopRedis: () => Promise<void>;
  let redis: Redis;
  const prefix = freshPrefix('wait');
  const channel = `${prefix}:outcomes`;
  const key = (id: string) => `${prefix}:req:${id}`;
  const waiters: Array<OutcomeWaiter<Rec>> = [];

  beforeAll(async () => {
    ({ url, stop: stopRedis } = await sharedRedisUrl());
    redis = new Redis(url);
  });
  afterAll(async () => {
    for (const w of waiters) await w.close();
    redis.disconnect();
    await stopRedis();
  });

  const newWaiter = async (options: { firstRecheckMs?: number } = {}) => {
    const reads: string[][] = [];
    const waiter = new OutcomeWaiter<Rec>({
      subscriber: new Redis(url),
      channels: [channel],
      firstRecheckMs: options.firstRecheckMs ?? 60_000,
      read: async (ids) => {
        reads.push([...ids]);
        const pipeline = redis.pipeline();
        for (const id of ids) pipeline.hget(key(id), 'status');
        const replies = (await pipeline.exec()) ?? [];
        return replies.map(([, status], i) => (status ? { id: ids[i]!, status: String(status) } : undefined));
      },
      isFinal: (r) => r.status === 'completed' || r.status === 'failed' || r.status === 'cancelled',
    });
    waiters.push(waiter);
    await waiter.start();
    return { waiter, reads };
  };
  const finish = async (id: string, status = 'completed', announce = true) => {
    await redis.hset(key(id), 'status', status);
    if (announce) await redis.publish(channel, id);
  };

  it('wakes every connection waiting for a request when its outcome is announced, and only those', async () => {
    const { waiter } = await newWaiter();
    await redis.hset(key('a'), 'status', 'queued');
    const a1 = waiter.wait('a', 30_000);
    const a2 = waiter.wait('a', 30_000);
    const b = waiter.wait('b', 300);
    expect(waiter.size).toBe(3);
    await redis.publish(channel, 'a'); // announced while still queued (a stale notice): nobody wakes
    await new Promise((r) => setTimeout(r, 100));
    expect(waiter.size).toBe(3);
    await finish('a');
    expect(await a1).toEqual({ kind: 'finished', record: { id: 'a', status: 'completed' } });
    expect(await a2).toEqual({ kind: 'finished', record: { id: 'a', status: 'completed' } });
    expect(await b).toEqual({ kind: 'timeout' });
    expect(waiter.size).toBe(0);
  });

  it('finds an outcome whose notice was missed by re-reading, in one round trip for all due waiters', async () => {
    const { waiter, reads } = await newWaiter({ firstRecheckMs: 200 });
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const waits = ids.map((id) => waiter.wait(id, 20_000));
    for (const id of ids) await finish(id, 'failed', false);
    const results = await Promise.all(waits);
    expect(results.every((r) => r.kind === 'finished' && r.record.status === 'failed')).toBe(true);
    // Due waiters share round trips: a handful of reads for 50 waiters, not one each.
    expect(reads.length).toBeLessThan(10);
  });

  it('reads a burst of notices a batch at a time, one batch in flight, not one read each at once', async () => {
    const reads: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waiter = new OutcomeWaiter<Rec>({
      subscriber: new Redis(url),
      channels: [channel],
      firstRecheckMs: 60_000,
      readBatch: 20,
      read: async (ids) => {
        reads.push([...ids]);
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          if (reads.length === 1) await gate; // the first read is slow: the rest of the burst arrives meanwhile
          return await Promise.all(
            ids.map(async (id) => {
              const status = await redis.hget(key(id), 'status');
              return status ? { id, status } : undefined;
            }),
          );
        } finally {
          inFlight -= 1;
        }
      },
      isFinal: (r) => r.status === 'completed',
    });
    waiters.push(waiter);
    await waiter.start();
    const ids = Array.from({ length: 50 }, (_, i) => `burst${i}`);
    const waits = ids.map((id) => waiter.wait(id, 20_000));
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hset(key(id), 'status', 'completed').publish(channel, id);
    await pipeline.exec();
    // Time for the notices to arrive (not a timing assertion: however long it takes, the reads must not overlap).
    await new Promise((r) => setTimeout(r, 300));
    release();
    const results = await Promise.all(waits);
    expect(results.every((r) => r.kind === 'finished')).toBe(true);
    expect(reads.flat().sort()).toEqual([...ids].sort());
    expect(maxInFlight).toBe(1);
    expect(reads.every((r) => r.length <= 20)).toBe(true);
  });

  it('reads an announced outcome again at the next sweep when reading it failed, not at its backed-off time', async () => {
    let failures = 1;
    const waiter = new OutcomeWaiter<Rec>({
      subscriber: new Redis(url),
      channels: [channel],
      // The scheduled recheck is a minute off, beyond the wait: only the retry of the failed read can find it.
      firstRecheckMs: 60_000,
      read: async (ids) => {
        if (failures-- > 0) throw new Error('Command timed out');
        return Promise.all(
          ids.map(async (id) => {
            const status = await redis.hget(key(id), 'status');
            return status ? { id, status } : undefined;
          }),
        );
      },
      isFinal: (r) => r.status === 'completed',
      onError: () => undefined,
    });
    waiters.push(waiter);
    await waiter.start();
    const pending = waiter.wait('retry1', 10_000);
    await finish('retry1');
    expect(await pending).toEqual({ kind: 'finished', record: { id: 'retry1', status: 'completed' } });
  });

  it('re-reads every waiter after its subscriber reconnects', async () => {
    const subscriber = new Redis(url);
    // Asked before it subscribes (a subscribed RESP2 connection takes no other command), to kill exactly this one.
    const clientId = Number(await subscriber.call('CLIENT', 'ID'));
    const waiter = new OutcomeWaiter<Rec>({
      subscriber,
      channels: [channel],
      firstRecheckMs: 60_000,
      read: async (ids) =>
        Promise.all(
          ids.map(async (id) => {
            const status = await redis.hget(key(id), 'status');
            return status ? { id, status } : undefined;
          }),
        ),
      isFinal: (r) => r.status === 'completed',
    });
    waiters.push(waiter);
    await waiter.start();
    const pending = waiter.wait('r1', 20_000);
    // The outcome was announced while the subscriber was away (here: not at all), and the next recheck is a minute
    // off: only the re-read on reconnect can find it.
    await finish('r1', 'completed', false);
    await redis.call('CLIENT', 'KILL', 'ID', String(clientId));
    expect(await pending).toEqual({ kind: 'finished', record: { id: 'r1', status: 'completed' } });
  });

  it('lets a client go away without touching the request, and answers closed on shutdown', async () => {
    const { waiter } = await newWaiter();
    const controller = new AbortController();
    const gone = waiter.wait('c1', 30_000, controller.signal);
    const held = waiter.wait('c2', 30_000);
    controller.abort();
    expect(await gone).toEqual({ kind: 'aborted' });
    expect(waiter.size).toBe(1);
    await waiter.close();
    expect(await held).toEqual({ kind: 'closed' });
    expect(await waiter.wait('c3', 1_000)).toEqual({ kind: 'closed' });
  });
});
