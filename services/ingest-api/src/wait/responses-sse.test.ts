// The Responses streaming re-telling of a finished response, read by the real openai SDK: what a client assembles
// from the events must be the response batchbridge got, item by item (the AI SDK: test/ingest/responses-stream-ai-sdk).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { response, type SseServer, startSseServer } from '../../test/responses-fixture.js';
import { responseAsSse, responsesErrorAsSse } from './responses-sse.js';

let sse: SseServer;
let client: OpenAI;

beforeAll(async () => {
  sse = await startSseServer();
  client = new OpenAI({ baseURL: sse.baseURL, apiKey: 'k', maxRetries: 0 });
});
afterAll(() => sse.close());

describe('response as Responses streaming events', () => {
  it('is assembled back into the same response by the openai SDK (responses.stream)', async () => {
    sse.answer = responseAsSse(response);
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
    sse.answer = responseAsSse(response);
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
    sse.answer = responseAsSse(incomplete);
    const final = await client.responses.stream({ model: 'gpt-4o-mini', input: 'hi' }).finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });

  it('tells an error the way the SDK raises it', async () => {
    sse.answer = responsesErrorAsSse({
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
