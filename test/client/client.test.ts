// @batchbridge/client against the running service (everything in one process, the provider simulator upstream): the
// typed client on every endpoint, its Idempotency-Key across its own retries, cancel and redeliver; the webhook handler
// in a real express receiver fed by the real dispatcher; batchOpenAI in transparent mode, including a hold that runs
// out (MAX_WAIT_S=1 here, so every wait ends in a 202 that the client must follow).
import type { AddressInfo } from 'node:net';
import {
  BatchbridgeClient,
  BatchbridgeError,
  type BatchbridgeRequest,
  memoryDedupeStore,
  redisDedupeStore,
  verifyWebhook,
  verifyWebhookEvents,
  type WebhookEvent,
  type WebhookVerificationError,
  webhookHandler,
} from '@batchbridge/client';
import { batchOpenAI } from '@batchbridge/client/openai';
import {
  simulatedCompletion,
  simulatedEmbeddings,
  simulatedModeration,
  simulatedTextCompletion,
} from '@batchbridge/provider-sim';
import { freshPrefix, TEST_TENANTS } from '@batchbridge/testkit';
import express from 'express';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from '../e2e/helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const SECRET = String(TEST_TENANTS[0]!.webhook_secret);
const OTHER_SECRET = String(TEST_TENANTS[1]!.webhook_secret);

let pipeline: Pipeline;
let bb: BatchbridgeClient;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  // Batches flush after 1.5 s: long enough to cancel a queued request, and longer than any hold (MAX_WAIT_S=1).
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '1500', MAX_WAIT_S: '1' });
  bb = new BatchbridgeClient({ baseURL: pipeline.url, apiKey: ACME_KEY });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await pipeline?.dispose();
});

const chat = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }] });

/** An express app on a free loopback port; resolves with its base URL. */
async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function until<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('BatchbridgeClient', () => {
  it('submits without a callback URL, and wait() long-polls to the provider answer', async () => {
    const body = chat('client: name a colour');
    const queued = await bb.submit('chat', body, { customId: 'order-1' });
    expect(queued).toMatchObject({ status: 'queued', custom_id: 'order-1', endpoint: '/v1/chat/completions' });
    const done = await bb.wait(queued.id, { timeoutS: 60 });
    expect(done.status).toBe('completed');
    const completion = done.response?.body as ReturnType<typeof simulatedCompletion>;
    expect(completion.choices[0]!.message.content).toBe(simulatedCompletion(body).choices[0]!.message.content);
    expect((await bb.get(queued.id)).status).toBe('completed');
  });

  it('submits to every other endpoint, by short name or path', async () => {
    const embeddings = { model: 'text-embedding-3-small', input: 'client text', encoding_format: 'float' as const };
    const completions = { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 16 };
    const moderations = { model: 'omni-moderation-latest', input: 'a calm sentence' };
    const responses = { model: 'gpt-4o-mini', input: 'Say something about rivers.' };
    const submitted = await Promise.all([
      bb.submit('embeddings', embeddings),
      bb.submit('/v1/completions', completions),
      bb.submit('moderations', moderations),
      bb.submit('responses', responses),
    ]);
    const [e, c, m, r] = await Promise.all(submitted.map((s) => bb.wait(s.id, { timeoutS: 60 })));
    expect(e!.response?.body).toEqual(simulatedEmbeddings(embeddings));
    expect(c!.response?.body).toEqual(
      simulatedTextCompletion(completions, { created: (c!.response!.body as { created: number }).created }),
    );
    expect(m!.response?.body).toEqual(simulatedModeration(moderations));
    expect(r).toMatchObject({ status: 'completed', endpoint: '/v1/responses' });
  });

  it('refuses a bad body with a BatchbridgeError naming the parameter, without retrying', async () => {
    const error = await bb
      .submit('embeddings', { model: 'text-embedding-3-small', input: '' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchbridgeError);
    expect(error).toMatchObject({ status: 400, param: 'input', retryable: false });
    const unknownKey = new BatchbridgeClient({ baseURL: `${pipeline.url}/v1`, apiKey: 'bb_nope_0123456789' });
    await expect(unknownKey.get('breq_x')).rejects.toMatchObject({ status: 401 });
  });

  it('keeps its Idempotency-Key across its own retries: a lost 202 is answered by the same request', async () => {
    const keys: string[] = [];
    let dropped = false;
    // The first answer is received by the service's client side and then lost, as a dropped connection would lose it.
    const lossy = new BatchbridgeClient({
      baseURL: pipeline.url,
      apiKey: ACME_KEY,
      fetch: async (input, init) => {
        keys.push(new Headers(init?.headers).get('idempotency-key') ?? '');
        const res = await fetch(input, init);
        if (!dropped) {
          dropped = true;
          await res.arrayBuffer();
          throw new TypeError('fetch failed: socket hang up');
        }
        return res;
      },
    });
    const linesBefore = pipeline.sim!.counters().linesReceived;
    const result = await lossy.submitDetailed('chat', chat('client: retried'));
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    expect(result.replayed).toBe(false); // the replay answers our own first attempt
    const done = await bb.wait(result.request.id, { timeoutS: 60 });
    expect(done.status).toBe('completed');
    expect(pipeline.sim!.counters().linesReceived - linesBefore).toBe(1);
    // A second submit with the same key (another process resuming, say) is told it is a replay.
    const again = await bb.submitDetailed('chat', chat('client: retried'), { idempotencyKey: result.idempotencyKey });
    expect(again).toMatchObject({ replayed: true, request: { id: result.request.id } });
  });

  it('cancels a queued request, and refuses to cancel a finished one', async () => {
    const queued = await bb.submit('chat', chat('client: cancel me'));
    const cancelled = await bb.cancel(queued.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await bb.wait(queued.id, { timeoutS: 10 })).status).toBe('cancelled');
    const finished = await bb.wait((await bb.submit('chat', chat('client: finished'))).id, { timeoutS: 60 });
    await expect(bb.cancel(finished.id)).rejects.toMatchObject({ status: 409, code: 'request_not_cancellable' });
  });
});

describe('webhookHandler in an express receiver', () => {
  it('verifies, calls onEvent once per outcome across retries and redelivers, and answers 401 to a wrong secret', async () => {
    const events: WebhookEvent[] = [];
    const answers: number[] = [];
    const app = express();
    app.post('/wrong', webhookHandler({ secret: OTHER_SECRET, onEvent: () => events.push({} as WebhookEvent) }));
    // Two secrets, as during a rotation: the second one signs.
    const handler = webhookHandler({ secret: [OTHER_SECRET, SECRET], onEvent: (e) => void events.push(e) });
    app.post('/hooks', (req, res) => {
      res.once('finish', () => answers.push(res.statusCode));
      return handler(req, res);
    });
    const base = await listen(app);

    // Refused with 401: batchbridge retries (100 ms, 200 ms, 400 ms here) and then dead-letters it.
    const refused = await bb.submit('chat', chat('webhook: wrong secret'), { callbackUrl: `${base}/wrong` });
    expect((await bb.wait(refused.id, { timeoutS: 60 })).status).toBe('completed');

    const body = chat('webhook: right secret');
    const request = await bb.submit('chat', body, { callbackUrl: `${base}/hooks`, customId: 'hooked-1' });
    const event = await until(() => events.find((e) => e.data.id === request.id));
    expect(event).toMatchObject({ type: 'request.completed', data: { id: request.id, custom_id: 'hooked-1' } });
    const content = (event.data.response!.body as ReturnType<typeof simulatedCompletion>).choices[0]!.message.content;
    expect(content).toBe(simulatedCompletion(body).choices[0]!.message.content);

    // The same outcome again (same webhook-id): answered 200, not handled twice.
    await bb.redeliver(request.id);
    await until(() => (answers.length >= 2 ? true : undefined));
    expect(answers).toEqual([200, 200]);
    expect(events.filter((e) => e.data.id === request.id)).toHaveLength(1);
    expect(events.filter((e) => e.data.id === refused.id)).toHaveLength(0);
  });

  it('shares handled ids between receivers through Redis, and answers 409 while another attempt handles one', async () => {
    const redis = new Redis(pipeline.redis.url);
    const prefix = `${freshPrefix('client-dedupe')}:`;
    closers.push(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });
    const store = redisDedupeStore(redis, { prefix });
    const seen: string[] = [];
    const captured: Array<{ headers: Record<string, string>; body: Buffer }> = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = express();
    first.post('/hooks', express.raw({ type: '*/*' }), (req, _res, next) => {
      captured.push({ headers: req.headers as Record<string, string>, body: req.body as Buffer });
      next();
    });
    first.post(
      '/hooks',
      webhookHandler({
        secret: SECRET,
        dedupe: store,
        onEvent: async (e) => {
          seen.push(`first:${e.data.id}`);
          await slow;
        },
      }),
    );
    const second = express();
    second.post(
      '/hooks',
      webhookHandler({ secret: SECRET, dedupe: store, onEvent: (e) => void seen.push(`second:${e.data.id}`) }),
    );
    const [firstUrl, secondUrl] = await Promise.all([listen(first), listen(second)]);

    const request = await bb.submit('chat', chat('webhook: two receivers'), { callbackUrl: `${firstUrl}/hooks` });
    const delivery = await until(() => captured[0]);
    // While the first receiver is still handling it, the same signed delivery at the second receiver: 409 (retry).
    const replay = (headers: Record<string, string>, body: Buffer = delivery.body) =>
      fetch(`${secondUrl}/hooks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': headers['webhook-id']!,
          'webhook-timestamp': headers['webhook-timestamp']!,
          'webhook-signature': headers['webhook-signature']!,
        },
        body: new Uint8Array(body),
      });
    const during = await replay(delivery.headers);
    expect(during.status).toBe(409);
    release();
    await until(() => (seen.length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    const after = await replay(delivery.headers);
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ received: true, duplicate: true });
    expect(seen).toEqual([`first:${request.id}`]);
    // Tampered bytes: 401, whatever the dedupe store says.
    const tampered = await replay(delivery.headers, Buffer.concat([delivery.body, Buffer.from(' ')]));
    expect(tampered.status).toBe(401);
  });

  it('refuses a body already parsed by express.json() rather than verify re-serialised JSON', async () => {
    const app = express();
    app.post(
      '/hooks',
      express.json(),
      webhookHandler({ secret: SECRET, dedupe: memoryDedupeStore(), onEvent: () => 0 }),
    );
    const base = await listen(app);
    const res = await fetch(`${base}/hooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"type":"request.completed"}',
    });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toContain('express.raw');
  });
});

describe('verifyWebhook', () => {
  it('accepts what the standardwebhooks library signs, with any of several secrets, and refuses the rest', async () => {
    const event: WebhookEvent = {
      type: 'request.failed',
      timestamp: new Date().toISOString(),
      data: { id: 'breq_x', status: 'failed' } as BatchbridgeRequest,
    };
    const payload = JSON.stringify(event);
    const now = new Date();
    const signature = new Webhook(SECRET).sign('msg_1', now, payload);
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': `v1,bm90IGEgc2lnbmF0dXJl ${signature}`,
    };
    const ok = await verifyWebhook(payload, headers, [OTHER_SECRET, SECRET]);
    expect(ok).toMatchObject({ id: 'msg_1', event: { type: 'request.failed', data: { id: 'breq_x' } } });
    expect((await verifyWebhook(new TextEncoder().encode(payload), new Headers(headers), SECRET)).id).toBe('msg_1');
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e: WebhookVerificationError) => e.code,
      );
    expect(await codeOf(verifyWebhook(`${payload} `, headers, SECRET))).toBe('bad_signature');
    expect(await codeOf(verifyWebhook(payload, headers, OTHER_SECRET))).toBe('bad_signature');
    expect(await codeOf(verifyWebhook(payload, { ...headers, 'webhook-id': 'msg_2' }, SECRET))).toBe('bad_signature');
    expect(await codeOf(verifyWebhook(payload, headers, SECRET, { now: () => Date.now() + 600_000 }))).toBe(
      'timestamp_out_of_range',
    );
    expect(await codeOf(verifyWebhook(payload, { 'webhook-id': 'msg_1' }, SECRET))).toBe('missing_headers');
  });
  it('reads an aggregated delivery as its outcomes; webhookHandler handles each once across retries', async () => {
    const at = new Date().toISOString();
    const outcome = (n: number): WebhookEvent => ({
      type: 'request.completed',
      timestamp: at,
      data: { id: `breq_agg${n}`, status: 'completed' } as BatchbridgeRequest,
    });
    const envelope = (ns: number[]) =>
      `{"type":"request.outcomes","timestamp":"${new Date().toISOString()}","data":[${ns
        .map((n) => `{"webhook_id":"msg_in${n}","event":${JSON.stringify(outcome(n))}}`)
        .join(',')}]}`;
    const signed = (id: string, payload: string) => {
      const now = new Date();
      return {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new Webhook(SECRET).sign(id, now, payload),
      };
    };
    const payload = envelope([1, 2, 3]);
    const read = await verifyWebhookEvents(payload, signed('msg_agg1', payload), SECRET);
    expect(read).toMatchObject({ id: 'msg_agg1', aggregated: true });
    expect(read.events.map((e) => [e.id, e.event.data.id])).toEqual([
      ['msg_in1', 'breq_agg1'],
      ['msg_in2', 'breq_agg2'],
      ['msg_in3', 'breq_agg3'],
    ]);
    // verifyWebhook alone would see one outcome: it refuses and says what to use.
    const refused = await verifyWebhook(payload, signed('msg_agg1', payload), SECRET).catch((e: Error) => e.message);
    expect(refused).toContain('verifyWebhookEvents');
    const single = JSON.stringify(outcome(9));
    expect((await verifyWebhookEvents(single, signed('msg_s', single), SECRET)).events).toEqual([
      { id: 'msg_s', event: outcome(9) },
    ]);

    // A receiver whose handler fails on one outcome: the retried envelope handles only what was not handled.
    const handled: string[] = [];
    let failOn: string | undefined = 'breq_agg2';
    const app = express();
    app.post(
      '/hooks',
      webhookHandler({
        secret: SECRET,
        onEvent: async (event) => {
          if (event.data.id === failOn) throw new Error('not now');
          handled.push(event.data.id);
        },
      }),
    );
    const base = await listen(app);
    const post = () => fetch(`${base}/hooks`, { method: 'POST', headers: signed('msg_agg1', payload), body: payload });
    expect((await post()).status).toBe(500);
    failOn = undefined;
    const again = await post();
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, events: 3, duplicates: 1 });
    expect(handled).toEqual(['breq_agg1', 'breq_agg2', 'breq_agg3']);
  });
});

describe('batchOpenAI', () => {
  it('returns real completions and embeddings, following a hold that ran out (202) to the outcome', async () => {
    const client = batchOpenAI({ baseURL: pipeline.url, apiKey: ACME_KEY, wait: 60 });
    const body = chat('batchOpenAI: name a colour');
    const { data: completion, response } = await client.chat.completions.create(body).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^breq_/);
    expect(completion.choices[0]!.message.content).toBe(simulatedCompletion(body).choices[0]!.message.content);
    const embedding = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'batchOpenAI text',
      encoding_format: 'float',
    });
    expect(embedding.data[0]!.embedding).toEqual(
      simulatedEmbeddings({ model: 'text-embedding-3-small', input: 'batchOpenAI text', encoding_format: 'float' })
        .data[0]!.embedding,
    );
  });

  it('sends one Idempotency-Key per call, kept on the SDK retry after a dropped connection: one request', async () => {
    const keys: string[] = [];
    let dropped = false;
    const client = batchOpenAI({
      baseURL: pipeline.url,
      apiKey: ACME_KEY,
      wait: 60,
      fetch: async (input, init) => {
        const isPost = init?.method === 'POST';
        if (isPost) keys.push(new Headers(init?.headers).get('idempotency-key') ?? '');
        if (isPost && !dropped) {
          dropped = true;
          const res = await fetch(input, init); // stored by the service, then the answer is lost
          await res.arrayBuffer();
          throw new TypeError('fetch failed: other side closed');
        }
        return fetch(input, init);
      },
    });
    const linesBefore = pipeline.sim!.counters().linesReceived;
    const body = chat('batchOpenAI: dropped once');
    const completion = await client.chat.completions.create(body);
    expect(completion.choices[0]!.message.content).toBe(simulatedCompletion(body).choices[0]!.message.content);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^bb-openai-/);
    expect(keys[1]).toBe(keys[0]);
    expect(pipeline.sim!.counters().linesReceived - linesBefore).toBe(1);
  });

  it('surfaces a refused line as the provider error, not retried', async () => {
    const client = batchOpenAI({ baseURL: pipeline.url, apiKey: ACME_KEY, wait: 60 });
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'refuse me [sim:error=400]' }] })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400 });
  });
});
