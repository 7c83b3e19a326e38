// Mistral's Batch API (profile `mistral`, issue 19) against the simulator's Mistral mode: OpenAI's files, but jobs at
// `/v1/batch/jobs` with one model per job, `timeout_hours`, input lines `{custom_id, body}` and the statuses QUEUED …
// CANCELLED. First the adapter behind the seam, then the whole pipeline with a PROVIDERS_FILE naming a Mistral
// provider: requests answered, signed, once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDER_PROFILES, type ProviderConfig } from '@batchbridge/config';
import { batchLine } from '@batchbridge/domain';
import { type ProviderAdapter, ProviderRegistry, timeoutHours } from '@batchbridge/provider';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'bb-mistral-e2e-'));
const MODEL = 'mistral-small-latest';
let sim: ProviderSim;
let adapter: ProviderAdapter;
let raw: OpenAI;

beforeAll(async () => {
  sim = await createProviderSim({
    profile: 'mistral',
    timings: { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 },
  });
  const config: ProviderConfig = {
    id: 'mistral',
    profile: PROVIDER_PROFILES.mistral,
    baseUrl: sim.url,
    apiKey: 'sk-m',
    models: [],
    aliases: {},
    priority: 100,
    webhookSecret: undefined,
    lanes: ['batch'],
    realtime: undefined,
    timeoutMs: 10_000,
    batchCreatesPerMinute: 30,
    push: false,
  };
  adapter = new ProviderRegistry([config]).adapter('mistral');
  raw = new OpenAI({ baseURL: sim.url, apiKey: 'sk-m', maxRetries: 0 });
});
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const rid = (n: number) => `breq_00${'0'.repeat(9)}${String(n).padStart(14, '0')}`;

async function uploaded(flushId: string, texts: string[]) {
  const path = join(dir, `${flushId}.jsonl`);
  const body = (t: string) => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: t }] });
  const content = texts.map((t, i) => batchLine(rid(i), body(t), '/v1/chat/completions')).join('');
  writeFileSync(path, content);
  return adapter.uploadInput({
    path,
    filename: `batchbridge-${flushId}.jsonl`,
    lines: texts.length,
    bytes: content.length,
    timeoutMs: 10_000,
  });
}

async function untilTerminal(batchId: string) {
  for (let i = 0; i < 300; i++) {
    const b = await adapter.retrieveBatch(batchId);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${batchId} did not end`);
}

describe('the mistral adapter against the simulator', () => {
  it('uploads {custom_id, body} lines, creates a job with its model and timeout_hours, reads SUCCESS as completed', async () => {
    const { fileId } = await uploaded('m1', ['one', 'two [sim:error=400]']);
    // The file Mistral received has its line shape: no method, no url.
    const text = await (await raw.files.content(fileId)).text();
    const first = JSON.parse(text.split('\n')[0]!) as Record<string, unknown>;
    expect(Object.keys(first).sort()).toEqual(['body', 'custom_id']);
    const created = await adapter.createBatch({
      flushId: 'm1',
      partition: 0,
      endpoint: '/v1/chat/completions',
      completionWindow: '48h',
      model: MODEL,
      fileId,
    });
    expect(created.status).toBe('validating');
    const job = await raw.get<{ status: string; model: string; metadata: Record<string, string> }>(
      `/batch/jobs/${created.id}`,
    );
    expect(job.model).toBe(MODEL);
    expect(job.metadata.batchbridge_flush_id).toBe('m1');
    const ended = await untilTerminal(created.id);
    expect(ended).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 1, failed: 1 } });
    expect((await raw.get<{ status: string }>(`/batch/jobs/${created.id}`)).status).toBe('SUCCESS');
    expect(ended.output_file_id).toBeTruthy();
    expect(ended.error_file_id).toBeTruthy();
    expect(adapter.resultSources(ended).map((s) => s.ref)).toEqual([ended.output_file_id, ended.error_file_id]);
    expect(timeoutHours('48h')).toBe(48);
    expect(timeoutHours('7d')).toBe(168);

    expect(await adapter.findBatchByFlushId('m1', { notBeforeSec: Math.floor(Date.now() / 1000) - 60 })).toMatchObject({
      kind: 'found',
      batch: { id: created.id },
    });
    expect(await adapter.findBatchByFlushId('nope', { notBeforeSec: 0 })).toMatchObject({ kind: 'absent' });
    // The simulator in Mistral mode has no /v1/batches: the adapter never uses it.
    await expect(raw.batches.list()).rejects.toMatchObject({ status: 404 });
  });

  it('cancels: CANCELLATION_REQUESTED then CANCELLED read as cancelling, cancelled', async () => {
    const slow = await createProviderSim({
      profile: 'mistral',
      timings: { validatingMs: 5_000, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 50 },
    });
    try {
      const registry = new ProviderRegistry([
        {
          id: 'slow',
          profile: PROVIDER_PROFILES.mistral,
          baseUrl: slow.url,
          apiKey: 'k',
          models: [],
          aliases: {},
          priority: 1,
          webhookSecret: undefined,
          lanes: ['batch'],
          realtime: undefined,
          timeoutMs: 10_000,
          batchCreatesPerMinute: 30,
          push: false,
        },
      ]);
      const a = registry.adapter('slow');
      const path = join(dir, 'm2.jsonl');
      writeFileSync(
        path,
        batchLine(rid(0), JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })),
      );
      const { fileId } = await a.uploadInput({ path, filename: 'f', lines: 1, bytes: 1, timeoutMs: 5_000 });
      const created = await a.createBatch({
        flushId: 'm2',
        partition: 0,
        endpoint: '/v1/chat/completions',
        completionWindow: '24h',
        model: MODEL,
        fileId,
      });
      expect((await a.cancelBatch(created.id)).status).toBe('cancelling');
      let status = 'cancelling';
      for (let i = 0; i < 200 && status !== 'cancelled'; i++) {
        await new Promise((r) => setTimeout(r, 10));
        status = (await a.retrieveBatch(created.id)).status;
      }
      expect(status).toBe('cancelled');
    } finally {
      await slow.close();
    }
  });
});

describe('a Mistral provider behind the pipeline', () => {
  let pipeline: Awaited<ReturnType<typeof startPipeline>>;
  let receiver: WebhookReceiver;
  let pipeSim: ProviderSim;
  beforeAll(async () => {
    pipeSim = await createProviderSim({
      profile: 'mistral',
      timings: { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 },
    });
    const file = join(dir, 'providers.json');
    writeFileSync(
      file,
      JSON.stringify({
        providers: [
          {
            id: 'mistral',
            profile: 'mistral',
            base_url: pipeSim.url,
            api_key: 'sk-m',
            models: ['mistral-*'],
            aliases: { small: MODEL },
          },
        ],
      }),
    );
    pipeline = await startPipeline({ PROVIDERS_FILE: file, BATCH_MAX_REQUESTS: '3', COMPLETION_WINDOW: '24h' });
    receiver = await startWebhookReceiver({ secrets: () => [String(TEST_TENANTS[0]!.webhook_secret)] });
  });
  afterAll(async () => {
    await receiver?.close();
    await pipeline?.dispose();
    await pipeSim?.close();
  });

  it('answers every request through Mistral jobs, under the provider name of an alias, signed, once', async () => {
    const sent = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 7 }, async (_, i) => {
        const content = `mistral ${i}`;
        const { status, json } = await submit(
          pipeline.url,
          ACME_KEY,
          { model: i % 2 === 0 ? 'small' : MODEL, messages: [{ role: 'user', content }] },
          { 'x-callback-url': receiver.url(`/m/${i}`) },
        );
        expect(status, JSON.stringify(json)).toBe(202);
        sent.set(String(json.id), content);
      }),
    );
    await receiver.waitFor(() => receiver.uniqueByWebhookId().length >= sent.size, { timeoutMs: 60_000 });
    const events = receiver.uniqueByWebhookId();
    expect(events).toHaveLength(sent.size);
    for (const d of events) {
      expect(d.verified).toBe(true);
      const e = d.json as {
        type: string;
        data: { id: string; response: { body: { choices: Array<{ message: { content: string } }> } } };
      };
      expect(e.type).toBe('request.completed');
      const expected = simulatedCompletion({
        model: MODEL,
        messages: [{ role: 'user', content: sent.get(e.data.id)! }],
      });
      expect(e.data.response.body.choices[0]!.message.content).toBe(expected.choices[0]!.message.content);
    }
    const c = pipeSim.counters();
    expect(c.linesReceived).toBe(sent.size);
    expect(c.customIdsAnsweredTwice).toEqual([]);
  });
});
