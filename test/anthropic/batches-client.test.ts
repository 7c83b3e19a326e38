/**
 * batchbridge's Anthropic adapter parts against the simulator's Anthropic mode, over real HTTP: chat bodies translated
 * to Messages, batches created, polled and read back as `chat.completion`s an OpenAI caller cannot tell apart, the
 * neutral outcomes of errored, canceled and expired requests, errors, and finding a flush's batch after a crash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeLine, ProviderError, ResultLineSchema } from '@batchbridge/provider';
import {
  type AnthropicBatchesClient,
  type AnthropicMessageBatch,
  type AnthropicOutcome,
  createAnthropicBatchesClient,
  judgeAnthropicResult,
  neutralBatchStatus,
  toAnthropicParams,
  toOpenAIResultLine,
  writeCreateBody,
} from '@batchbridge/provider/anthropic';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { createAnthropicSim, paramsHash } from '@batchbridge/provider-sim/anthropic';
import { afterEach, describe, expect, it } from 'vitest';

const MODEL = 'claude-sonnet-4-5-20250929';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((f) => f()));
});

async function setup(options: Parameters<typeof createAnthropicSim>[0] = {}) {
  const sim = await createAnthropicSim({ processingMs: 0, cancellingMs: 0, apiKeys: ['sk-ant-t'], ...options });
  cleanups.push(() => sim.close());
  const client = createAnthropicBatchesClient({ baseUrl: sim.url, apiKey: 'sk-ant-t' });
  return { sim, client };
}

async function untilEnded(client: AnthropicBatchesClient, id: string): Promise<AnthropicMessageBatch> {
  for (let i = 0; i < 300; i++) {
    const b = await client.retrieve(id);
    if (b.processing_status === 'ended') return b;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`batch ${id} did not end`);
}

async function collect(
  client: AnthropicBatchesClient,
  batch: AnthropicMessageBatch,
  modelFor?: (id: string) => string,
) {
  const out = new Map<string, AnthropicOutcome>();
  for await (const o of client.results(batch, { created: 1_700_000_000, ...(modelFor ? { modelFor } : {}) })) {
    out.set(o.custom_id, o);
  }
  return out;
}

/** The shape of a value: keys (sorted) and types, recursively; arrays by their first element. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return [v.length > 0 ? shape(v[0]) : null];
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, shape((v as Record<string, unknown>)[k])]),
    );
  }
  return v === null ? 'null' : typeof v;
}

const chat = (text: string, extra: Record<string, unknown> = {}) => ({
  model: 'claude-sonnet',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: text },
  ],
  max_completion_tokens: 200,
  ...extra,
});

describe('Anthropic batches client against the simulator', () => {
  it('creates, polls and reads back chat.completions shaped exactly like OpenAI answers', async () => {
    const { sim, client } = await setup({ processingMs: 100 });
    const bodies = {
      breq_a: chat('What is batching?'),
      breq_b: chat('cut me short please', { stop: ['short'] }),
      breq_c: chat('y'.repeat(300), { max_tokens: 5, max_completion_tokens: undefined }),
    };
    const requests = Object.entries(bodies).map(([custom_id, body]) => ({
      custom_id,
      params: toAnthropicParams(body, { model: MODEL }),
    }));
    const created = await client.create(requests);
    expect(created.processing_status).toBe('in_progress');
    expect(neutralBatchStatus(created)).toBe('in_progress');
    const ended = await untilEnded(client, created.id);
    expect(neutralBatchStatus(ended)).toBe('completed');
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 3, errored: 0, canceled: 0, expired: 0 });

    const outcomes = await collect(client, ended, () => 'claude-sonnet');
    expect([...outcomes.values()].every((o) => o.kind === 'succeeded')).toBe(true);
    const a = outcomes.get('breq_a');
    if (a?.kind !== 'succeeded') throw new Error('breq_a did not succeed');
    const params = requests[0]!.params;
    expect(a.body.choices[0].message.content).toBe(`sim:${paramsHash(params)} ${MODEL} re: What is batching?`);
    expect(a.body.model).toBe('claude-sonnet');
    expect(a.body.choices[0].finish_reason).toBe('stop');
    expect(a.body.usage.total_tokens).toBe(a.body.usage.prompt_tokens + a.body.usage.completion_tokens);
    expect(a.body.usage.prompt_tokens).toBe(Math.ceil('You are terse.\nWhat is batching?'.length / 4));
    // An OpenAI caller sees the same keys and types as in an OpenAI answer (the OpenAI simulator's, built after it).
    const openaiShaped = simulatedCompletion({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(shape({ ...a.body, system_fingerprint: 'fp' })).toEqual(shape(openaiShaped));

    const b = outcomes.get('breq_b');
    expect(b?.kind === 'succeeded' && b.body.choices[0].message.content?.endsWith('re: cut me ')).toBe(true);
    expect(b?.kind === 'succeeded' && b.body.choices[0].finish_reason).toBe('stop');
    const c = outcomes.get('breq_c');
    expect(c?.kind === 'succeeded' && c.body.choices[0].finish_reason).toBe('length');
    expect(c?.kind === 'succeeded' && c.body.usage.completion_tokens).toBe(5);
    expect(sim.counters().customIdsAnsweredTwice).toEqual([]);
  });

  it('maps errored lines: invalid requests fail, overloaded and api errors retry; the poller judges them alike', async () => {
    const { client } = await setup();
    const created = await client.create([
      { custom_id: 'ok', params: toAnthropicParams(chat('fine'), { model: MODEL }) },
      { custom_id: 'bad', params: toAnthropicParams(chat('x'), { model: 'claude-does-not-exist' }) },
      { custom_id: 'r400', params: toAnthropicParams(chat('[sim:error=400]'), { model: MODEL }) },
      { custom_id: 'r529', params: toAnthropicParams(chat('[sim:error=529]'), { model: MODEL }) },
      { custom_id: 'r500', params: toAnthropicParams(chat('[sim:error=500]'), { model: MODEL }) },
    ]);
    const outcomes = await collect(client, await untilEnded(client, created.id));
    expect(outcomes.get('ok')?.kind).toBe('succeeded');
    expect(outcomes.get('bad')).toMatchObject({
      kind: 'failed',
      status: 400,
      body: { error: { type: 'invalid_request_error', code: 'invalid_request_error' } },
    });
    expect(outcomes.get('r400')).toMatchObject({ kind: 'failed', status: 400 });
    expect(outcomes.get('r529')).toMatchObject({ kind: 'retry', code: 'server_error' });
    expect(outcomes.get('r500')).toMatchObject({ kind: 'retry', code: 'server_error' });

    const unreadable = judgeAnthropicResult({
      custom_id: 'u',
      result: { type: 'succeeded', message: { id: 'msg_x', content: null } },
    });
    expect(unreadable).toMatchObject({ kind: 'failed', status: 502 });

    const verdicts = Object.fromEntries(
      [...outcomes].map(([id, o]) => [id, judgeLine(ResultLineSchema.parse(toOpenAIResultLine(o))).kind]),
    );
    expect(verdicts).toEqual({ ok: 'completed', bad: 'rejected', r400: 'rejected', r529: 'retry', r500: 'retry' });
  });

  it('cancels: every unanswered request comes back as retry batch_cancelled and the batch as cancelled', async () => {
    const { client } = await setup({ processingMs: 60_000, cancellingMs: 30 });
    const created = await client.create([
      { custom_id: 'c1', params: toAnthropicParams(chat('one'), { model: MODEL }) },
      { custom_id: 'c2', params: toAnthropicParams(chat('two'), { model: MODEL }) },
    ]);
    const cancelling = await client.cancel(created.id);
    expect(neutralBatchStatus(cancelling)).toBe('cancelling');
    const ended = await untilEnded(client, created.id);
    expect(neutralBatchStatus(ended)).toBe('cancelled');
    const outcomes = await collect(client, ended);
    expect([...outcomes.values()].map((o) => o.kind === 'retry' && o.code)).toEqual([
      'batch_cancelled',
      'batch_cancelled',
    ]);
    expect(judgeLine(ResultLineSchema.parse(toOpenAIResultLine(outcomes.get('c1')!))).kind).toBe('retry');
  });

  it('expired: answered requests settle, the rest retry as batch_expired', async () => {
    const { client } = await setup({ faults: { expireAfterFraction: 0.25 } });
    const requests = Array.from({ length: 8 }, (_, i) => ({
      custom_id: `x${i}`,
      params: toAnthropicParams(chat(`q${i}`), { model: MODEL }),
    }));
    const ended = await untilEnded(client, (await client.create(requests)).id);
    expect(neutralBatchStatus(ended)).toBe('expired');
    const outcomes = [...(await collect(client, ended)).values()];
    expect(outcomes.filter((o) => o.kind === 'succeeded')).toHaveLength(2);
    expect(outcomes.filter((o) => o.kind === 'retry' && o.code === 'batch_expired')).toHaveLength(6);
  });

  it('streams a large create body from a file and reads 5 000 results line by line', async () => {
    const { client } = await setup();
    const dir = await mkdtemp(join(tmpdir(), 'anthropic-create-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'body.json');
    async function* gen() {
      for (let i = 0; i < 5_000; i++) {
        yield { custom_id: `breq_${i}`, params: toAnthropicParams(chat(`line ${i}`), { model: MODEL }) };
      }
    }
    const written = await writeCreateBody(gen(), path);
    expect(written.count).toBe(5_000);
    const created = await client.createFromFile(path);
    const ended = await untilEnded(client, created.id);
    expect(ended.request_counts.succeeded).toBe(5_000);
    let n = 0;
    const seen = new Set<string>();
    for await (const o of client.results(ended)) {
      n++;
      seen.add(o.custom_id);
      expect(o.kind).toBe('succeeded');
    }
    expect(n).toBe(5_000);
    expect(seen.size).toBe(5_000);
  });

  it('raises ProviderErrors: retryable 5xx and 429 with Retry-After, final 401 and 400; a cut download retries', async () => {
    const { sim, client } = await setup({ faults: { serverErrorFraction: { 'batches.create': 1 } } });
    const one = [{ custom_id: 'e', params: toAnthropicParams(chat('e'), { model: MODEL }) }];
    const e500 = await client.create(one).catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(ProviderError);
    expect(e500).toMatchObject({ retryable: true, status: 500 });
    sim.clearFaults();
    sim.setFaults({ rateLimitFraction: { 'batches.retrieve': 1 }, retryAfterMs: 2000 });
    const e429 = await client.retrieve('msgbatch_x').catch((e: unknown) => e);
    expect(e429).toMatchObject({ retryable: true, status: 429, retryAfterMs: 2000 });
    sim.clearFaults();
    const e404 = await client.retrieve('msgbatch_missing').catch((e: unknown) => e);
    expect(e404).toMatchObject({ retryable: false, status: 404 });
    const badKey = createAnthropicBatchesClient({ baseUrl: sim.url, apiKey: 'sk-ant-wrong' });
    expect(await badKey.list().catch((e: unknown) => e)).toMatchObject({ retryable: false, status: 401 });
    const e400 = await client.create([{ custom_id: 'not ok!', params: one[0]!.params }]).catch((e: unknown) => e);
    expect(e400).toMatchObject({ retryable: false, status: 400, message: expect.stringContaining('custom_id') });

    const many = Array.from({ length: 200 }, (_, i) => ({ custom_id: `t${i}`, params: one[0]!.params }));
    const ended = await untilEnded(client, (await client.create(many)).id);
    sim.setFaults({ truncateDownloadAfterBytes: 5_000 });
    let read = 0;
    const cut = await (async () => {
      for await (const _ of client.results(ended)) read++;
    })().catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(ProviderError);
    expect(cut).toMatchObject({ retryable: true });
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(200);
  });

  it('never sends the key to a results_url on another host', async () => {
    const { client, sim } = await setup();
    const ended = await untilEnded(
      client,
      (await client.create([{ custom_id: 'h', params: toAnthropicParams(chat('h'), { model: MODEL }) }])).id,
    );
    expect(client.resultsPath(ended)).toBe(`/v1/messages/batches/${ended.id}/results`);
    const foreign = { ...ended, results_url: 'http://127.0.0.2:9/steal' };
    expect(client.resultsPath(foreign)).toBe(`/v1/messages/batches/${ended.id}/results`);
    expect([...(await collect(client, foreign)).keys()]).toEqual(['h']);
    expect(sim.url).toContain('127.0.0.1');
  });

  it('finds a flush batch after a crash: confirmed by results once ended, by size while running, else undecided', async () => {
    const { client } = await setup({ processingMs: 60_000 });
    const notBeforeSec = Math.floor(Date.now() / 1000);
    const ours = new Set(['breq_o1', 'breq_o2', 'breq_o3']);
    const p = toAnthropicParams(chat('p'), { model: MODEL });
    const mk = (ids: string[]) => client.create(ids.map((custom_id) => ({ custom_id, params: p })));
    await mk(['other_1', 'other_2']); // another flush, different size
    const running = await mk([...ours]);
    const isFlushRequest = (id: string) => ours.has(id);
    const base = { notBeforeSec, requestCount: 3, isFlushRequest };

    expect(await client.findBatchForFlush(base)).toMatchObject({
      kind: 'found',
      confirmed: false,
      batch: { id: running.id },
    });
    // another flush of the same size, still running: cannot tell which is ours
    const twin = await mk(['other_3', 'other_4', 'other_5']);
    const undecided = await client.findBatchForFlush(base);
    expect(undecided).toMatchObject({ kind: 'undecided' });
    expect(undecided.kind === 'undecided' && undecided.candidates.sort()).toEqual([running.id, twin.id].sort());
    // nothing created since: absent
    expect(await client.findBatchForFlush({ ...base, notBeforeSec: notBeforeSec + 3_600, skewSec: 0 })).toMatchObject({
      kind: 'absent',
    });

    // once ended, the results decide: the twin is not ours, ours is confirmed
    const fast = await setup({ processingMs: 0 });
    const started = Math.floor(Date.now() / 1000);
    const mkFast = (ids: string[]) => fast.client.create(ids.map((custom_id) => ({ custom_id, params: p })));
    const theirs = await mkFast(['other_6', 'other_7', 'other_8']);
    const mine = await mkFast([...ours]);
    await untilEnded(fast.client, theirs.id);
    await untilEnded(fast.client, mine.id);
    expect(await fast.client.findBatchForFlush({ ...base, notBeforeSec: started })).toMatchObject({
      kind: 'found',
      confirmed: true,
      batch: { id: mine.id },
    });
    expect(
      await fast.client.findBatchForFlush({ ...base, notBeforeSec: started, isFlushRequest: (id) => id === 'zzz' }),
    ).toMatchObject({ kind: 'absent' });
  });

  it('realtime createMessage answers the same message as a batch line', async () => {
    const { client } = await setup();
    const params = toAnthropicParams(chat('realtime'), { model: MODEL });
    const message = await client.createMessage(params);
    const ended = await untilEnded(client, (await client.create([{ custom_id: 'rt', params }])).id);
    for await (const o of client.results(ended)) {
      expect(o.kind === 'succeeded' && o.body.choices[0].message.content).toBe(
        (message.content[0] as unknown as { text: string }).text,
      );
    }
  });
});

describe('chat round trip with tools through the simulator', () => {
  it('a tool call comes back as tool_calls, and the tool result continues the conversation', async () => {
    const { client } = await setup();
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const first = chat('Weather in Paris?', { tools, tool_choice: 'required' });
    const params = toAnthropicParams(first, { model: MODEL });
    const ended = await untilEnded(client, (await client.create([{ custom_id: 't1', params }])).id);
    const [o1] = [...(await collect(client, ended)).values()];
    if (o1?.kind !== 'succeeded') throw new Error('no tool call');
    const call = o1.body.choices[0].message.tool_calls?.[0];
    expect(o1.body.choices[0].finish_reason).toBe('tool_calls');
    expect(o1.body.choices[0].message.content).toBeNull();
    expect(call).toEqual({
      id: `toolu_sim${paramsHash(params)}`,
      type: 'function',
      function: { name: 'get_weather', arguments: JSON.stringify({ sim: paramsHash(params) }) },
    });

    const second = chat('unused', {
      tools,
      messages: [
        ...first.messages,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call!.id, content: 'sunny, 21 °C' },
      ],
    });
    const params2 = toAnthropicParams(second, { model: MODEL });
    expect(params2.messages.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: call!.id, content: 'sunny, 21 °C' }],
    });
    const ended2 = await untilEnded(client, (await client.create([{ custom_id: 't2', params: params2 }])).id);
    const [o2] = [...(await collect(client, ended2)).values()];
    expect(o2?.kind === 'succeeded' && o2.body.choices[0].finish_reason).toBe('stop');
    expect(o2?.kind === 'succeeded' && o2.body.choices[0].message.content).toContain('re: sunny, 21 °C');
  });
});
