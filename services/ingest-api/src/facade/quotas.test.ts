// The intake gates of a single request applied to a Batch API batch (SPEC §3, §12, §15), with the official openai SDK
// against a real ingest API: a create whose lines would take the tenant past max_queued answers 429
// queue_quota_exceeded (nothing created, Retry-After), a file larger than max_queued can never be admitted (400), lines
// of a batch created but not yet enqueued count against the next create, past GLOBAL_MAX_QUEUED it is 503
// capacity_exceeded, a tenant over its budget gets 429 budget_exceeded, and past rate_limit_per_s 429
// rate_limit_exceeded. A replay of an Idempotency-Key passes whatever the quota.
import { TEST_TENANTS } from '@batchbridge/testkit';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIngest, type TestIngest } from '../../test/helpers.js';

const key = (name: string) => `bb_test_${name}_key_0123456789`;
const tenant = (id: string, extra: Record<string, unknown>) => ({
  id,
  api_keys: [key(id)],
  webhook_secret: TEST_TENANTS[0]!.webhook_secret,
  allowed_models: ['*'],
  ...extra,
});

let t: TestIngest;
let g: TestIngest;
beforeAll(async () => {
  t = await startTestIngest({
    // A create kicks the driver, which enqueues its lines meanwhile: they move from "admitted, not yet enqueued" to
    // "open", and count against max_queued the same either way.
    tenants: [
      tenant('capped', { max_queued: 10 }),
      tenant('thrifty', { monthly_budget_usd: 0.000001 }),
      tenant('slow', { rate_limit_per_s: 1 }),
    ],
  });
  g = await startTestIngest({ env: { GLOBAL_MAX_QUEUED: '8' }, tenants: [tenant('crowd', {})] });
});
afterAll(async () => {
  await t?.dispose();
  await g?.dispose();
});

const client = (ingest: TestIngest, id: string) =>
  new OpenAI({ baseURL: `${ingest.url}/v1`, apiKey: key(id), maxRetries: 0 });

async function upload(c: OpenAI, lines: number, tag: string) {
  const text = Array.from({ length: lines }, (_, i) =>
    JSON.stringify({
      custom_id: `${tag}-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i} ${'word '.repeat(50)}` }] },
    }),
  ).join('\n');
  return c.files.create({ file: await toFile(Buffer.from(text), `${tag}.jsonl`), purpose: 'batch' });
}

const create = (c: OpenAI, fileId: string, idempotencyKey?: string) =>
  c.batches.create(
    { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' },
    idempotencyKey ? { headers: { 'Idempotency-Key': idempotencyKey } } : {},
  );

async function refusal(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('the create was accepted');
}

describe('quotas and budgets of Batch API batches', () => {
  it('admits lines up to max_queued, counting batches not yet enqueued, then answers 429 queue_quota_exceeded', async () => {
    const c = client(t, 'capped');
    const six = await upload(c, 6, 'six');
    const first = await create(c, six.id, 'first-create');
    expect(first.status).toBe('validating');
    // 6 admitted (enqueued or not) + 6 > 10.
    const err = await refusal(create(c, six.id));
    expect(err.status).toBe(429);
    expect(err.code).toBe('queue_quota_exceeded');
    expect(err.type).toBe('rate_limit_error');
    expect(err.param).toBe('input_file_id');
    expect(err.message).toMatch(/6 lines would take this tenant to 12 requests in flight, over its max_queued of 10/);
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
    // Nothing was created by the refusal.
    expect((await c.batches.list()).data.map((b) => b.id)).toEqual([first.id]);
    // A replay of the first create's Idempotency-Key is answered with the batch it created, over the quota or not.
    expect((await create(c, six.id, 'first-create')).id).toBe(first.id);
    // 6 + 4 = 10 fits exactly.
    const four = await upload(c, 4, 'four');
    expect((await create(c, four.id)).status).toBe('validating');
    // One line more does not.
    const one = await upload(c, 1, 'one');
    expect((await refusal(create(c, one.id))).code).toBe('queue_quota_exceeded');
  });

  it('refuses a file larger than max_queued with 400: retrying could never help', async () => {
    const c = client(t, 'capped');
    const big = await upload(c, 11, 'big');
    const err = await refusal(create(c, big.id));
    expect(err.status).toBe(400);
    expect(err.code).toBe('queue_quota_exceeded');
    expect(err.message).toMatch(/holds 11 lines, more than this tenant's max_queued of 10/);
  });

  it('answers 503 capacity_exceeded past GLOBAL_MAX_QUEUED', async () => {
    const c = client(g, 'crowd');
    const five = await upload(c, 5, 'five');
    expect((await create(c, five.id)).status).toBe('validating');
    const err = await refusal(create(c, five.id));
    expect(err.status).toBe(503);
    expect(err.code).toBe('capacity_exceeded');
    expect(err.message).toMatch(/GLOBAL_MAX_QUEUED/);
  });

  it('answers 429 budget_exceeded when the lines would pass the budget', async () => {
    const c = client(t, 'thrifty');
    const file = await upload(c, 50, 'budget');
    const err = await refusal(create(c, file.id));
    expect(err.status).toBe(429);
    expect(err.code).toBe('budget_exceeded');
    expect(err.message).toMatch(/monthly budget of \$0\.0000 reached: .* queued with this batch of 50 lines/);
    expect((await c.batches.list()).data).toEqual([]);
  });

  it('counts a create against rate_limit_per_s like one request', async () => {
    const c = client(t, 'slow');
    const file = await upload(c, 1, 'rate');
    // Two creates in the same second (retried until they land in one: the counter is per unix second).
    for (let attempt = 0; ; attempt++) {
      const second = Math.floor(Date.now() / 1000);
      const a = await create(c, file.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      const b = await create(c, file.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (Math.floor(Date.now() / 1000) !== second) {
        if (attempt > 5) throw new Error('could not make two creates within one second');
        continue;
      }
      expect(a).toBeUndefined();
      expect(b).toBeInstanceOf(OpenAI.APIError);
      expect((b as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
      expect((b as InstanceType<typeof OpenAI.APIError>).code).toBe('rate_limit_exceeded');
      break;
    }
  });
});
