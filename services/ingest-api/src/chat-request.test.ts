/**
 * `verbatimBody`: when the client's JSON text may go upstream as it is (one line, no repeated top-level key), and the
 * scan that decides it — strings with quotes, backslashes, colons and brackets inside must not confuse it.
 */
import { describe, expect, it } from 'vitest';
import { parseChatRequest, verbatimBody } from './chat-request.js';

const keys = (text: string) => Object.keys(JSON.parse(text)).length;
const verbatim = (text: string) => verbatimBody(text, keys(text));

describe('verbatimBody', () => {
  it('keeps a one-line body as the client wrote it, spacing and number spelling included', () => {
    const text =
      '{ "model": "m",  "messages": [{"role":"user","content":"hi"}], "temperature": 1.0, "seed": 12345678901234567890 }';
    expect(verbatim(text)).toBe(text);
    expect(verbatim(`  ${text}\t`)).toBe(text);
  });

  it('refuses a body with line breaks (a batch input file holds one request per line)', () => {
    const pretty = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, null, 2);
    expect(verbatim(pretty)).toBeUndefined();
    expect(verbatim('{"model":"m",\r"messages":[]}')).toBeUndefined();
    // A trailing newline (curl -d @file) is only spacing.
    expect(verbatim('{"model":"m"}\n')).toBe('{"model":"m"}');
  });

  it('refuses a repeated top-level key, whichever one a provider would keep', () => {
    const text = '{"model":"allowed","messages":[],"model":"forbidden"}';
    expect(verbatimBody(text, keys(text))).toBeUndefined();
  });

  it('counts only top-level members: colons, quotes, braces and backslashes inside strings or nested values do not count', () => {
    const cases = [
      '{"a":"x:y","b":{"c":1,"d":[1,{"e":2}]}}',
      '{"a":"he said \\"k\\": {v}","b":1}',
      '{"a":"ends in a backslash \\\\","b":"[{:}]"}',
      '{"a":"\\\\\\"still inside: \\\\\\\\","b":2}',
      '{"a\\"b":1,"c":2}',
      '{"a":[],"b":{},"c":""}',
      '{}',
    ];
    for (const text of cases) expect(verbatim(text), text).toBe(text);
    // Each of those, with one top-level key repeated, is caught.
    for (const text of cases.slice(0, -1)) {
      const first = JSON.stringify(Object.keys(JSON.parse(text))[0]);
      const repeated = `${text.slice(0, -1)},${first}:0}`;
      expect(verbatimBody(repeated, keys(repeated)), repeated).toBeUndefined();
    }
  });
});

describe('verbatimBody and integer parameters', () => {
  it('refuses an integer parameter written as a decimal, which JSON.parse reads as an integer', () => {
    for (const text of [
      '{"model":"m","max_tokens":1.0}',
      '{"model":"m","n":1e0}',
      '{"model":"m","seed":2E3}',
      '{"model":"m","max_completion_tokens": 5.00,"temperature":1}',
      '{"model":"m","top_logprobs":2.0}',
    ]) {
      expect(verbatim(text), text).toBeUndefined();
    }
  });

  it('keeps decimals of other parameters, nested ones, and the e of true and false', () => {
    for (const text of [
      '{"model":"m","temperature":0.5,"max_tokens":10,"stream":false,"logprobs":true}',
      '{"model":"m","max_tokens":10,"top_p":1e-1}',
      '{"model":"m","metadata":{"max_tokens":1.5},"n":2}',
      '{"model":"m","n":2,"note":"max_tokens: 1.0"}',
    ]) {
      expect(verbatim(text), text).toBe(text);
    }
  });

  it('sends such a parameter upstream as the integer that was validated', () => {
    const text = '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100.0,"seed":1e3}';
    const chat = parseChatRequest(JSON.parse(text), text);
    expect(chat.upstreamBody).toBe(
      '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100,"seed":1000}',
    );
  });
});

describe('parseChatRequest upstream body', () => {
  const messages = [{ role: 'user', content: 'hi' }];

  it('is the client text when it is safe, and the serialised object otherwise', () => {
    const text = '{"model": "m", "messages": [{"role": "user", "content": "hi"}]}';
    expect(parseChatRequest(JSON.parse(text), text).upstreamBody).toBe(text);
    expect(parseChatRequest(JSON.parse(text)).upstreamBody).toBe(JSON.stringify({ model: 'm', messages }));
  });

  it('strips batchbridge fields, re-serialising such a body', () => {
    const text = JSON.stringify({ model: 'm', messages, callback_url: 'https://example.com/h', custom_id: 'c1' });
    const chat = parseChatRequest(JSON.parse(text), text);
    expect(JSON.parse(chat.upstreamBody)).toEqual({ model: 'm', messages });
    expect(chat.bodyCallbackUrl).toBe('https://example.com/h');
  });

  it('re-serialises a body with a repeated top-level key: upstream sees exactly the model that was validated', () => {
    const text = '{"model":"first","messages":[{"role":"user","content":"hi"}],"model":"second"}';
    const chat = parseChatRequest(JSON.parse(text), text);
    expect(chat.model).toBe('second');
    expect(JSON.parse(chat.upstreamBody)).toEqual({ model: 'second', messages });
    expect(chat.upstreamBody.match(/"model"/g)).toHaveLength(1);
  });

  it('gives the same canonical body for texts that differ only in spacing', () => {
    const a = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
    const b = '{ "model" : "m" , "messages" : [ { "role" : "user" , "content" : "hi" } ] }';
    const ca = parseChatRequest(JSON.parse(a), a);
    const cb = parseChatRequest(JSON.parse(b), b);
    expect(ca.upstreamBody).not.toBe(cb.upstreamBody);
    expect(ca.canonicalBody()).toBe(cb.canonicalBody());
  });
});
