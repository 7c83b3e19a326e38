// Transparent mode with the framework clients people already run (issue 18): LangChain's ChatOpenAI, the Vercel AI
// SDK (its chat model and its default Responses model) and the openai SDK's Responses streams, configured with nothing
// but batchbridge's base URL and a key of a tenant that waits by default. Each gets the simulator's exact answer, and
// the traffic rides provider batches: the simulator sees no realtime call.
import { createOpenAI } from '@ai-sdk/openai';
import { simulatedCompletion, simulatedResponse } from '@batchbridge/provider-sim';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, WAITER_KEY, withWaitingTenant } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

const tenants = withWaitingTenant(120);
const MODEL = 'gpt-4o-mini';
const answerTo = (content: string) =>
  simulatedCompletion({ model: MODEL, messages: [{ role: 'user', content }] }).choices[0]!.message.content;

let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '500' }, tenants);
});
afterAll(async () => {
  await pipeline?.dispose();
});

describe('framework clients, unchanged', () => {
  it('LangChain ChatOpenAI: invoke and batch', async () => {
    const llm = new ChatOpenAI({
      model: MODEL,
      apiKey: WAITER_KEY,
      configuration: { baseURL: `${pipeline.url}/v1` },
      maxRetries: 0,
    });
    const one = await llm.invoke('langchain: name a river');
    expect(one.content).toBe(answerTo('langchain: name a river'));
    const prompts = ['langchain batch 1', 'langchain batch 2', 'langchain batch 3'];
    const many = await llm.batch(prompts);
    expect(many.map((m) => m.content)).toEqual(prompts.map(answerTo));
  });

  it('Vercel AI SDK: generateText and streamText (chat model)', async () => {
    const provider = createOpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: WAITER_KEY });
    const generated = await generateText({ model: provider.chat(MODEL), prompt: 'ai sdk: name a mountain' });
    expect(generated.text).toBe(answerTo('ai sdk: name a mountain'));

    const streamed = streamText({ model: provider.chat(MODEL), prompt: 'ai sdk: stream a lake' });
    let text = '';
    for await (const part of streamed.textStream) text += part;
    expect(text).toBe(answerTo('ai sdk: stream a lake'));
  });

  it('openai SDK, Responses API: responses.create({ stream: true }) and responses.stream', async () => {
    const before = pipeline.sim!.counters();
    const client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: WAITER_KEY, maxRetries: 0 });
    const body = { model: MODEL, input: 'responses: stream a sea', instructions: 'Be brief.' };
    const stream = await client.responses.create({ ...body, stream: true });
    let text = '';
    let completed: unknown;
    const sequence: number[] = [];
    for await (const event of stream) {
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    const expected = simulatedResponse(body, { created: (completed as { created_at: number }).created_at });
    expect(completed).toEqual(expected);
    expect(text).toBe(expected.output[0].content[0].text);
    expect(sequence).toEqual(sequence.map((_, i) => i));

    const other = { model: MODEL, input: [{ role: 'user' as const, content: 'responses: a helper stream' }] };
    const final = await client.responses.stream(other).finalResponse();
    expect(final).toMatchObject(simulatedResponse(other, { created: final.created_at }));
    expect(final.output_text).toBe(simulatedResponse(other).output[0].content[0].text);
    // Without a wait a stream cannot be answered: refused, naming the parameter.
    const refused = await fetch(`${pipeline.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WAITER_KEY}`, 'content-type': 'application/json', prefer: 'wait=0' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('stream');

    // Through batches: two batch lines, no realtime Responses call.
    const after = pipeline.sim!.counters();
    expect(after.linesReceived - before.linesReceived).toBe(2);
    expect((after.requests.responses ?? 0) - (before.requests.responses ?? 0)).toBe(0);
  });

  it('Vercel AI SDK default (Responses) model: generateText and streamText', async () => {
    // The body each call sent, as the simulator received it through the batch (batchbridge strips `stream`).
    const sent: Array<Record<string, unknown>> = [];
    const provider = createOpenAI({
      baseURL: `${pipeline.url}/v1`,
      apiKey: WAITER_KEY,
      fetch: async (url, init) => {
        if (String(url).endsWith('/responses') && typeof init?.body === 'string') sent.push(JSON.parse(init.body));
        return fetch(url, init);
      },
    });
    const answerOf = (body: Record<string, unknown> | undefined) => {
      const { stream: _s, stream_options: _o, ...upstream } = body ?? {};
      return simulatedResponse(upstream as { model: string; input: string }).output[0].content[0].text;
    };
    const before = pipeline.sim!.counters();
    const generated = await generateText({ model: provider(MODEL), prompt: 'ai sdk responses: name a forest' });
    expect(sent).toHaveLength(1);
    expect(generated.text).toBe(answerOf(sent[0]));
    expect(generated.text).toContain('re: ai sdk responses: name a forest');

    const streamed = streamText({ model: provider(MODEL), prompt: 'ai sdk responses: stream a valley' });
    let text = '';
    for await (const part of streamed.textStream) text += part;
    expect(sent).toHaveLength(2);
    expect(sent[1]?.stream).toBe(true);
    expect(text).toBe(answerOf(sent[1]));
    expect(text).toContain('re: ai sdk responses: stream a valley');
    expect((await streamed.usage).outputTokens).toBeGreaterThan(0);
    const after = pipeline.sim!.counters();
    expect(after.linesReceived - before.linesReceived).toBe(2);
    expect((after.requests.responses ?? 0) - (before.requests.responses ?? 0)).toBe(0);
  });

  it('100 concurrent waiting clients ride one or a few provider batches and make no realtime call', async () => {
    const before = pipeline.sim!.counters();
    const client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: WAITER_KEY, maxRetries: 0 });
    const prompts = Array.from({ length: 100 }, (_, i) => `concurrent ${i}: what is ${i} + 1?`);
    const answers = await Promise.all(
      prompts.map((content) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }] })),
    );
    expect(answers.map((a) => a.choices[0]!.message.content)).toEqual(prompts.map(answerTo));
    const after = pipeline.sim!.counters();
    expect(after.chatCompletions - before.chatCompletions).toBe(0);
    const batches = after.batchesCreated - before.batchesCreated;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(5);
    expect(after.linesReceived - before.linesReceived).toBe(100);
  });
});
