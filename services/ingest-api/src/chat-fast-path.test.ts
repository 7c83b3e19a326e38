/**
 * The fast path of `POST /v1/chat/completions` answers exactly as the express route does: the same bodies sent as
 * `application/json` (fast path) and as `application/vnd.batchbridge+json` (express.json, `application/*+json`) must
 * get the same status, headers that matter and JSON answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACME_KEY,
  CALLBACK,
  chatBody,
  GLOBEX_KEY,
  pendingIds,
  startTestIngest,
  type TestIngest,
} from '../test/helpers.js';

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

  const json = (raw: string, key?: string, headers: Record<string, string> = {}) =>
    t.call('POST', '/v1/chat/completions', {
      raw,
      headers: { 'content-type': 'application/json', 'x-callback-url': CALLBACK, ...headers },
      ...(key ? { key } : {}),
    });

  it('stores a one-line body as the client wrote it', async () => {
    const raw =
      '{ "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 1.0, "x_trace": 12345678901234567890 }';
    const res = await json(`${raw}\n`);
    expect(res.status).toBe(202);
    expect((await t.rt.store.requests.get(res.json.id))?.body).toBe(raw);
  });

  it('stores a body with a BOM and non-ASCII text as its text, and one that is not UTF-8 as the text it decodes to', async () => {
    const text = JSON.stringify(chatBody({ user: 'ça va? 日本語 🙂' }));
    const post = async (bytes: Buffer) => {
      const res = await fetch(`${t.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ACME_KEY}`,
          'content-type': 'application/json',
          'x-callback-url': CALLBACK,
        },
        body: new Uint8Array(bytes),
      });
      expect(res.status).toBe(202);
      const record = await t.rt.store.requests.get(((await res.json()) as { id: string }).id);
      return record?.body;
    };
    expect(await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toBe(text);
    // A lone 0xFF inside a string: JSON.parse read U+FFFD there, and that is what is stored (not the raw byte).
    const invalid = Buffer.from(text.replace('ça', 'Xa'));
    invalid[invalid.indexOf('Xa')] = 0xff;
    expect(await post(invalid)).toBe(text.replace('ça', '\uFFFDa'));
  });

  it('stores a multi-line body as one line', async () => {
    const res = await json(JSON.stringify(chatBody(), null, 2));
    expect(res.status).toBe(202);
    expect((await t.rt.store.requests.get(res.json.id))?.body).toBe(JSON.stringify(chatBody()));
  });

  it('refuses a body that repeats "model" (JSON.parse keeps the last, a provider may keep the first)', async () => {
    // globex may use gpt-4o-mini only: what was checked must be what runs, so a repeated key is a 400 (issue 16.6).
    const raw = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-mini"}';
    const res = await json(raw, GLOBEX_KEY);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'duplicate_key', param: 'model' });
  });

  it('replays an Idempotency-Key for the same body written with other spacing, and refuses another body', async () => {
    const headers = { 'idempotency-key': 'fast-path-spacing' };
    const first = await json('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}', undefined, headers);
    const spaced = await json(
      '{ "model": "gpt-4o-mini", "messages": [ { "role": "user", "content": "hi" } ] }',
      undefined,
      headers,
    );
    const other = await json(
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"bye"}]}',
      undefined,
      headers,
    );
    expect(first.status).toBe(202);
    expect(spaced.status).toBe(200);
    expect(spaced.json.id).toBe(first.json.id);
    expect(other.status).toBe(409);
  });

  it('counts fast-path requests in the intake metrics', async () => {
    await send('not json', 'application/json', true);
    const metrics = await t.call('GET', '/metrics', { key: null });
    expect(metrics.text).toMatch(/batchbridge_requests_rejected_total\{reason="invalid"\} [1-9]/);
    expect(metrics.text).toMatch(/batchbridge_requests_accepted_total\{tenant=""\} [1-9]/);
    expect(metrics.text).toContain('route="/v1/chat/completions"');
  });
});
