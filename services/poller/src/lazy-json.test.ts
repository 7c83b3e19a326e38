import { describe, expect, it } from 'vitest';
import { LAZY_MEMBER_CHARS, parseLazy as parseBytes, type SpanMap } from './lazy-json.js';

/** parseLazy reads the bytes of a line, as the result file hands them over. */
const parseLazy = (text: string, spans?: SpanMap) => parseBytes(Buffer.from(text), spans);

const vector = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed + i) / 7);
const embeddingsLine = (id: string, dims: number) =>
  JSON.stringify({
    id: 'batch_req_1',
    custom_id: id,
    response: {
      status_code: 200,
      request_id: 'req_1',
      body: {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: vector(dims, 3) }],
        model: 'text-embedding-3-small',
        usage: { prompt_tokens: 9, total_tokens: 9 },
      },
    },
    error: null,
  });

describe('parseLazy', () => {
  it('gives what JSON.parse gives, for small and large values, escapes and nesting included', () => {
    const samples = [
      '{}',
      '[]',
      ' {"a" : [1, 2.5e-3, -0, true, false, null], "b": {"c": "x\\"}{][y", "d": "\\\\"}} ',
      JSON.stringify({ big: 'q"{['.repeat(LAZY_MEMBER_CHARS), n: [{ deep: vector(3000, 1) }], s: '\u2028é😀' }),
      embeddingsLine('req_a', 1536),
      JSON.stringify({ pad: 'x'.repeat(LAZY_MEMBER_CHARS * 2), __proto__x: 1, ['__proto__']: { polluted: true } }),
    ];
    for (const text of samples) {
      expect(JSON.stringify(parseLazy(text))).toBe(JSON.stringify(JSON.parse(text)));
      expect(parseLazy(text)).toEqual(JSON.parse(text));
    }
    // A "__proto__" key is an own member, as with JSON.parse, never the object's prototype.
    const withProto = parseLazy(
      `{"pad":"${'x'.repeat(LAZY_MEMBER_CHARS * 2)}","__proto__":{"polluted":true}}`,
    ) as Record<string, unknown>;
    expect(Object.getPrototypeOf(withProto)).toBe(Object.prototype);
    expect(Object.hasOwn(withProto, '__proto__')).toBe(true);
  });

  it('leaves a large member unparsed until it is read, and gives the body text as it stands in the line', () => {
    const text = embeddingsLine('req_b', 1536);
    const spans: SpanMap = new WeakMap();
    const line = parseLazy(text, spans) as { response: { body: Record<string, unknown> } };
    const body = line.response.body;
    expect(Object.getOwnPropertyDescriptor(body, 'data')?.get).toBeTypeOf('function');
    expect(body.usage).toEqual({ prompt_tokens: 9, total_tokens: 9 });
    const span = spans.get(body)!;
    expect(Buffer.from(text).subarray(span.start, span.end).toString()).toBe(
      JSON.stringify(JSON.parse(text).response.body),
    );
    // Read once, it is an ordinary property holding the parsed value.
    expect((body.data as Array<{ embedding: number[] }>)[0]!.embedding).toHaveLength(1536);
    expect(Object.getOwnPropertyDescriptor(body, 'data')?.get).toBeUndefined();
  });

  it('refuses a line cut short anywhere, as JSON.parse does', () => {
    const text = embeddingsLine('req_c', 1536);
    for (const cut of [1, 30, 100, LAZY_MEMBER_CHARS, text.length - 40, text.length - 3, text.length - 1]) {
      expect(() => JSON.parse(text.slice(0, cut))).toThrow();
      expect(() => parseLazy(text.slice(0, cut))).toThrow();
    }
  });

  it('refuses unbalanced brackets, a missing separator and trailing text', () => {
    const big = 'x'.repeat(LAZY_MEMBER_CHARS * 2);
    for (const bad of [
      `{"a":"${big}","b":[1,2}}`,
      `{"a":"${big}" "b":1}`,
      `{"a":"${big}"} extra`,
      `{"a":"${big}","b":{"c":1]}`,
      `{"a":"${big}",}`,
    ]) {
      expect(() => parseLazy(bad)).toThrow();
    }
  });
});
