import { deliveryMember } from '@batchbridge/domain';
/**
 * The HTTP contract of SPEC §3 against a real ingest server and the shared test Redis: status codes, header/body
 * precedence, idempotency, cancel/redeliver rules, tenant isolation, quotas and rate limits, callback URL policy.
 */
import { TEST_TENANTS } from '@batchbridge/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ACME_KEY,
  CALLBACK,
  chatBody,
  GLOBEX_KEY,
  isOpenAiError,
  pendingIds,
  startTestIngest,
  type TestIngest,
} from '../test/helpers.js';

describe('ingest API (default configuration)', () => {
  let t: TestIngest;
  beforeAll(async () => {
    t = await startTestIngest();
  });
  afterAll(async () => {
    await t.dispose();
  });

  describe('POST /v1/chat/completions', () => {
    it('answers 202 with the request object once the record and its pending entry are in Redis', async () => {
      const res = await t.chat(chatBody({ temperature: 0.2 }), { 'x-custom-id': 'row-1' });
      expect(res.status).toBe(202);
      expect(res.json).toMatchObject({
        object: 'batchbridge.request',
        status: 'queued',
        model: 'gpt-4o-mini',
        custom_id: 'row-1',
        completed_at: null,
        batch_id: null,
        attempts: 0,
        response: null,
        error: null,
      });
      const id = res.json.id as string;
      expect(id).toMatch(/^breq_[0-9a-z]{25}$/);
      expect(res.headers.get('location')).toBe(`/v1/requests/${id}`);

      const record = await t.rt.store.requests.get(id);
      expect(record).toMatchObject({ status: 'queued', tenant: 'acme', client_ref: 'row-1', callback_url: CALLBACK });
      expect(Math.floor(record!.created_at / 1000)).toBe(res.json.created_at);
      expect(await pendingIds(t.rt)).toContain(id);
      expect(JSON.parse(record!.body)).toEqual(chatBody({ temperature: 0.2 }));
    });

    it('strips batchbridge fields from the upstream body and passes unknown parameters through', async () => {
      const res = await t.call('POST', '/v1/chat/completions', {
        body: chatBody({
          callback_url: CALLBACK,
          custom_id: 'mine',
          reasoning_effort: 'low',
          metadata: { run: 'nightly' },
        }),
      });
      expect(res.status).toBe(202);
      expect(res.json.custom_id).toBe('mine');
      const record = await t.rt.store.requests.get(res.json.id);
      expect(JSON.parse(record!.body)).toEqual(chatBody({ reasoning_effort: 'low', metadata: { run: 'nightly' } }));
      expect(record!.callback_url).toBe(CALLBACK);
    });

    it('lets headers win over body fields for the callback URL and the client reference', async () => {
      const res = await t.chat(chatBody({ callback_url: 'http://127.0.0.1:7/body', custom_id: 'from-body' }), {
        'x-callback-url': 'http://127.0.0.1:7/header',
        'x-custom-id': 'from-header',
      });
      expect(res.status).toBe(202);
      expect(res.json.custom_id).toBe('from-header');
      const record = await t.rt.store.requests.get(res.json.id);
      expect(record!.callback_url).toBe('http://127.0.0.1:7/header');
      expect(record!.client_ref).toBe('from-header');
    });

    it('answers 400 naming callback_url when no callback URL is given at all', async () => {
      const res = await t.call('POST', '/v1/chat/completions', { body: chatBody() });
      expect(res.status).toBe(400);
      expect(res.json.error.param).toBe('callback_url');
      expect(isOpenAiError(res.json)).toBe(true);
    });

    it('answers 401 without a key or with an unknown one', async () => {
      const none = await t.call('POST', '/v1/chat/completions', { body: chatBody(), key: null });
      const wrong = await t.call('POST', '/v1/chat/completions', { body: chatBody(), key: 'bb_nope_0123456789abcdef' });
      for (const res of [none, wrong]) {
        expect(res.status).toBe(401);
        expect(isOpenAiError(res.json)).toBe(true);
        expect(res.json.error.type).toBe('authentication_error');
      }
    });

    it('answers 403 for a model the tenant may not use', async () => {
      const res = await t.chat(chatBody({ model: 'gpt-4o' }), {}, GLOBEX_KEY);
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({ param: 'model', code: 'model_not_allowed' });
      expect((await t.chat(chatBody(), {}, GLOBEX_KEY)).status).toBe(202);
    });

    it.each([
      ['temperature', { temperature: 2.5 }, 'temperature'],
      ['temperature below 0', { temperature: -0.1 }, 'temperature'],
      ['top_p', { top_p: 1.5 }, 'top_p'],
      ['max_tokens', { max_tokens: 0 }, 'max_tokens'],
      ['max_completion_tokens', { max_completion_tokens: 2.5 }, 'max_completion_tokens'],
      ['n = 0', { n: 0 }, 'n'],
      ['n = 129', { n: 129 }, 'n'],
      ['presence_penalty', { presence_penalty: -3 }, 'presence_penalty'],
      ['frequency_penalty', { frequency_penalty: 2.1 }, 'frequency_penalty'],
      ['logprobs', { logprobs: 'yes' }, 'logprobs'],
      ['top_logprobs', { top_logprobs: 21 }, 'top_logprobs'],
      ['seed', { seed: 1.5 }, 'seed'],
      ['temperature as a string', { temperature: '0.5' }, 'temperature'],
      ['stream', { stream: true }, 'stream'],
      ['custom_id too long', { custom_id: 'x'.repeat(65) }, 'custom_id'],
      ['model missing', { model: undefined }, 'model'],
      ['model not a string', { model: 42 }, 'model'],
      ['messages empty', { messages: [] }, 'messages'],
      ['messages missing', { messages: undefined }, 'messages'],
      ['unknown role', { messages: [{ role: 'robot', content: 'hi' }] }, 'messages[0].role'],
      ['content a number', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
      ['content missing', { messages: [{ role: 'user' }] }, 'messages[0].content'],
      ['bad content part', { messages: [{ role: 'user', content: [{ type: 'video' }] }] }, 'messages[0].content'],
      ['tool without tool_call_id', { messages: [{ role: 'tool', content: 'r' }] }, 'messages[0].tool_call_id'],
      ['callback_url not a string', { callback_url: 5 }, 'callback_url'],
    ])('answers 400 for an invalid %s, naming the param', async (_name, extra, param) => {
      const before = (await pendingIds(t.rt)).length;
      const res = await t.chat(chatBody(extra));
      expect(res.status).toBe(400);
      expect(isOpenAiError(res.json)).toBe(true);
      expect(res.json.error.param).toBe(param);
      expect((await pendingIds(t.rt)).length).toBe(before);
    });

    it('accepts every valid role, content parts and parameters at their bounds', async () => {
      const res = await t.chat({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'developer', content: [{ type: 'text', text: 'really' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            ],
          },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: {} }] },
          { role: 'tool', content: '42', tool_call_id: 'c1' },
          { role: 'function', content: 'x', name: 'f' },
        ],
        temperature: 2,
        top_p: 0,
        max_tokens: 1,
        n: 128,
        presence_penalty: -2,
        frequency_penalty: 2,
        logprobs: true,
        top_logprobs: 20,
        seed: -7,
        stream: false,
      });
      expect(res.status).toBe(202);
    });

    it('answers 400 for malformed JSON and for a body that is not an object', async () => {
      const bad = await t.call('POST', '/v1/chat/completions', {
        raw: '{"model": ',
        headers: { 'content-type': 'application/json', 'x-callback-url': CALLBACK },
      });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('invalid_json');
      const arr = await t.call('POST', '/v1/chat/completions', {
        body: [chatBody()],
        headers: { 'x-callback-url': CALLBACK },
      });
      expect(arr.status).toBe(400);
      expect(isOpenAiError(arr.json)).toBe(true);
    });

    it('answers 400 for a POST without a body', async () => {
      const res = await t.call('POST', '/v1/chat/completions', { headers: { 'x-callback-url': CALLBACK } });
      expect(res.status).toBe(400);
      expect(res.json.error.param).toBe('body');
    });

    it('answers 415 for a body that is not JSON', async () => {
      const res = await t.call('POST', '/v1/chat/completions', {
        raw: 'model=gpt-4o-mini',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-callback-url': CALLBACK },
      });
      expect(res.status).toBe(415);
      expect(isOpenAiError(res.json)).toBe(true);
    });

    it('answers 413 for a body over MAX_BODY_BYTES (default 1 MB)', async () => {
      const res = await t.chat(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024 + 10) }] }));
      expect(res.status).toBe(413);
      expect(isOpenAiError(res.json)).toBe(true);
    });

    it('refuses a bad X-Custom-ID and Idempotency-Key header', async () => {
      const ref = await t.chat(chatBody(), { 'x-custom-id': 'r'.repeat(65) });
      expect(ref.status).toBe(400);
      expect(ref.json.error.param).toBe('custom_id');
      const key = await t.chat(chatBody(), { 'idempotency-key': 'k'.repeat(256) });
      expect(key.status).toBe(400);
      expect(key.json.error.param).toBe('Idempotency-Key');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the same request with 200, Idempotent-Replayed and its current state', async () => {
      const headers = { 'idempotency-key': 'nightly-42' };
      const first = await t.chat(chatBody(), headers);
      expect(first.status).toBe(202);
      const again = await t.chat(chatBody(), headers);
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.json).toEqual(first.json);

      expect((await t.call('POST', `/v1/requests/${first.json.id}/cancel`)).status).toBe(200);
      const later = await t.chat(chatBody(), headers);
      expect(later.status).toBe(200);
      expect(later.json).toMatchObject({ id: first.json.id, status: 'cancelled' });
    });

    it('answers 409 for the same key with a different body, callback URL or custom_id', async () => {
      const headers = { 'idempotency-key': 'conflicting' };
      expect((await t.chat(chatBody(), headers)).status).toBe(202);
      const body = await t.chat(chatBody({ temperature: 1 }), headers);
      const callback = await t.chat(chatBody(), { ...headers, 'x-callback-url': 'http://127.0.0.1:8/other' });
      const ref = await t.chat(chatBody(), { ...headers, 'x-custom-id': 'other' });
      for (const res of [body, callback, ref]) {
        expect(res.status).toBe(409);
        expect(res.json.error.param).toBe('Idempotency-Key');
      }
    });

    it('is scoped to the tenant', async () => {
      const headers = { 'idempotency-key': 'shared-key' };
      const acme = await t.chat(chatBody(), headers, ACME_KEY);
      const globex = await t.chat(chatBody(), headers, GLOBEX_KEY);
      expect(acme.status).toBe(202);
      expect(globex.status).toBe(202);
      expect(globex.json.id).not.toBe(acme.json.id);
    });
  });

  describe('request routes', () => {
    it("GET answers the tenant's own request and 404 for another tenant's, unknown or malformed ids", async () => {
      const created = await t.chat(chatBody());
      const id = created.json.id as string;
      const own = await t.call('GET', `/v1/requests/${id}`);
      expect(own.status).toBe(200);
      expect(own.json).toEqual(created.json);

      const unknownId = `breq_00${'0'.repeat(23)}`;
      for (const [path, key] of [
        [`/v1/requests/${id}`, GLOBEX_KEY],
        [`/v1/requests/${unknownId}`, ACME_KEY],
        ['/v1/requests/not-an-id', ACME_KEY],
      ] as const) {
        const res = await t.call('GET', path, { key });
        expect(res.status).toBe(404);
        expect(isOpenAiError(res.json)).toBe(true);
        expect(res.json.error.message).toContain('7d');
      }
    });

    it('cancels a queued request (200, cancelled, delivery job queued) and answers 409 afterwards', async () => {
      const created = await t.chat(chatBody());
      const id = created.json.id as string;
      const res = await t.call('POST', `/v1/requests/${id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id, status: 'cancelled' });
      expect(res.json.completed_at).toEqual(expect.any(Number));
      expect(await pendingIds(t.rt)).not.toContain(id);
      // Its delivery is due in the same step as the cancel.
      expect(await t.rt.store.deliveries.pending(0, [deliveryMember(id)])).toEqual([true]);

      const again = await t.call('POST', `/v1/requests/${id}/cancel`);
      expect(again.status).toBe(409);
      expect(isOpenAiError(again.json)).toBe(true);
    });

    it('answers 409 to cancel once the request is batched', async () => {
      const created = await t.chat(chatBody({ model: 'gpt-4.1-nano' }));
      const id = created.json.id as string;
      const claim = await t.rt.store.flushes.claim(
        0,
        'chat.completions|gpt-4.1-nano',
        'fl_test',
        { maxRequests: 100, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 1e9 },
        true,
      );
      expect(claim.claimed).toBe(true);
      const res = await t.call('POST', `/v1/requests/${id}/cancel`);
      expect(res.status).toBe(409);
      expect(res.json.error.message).toContain('batched');
      expect((await t.call('GET', `/v1/requests/${id}`)).json.status).toBe('batched');
    });

    it('redelivers only a finished request (409 before, 202 with a redeliver job after)', async () => {
      const created = await t.chat(chatBody());
      const id = created.json.id as string;
      const early = await t.call('POST', `/v1/requests/${id}/redeliver`);
      expect(early.status).toBe(409);

      await t.call('POST', `/v1/requests/${id}/cancel`);
      const res = await t.call('POST', `/v1/requests/${id}/redeliver`);
      expect(res.status).toBe(202);
      expect(res.json).toMatchObject({ id, status: 'cancelled' });
      expect(await t.rt.store.deliveries.pending(0, [deliveryMember(id, true)])).toEqual([true]);
    });

    it('allows one redeliver per request per 5 s: the next at once is a 429 with Retry-After (issue 16.9)', async () => {
      const created = await t.chat(chatBody());
      const id = created.json.id as string;
      await t.call('POST', `/v1/requests/${id}/cancel`);
      const answers = await Promise.all([1, 2, 3].map(() => t.call('POST', `/v1/requests/${id}/redeliver`)));
      expect(answers.map((a) => a.status).sort()).toEqual([202, 429, 429]);
      const limited = answers.find((a) => a.status === 429)!;
      expect(limited.json.error.code).toBe('redeliver_rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const due = await t.rt.redis.zrange(t.rt.keys.partitionKeys(0).dlvDue, '0', '-1');
      expect(due.filter((m) => m === deliveryMember(id, true))).toHaveLength(1);
    });

    it('keeps tenants apart: another tenant cannot read, cancel or redeliver a request', async () => {
      const created = await t.chat(chatBody());
      const id = created.json.id as string;
      for (const [method, path] of [
        ['GET', `/v1/requests/${id}`],
        ['POST', `/v1/requests/${id}/cancel`],
        ['POST', `/v1/requests/${id}/redeliver`],
      ] as const) {
        const res = await t.call(method, path, { key: GLOBEX_KEY });
        expect(res.status).toBe(404);
      }
      expect((await t.call('GET', `/v1/requests/${id}`)).json.status).toBe('queued');
    });
  });

  describe('models, health, metrics, unknown routes', () => {
    it("lists the tenant's models", async () => {
      const acme = await t.call('GET', '/v1/models');
      expect(acme.status).toBe(200);
      expect(acme.json.object).toBe('list');
      expect(acme.json.data.map((m: { id: string }) => m.id)).toContain('gpt-4o-mini');
      const globex = await t.call('GET', '/v1/models', { key: GLOBEX_KEY });
      expect(globex.json.data).toEqual([{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai' }]);
      expect((await t.call('GET', '/v1/models', { key: null })).status).toBe(401);
    });

    it('answers /healthz, /readyz and /metrics', async () => {
      expect((await t.call('GET', '/healthz', { key: null })).json).toEqual({ status: 'ok' });
      const ready = await t.call('GET', '/readyz', { key: null });
      expect(ready.status).toBe(200);
      const metrics = await t.call('GET', '/metrics', { key: null });
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/batchbridge_requests_accepted_total\{tenant=""\} [1-9]/);
      expect(metrics.text).toMatch(/batchbridge_requests_rejected_total\{reason="invalid"\} [1-9]/);
      expect(metrics.text).toMatch(/batchbridge_requests\{state="queued"\} [1-9]/);
      expect(metrics.text).toContain('batchbridge_http_request_duration_seconds_bucket');
    });

    it('answers 404 for unknown routes and 405 for a wrong method, OpenAI-shaped', async () => {
      const unknown = await t.call('GET', '/v1/nothing');
      expect(unknown.status).toBe(404);
      expect(isOpenAiError(unknown.json)).toBe(true);
      const wrong = await t.call('GET', '/v1/chat/completions');
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toBe('POST');
      expect(isOpenAiError(wrong.json)).toBe(true);
      const del = await t.call('DELETE', '/v1/requests/breq_x');
      expect(del.status).toBe(405);
    });
  });
});

describe('ingest API limits', () => {
  let t: TestIngest | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it('answers 429 with Retry-After once a tenant has max_queued requests open', async () => {
    t = await startTestIngest();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await t.chat(chatBody(), {}, GLOBEX_KEY)).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    const over = await t.chat(chatBody(), {}, GLOBEX_KEY);
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(over.json.error.code).toBe('queue_quota_exceeded');
    // Other tenants are not affected; a cancelled request frees a slot.
    expect((await t.chat(chatBody())).status).toBe(202);
  });

  it('answers 503 with Retry-After at the global capacity, and /readyz reports not ready', async () => {
    t = await startTestIngest({ env: { GLOBAL_MAX_QUEUED: '3' } });
    for (let i = 0; i < 3; i++) expect((await t.chat(chatBody())).status).toBe(202);
    const over = await t.chat(chatBody());
    expect(over.status).toBe(503);
    expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(over.json.error.code).toBe('capacity_exceeded');
    expect((await t.call('GET', '/readyz', { key: null })).status).toBe(503);
  });

  it('counts open requests of every partition against the quotas when REDIS_PARTITIONS > 1', async () => {
    t = await startTestIngest({ env: { REDIS_PARTITIONS: '4' } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.chat(chatBody(), { 'idempotency-key': `k${i}` }, GLOBEX_KEY);
      expect(res.status).toBe(202);
      ids.push(res.json.id);
    }
    expect(new Set(ids.map((id) => id.slice(5, 7))).size).toBeGreaterThan(1);
    // Five open requests spread over several partitions: the sixth is refused whichever partition it lands in.
    const over = await t.chat(chatBody(), {}, GLOBEX_KEY);
    expect(over.status).toBe(429);
  });

  it('answers 429 with Retry-After: 1 over the per-second rate limit', async () => {
    t = await startTestIngest({
      tenants: [{ ...TEST_TENANTS[0]!, rate_limit_per_s: 3 }],
    });
    const answers = await Promise.all(Array.from({ length: 12 }, () => t!.chat(chatBody())));
    const accepted = answers.filter((a) => a.status === 202).length;
    const limited = answers.filter((a) => a.status === 429);
    // 12 requests can straddle at most two seconds: at most 2 × 3 accepted.
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(6);
    expect(limited.length).toBe(12 - accepted);
    expect(limited[0]!.headers.get('retry-after')).toBe('1');
    expect(limited[0]!.json.error.code).toBe('rate_limit_exceeded');
  });

  it('answers an idempotent replay without taking rate, even when the tenant is over its limit (issue 16.19)', async () => {
    t = await startTestIngest({ tenants: [{ ...TEST_TENANTS[0]!, rate_limit_per_s: 1 }] });
    const key = { 'idempotency-key': 'replay-no-rate' };
    let first = await t.chat(chatBody(), key);
    for (let i = 0; first.status === 429 && i < 30; i++) {
      await new Promise((r) => setTimeout(r, 100));
      first = await t.chat(chatBody(), key);
    }
    expect(first.status).toBe(202);
    // Fresh requests and replays at once: the fresh ones exhaust the rate, the replays never need any.
    const [fresh, replays] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, () => t!.chat(chatBody()))),
      Promise.all(Array.from({ length: 6 }, () => t!.chat(chatBody(), key))),
    ]);
    expect(fresh.some((a) => a.status === 429)).toBe(true);
    expect(replays.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(replays.map((a) => a.json.id))).toEqual(new Set([first.json.id]));
  });

  it('refuses requests that could not fit any batch', async () => {
    t = await startTestIngest({ env: { BATCH_MAX_BYTES: '1024', BATCH_MAX_TOKENS: '50' } });
    const bytes = await t.chat(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(1100) }] }));
    expect(bytes.status).toBe(413);
    expect(bytes.json.error.code).toBe('request_too_large');
    const tokens = await t.chat(chatBody({ messages: [{ role: 'user', content: 'word '.repeat(100) }] }));
    expect(tokens.status).toBe(400);
    expect(tokens.json.error.code).toBe('too_many_tokens');
    expect(await pendingIds(t.rt)).toEqual([]);
  });

  it('answers 413 at a configured MAX_BODY_BYTES', async () => {
    t = await startTestIngest({ env: { MAX_BODY_BYTES: '2048' } });
    const res = await t.chat(chatBody({ messages: [{ role: 'user', content: 'y'.repeat(3000) }] }));
    expect(res.status).toBe(413);
    expect(isOpenAiError(res.json)).toBe(true);
  });

  it("uses the tenant's default callback URL when the request names none", async () => {
    t = await startTestIngest({
      tenants: [{ ...TEST_TENANTS[0]!, default_callback_url: 'http://127.0.0.1:9/default' }],
    });
    const res = await t.call('POST', '/v1/chat/completions', { body: chatBody() });
    expect(res.status).toBe(202);
    expect((await t.rt.store.requests.get(res.json.id))!.callback_url).toBe('http://127.0.0.1:9/default');
  });

  it('protects /metrics with METRICS_TOKEN', async () => {
    t = await startTestIngest({ env: { METRICS_TOKEN: 'scrape-secret' } });
    expect((await t.call('GET', '/metrics', { key: null })).status).toBe(401);
    const ok = await t.call('GET', '/metrics', { key: 'scrape-secret' });
    expect(ok.status).toBe(200);
  });
});

describe('callback URL policy', () => {
  let t: TestIngest;
  beforeAll(async () => {
    // No allow-list: only public addresses. Names resolve through a fixed table instead of DNS.
    const table: Record<string, string[]> = {
      'hooks.example.com': ['93.184.216.34'],
      'internal.example.com': ['10.1.2.3'],
      'sneaky.example.com': ['93.184.216.34', '127.0.0.1'],
    };
    t = await startTestIngest({
      env: { WEBHOOK_ALLOW_CIDRS: '' },
      resolveHost: async (host) => {
        const found = table[host];
        if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
        return found;
      },
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://10.0.0.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://192.168.1.10/',
    'http://internal.example.com/hook',
    'http://sneaky.example.com/hook',
    'http://nowhere.example.com/hook',
  ])('answers 422 for %s', async (url) => {
    const res = await t.chat(chatBody(), { 'x-callback-url': url });
    expect(res.status).toBe(422);
    expect(res.json.error.param).toBe('callback_url');
    expect(await pendingIds(t.rt)).toEqual([]);
  });

  it.each(['ftp://example.com/x', 'not a url', 'http://user:pw@hooks.example.com/'])(
    'answers 400 for %s',
    async (url) => {
      const res = await t.chat(chatBody({ callback_url: url }), { 'x-callback-url': '' });
      expect(res.status).toBe(400);
      expect(res.json.error.param).toBe('callback_url');
    },
  );

  it('accepts public addresses and names that resolve to them', async () => {
    expect((await t.chat(chatBody(), { 'x-callback-url': 'https://hooks.example.com/h' })).status).toBe(202);
    expect((await t.chat(chatBody(), { 'x-callback-url': 'http://93.184.216.34/h' })).status).toBe(202);
  });
});
