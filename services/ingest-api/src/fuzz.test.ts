/**
 * I5 at the door, fuzzed: generated malformed bodies and headers must all answer 4xx with an OpenAI-shaped error —
 * never a 5xx, a hang or a 202 — and nothing may reach the pending sets the packer reads.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACME_KEY,
  CALLBACK,
  chatBody,
  isOpenAiError,
  pendingIds,
  startTestIngest,
  type TestIngest,
} from '../test/helpers.js';

interface Attempt {
  body: string;
  headers: Record<string, string>;
}

const finite = { noNaN: true, noDefaultInfinity: true } as const;
const nonNumber = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const nonInteger = fc.double({ ...finite, min: -1e6, max: 1e6 }).filter((x) => !Number.isInteger(x));
const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerText = fc.string({ unit: printable, minLength: 1 });

/** A field set to a value OpenAI (and so batchbridge) must refuse. */
const badField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(
    fc.constant('temperature'),
    fc.oneof(fc.double({ ...finite, min: 2.000001 }), fc.double({ ...finite, max: -0.000001 }), nonNumber),
  ),
  fc.tuple(fc.constant('top_p'), fc.oneof(fc.double({ ...finite, min: 1.000001 }), nonNumber)),
  fc.tuple(fc.constant('n'), fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 129 }), nonInteger, nonNumber)),
  fc.tuple(fc.constantFrom('max_tokens', 'max_completion_tokens'), fc.oneof(fc.integer({ max: 0 }), nonInteger)),
  fc.tuple(fc.constantFrom('presence_penalty', 'frequency_penalty'), fc.double({ ...finite, min: 2.000001 })),
  fc.tuple(fc.constant('top_logprobs'), fc.oneof(fc.integer({ min: 21 }), fc.integer({ max: -1 }))),
  fc.tuple(fc.constant('logprobs'), fc.oneof(fc.string(), fc.integer())),
  fc.tuple(fc.constant('seed'), fc.oneof(nonInteger, fc.string())),
  fc.tuple(fc.constant('stream'), fc.constant(true)),
  fc.tuple(
    fc.constant('model'),
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('', 'two words', 'x'.repeat(300))),
  ),
  fc.tuple(
    fc.constant('custom_id'),
    fc.oneof(fc.string({ minLength: 65, maxLength: 80 }), fc.integer(), fc.constant('')),
  ),
  fc.tuple(fc.constant('callback_url'), fc.oneof(fc.integer(), fc.boolean(), fc.object({ maxDepth: 1 }))),
  fc.tuple(
    fc.constant('messages'),
    fc.oneof(
      fc.constant([]),
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.array(
        fc.record({
          role: fc
            .string()
            .filter((r) => !['system', 'developer', 'user', 'assistant', 'tool', 'function'].includes(r)),
          content: fc.string(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      fc.array(
        fc.record({ role: fc.constant('user'), content: fc.oneof(fc.integer(), fc.boolean(), fc.constant([])) }),
        {
          minLength: 1,
          maxLength: 2,
        },
      ),
    ),
  ),
);

const extras = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });

/** IPv4 literals in ranges that are never public (loopback, private, link-local, CGNAT, multicast, reserved). */
const refusedIp = fc
  .tuple(
    fc.constantFrom('0', '10', '127', '169.254', '172.16', '172.31', '192.168', '100.64', '224', '240', '255'),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 3, maxLength: 3 }),
  )
  .map(([prefix, octets]) => [...prefix.split('.'), ...octets].slice(0, 4).join('.'));

const okHeaders = {
  'content-type': 'application/json',
  authorization: `Bearer ${ACME_KEY}`,
  'x-callback-url': CALLBACK,
};

const attempts: fc.Arbitrary<Attempt> = fc.oneof(
  // A valid body with random extra parameters and one bad field.
  fc.tuple(extras, badField).map(([extra, [key, value]]) => ({
    body: JSON.stringify({ ...chatBody(), ...extra, [key]: value }),
    headers: okHeaders,
  })),
  // Text that is not JSON at all, or JSON that is not an object.
  fc
    .oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
    )
    .filter((text) => {
      try {
        const v = JSON.parse(text) as unknown;
        return typeof v !== 'object' || v === null || Array.isArray(v) || !('model' in v);
      } catch {
        return true;
      }
    })
    .map((body) => ({ body, headers: okHeaders })),
  // A valid body with a bad header: callback URL (no name resolves here), client reference, idempotency key, key.
  fc
    .oneof(
      headerText.map((v) => ({ 'x-callback-url': v })),
      refusedIp.map((ip) => ({ 'x-callback-url': `http://${ip}/hook` })),
      fc.string({ unit: printable, minLength: 65, maxLength: 100 }).map((v) => ({ 'x-custom-id': v })),
      fc
        .string({ minLength: 256, maxLength: 300 })
        .map((v) => ({ 'idempotency-key': v.replace(/[^\x21-\x7e]/g, 'k') })),
      headerText.map((v) => ({ authorization: `Bearer ${v}` })),
      headerText.map((v) => ({ authorization: v })),
      fc
        .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/xml')
        .map((v) => ({ 'content-type': v })),
    )
    .map((bad) => ({ body: JSON.stringify(chatBody()), headers: { ...okHeaders, ...bad } })),
);

describe('ingest API fuzzing', () => {
  let t: TestIngest;
  beforeAll(async () => {
    // Only public addresses allowed, and no name resolves: every generated callback URL is refused.
    t = await startTestIngest({
      env: { WEBHOOK_ALLOW_CIDRS: '' },
      resolveHost: async () => {
        throw Object.assign(new Error('no DNS in this test'), { code: 'ENOTFOUND' });
      },
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('answers every malformed request 4xx, OpenAI-shaped, and enqueues nothing', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(attempts, async ({ body, headers }) => {
        const res = await fetch(`${t.url}/v1/chat/completions`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(5_000),
        });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, `${res.status} for ${body} with ${JSON.stringify(headers)}: ${text}`).toBeGreaterThanOrEqual(
          400,
        );
        expect(res.status).toBeLessThan(500);
        expect(isOpenAiError(JSON.parse(text))).toBe(true);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1000) },
    );
    expect(await pendingIds(t.rt)).toEqual([]);
    // Every class of refusal was exercised.
    for (const status of [400, 401, 415, 422]) {
      expect(seen.get(status) ?? 0, `status ${status} never produced`).toBeGreaterThan(0);
    }
  });
});
