// Issue 16.1a, 16.4, 16.6: bodies no provider accepts are refused at the door with a 400 naming the JSON path, on the
// fast path and the express path alike, and never answer a false 503.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK, chatBody, startTestIngest, type TestIngest } from '../test/helpers.js';
import { checkJsonText, checkJsonValue, JSON_LIMITS } from './json-limits.js';

const errorOf = (fn: () => void): { code: string; param: string | null; status: number } | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err as { code: string; param: string | null; status: number };
  }
};

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('checkJsonText', () => {
  it('accepts ordinary bodies, keys repeated only across objects, escaped look-alikes that differ', () => {
    for (const text of [
      JSON.stringify(chatBody()),
      '{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}',
      '{"a":"x\\"y","b":["{","}","[",",\\\\"],"c":{"a":1}}',
      '{"a":1,"\\u0062":2}',
      `{"x":${deep(JSON_LIMITS.maxDepth - 1)}}`,
    ]) {
      expect(
        errorOf(() => checkJsonText(text)),
        text.slice(0, 60),
      ).toBeUndefined();
    }
  });

  it('refuses duplicate keys at any depth, also spelled with escapes, naming the path', () => {
    expect(errorOf(() => checkJsonText('{"messages":[{"role":"bogus","content":"x","role":"user"}]}'))).toMatchObject({
      status: 400,
      code: 'duplicate_key',
      param: 'messages[0].role',
    });
    expect(errorOf(() => checkJsonText('{"model":"a","\\u006dodel":"b"}'))).toMatchObject({ code: 'duplicate_key' });
  });

  it('refuses nesting past the bound, long strings, too many items or members', () => {
    expect(errorOf(() => checkJsonText(`{"x":${deep(20_000)}}`))).toMatchObject({ code: 'nesting_too_deep' });
    const small = { maxDepth: 64, maxStringChars: 5, maxItems: 3 } as unknown as typeof JSON_LIMITS;
    expect(errorOf(() => checkJsonText('{"a":"123456"}', small))).toMatchObject({
      code: 'string_too_long',
      param: 'a',
    });
    expect(errorOf(() => checkJsonText('{"a":[1,2,3,4]}', small))).toMatchObject({ code: 'too_many_items' });
    expect(errorOf(() => checkJsonText('{"a":[true, null, "x", {}]}', small))).toMatchObject({
      code: 'too_many_items',
    });
    expect(errorOf(() => checkJsonText('{"a":[12,-3.5e10,7]}', small))).toBeUndefined();
    expect(errorOf(() => checkJsonText('{"a":1,"b":2,"c":3,"d":4}', small))).toMatchObject({
      code: 'too_many_members',
    });
  });

  it('checkJsonValue bounds an already parsed value without recursion', () => {
    let v: unknown = 1;
    for (let i = 0; i < 50_000; i++) v = [v];
    expect(errorOf(() => checkJsonValue({ x: v }))).toMatchObject({ code: 'nesting_too_deep' });
    expect(errorOf(() => checkJsonValue(chatBody()))).toBeUndefined();
  });
});

describe('the ingest API with hostile bodies', () => {
  let t: TestIngest;
  beforeAll(async () => {
    t = await startTestIngest();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const deepBody = (n: number, extra = '') =>
    `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${deep(n)}${extra}}`;
  const post = (raw: string, headers: Record<string, string>) =>
    t.call('POST', '/v1/chat/completions', { raw, headers: { 'x-callback-url': CALLBACK, ...headers } });

  it('answers 400 (not 503) to a body nested 6 000 deep on every path', async () => {
    const cases: Array<[string, string, Record<string, string>]> = [
      ['fast path', deepBody(6_000), { 'content-type': 'application/json' }],
      ['express path', deepBody(6_000), { 'content-type': 'application/vnd.api+json' }],
      ['Idempotency-Key', deepBody(6_000), { 'content-type': 'application/json', 'idempotency-key': 'deep-1' }],
      ['body callback_url', deepBody(6_000, `,"callback_url":"${CALLBACK}"`), { 'content-type': 'application/json' }],
    ];
    for (const [label, raw, headers] of cases) {
      const res = await post(raw, headers);
      expect(res.status, label).toBe(400);
      expect(res.json.error, label).toMatchObject({ code: 'nesting_too_deep', type: 'invalid_request_error' });
      expect(res.text, label).not.toMatch(/\n\s+at /);
    }
  });

  it('refuses a nested duplicate key on the express path too', async () => {
    const raw = '{"model":"gpt-4o-mini","messages":[{"role":"bogus","content":"x","role":"user"}]}';
    const res = await post(raw, { 'content-type': 'application/vnd.api+json' });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'duplicate_key', param: 'messages[0].role' });
  });

  it('still accepts an ordinary body on the express path', async () => {
    const res = await post(JSON.stringify(chatBody()), { 'content-type': 'application/vnd.api+json' });
    expect(res.status).toBe(202);
  });
});
