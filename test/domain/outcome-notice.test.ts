// What a waiting connection is woken by and answered from (transparent mode, SPEC §8): the requests one script call
// finishes are announced in one message on the partition's outcomes channel, and the public object of a finished
// request is read without its body, equal to the one built from the whole record.
import { KeySpace, newFlushId, Store, toRequestObject } from '@batchbridge/domain';
import { freshPrefix, newRequestFixture, sharedRedisUrl } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let redis: Redis;
let subscriber: Redis;
let stopRedis: () => Promise<void>;

beforeAll(async () => {
  const shared = await sharedRedisUrl();
  stopRedis = shared.stop;
  redis = new Redis(shared.url);
  subscriber = new Redis(shared.url);
});
afterAll(async () => {
  await subscriber.quit();
  await redis.quit();
  await stopRedis();
});

describe('outcome notices', () => {
  it('announces every request a settle finished in one message, and reads their objects without the body', async () => {
    const keys = new KeySpace(freshPrefix(), 1);
    const store = new Store(redis, keys, { retentionMs: 60_000, maxAttempts: 2 });
    const messages: string[] = [];
    subscriber.on('message', (channel, message) => {
      if (channel === keys.partitionKeys(0).outcomes) messages.push(message);
    });
    await subscriber.subscribe(keys.partitionKeys(0).outcomes);
    for (let i = 0; i < 5; i++) {
      await store.requests.enqueue(
        newRequestFixture({ content: 'x'.repeat(1_000), ...(i === 0 ? { clientRef: 'mine-0' } : {}) }),
        {},
      );
    }
    const fid = newFlushId();
    const limits = { maxRequests: 10, maxBytes: 1_000_000, maxTokens: 1_000_000, maxWaitMs: 0 };
    expect(await store.flushes.claim(0, newRequestFixture().group, fid, limits, true)).toMatchObject({ claimed: true });
    await store.flushes.recordSubmission(0, (await store.flushes.get(0, fid))!, 'batch_n', 'file_n');
    const ids = await store.flushes.ids(0, fid, 0, -1);
    const settled = await store.requests.settle(0, 'batch_n', [
      ...ids.slice(0, 3).map((id) => ({
        id,
        kind: 'completed' as const,
        response: { status_code: 200, body: { id: `c-${id}` } },
      })),
      { id: ids[3]!, kind: 'rejected' as const, response: { status_code: 400, body: { error: {} } }, message: 'no' },
      { id: ids[4]!, kind: 'retry' as const, message: 'batch_expired' },
    ]);
    expect(settled.outcomes).toEqual(['completed', 'completed', 'completed', 'failed', 'retried']);
    // One message for the four that finished (the retried one is not final), in settle order.
    await new Promise((r) => setTimeout(r, 200));
    expect(messages).toEqual([ids.slice(0, 4).join(' ')]);

    const objects = await store.requests.objects([...ids, 'breq_0nope']);
    for (const [i, id] of ids.entries()) {
      expect(objects[i]).toEqual(toRequestObject((await store.requests.get(id))!));
    }
    expect(objects.find((o) => o?.custom_id === 'mine-0')).toBeDefined();
    expect(objects[5]).toBeUndefined();
  });
});
