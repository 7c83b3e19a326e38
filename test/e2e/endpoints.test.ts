// Every batchable endpoint (SPEC §9, issue 17) through the whole pipeline, with the official openai SDK as the client:
// embeddings, Responses, completions and moderations come back with the simulator's exact answers, through provider
// batches of their own endpoint — in the answer (transparent mode) and in the webhook — and mixed traffic never puts
// two endpoints in one provider batch.
import {
  simulatedCompletion,
  simulatedEmbeddings,
  simulatedModeration,
  simulatedResponse,
  simulatedTextCompletion,
} from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, WAITER_KEY, withWaitingTenant } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

const tenants = withWaitingTenant(120);

let pipeline: Pipeline;
let receiver: WebhookReceiver;
let client: OpenAI;

beforeAll(async () => {
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '400' }, tenants);
  receiver = await startWebhookReceiver({ secrets: [String(TEST_TENANTS[0]!.webhook_secret)] });
  client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: WAITER_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
});

describe('endpoints beyond chat', () => {
  it('embeddings: the simulator vectors, float and base64, one per input', async () => {
    const body = { model: 'text-embedding-3-small', input: ['first text', 'second text'], dimensions: 64 };
    const answer = await client.embeddings.create(body);
    const expected = simulatedEmbeddings({ ...body, encoding_format: 'float' });
    // The SDK decodes base64 into float32 values; the float form reads back as the same float32 values.
    expect(answer.data.map((d) => d.embedding)).toEqual(
      expected.data.map((d) => (d.embedding as number[]).map(Math.fround)),
    );
    // The SDK asks for base64 by default when no format is given and decodes it: the same vectors.
    const decoded = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'first text',
      dimensions: 64,
    });
    expect(decoded.data[0]!.embedding).toEqual((expected.data[0]!.embedding as number[]).map(Math.fround));
  });

  it('responses, completions and moderations: the simulator answers exactly', async () => {
    const responseBody = { model: 'gpt-4o-mini', input: 'Say something about rivers.', instructions: 'Be brief.' };
    const response = await client.responses.create(responseBody);
    // toMatchObject: the SDK adds its own `output_text` (and `_request_id`) to what the provider sent.
    expect(response).toMatchObject(simulatedResponse(responseBody, { created: response.created_at }));
    expect(response.output_text).toContain('re: ');

    const completionBody = { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 32 };
    const completion = await client.completions.create(completionBody);
    expect(completion).toEqual(simulatedTextCompletion(completionBody, { created: completion.created }));

    const moderationBody = {
      model: 'omni-moderation-latest',
      input: ['a calm sentence', 'flag me [sim:flag=violence]'],
    };
    const moderation = await client.moderations.create(moderationBody);
    expect(moderation).toEqual(simulatedModeration(moderationBody));
    expect(moderation.results[1]!.flagged).toBe(true);
  });

  it('mixed traffic: one endpoint per provider batch, and every answer its own', async () => {
    const sim = new OpenAI({ baseURL: pipeline.sim!.url, apiKey: 'sim', maxRetries: 0 });
    const before = new Set((await sim.batches.list({ limit: 100 })).data.map((b) => b.id));
    const chats = Array.from({ length: 8 }, (_, i) => ({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: `mixed chat ${i}` }],
    }));
    const embeds = Array.from({ length: 8 }, (_, i) => ({
      model: 'text-embedding-3-small',
      input: `mixed embed ${i}`,
    }));
    const [chatAnswers, embedAnswers] = await Promise.all([
      Promise.all(chats.map((b) => client.chat.completions.create(b))),
      Promise.all(embeds.map((b) => client.embeddings.create({ ...b, encoding_format: 'float' }))),
    ]);
    for (const [i, a] of chatAnswers.entries()) {
      expect(a.choices[0]!.message.content).toBe(simulatedCompletion(chats[i]!).choices[0]!.message.content);
    }
    for (const [i, a] of embedAnswers.entries()) {
      expect(a.data[0]!.embedding).toEqual(
        simulatedEmbeddings({ ...embeds[i]!, encoding_format: 'float' }).data[0]!.embedding,
      );
    }
    const fresh = (await sim.batches.list({ limit: 100 })).data.filter((b) => !before.has(b.id));
    const endpoints = new Set(fresh.map((b) => b.endpoint));
    expect(endpoints).toEqual(new Set(['/v1/chat/completions', '/v1/embeddings']));
    // Each batch holds lines of its own endpoint only: the simulator refuses a line whose url differs from the batch's.
    expect(fresh.every((b) => b.status === 'completed')).toBe(true);
  });

  it('delivers an embeddings outcome by webhook, with the endpoint on the request object', async () => {
    const res = await fetch(`${pipeline.url}/v1/embeddings`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ACME_KEY}`,
        'content-type': 'application/json',
        'x-callback-url': receiver.url('/embed'),
      },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'by webhook', encoding_format: 'float' }),
    });
    expect(res.status).toBe(202);
    const created = (await res.json()) as { id: string; endpoint: string };
    expect(created.endpoint).toBe('/v1/embeddings');
    const [delivery] = await receiver.waitFor((all) => all.some((d) => d.path === '/embed'), { timeoutMs: 30_000 });
    const event = delivery!.json as {
      data: { endpoint: string; response: { body: { object: string; data: Array<{ embedding: number[] }> } } };
    };
    expect(event.data.endpoint).toBe('/v1/embeddings');
    expect(event.data.response.body.object).toBe('list');
    expect(event.data.response.body.data[0]!.embedding).toEqual(
      simulatedEmbeddings({ model: 'text-embedding-3-small', input: 'by webhook', encoding_format: 'float' }).data[0]!
        .embedding,
    );
  });

  it('refuses what the Batch API refuses, naming the parameter', async () => {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${pipeline.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WAITER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, error: ((await res.json()) as { error: { param: string; code: string } }).error };
    };
    expect(await post('/v1/embeddings', { model: 'text-embedding-3-small' })).toMatchObject({
      status: 400,
      error: { param: 'input' },
    });
    expect(await post('/v1/responses', { model: 'gpt-4o-mini', input: 'x', background: true })).toMatchObject({
      status: 400,
      error: { param: 'background', code: 'unsupported_parameter' },
    });
    expect(await post('/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true })).toMatchObject(
      {
        status: 400,
        error: { param: 'stream' },
      },
    );
    expect(await post('/v1/embeddings', { model: 'no-such-model', input: 'x' })).toMatchObject({
      status: 400,
      error: { code: 'model_not_found' },
    });
  });
});
