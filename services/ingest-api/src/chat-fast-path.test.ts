/**
 * The fast path of `POST /v1/chat/completions` answers exactly as the express route does: the same bodies sent as
 * `application/json` (fast path) and as `application/vnd.batchbridge+json` (express.json, `application/*+json`) must
 * get the same status, headers that matter and JSON answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK, chatBody, pendingIds, startTestIngest, type TestIngest } from './test-helpers.js';

const BODIES: Record<string, string> = {
  valid: JSON.stringify(chatBody({ temperature: 0.5 })),
  'valid with a BOM': `\uFEFF${JSON.stringify(chatBody())}`,
  'valid with leading whitespace': ` \n\t${JSON.stringify(chatBody())}`,
  'not JSON': 'model=gpt-4o-mini',
  'truncated JSON': JSON.stringify(chatBody()).slice(0, 20),
  'a JSON number': '123',
  'a JSON string': '"hello"',
  'an array': '[]',
  'whitespace only': '   ',
  'a BOM only': '\uFEFF',
  'an empty object': '{}',
  'a bad parameter': JSON.stringify(chatBody({ temperature: 7 })),
  'stream: true': JSON.stringify(chatBody({ stream: true })),
  'an invalid model name': JSON.stringify({ ...chatBody(), model: 'has spaces' }),
  'a private callback URL': JSON.stringify(chatBody({ callback_url: 'http://10.0.0.1/hook' })),
};

describe('chat-completions fast path', () => {
  let t: TestIngest;
  beforeAll(async () => {
    t = await startTestIngest();
  });
  afterAll(async () => {
    await t.dispose();
  });

  const send = (raw: string, contentType: string, withCallbackHeader: boolean) =>
    t.call('POST', '/v1/chat/completions', {
      raw,
      headers: { 'content-type': contentType, ...(withCallbackHeader ? { 'x-callback-url': CALLBACK } : {}) },
    });

  const comparable = (json: Record<string, unknown> | undefined) => {
    if (json?.object !== 'batchbridge.request') return json;
    const { id: _id, created_at: _c, updated_at: _u, ...rest } = json;
    return rest;
  };

  for (const [name, raw] of Object.entries(BODIES)) {
    it(`answers ${name} as the express route does`, async () => {
      const withHeader = !name.includes('callback');
      const fast = await send(raw, 'application/json', withHeader);
      const slow = await send(raw, 'application/vnd.batchbridge+json', withHeader);
      expect(fast.status).toBe(slow.status);
      expect(comparable(fast.json)).toEqual(comparable(slow.json));
      expect(fast.headers.get('content-type')).toBe(slow.headers.get('content-type'));
      expect(fast.headers.get('retry-after')).toBe(slow.headers.get('retry-after'));
      expect(fast.headers.has('location')).toBe(slow.headers.has('location'));
      if (fast.status === 202) expect(await pendingIds(t.rt)).toContain(fast.json.id);
    });
  }

  it('replays an Idempotency-Key sent through either path', async () => {
    const raw = JSON.stringify(chatBody());
    const headers = { 'x-callback-url': CALLBACK, 'idempotency-key': 'fast-path-replay' };
    const first = await t.call('POST', '/v1/chat/completions', {
      raw,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    const again = await t.call('POST', '/v1/chat/completions', {
      raw,
      headers: { ...headers, 'content-type': 'application/vnd.batchbridge+json' },
    });
    const third = await t.call('POST', '/v1/chat/completions', {
      raw,
      headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(first.status).toBe(202);
    expect([again.status, third.status]).toEqual([200, 200]);
    expect(again.json.id).toBe(first.json.id);
    expect(third.json.id).toBe(first.json.id);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(third.headers.get('location')).toBe(`/v1/requests/${first.json.id}`);
  });

  it('counts fast-path requests in the intake metrics', async () => {
    await send('not json', 'application/json', true);
    const metrics = await t.call('GET', '/metrics', { key: null });
    expect(metrics.text).toMatch(/batchbridge_requests_rejected_total\{reason="invalid"\} [1-9]/);
    expect(metrics.text).toMatch(/batchbridge_requests_accepted_total\{tenant=""\} [1-9]/);
    expect(metrics.text).toContain('route="/v1/chat/completions"');
  });
});
