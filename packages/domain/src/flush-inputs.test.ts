// The per-batch input limit of embeddings (OpenAI: 50 000 embedding inputs across all lines of one batch, issue 17),
// enforced by the claim scripts on real Redis exactly as bytes and tokens are: a flush never holds more inputs than its
// endpoint's limit, whatever the slices, and the group's input total follows every way a request leaves or rejoins it.
import { parseConfig } from '@batchbridge/config';
import { freshPrefix, sharedRedisUrl } from '@batchbridge/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countInputs, estimateEndpointTokens } from './endpoints.js';
import { newFlushId, newRequestId } from './ids.js';
import { KeySpace } from './keys.js';
import { batchLine, groupFor } from './request-record.js';
import { Store } from './store.js';

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

const GROUP = groupFor('/v1/embeddings', 'text-embedding-3-small', false);

function setup() {
  const keys = new KeySpace(freshPrefix(), 1);
  return { keys, store: new Store(redis, keys, { retentionMs: 60_000, maxAttempts: 3 }) };
}

/** The OpenAI profile's limits for embeddings batches, as the packer uses them (no environment overrides). */
function embeddingLimits() {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.message);
  return { ...parsed.config.batch.endpoints['/v1/embeddings'], maxWaitMs: 60_000 };
}

/** Enqueues an embeddings request of `n` inputs (token arrays, so the body stays small) as ingest does. */
async function addEmbeddings(store: Store, n: number): Promise<string> {
  const id = newRequestId(0);
  const body = { model: 'text-embedding-3-small', input: Array.from({ length: n }, (_, i) => [i % 1000]) };
  const text = JSON.stringify(body);
  const r = await store.requests.enqueue(
    {
      id,
      partition: 0,
      tenant: 'acme',
      model: body.model,
      group: GROUP,
      body: text,
      bytes: Buffer.byteLength(batchLine(id, text, '/v1/embeddings')),
      tokens: estimateEndpointTokens('/v1/embeddings', body),
      inputs: countInputs('/v1/embeddings', body),
    },
    {},
  );
  if (r.kind !== 'created') throw new Error(r.kind);
  return id;
}

describe('input counts', () => {
  it('counts a string, strings, a token array and token arrays as OpenAI does', () => {
    expect(countInputs('/v1/embeddings', { input: 'one text' })).toBe(1);
    expect(countInputs('/v1/embeddings', { input: ['a', 'b', 'c'] })).toBe(3);
    expect(countInputs('/v1/embeddings', { input: [1, 2, 3, 4] })).toBe(1);
    expect(countInputs('/v1/embeddings', { input: [[1, 2], [3], [4, 5, 6]] })).toBe(3);
    expect(countInputs('/v1/chat/completions', { messages: [{}, {}] })).toBe(1);
    // Token arrays count one token per number; text about four characters per token.
    expect(estimateEndpointTokens('/v1/embeddings', { input: [[1, 2], [3]] })).toBe(3 + 4 * 2 + 4);
    expect(estimateEndpointTokens('/v1/embeddings', { input: 'x'.repeat(400) })).toBe(100 + 4 + 4);
  });
});

describe('embedding inputs per flush', () => {
  it('the OpenAI profile caps embeddings batches at 50 000 inputs and leaves chat unbounded in inputs', () => {
    const parsed = parseConfig({});
    if (!parsed.ok) throw new Error(parsed.message);
    const { endpoints } = parsed.config.batch;
    expect(endpoints['/v1/embeddings']).toMatchObject({
      maxRequests: 50_000,
      maxBytes: 200 * 1024 ** 2,
      maxInputs: 50_000,
    });
    expect(endpoints['/v1/chat/completions'].maxInputs).toBeGreaterThan(1e15);
  });

  it('3 requests of 30 000 inputs never share a flush; the input total triggers the first claims', async () => {
    const { store } = setup();
    const ids = [
      await addEmbeddings(store, 30_000),
      await addEmbeddings(store, 30_000),
      await addEmbeddings(store, 30_000),
    ];
    const limits = embeddingLimits();
    const [group] = await store.flushes.groups(0);
    expect(group).toMatchObject({ group: GROUP, count: 3, inputs: 90_000 });

    const first = await store.flushes.claim(0, GROUP, newFlushId(), limits);
    const second = await store.flushes.claim(0, GROUP, newFlushId(), limits);
    // 30 000 queued inputs are below every trigger: not due until its age (or a forced claim).
    expect(await store.flushes.claim(0, GROUP, newFlushId(), limits)).toEqual({ claimed: false, why: 'not_due' });
    const third = await store.flushes.claim(0, GROUP, newFlushId(), limits, true);
    expect(first).toMatchObject({ claimed: true, count: 1, inputs: 30_000, reason: 'inputs' });
    expect(second).toMatchObject({ claimed: true, count: 1, inputs: 30_000, reason: 'inputs' });
    expect(third).toMatchObject({ claimed: true, count: 1, inputs: 30_000, reason: 'forced' });
    const flushed: string[] = [];
    for (const c of [first, second, third]) {
      if (!c.claimed) throw new Error('not claimed');
      expect(await store.flushes.get(0, c.flushId)).toMatchObject({ count: 1, inputs: 30_000 });
      flushed.push(...(await store.flushes.ids(0, c.flushId, 0, -1)));
    }
    expect(flushed).toEqual(ids);
    expect(await store.flushes.groups(0)).toEqual([]);
  });

  it('a budget reached in a later slice ends the flush there: 50 000 inputs exactly, the rest in the next', async () => {
    const { store } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await addEmbeddings(store, 1_000));
    const limits = embeddingLimits();
    const first = await store.flushes.claim(0, GROUP, newFlushId(), limits, false, { slice: 7 });
    const rest = await store.flushes.claim(0, GROUP, newFlushId(), limits, true, { slice: 7 });
    expect(first).toMatchObject({ claimed: true, count: 50, inputs: 50_000, reason: 'inputs' });
    expect(rest).toMatchObject({ claimed: true, count: 10, inputs: 10_000 });
    if (!first.claimed || !rest.claimed) throw new Error('not claimed');
    const taken = [
      ...(await store.flushes.ids(0, first.flushId, 0, -1)),
      ...(await store.flushes.ids(0, rest.flushId, 0, -1)),
    ];
    expect(taken).toEqual(ids);
  });

  it("the group's input total follows a cancel and a retry", async () => {
    const { store } = setup();
    const a = await addEmbeddings(store, 20_000);
    const b = await addEmbeddings(store, 25_000);
    expect(await store.requests.cancel(a, 'acme')).toMatchObject({ kind: 'cancelled' });
    expect((await store.flushes.groups(0))[0]).toMatchObject({ count: 1, inputs: 25_000 });

    const claim = await store.flushes.claim(0, GROUP, newFlushId(), embeddingLimits(), true);
    if (!claim.claimed) throw new Error('not claimed');
    const flush = await store.flushes.get(0, claim.flushId);
    if (!flush) throw new Error('no flush');
    await store.flushes.recordSubmission(0, flush, 'batch_inputs', 'file_inputs');
    expect(
      await store.requests.settle(0, 'batch_inputs', [{ id: b, kind: 'retry', message: 'try again' }]),
    ).toMatchObject({ outcomes: ['retried'] });
    expect((await store.flushes.groups(0))[0]).toMatchObject({ group: GROUP, count: 1, inputs: 25_000 });
  });
});
