// The Responses streaming re-telling of a finished response (services/ingest-api/src/wait/responses-sse.ts), read by
// the Vercel AI SDK's Responses model (`openai(model)`, its default): text, reasoning, tool calls, usage and errors come
// out as the SDK's own parts. The server is a bare node:http answering the events, so items the simulator never
// produces (reasoning, function calls) are covered too.
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseAsSse, responsesErrorAsSse } from '../../services/ingest-api/src/wait/responses-sse.js';
import { response, type SseServer, startSseServer } from '../../services/ingest-api/test/responses-fixture.js';

let sse: SseServer;

beforeAll(async () => {
  sse = await startSseServer();
});
afterAll(() => sse.close());

describe('Responses streaming events, read by the AI SDK', () => {
  it('is read by the AI SDK Responses model: text, reasoning, the tool call and usage', async () => {
    sse.answer = responseAsSse(response);
    const provider = createOpenAI({ baseURL: sse.baseURL, apiKey: 'k' });
    const result = streamText({ model: provider('gpt-4o-mini'), prompt: 'hi' });
    let text = '';
    for await (const part of result.textStream) text += part;
    expect(text).toBe('Hello there.');
    expect(await result.reasoningText).toBe('Thought about it.');
    expect((await result.toolCalls).map((c) => [c.toolCallId, c.toolName, c.input])).toEqual([
      ['call_1', 'lookup', { q: 'x' }],
    ]);
    expect((await result.usage).inputTokens).toBe(5);
  });

  it('raises an error event as an error part', async () => {
    sse.answer = responsesErrorAsSse({
      error: { message: 'bad model', type: 'invalid_request_error', param: null, code: 'x' },
    });
    const provider = createOpenAI({ baseURL: sse.baseURL, apiKey: 'k' });
    const errors: unknown[] = [];
    const result = streamText({
      model: provider('gpt-4o-mini'),
      prompt: 'hi',
      onError: ({ error }) => {
        errors.push(error);
      },
    });
    for await (const _ of result.textStream) {
      /* drain */
    }
    expect(JSON.stringify(errors)).toContain('bad model');
  });
});
