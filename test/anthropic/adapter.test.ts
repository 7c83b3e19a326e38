/**
 * The `anthropic` adapter behind the provider seam, against the simulator's Anthropic mode over real HTTP: what the
 * packer and the poller ask of it — create from the flush's JSONL file on disk, retrieve with normalised status and
 * counts, the results as OpenAI result lines, find-by-flush after a crash, cancel, model list, refusals — and its
 * registration for the protocol `anthropic`.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDER_PROFILES, type ProviderConfig } from '@batchbridge/config';
import { batchLine } from '@batchbridge/domain';
import {
  AnthropicAdapter,
  type BatchInputFile,
  classifyProviderError,
  judgeLine,
  type ProviderAdapter,
  type ProviderBatch,
  ProviderRegistry,
  ResultLineSchema,
} from '@batchbridge/provider';
import { fromAnthropicMessage, toAnthropicParams } from '@batchbridge/provider/anthropic';
import { type AnthropicSim, createAnthropicSim, simulatedMessage } from '@batchbridge/provider-sim/anthropic';
import { afterEach, describe, expect, it } from 'vitest';

const HAIKU = 'claude-haiku-4-5-20251001';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((f) => f()));
});

function config(sim: AnthropicSim, extra: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    id: 'claude',
    profile: PROVIDER_PROFILES.anthropic,
    baseUrl: sim.url,
    apiKey: 'sk-ant-a',
    models: ['claude-*'],
    aliases: {},
    priority: 100,
    webhookSecret: undefined,
    lanes: ['batch'],
    realtime: undefined,
    timeoutMs: 10_000,
    batchCreatesPerMinute: 30,
    defaultMaxTokens: 256,
    push: false,
    ...extra,
  };
}

async function setup(options: Parameters<typeof createAnthropicSim>[0] = {}) {
  const sim = await createAnthropicSim({ processingMs: 0, cancellingMs: 0, apiKeys: ['sk-ant-a'], ...options });
  cleanups.push(() => sim.close());
  const registry = new ProviderRegistry([config(sim)]);
  const adapter = registry.adapter('claude');
  const dir = await mkdtemp(join(tmpdir(), 'bb-anthropic-adapter-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { sim, adapter, dir };
}

const chat = (text: string, extra: Record<string, unknown> = {}) => ({
  model: HAIKU,
  messages: [{ role: 'user', content: text }],
  ...extra,
});
const id = (n: number) => `breq_00${'0'.repeat(9)}${String(n).padStart(14, '0')}`;

/** The flush's input as the packer writes it: OpenAI batch lines, one per request. */
async function inputFile(dir: string, bodies: unknown[]): Promise<BatchInputFile> {
  const path = join(dir, `flush-${Math.random().toString(36).slice(2)}.jsonl`);
  const text = bodies.map((b, i) => batchLine(id(i), JSON.stringify(b), '/v1/chat/completions')).join('');
  await writeFile(path, text);
  return {
    path,
    filename: 'batchbridge-f.jsonl',
    lines: bodies.length,
    bytes: Buffer.byteLength(text),
    timeoutMs: 5_000,
  };
}

async function untilTerminal(adapter: ProviderAdapter, batchId: string): Promise<ProviderBatch> {
  for (let i = 0; i < 300; i++) {
    const b = await adapter.retrieveBatch(batchId);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`batch ${batchId} did not end`);
}

async function resultLines(adapter: ProviderAdapter, batch: ProviderBatch) {
  const out = new Map<string, ReturnType<typeof judgeLine>>();
  for (const source of adapter.resultSources(batch)) {
    const stream = await source.open(new AbortController().signal);
    const text = await new Response(stream).text();
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      const line = ResultLineSchema.parse(source.toResultLine!(JSON.parse(raw)));
      out.set(line.custom_id, judgeLine(line));
    }
  }
  return out;
}

describe('the anthropic adapter', () => {
  it('is registered for the protocol anthropic and takes its input inline', async () => {
    const { adapter } = await setup();
    expect(adapter.inputMode).toBe('inline');
    expect(new ProviderRegistry([config({ url: 'http://127.0.0.1:1' } as AnthropicSim)]).missingAdapters()).toEqual([]);
    await expect(adapter.deleteOrphanInputs('f', 0)).resolves.toBe(0);
    await expect(adapter.deleteFiles(['x'])).resolves.toBeUndefined();
  });

  it('creates from the flush file, polls to completed, and answers OpenAI result lines the poller judges', async () => {
    const { sim, adapter, dir } = await setup({ processingMs: 50 });
    const bodies = [
      chat('one', { max_tokens: 40 }),
      chat('two', { temperature: 0.5 }), // no token limit: the provider default (256)
      chat('three [sim:error=400]', { max_tokens: 40 }),
      chat('four [sim:error=529]', { max_tokens: 40 }),
    ];
    const input = await inputFile(dir, bodies);
    const created = await adapter.createBatch({
      flushId: 'f1',
      partition: 0,
      endpoint: '/v1/chat/completions',
      completionWindow: '24h',
      input,
    });
    expect(created).toMatchObject({ status: 'in_progress', request_counts: { total: 4, completed: 0, failed: 0 } });
    expect(created.id).toMatch(/^msgbatch_/);
    // The create body was a temporary file next to the input, removed after the call.
    expect((await readdir(dir)).filter((f) => f.endsWith('.anthropic.json'))).toEqual([]);
    const ended = await untilTerminal(adapter, created.id);
    expect(ended).toMatchObject({ status: 'completed', request_counts: { total: 4, completed: 2, failed: 2 } });
    expect(typeof ended.completed_at).toBe('number');

    const lines = await resultLines(adapter, ended);
    expect(lines.size).toBe(4);
    for (const i of [0, 1]) {
      const verdict = lines.get(id(i))!;
      expect(verdict.kind).toBe('completed');
      const params = toAnthropicParams(bodies[i] as never, { defaultMaxTokens: 256 });
      const expected = fromAnthropicMessage(simulatedMessage(params as never) as never, { created: 0 });
      const body = (verdict as { response: { body: typeof expected } }).response.body;
      expect({ ...body, created: 0 }).toEqual(expected);
    }
    expect(lines.get(id(2))).toMatchObject({ kind: 'rejected', response: { status_code: 400 } });
    expect(lines.get(id(3))).toMatchObject({ kind: 'retry' });
    expect(sim.counters().linesReceived).toBe(4);
  });

  it('finds the batch of a flush by its request count and ids, and says undecided without them', async () => {
    const { adapter, dir } = await setup();
    const notBeforeSec = Math.floor(Date.now() / 1000) - 5;
    const input = await inputFile(dir, [chat('a', { max_tokens: 9 }), chat('b', { max_tokens: 9 })]);
    const created = await adapter.createBatch({
      flushId: 'f2',
      partition: 0,
      endpoint: '/v1/chat/completions',
      completionWindow: '24h',
      input,
    });
    await untilTerminal(adapter, created.id);
    const mine = new Set([id(0), id(1)]);
    expect(
      await adapter.findBatchByFlushId('f2', { notBeforeSec, requestCount: 2, isFlushRequest: (c) => mine.has(c) }),
    ).toMatchObject({ kind: 'found', batch: { id: created.id, status: 'completed' } });
    expect(
      await adapter.findBatchByFlushId('f3', { notBeforeSec, requestCount: 3, isFlushRequest: () => false }),
    ).toMatchObject({ kind: 'absent' });
    expect(await adapter.findBatchByFlushId('f2', { notBeforeSec })).toMatchObject({ kind: 'undecided' });
  });

  it('cancels, lists models, and reports a batch it does not know as a 404 that is not retried', async () => {
    const { adapter, dir } = await setup({ processingMs: 60_000 });
    const input = await inputFile(dir, [chat('slow', { max_tokens: 9 })]);
    const created = await adapter.createBatch({
      flushId: 'f4',
      partition: 0,
      endpoint: '/v1/chat/completions',
      completionWindow: '24h',
      input,
    });
    const cancelling = await adapter.cancelBatch(created.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    const ended = await untilTerminal(adapter, created.id);
    expect(ended.status).toBe('cancelled');
    expect((await resultLines(adapter, ended)).get(id(0))).toMatchObject({ kind: 'retry' });

    expect(await adapter.listModels({ timeoutMs: 5_000 })).toContain(HAIKU);
    const missing = await adapter.retrieveBatch('msgbatch_nope').catch((err: unknown) => err);
    expect(classifyProviderError(missing)).toMatchObject({ retryable: false, status: 404 });
  });

  it('refuses, before sending anything, a line that does not translate or another endpoint', async () => {
    const { sim, adapter, dir } = await setup();
    const { defaultMaxTokens: _default, ...strictProfile } = PROVIDER_PROFILES.anthropic;
    const noDefault = new AnthropicAdapter({
      id: 'strict',
      profile: strictProfile,
      client: (adapter as AnthropicAdapter).client,
    });
    const input = await inputFile(dir, [chat('fine', { max_tokens: 9 }), chat('no limit')]);
    const params = { flushId: 'f5', partition: 0, completionWindow: '24h', input } as const;
    const refused = await noDefault
      .createBatch({ ...params, endpoint: '/v1/chat/completions' })
      .catch((err: unknown) => err);
    expect(classifyProviderError(refused)).toMatchObject({ retryable: false, status: 400 });
    expect((refused as Error).message).toMatch(/line 2 .*max_tokens/);
    const embeddings = await adapter.createBatch({ ...params, endpoint: '/v1/embeddings' }).catch((e: unknown) => e);
    expect(classifyProviderError(embeddings)).toMatchObject({ retryable: false, status: 400 });
    expect(sim.counters().batchesCreated).toBe(0);
    expect((await readdir(dir)).filter((f) => f.endsWith('.anthropic.json'))).toEqual([]);
  });
});
