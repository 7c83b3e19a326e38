/**
 * For the tests of the Responses streaming re-telling (src/wait/responses-sse.ts, and the AI SDK's reading of it in
 * test/ingest): a finished response with every kind of item the re-telling handles, and a bare node:http server that
 * answers every request with whatever SSE text the test sets.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSE_KEEPALIVE } from '../src/wait/chat-sse.js';

export const response = {
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

export interface SseServer {
  /** `http://127.0.0.1:<port>/v1` */
  baseURL: string;
  /** The event-stream text of the next answers (after one keep-alive comment). */
  answer: string;
  close(): Promise<void>;
}

export async function startSseServer(): Promise<SseServer> {
  const state = { answer: '' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(SSE_KEEPALIVE);
    res.end(state.answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    baseURL: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
