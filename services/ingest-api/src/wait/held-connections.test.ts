// Held connections against a real ingest and Redis (no packer: nothing finishes): a client that goes away frees its
// wait and leaves the request as it was; a shutdown answers every waiter — a plain POST on the fast path, a
// Responses stream, a long-poll GET — with the 202 form (or the stream's error event), never by cutting them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, CALLBACK, chatBody, startTestIngest, type TestIngest } from '../../test/helpers.js';

let t: TestIngest;

beforeAll(async () => {
  t = await startTestIngest();
});
afterAll(async () => {
  await t.dispose();
});

const waiting = async (): Promise<number> => {
  const text = (await t.call('GET', '/metrics', { key: null })).text;
  return Number(/^batchbridge_waiting_connections (\S+)$/m.exec(text)?.[1] ?? -1);
};
const until = async (what: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await what()).toBe(true);
};
const post = (path: string, body: unknown, headers: Record<string, string>, signal?: AbortSignal) =>
  fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ACME_KEY}`,
      'content-type': 'application/json',
      'x-callback-url': CALLBACK,
      ...headers,
    },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });

describe('held connections', () => {
  it('lets a client go away without touching its request', async () => {
    const controller = new AbortController();
    const gone = post('/v1/chat/completions', chatBody(), { prefer: 'wait=60' }, controller.signal).catch(
      (err: Error) => err,
    );
    await until(async () => (await waiting()) === 1);
    controller.abort();
    expect(await gone).toBeInstanceOf(Error);
    await until(async () => (await waiting()) === 0);
    // The request stays queued for its batch (and its webhook).
    expect(await t.rt.store.requests.stateCounts()).toEqual({ queued: 1, batched: 0, submitted: 0 });
  });

  it('answers every waiter on shutdown: 202 with Location, the stream its error event, the long-poll its object', async () => {
    const plain = post('/v1/chat/completions', chatBody(), { prefer: 'wait=60' });
    const stream = post('/v1/responses', { model: 'gpt-4o-mini', input: 'hi', stream: true }, { prefer: 'wait=60' });
    const accepted = await t.chat(chatBody());
    expect(accepted.status).toBe(202);
    const poll = fetch(`${t.url}/v1/requests/${accepted.json.id}`, {
      headers: { authorization: `Bearer ${ACME_KEY}`, prefer: 'wait=60' },
    });
    await until(async () => (await waiting()) === 3);
    const streamed = await stream;
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    await t.api.close();

    const res = await plain;
    const json = (await res.json()) as { id: string; status: string };
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/requests/${json.id}`);
    expect(res.headers.get('preference-applied')).toBe('wait=60');
    expect(res.headers.get('connection')).toBe('close');
    expect(json.status).toBe('queued');

    const events = await streamed.text();
    expect(events).toContain('event: error\n');
    expect(events).toContain('"code":"wait_expired"');

    const polled = await poll;
    expect(polled.status).toBe(200);
    expect(((await polled.json()) as { id: string; status: string }).status).toBe('queued');
  });
});
