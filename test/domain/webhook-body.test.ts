// The webhook body is not stored: every attempt rebuilds it from the terminal record (webhook-body.ts). These tests pin
// what makes that safe: format 1's exact bytes for a fixed record (a change to the request object that changes them
// must add format 2 and keep format 1's builder), and that nothing written to a finished record after it finished —
// delivery log, marks, dead letter, redeliver — changes the body rebuilt from it.
import {
  buildWebhookBody,
  KeySpace,
  newFlushId,
  parseRecord,
  type RequestRecord,
  Store,
  WEBHOOK_BODY_FORMAT,
  webhookBodyFor,
  webhookBodyMark,
} from '@batchbridge/domain';
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

const FIXED: RequestRecord = parseRecord({
  id: 'breq_0a01h00000000000000000000000',
  tenant: 'acme',
  status: 'completed',
  model: 'gpt-4o-mini',
  group: 'chat.completions|gpt-4o-mini',
  client_ref: 'ref-1',
  callback_url: 'https://example.com/hook',
  created_at: '1733832768000',
  updated_at: '1733832790000',
  completed_at: '1733832790123',
  batch_id: 'batch_abc',
  attempts: '1',
  response:
    '{"status_code":200,"body":{"id":"chatcmpl_1","object":"chat.completion","n":1.5e-7,"2":"two","a":"é\\u2028"}}',
  usage: '{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}',
  cost: '{"usd":0.000001,"realtime_usd":0.000002,"saved_usd":0.000001}',
  lane: 'batch',
  delivered_at: '1733832799999',
  delivery_attempts: '3',
}) as RequestRecord;

describe('webhook body format 1', () => {
  it('is these bytes for this record (change the request object: add format 2, keep this builder)', () => {
    expect(WEBHOOK_BODY_FORMAT).toBe(1);
    const body = buildWebhookBody(FIXED, 1);
    expect(body).toBe(
      '{"type":"request.completed","timestamp":"2024-12-10T12:13:10.123Z","data":{"id":"breq_0a01h00000000000000000000000",' +
        '"object":"batchbridge.request","endpoint":"/v1/chat/completions","status":"completed","model":"gpt-4o-mini",' +
        '"custom_id":"ref-1","created_at":1733832768,"completed_at":1733832790,"batch_id":"batch_abc","attempts":1,' +
        '"response":{"status_code":200,"body":{"2":"two","id":"chatcmpl_1","object":"chat.completion","n":1.5e-7,' +
        '"a":"é\u2028"}},"error":null,"lane":"batch","completion_window":null,"deadline_at":null,"deadline_met":null,' +
        '"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15},' +
        '"cost":{"usd":0.000001,"realtime_usd":0.000002,"saved_usd":0.000001}}}',
    );
    expect(webhookBodyMark(body as string)).toMatch(/^1\.[A-Za-z0-9_-]{16}$/);
    expect(buildWebhookBody(FIXED, 2)).toBeUndefined();
  });

  it('is rebuilt, checked against the mark, and delivery fields do not enter it', () => {
    const first = webhookBodyFor(FIXED);
    expect(first.how).toBe('built');
    const later = {
      ...FIXED,
      webhook_fp: first.mark as string,
      delivered_at: undefined,
      dead: true,
      delivery_attempts: 9,
    };
    expect(webhookBodyFor(later)).toEqual({ body: first.body, how: 'rebuilt' });
  });
});

describe('a finished record', () => {
  it('drops its request body, schema and packing sizes, and later writes leave the rebuilt webhook body byte for byte', async () => {
    const keys = new KeySpace(freshPrefix(), 1);
    const store = new Store(redis, keys, { retentionMs: 60_000, maxAttempts: 2 });
    const k = keys.partitionKeys(0);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const req = newRequestFixture({ partition: 0, model: 'm', content: `q${i}`, schema: '{"type":"object"}' });
      expect((await store.requests.enqueue(req, {})).kind).toBe('created');
      ids.push(req.id);
    }
    // One is cancelled while queued; the other two go through a batch: one answered, one refused by the provider.
    const cancelled = ids.pop() as string;
    expect((await store.requests.cancel(cancelled, 'acme')).kind).toBe('cancelled');
    const fid = newFlushId();
    const limits = { maxRequests: 2, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 0 };
    expect((await store.flushes.claim(0, 'chat.completions|m', fid, limits, true)).claimed).toBe(true);
    await store.flushes.recordSubmission(0, (await store.flushes.get(0, fid))!, 'batch_1', 'file_1');
    const [done, refused] = (await store.flushes.ids(0, fid, 0, -1)) as [string, string];
    const settled = await store.requests.settle(0, 'batch_1', [
      { id: done, kind: 'completed', response: { status_code: 200, body: { id: 'c1', choices: [] } } },
      { id: refused, kind: 'rejected', response: { status_code: 400, body: { error: 'no' } }, message: 'bad' },
    ]);
    expect(settled.outcomes).toEqual(['completed', 'failed']);

    for (const id of [done, refused, cancelled]) {
      const dropped = ['body', 'schema', 'bytes', 'tokens', 'inputs', 'webhook_body'];
      expect(await redis.hmget(k.req(id), ...dropped)).toEqual(dropped.map(() => null));
      const record = (await store.requests.get(id))!;
      const first = await store.requests.webhookBody(0, record);
      expect(first.how).toBe('built');
      // Everything the delivery side writes to a finished record: attempts, a stop, a dead letter, a delivery, a
      // redeliver's delivery, a bulk completion.
      await store.requests.recordAttempt(0, id, { at: new Date().toISOString(), status_code: 500 } as never, 5);
      await store.requests.markGone(0, id, 'aborted');
      await store.deadLetters.add(0, id, 'exhausted');
      expect(await store.requests.markDelivered(0, id)).toBe(true);
      expect(await store.requests.markDelivered(0, id)).toBe(false);
      await store.deliveries.complete(0, [{ member: id, requestId: id, fence: 0, result: 'delivered' }], 5);
      const after = (await store.requests.get(id))!;
      expect(after.delivery_attempts).toBe(1);
      expect(webhookBodyFor(after)).toEqual({ body: first.body, how: 'rebuilt' });
    }
  });
});
