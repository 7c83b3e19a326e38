/**
 * The simulator's Anthropic mode against the official `@anthropic-ai/sdk` (maxRetries 0), over real HTTP: the shapes
 * and paths the SDK expects for Message Batches and Messages, the header checks, and the faults.
 */
import Anthropic from '@anthropic-ai/sdk';
import {
  type AnthropicSim,
  createAnthropicSim,
  paramsHash,
  simulatedMessage,
} from '@batchbridge/provider-sim/anthropic';
import { afterEach, describe, expect, it } from 'vitest';

const MODEL = 'claude-haiku-4-5-20251001';
const sims: AnthropicSim[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start(options: Parameters<typeof createAnthropicSim>[0] = {}) {
  const sim = await createAnthropicSim({ processingMs: 0, cancellingMs: 0, ...options });
  sims.push(sim);
  const sdk = new Anthropic({ baseURL: sim.url, apiKey: 'sk-ant-test', maxRetries: 0 });
  return { sim, sdk };
}

async function untilEnded(sdk: Anthropic, id: string) {
  for (let i = 0; i < 200; i++) {
    const b = await sdk.messages.batches.retrieve(id);
    if (b.processing_status === 'ended') return b;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`batch ${id} did not end`);
}

const params = (text: string, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 200,
  messages: [{ role: 'user' as const, content: text }],
  ...extra,
});

describe('Anthropic mode with the official SDK', () => {
  it('creates a batch, reports in_progress then ended with counts, and serves deterministic results as JSONL', async () => {
    const { sim, sdk } = await start({ processingMs: 150 });
    const requests = [
      { custom_id: 'breq_a', params: params('first question') },
      { custom_id: 'breq_b', params: { ...params('second'), system: 'Be terse.', stop_sequences: ['second'] } },
      { custom_id: 'breq_c', params: params('x'.repeat(200), { max_tokens: 3 }) },
    ];
    const created = await sdk.messages.batches.create({ requests });
    expect(created).toMatchObject({
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: 3, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      results_url: null,
      ended_at: null,
    });
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600 * 1000);
    const ended = await untilEnded(sdk, created.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 3, errored: 0, canceled: 0, expired: 0 });
    expect(ended.results_url).toBe(`${sim.url}/v1/messages/batches/${created.id}/results`);

    const results = new Map<string, unknown>();
    for await (const line of await sdk.messages.batches.results(created.id)) results.set(line.custom_id, line.result);
    expect(results.size).toBe(3);
    for (const r of requests) {
      expect(results.get(r.custom_id)).toEqual({ type: 'succeeded', message: simulatedMessage(r.params) });
    }
    const a = results.get('breq_a') as { message: Anthropic.Message };
    expect(a.message.content).toEqual([
      { type: 'text', text: `sim:${paramsHash(requests[0]!.params)} ${MODEL} re: first question` },
    ]);
    expect(a.message.stop_reason).toBe('end_turn');
    const b = results.get('breq_b') as { message: Anthropic.Message };
    expect(b.message.stop_reason).toBe('stop_sequence');
    expect(b.message.stop_sequence).toBe('second');
    expect((b.message.content[0] as Anthropic.TextBlock).text.endsWith('re: ')).toBe(true);
    const c = results.get('breq_c') as { message: Anthropic.Message };
    expect(c.message.stop_reason).toBe('max_tokens');
    expect(c.message.usage.output_tokens).toBe(3);
    expect(sim.counters()).toMatchObject({ batchesCreated: 1, linesReceived: 3, outputLines: 3 });
  });

  it('errors invalid requests and [sim:error] lines, and refuses bad custom_ids at create', async () => {
    const { sdk } = await start();
    const created = await sdk.messages.batches.create({
      requests: [
        { custom_id: 'ok', params: params('fine') },
        { custom_id: 'bad-model', params: { ...params('x'), model: 'claude-unknown' } },
        { custom_id: 'marked', params: params('please fail [sim:error=529]') },
      ],
    });
    await untilEnded(sdk, created.id);
    const results = new Map<string, Anthropic.Messages.MessageBatchResult>();
    for await (const line of await sdk.messages.batches.results(created.id)) results.set(line.custom_id, line.result);
    expect(results.get('ok')?.type).toBe('succeeded');
    expect(results.get('bad-model')).toMatchObject({
      type: 'errored',
      error: { type: 'error', error: { type: 'invalid_request_error' } },
    });
    expect(results.get('marked')).toMatchObject({ type: 'errored', error: { error: { type: 'overloaded_error' } } });

    const refused = await sdk.messages.batches
      .create({ requests: [{ custom_id: 'has space', params: params('x') }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('custom_id') },
    });
  });

  it('lists newest first with after_id paging, as the SDK auto-paginates', async () => {
    const { sdk } = await start();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await sdk.messages.batches.create({ requests: [{ custom_id: `r${i}`, params: params(`n${i}`) }] })).id);
    }
    const page = await sdk.messages.batches.list({ limit: 2 });
    expect(page.data.map((b) => b.id)).toEqual([ids[4], ids[3]]);
    expect(page.has_more).toBe(true);
    const all: string[] = [];
    for await (const b of sdk.messages.batches.list({ limit: 2 })) all.push(b.id);
    expect(all).toEqual([...ids].reverse());
  });

  it('cancels: canceling, then ended with canceled requests', async () => {
    const { sdk } = await start({ processingMs: 60_000, cancellingMs: 50 });
    const created = await sdk.messages.batches.create({
      requests: [
        { custom_id: 'a', params: params('a') },
        { custom_id: 'b', params: params('b') },
      ],
    });
    const cancelling = await sdk.messages.batches.cancel(created.id);
    expect(cancelling.processing_status).toBe('canceling');
    expect(cancelling.cancel_initiated_at).not.toBeNull();
    const ended = await untilEnded(sdk, created.id);
    expect(ended.request_counts).toMatchObject({ canceled: 2, succeeded: 0 });
    const types: string[] = [];
    for await (const line of await sdk.messages.batches.results(created.id)) types.push(line.result.type);
    expect(types).toEqual(['canceled', 'canceled']);
  });

  it('expires the tail of a batch and errors a fraction of lines on demand', async () => {
    const { sim, sdk } = await start({ faults: { expireAfterFraction: 0.5 } });
    const requests = Array.from({ length: 10 }, (_, i) => ({ custom_id: `e${i}`, params: params(`q${i}`) }));
    const created = await sdk.messages.batches.create({ requests });
    const ended = await untilEnded(sdk, created.id);
    expect(ended.request_counts).toMatchObject({ succeeded: 5, expired: 5 });

    sim.setFaults({ expireAfterFraction: null, lineErrorFraction: 1, lineErrorStatus: 500 });
    const second = await sdk.messages.batches.create({ requests });
    const ended2 = await untilEnded(sdk, second.id);
    expect(ended2.request_counts).toMatchObject({ errored: 10 });
    for await (const line of await sdk.messages.batches.results(second.id)) {
      expect(line.result).toMatchObject({ type: 'errored', error: { error: { type: 'api_error' } } });
    }
  });

  it('fails creates with the fault gate (5xx, 429 with retry-after)', async () => {
    const { sim, sdk } = await start({ faults: { serverErrorFraction: { 'batches.create': 1 } } });
    const err = await sdk.messages.batches
      .create({ requests: [{ custom_id: 'x', params: params('x') }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    sim.clearFaults();
    sim.setFaults({
      rateLimitFraction: { '*': 1 },
      retryAfterMs: 3000,
    });
    const limited = await sdk.messages.batches.list().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after')).toBe('3');
    expect(sim.counters().batchesCreated).toBe(0);
  });

  it('answers realtime messages.create with the same deterministic message', async () => {
    const { sdk } = await start();
    const p = params('realtime please');
    const msg = await sdk.messages.create(p);
    expect(msg).toEqual(simulatedMessage(p));
    const unknown = await sdk.messages.create({ ...p, model: 'claude-nope' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
  });

  it('checks x-api-key and anthropic-version like the API', async () => {
    const { sim } = await start({ apiKeys: ['sk-ant-good'] });
    const noVersion = await fetch(`${sim.url}/v1/messages/batches`, { headers: { 'x-api-key': 'sk-ant-good' } });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });
    expect(noVersion.headers.get('request-id')).toMatch(/^req_/);
    const badKey = await fetch(`${sim.url}/v1/messages/batches`, {
      headers: { 'x-api-key': 'sk-ant-wrong', 'anthropic-version': '2023-06-01' },
    });
    expect(badKey.status).toBe(401);
    expect(await badKey.json()).toMatchObject({ error: { type: 'authentication_error' } });
    const sdk = new Anthropic({ baseURL: sim.url, apiKey: 'sk-ant-good', maxRetries: 0 });
    expect((await sdk.messages.batches.list()).data).toEqual([]);
  });
});
