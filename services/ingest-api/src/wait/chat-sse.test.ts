// The streamed re-telling of a finished completion, read by the real openai SDK: what a client assembles from the
// chunks must be the completion batchbridge got, choice by choice, with tool calls and usage.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionAsSse, errorAsSse, SSE_KEEPALIVE } from './chat-sse.js';

const completion = {
  id: 'chatcmpl-abc',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  system_fingerprint: 'fp_sim',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'Hello there.', refusal: null }, finish_reason: 'stop' },
    {
      index: 1,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }],
      },
      finish_reason: 'tool_calls',
    },
  ],
  usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
};

let server: Server;
let client: OpenAI;
let answer: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(SSE_KEEPALIVE);
    res.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'k', maxRetries: 0 });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('completion as server-sent events', () => {
  it('is assembled back into the same completion by the openai SDK', async () => {
    answer = completionAsSse(completion, { includeUsage: true });
    const stream = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.id).toBe('chatcmpl-abc');
    expect(final.choices[0]?.message.content).toBe('Hello there.');
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(final.choices[1]?.message.tool_calls?.[0]).toMatchObject({
      id: 'call_1',
      type: 'function',
      function: { name: 'lookup', arguments: '{"q":"x"}' },
    });
    expect(final.choices[1]?.finish_reason).toBe('tool_calls');
    expect(final.usage).toEqual(completion.usage);
  });

  it('leaves usage out unless asked, and ends with [DONE]', async () => {
    answer = completionAsSse(completion, { includeUsage: false });
    expect(answer.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks: unknown[] = [];
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(4);
    expect(chunks.some((c) => (c as { usage?: unknown }).usage !== undefined)).toBe(false);
  });

  it('tells an error the way the SDK raises it', async () => {
    answer = errorAsSse({ error: { message: 'bad model', type: 'invalid_request_error', param: null, code: 'x' } });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    await expect(
      (async () => {
        for await (const _ of stream) {
          /* drain */
        }
      })(),
    ).rejects.toThrow(/bad model/);
  });
});
