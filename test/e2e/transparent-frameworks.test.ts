// Transparent mode with the framework clients people already run (issue 18): LangChain's ChatOpenAI and the Vercel AI
// SDK, configured with nothing but batchbridge's base URL and a key of a tenant that waits by default. Each gets the
// simulator's exact answer, and the traffic rides provider batches: the simulator sees no realtime call.
import { createOpenAI } from '@ai-sdk/openai';
import { simulatedCompletion } from '@batchbridge/provider-sim';
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
