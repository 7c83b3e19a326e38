// The Responses streaming re-telling of a finished response (services/ingest-api/src/wait/responses-sse.ts), read by
// the Vercel AI SDK's Responses model (`openai(model)`, its default): text, reasoning, tool calls, usage and errors come
// out as the SDK's own parts. The server is a bare node:http answering the events, so items the simulator never
// produces (reasoning, function calls) are covered too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSE_KEEPALIVE } from '../../services/ingest-api/src/wait/chat-sse.js';
import { responseAsSse, responsesErrorAsSse } from '../../services/ingest-api/src/wait/responses-sse.js';

const response = {
  id: 'resp_abc',
  object: 'response',
  created_at: 1_700_000_000,
  status: 'completed',
  completed_at: 1_700_000_001,
  error: null,
  incomplete_details: null,
  instructions: null,
  model: 'gpt-4o-mini',
  output: [
    {
      id: 'rs_1',
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Thought about it.' }],
    },
    {
      id: 'msg_1',
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Hello there.', annotations: [], logprobs: [] }],
    },
    {
      id: 'fc_1',
      type: 'function_call',
      status: 'completed',
      call_id: 'call_1',
      name: 'lookup',
      arguments: '{"q":"x"}',
    },
  ],
  parallel_tool_calls: true,
  tools: [],
  usage: {
    input_tokens: 5,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 3,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 8,
  },
  metadata: {},
};

let server: Server;
let baseURL: string;
let answer: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(SSE_KEEPALIVE);
    res.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseURL = `http://127.0.0.1:${port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('Responses streaming events, read by the AI SDK', () => {
  it('is read by the AI SDK Responses model: text, reasoning, the tool call and usage', async () => {
    answer = responseAsSse(response);
    const provider = createOpenAI({ baseURL, apiKey: 'k' });
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
    answer = responsesErrorAsSse({
      error: { message: 'bad model', type: 'invalid_request_error', param: null, code: 'x' },
    });
    const provider = createOpenAI({ baseURL, apiKey: 'k' });
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
