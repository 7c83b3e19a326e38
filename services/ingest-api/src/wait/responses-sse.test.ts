// The Responses streaming re-telling of a finished response, read by the real openai SDK: what a client assembles
// from the events must be the response batchbridge got, item by item (the AI SDK: test/ingest/responses-stream-ai-sdk).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSE_KEEPALIVE } from './chat-sse.js';
import { responseAsSse, responsesErrorAsSse } from './responses-sse.js';

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

describe('response as Responses streaming events', () => {
  it('is assembled back into the same response by the openai SDK (responses.stream)', async () => {
    answer = responseAsSse(response);
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'hi' });
    let text = '';
    stream.on('response.output_text.delta', (e) => {
      text += e.delta;
    });
    const final = await stream.finalResponse();
    // toMatchObject: the SDK adds its own `output_text` to what the server sent.
    expect(final).toMatchObject(response);
    expect(final.output_text).toBe('Hello there.');
    expect(text).toBe('Hello there.');
  });

  it('numbers the events from 0 in order, in the documented sequence', async () => {
    answer = responseAsSse(response);
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    const events: Array<{ type: string; sequence_number: number }> = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[0]).toMatchObject({ response: { id: 'resp_abc', status: 'in_progress', output: [], usage: null } });
  });

  it('ends with response.incomplete for an incomplete response', async () => {
    const incomplete = { ...response, status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
    answer = responseAsSse(incomplete);
    const final = await client.responses.stream({ model: 'gpt-4o-mini', input: 'hi' }).finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });

  it('tells an error the way the SDK raises it', async () => {
    answer = responsesErrorAsSse({
      error: { message: 'bad model', type: 'invalid_request_error', param: null, code: 'x' },
    });
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    await expect(
      (async () => {
        for await (const _ of stream) {
          /* drain */
        }
      })(),
    ).rejects.toThrow(/bad model/);
  });
});
