// GET /v1/usage and the budget refusal (SPEC §15), over HTTP against a real ingest API: a tenant reads its own ledger
// only, and once its spend plus what it would queue passes monthly_budget_usd, intake answers 429 budget_exceeded.
import type { BillItem } from '@batchbridge/domain';
import { ledgerDay } from '@batchbridge/domain';
import { makeOutcomes, TEST_TENANTS } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK, GLOBEX_KEY, startTestIngest, type TestIngest } from '../test/helpers.js';

/** $0.004 an answer in the batch lane, $0.008 at realtime. */
const bill: BillItem = {
  provider: 'openai',
  model: 'gpt-4o-mini',
  usage: { input_tokens: 10, cached_tokens: 0, cache_write_tokens: 0, output_tokens: 5 },
  lanes: { batch: 4_000_000, realtime: 8_000_000 },
  rt: 8_000_000,
};

const INITECH_KEY = 'bb_test_initech_key_0123456789';
let t: TestIngest;
beforeAll(async () => {
  t = await startTestIngest({
    tenants: [
      { ...TEST_TENANTS[0]!, monthly_budget_usd: 0.01 },
      TEST_TENANTS[1]!,
      {
        id: 'initech',
        api_keys: [INITECH_KEY],
        webhook_secret: TEST_TENANTS[0]!.webhook_secret,
        allowed_models: ['*'],
        daily_budget_usd: 0.003,
      },
    ],
  });
});
afterAll(async () => {
  await t?.dispose();
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };

describe('GET /v1/usage and budgets', () => {
  it('answers an empty ledger, then the billed answers per day, model and lane; never another tenant', async () => {
    const { day } = ledgerDay(Date.now());
    const empty = await t.call('GET', `/v1/usage?from=${day}&to=${day}`);
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({
      object: 'usage',
      from: day,
      to: day,
      total: { usd: 0, realtime_usd: 0, saved_usd: 0, requests: 0, unpriced_requests: 0 },
      data: [],
    });

    await makeOutcomes(t.rt, [{ bill }, { bill }, { kind: 'rejected' }]);
    const full = await t.call('GET', `/v1/usage?from=${day}&to=${day}`);
    expect(full.json.total).toEqual({
      usd: 0.008,
      realtime_usd: 0.016,
      saved_usd: 0.008,
      requests: 2,
      unpriced_requests: 0,
    });
    expect(full.json.data).toEqual([
      {
        date: day,
        provider: 'openai',
        model: 'gpt-4o-mini',
        lane: 'batch',
        usd: 0.008,
        realtime_usd: 0.016,
        saved_usd: 0.008,
        requests: 2,
        unpriced_requests: 0,
      },
    ]);
    // Defaults: this month so far.
    expect((await t.call('GET', '/v1/usage')).json.total.requests).toBe(2);
    const byModel = await t.call('GET', `/v1/usage?from=${day}&to=${day}&group_by=model`);
    expect(byModel.json.data).toEqual([expect.objectContaining({ model: 'gpt-4o-mini', provider: null, lane: null })]);
    // Another tenant's key sees its own (empty) ledger.
    expect((await t.call('GET', '/v1/usage', { key: GLOBEX_KEY })).json.total.requests).toBe(0);

    for (const bad of ['from=2026-13-01', 'to=yesterday', 'from=2026-12-05&to=2026-12-01', 'group_by=tenant']) {
      const r = await t.call('GET', `/v1/usage?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.error.code).toBe('invalid_value');
    }
    expect((await t.call('GET', '/v1/usage', { key: null })).status).toBe(401);
  });

  it('refuses with 429 budget_exceeded once spent plus the queued estimate would pass the monthly budget', async () => {
    // acme spent $0.008 of its $0.01 (the test above); one more request at its $0.004 average would pass it.
    const refused = await t.chat(chat, { 'x-callback-url': CALLBACK });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ code: 'budget_exceeded', type: 'rate_limit_error' });
    expect(refused.json.error.message).toMatch(/monthly budget of \$0\.0100 reached: spent \$0\.0080 this month/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // A tenant without a budget is not affected.
    expect((await t.chat(chat, { 'x-callback-url': CALLBACK }, GLOBEX_KEY)).status).toBe(202);
    expect(await t.rt.metrics.m.budgetRefused.get()).toMatchObject({
      values: expect.arrayContaining([expect.objectContaining({ labels: { period: 'month' }, value: 1 })]),
    });
  });

  it('refuses past a daily budget, and lets the first request of a tenant with no spend through', async () => {
    // No spend yet: this request's own estimate (a few input tokens at the batch price) is far below $0.003.
    expect((await t.chat(chat, { 'x-callback-url': CALLBACK }, INITECH_KEY)).status).toBe(202);
    await makeOutcomes(t.rt, [{ tenant: 'initech', bill }]);
    // The gate caches a tenant's spend for a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const refused = await t.chat(chat, { 'x-callback-url': CALLBACK }, INITECH_KEY);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('budget_exceeded');
    expect(refused.json.error.message).toMatch(/^daily budget of \$0\.0030 reached: spent \$0\.0040 this day/);
  });
});
