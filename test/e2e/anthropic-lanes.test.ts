// Fast lanes for the Anthropic adapter (SPEC §10 over SPEC §11): a request routed to an Anthropic profile whose
// deadline its slow Message Batches cannot meet is answered through Anthropic's realtime Messages API
// (`POST /v1/messages`) — not the openai SDK — in time, as the same `chat.completion` its batch line would have become,
// and delivered as batch results are (Prefer: wait, webhook, GET), with `lane: "realtime"`. A refusal comes back as the
// OpenAI-shaped error a batch line's `errored` result becomes; a long deadline stays on the batch lane.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromAnthropicMessage, toAnthropicParams } from '@batchbridge/provider/anthropic';
import { type AnthropicSim, createAnthropicSim, simulatedMessage } from '@batchbridge/provider-sim/anthropic';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver, waitFor } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const dir = mkdtempSync(join(tmpdir(), 'bb-anthropic-lanes-'));
const HAIKU = 'claude-haiku-4-5-20251001';
const DEFAULT_MAX_TOKENS = 512;

let anthropic: AnthropicSim;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // Slow batches: a Message Batch stays in_progress for ten minutes.
  anthropic = await createAnthropicSim({ processingMs: 600_000, cancellingMs: 0, apiKeys: ['sk-ant-lanes'] });
  const providersFile = join(dir, 'providers.json');
  writeFileSync(
    providersFile,
    JSON.stringify({
      providers: [
        {
          id: 'claude',
          profile: 'anthropic',
          base_url: anthropic.url,
          api_key: 'sk-ant-lanes',
          models: ['claude-*'],
          aliases: { 'claude-fast': HAIKU },
          default_max_tokens: DEFAULT_MAX_TOKENS,
          lanes: ['batch', 'realtime'],
        },
      ],
    }),
  );
  // A flush every 30 s and batches assumed to take 20 s: 51 s to a batch answer.
  pipeline = await startPipeline({
    PROVIDERS_FILE: providersFile,
    BATCH_MAX_WAIT_MS: '30000',
    BATCH_TURNAROUND: '20s',
    DEADLINE_MARGIN: '1s',
    DEADLINE_PASS_MS: '100',
  });
  receiver = await startWebhookReceiver({ secrets: [String(TEST_TENANTS[0]!.webhook_secret)] });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
  await anthropic?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${pipeline.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ACME_KEY}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function get(id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${pipeline.url}/v1/requests/${id}`, { headers: { authorization: `Bearer ${ACME_KEY}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** What the simulator's Messages API answers a chat body, as the chat.completion the batch path makes of it. */
function expectedFromClaude(body: Parameters<typeof toAnthropicParams>[0]) {
  const params = toAnthropicParams(body, { defaultMaxTokens: DEFAULT_MAX_TOKENS, model: HAIKU });
  return fromAnthropicMessage(simulatedMessage(params as never) as Parameters<typeof fromAnthropicMessage>[0]);
}

describe('fast lanes for the Anthropic adapter', () => {
  it("answers a short deadline under slow batches through Anthropic's realtime Messages API, in time", async () => {
    const body = {
      model: 'claude-fast',
      messages: [
        { role: 'system' as const, content: 'Answer in one word.' },
        { role: 'user' as const, content: 'realtime claude: name a river' },
      ],
      max_tokens: 100,
    };
    const { status, json, headers } = await post(body, {
      'x-deadline': '15s',
      prefer: 'wait=30',
      'x-callback-url': receiver.url('/claude-realtime'),
    });
    expect(status, JSON.stringify(json)).toBe(200);
    // The answer is the chat.completion the batch path makes of the same message: the caller cannot tell.
    const expected = expectedFromClaude(body);
    expect(json.object).toBe('chat.completion');
    expect(json.choices).toEqual(expected.choices);
    expect(json.usage).toEqual(expected.usage);
    const id = String(headers.get('x-request-id'));
    const request = await get(id);
    expect(request).toMatchObject({ status: 'completed', lane: 'realtime', deadline_met: true, batch_id: null });
    const [delivery] = await receiver.waitFor((all) => all.some((d) => d.path === '/claude-realtime'), {
      timeoutMs: 20_000,
    });
    expect(delivery?.verified).toBe(true);
    expect((delivery?.json as { data: Record<string, unknown> } | undefined)?.data).toMatchObject({
      id,
      lane: 'realtime',
      deadline_met: true,
    });
    // One Messages call and no Message Batch.
    const counters = anthropic.counters();
    expect(counters.chatCompletions).toBe(1);
    expect(counters.batchesCreated).toBe(0);
  });

  it('fails a request the Messages API refuses, with the OpenAI-shaped error a batch line would carry', async () => {
    const body = { model: HAIKU, messages: [{ role: 'user' as const, content: 'refuse me [sim:error=400]' }] };
    const { status, json } = await post(body, { 'x-deadline': '15s', prefer: 'respond-async' });
    expect(status).toBe(202);
    expect(json).toMatchObject({ lane: 'realtime' });
    const request = await waitFor('the refusal to settle', async () => {
      const r = await get(String(json.id));
      return r.status === 'failed' ? r : undefined;
    });
    expect(request).toMatchObject({ lane: 'realtime', error: { code: 'provider_rejected' } });
    const response = request.response as { status_code: number; body: { error: { type: string; message: string } } };
    expect(response.status_code).toBe(400);
    expect(response.body.error.type).toBe('invalid_request_error');
    expect(response.body.error.message).toMatch(/Simulated error 400/);
  });

  it('keeps a long deadline on the batch lane', async () => {
    const body = { model: HAIKU, messages: [{ role: 'user' as const, content: 'batch claude: name a sea' }] };
    const { status, json } = await post(body, { 'x-deadline': '1h', prefer: 'respond-async' });
    expect(status).toBe(202);
    expect(json).toMatchObject({ lane: 'batch', status: 'queued' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await get(String(json.id))).toMatchObject({ lane: 'batch', status: 'queued' });
    // No further Messages call (the simulator counts answered ones: the refusal above is not among them).
    expect(anthropic.counters().chatCompletions).toBe(1);
  });
});
