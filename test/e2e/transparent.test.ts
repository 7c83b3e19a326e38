// Transparent mode (SPEC §8) through the whole pipeline, with the official openai SDK as an unchanged client: only its
// base URL and key point at batchbridge, and what comes back is the simulator's own completion — after a real provider
// batch — as if the SDK had called the provider.
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, WAITER_KEY, withWaitingTenant } from '../e2e/helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

const tenants = withWaitingTenant(60);

let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '300' }, tenants);
  receiver = await startWebhookReceiver({ secrets: [String(TEST_TENANTS[0]!.webhook_secret)] });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
});

const sdk = (apiKey: string, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey, maxRetries: 0, defaultHeaders: headers });

describe('transparent mode', () => {
  it('answers an unchanged client with the provider completion, for a tenant that waits by default', async () => {
    const client = sdk(WAITER_KEY);
    const bodies = Array.from({ length: 6 }, (_, i) => ({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: `transparent ${i}: name a colour` }],
    }));
    const { data: completions, response } = await client.chat.completions.create(bodies[0]!).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('preference-applied')).toBe('wait=60');
    expect(response.headers.get('x-request-id')).toMatch(/^breq_/);
    expect(completions.choices[0]!.message.content).toBe(simulatedCompletion(bodies[0]!).choices[0]!.message.content);
    // Several at once share provider batches, and each gets its own answer back.
    const answers = await Promise.all(bodies.slice(1).map((b) => client.chat.completions.create(b)));
    for (const [i, answer] of answers.entries()) {
      expect(answer.object).toBe('chat.completion');
      expect(answer.choices[0]!.message.content).toBe(simulatedCompletion(bodies[i + 1]!).choices[0]!.message.content);
    }
  });

  it('waits when asked with Prefer: wait, and still fires the webhook when a callback URL is given', async () => {
    const client = sdk(ACME_KEY, { Prefer: 'wait=60', 'X-Callback-URL': receiver.url('/hooked') });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hooked and waited' }] };
    const answer = await client.chat.completions.create(body);
    expect(answer.choices[0]!.message.content).toBe(simulatedCompletion(body).choices[0]!.message.content);
    const [delivery] = await receiver.waitFor((all) => all.some((d) => d.path === '/hooked'), { timeoutMs: 30_000 });
    expect(delivery?.verified).toBe(true);
  });

  it('streams the finished completion to a client that asks for a stream', async () => {
    const client = sdk(WAITER_KEY);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'stream me' }] };
    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    const expected = simulatedCompletion(body);
    expect(text).toBe(expected.choices[0]!.message.content);
    expect(usage).toEqual(expected.usage);
  });

  it('answers a refused line with the provider status, and a wait that runs out with 202 and Location', async () => {
    const client = sdk(WAITER_KEY);
    const refused = client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'no [sim:error=400]' }],
    });
    await expect(refused).rejects.toMatchObject({ status: 400 });

    // The provider is slow to answer batch status for a while: a 1 s wait runs out before the outcome is known.
    pipeline.sim!.setFaults({ latencyMs: { 'batches.retrieve': 2_500 } });
    let res: Response;
    try {
      res = await fetch(`${pipeline.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WAITER_KEY}`, 'content-type': 'application/json', prefer: 'wait=1' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a slow one' }] }),
      });
    } finally {
      pipeline.sim!.setFaults({ latencyMs: { 'batches.retrieve': 0 } });
    }
    const json = (await res.json()) as { id: string; status: string };
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/requests/${json.id}`);
    expect(res.headers.get('preference-applied')).toBe('wait=1');
    expect(['queued', 'batched', 'submitted']).toContain(json.status);
    // The request goes on: a GET that waits gets it once it is final.
    const polled = await fetch(`${pipeline.url}${res.headers.get('location')}`, {
      headers: { authorization: `Bearer ${WAITER_KEY}`, prefer: 'wait=60' },
    });
    expect(polled.status).toBe(200);
    expect(polled.headers.get('preference-applied')).toBe('wait=60');
    const final = (await polled.json()) as { status: string };
    expect(final.status).toBe('completed');
    // The whole request object, as a GET that does not wait shows it (the waiter itself reads only the outcome).
    const plain = await fetch(`${pipeline.url}${res.headers.get('location')}`, {
      headers: { authorization: `Bearer ${WAITER_KEY}` },
    });
    expect(await plain.json()).toEqual(final);
  });

  it('answers asynchronously (202) when the client says Prefer: wait=0, and needs no callback URL to wait', async () => {
    const res = await fetch(`${pipeline.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WAITER_KEY}`, 'content-type': 'application/json', prefer: 'wait=0' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'async please' }] }),
    });
    expect(res.status).toBe(400); // no callback URL and no wait: nowhere to answer
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('missing_callback_url');
    const streamed = await fetch(`${pipeline.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ACME_KEY}`,
        'content-type': 'application/json',
        'x-callback-url': receiver.url('/s'),
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(streamed.status).toBe(400);
    expect(((await streamed.json()) as { error: { param: string } }).error.param).toBe('stream');
  });

  it('answers a client that went away and came back once: one request, one paid batch line', async () => {
    const post = (body: unknown, headers: Record<string, string>, signal?: AbortSignal) =>
      fetch(`${pipeline.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WAITER_KEY}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    // The provider is slow for a moment, so that the first attempts are still waiting when their clients give up.
    pipeline.sim!.setFaults({ latencyMs: { 'batches.retrieve': 1_500 } });
    const before = pipeline.sim!.counters().linesReceived;
    const giveUp = async (body: unknown, headers: Record<string, string>) => {
      const controller = new AbortController();
      const first = post(body, headers, controller.signal).catch((err: Error) => err);
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      expect(await first).toBeInstanceOf(Error);
    };
    const keyed = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'killed and retried with a key' }] };
    const sdkLike = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'retried by the SDK itself' }] };
    try {
      await giveUp(keyed, { 'idempotency-key': 'transparent-retry-1' });
      await giveUp(sdkLike, { 'x-stainless-retry-count': '0' });
    } finally {
      pipeline.sim!.setFaults({ latencyMs: { 'batches.retrieve': 0 } });
    }
    const again = await post(keyed, { 'idempotency-key': 'transparent-retry-1' });
    expect(again.status).toBe(200);
    expect(
      ((await again.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content,
    ).toBe(simulatedCompletion(keyed).choices[0]!.message.content);
    const retried = await post(sdkLike, { 'x-stainless-retry-count': '1' });
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as { object: string }).object).toBe('chat.completion');
    expect(pipeline.sim!.counters().linesReceived - before).toBe(2);

    // A first attempt (retry count 0) is a new request even with the same body: only retries join.
    const fresh = await post(sdkLike, { 'x-stainless-retry-count': '0' });
    expect(fresh.status).toBe(200);
    expect(pipeline.sim!.counters().linesReceived - before).toBe(3);
  });
});
