/**
 * The provider simulator driven end to end by the official openai SDK (v6), for both profiles: what batchbridge's
 * provider client will do against it.
 */
import { createProviderSim, type ProfileName, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import OpenAI, { toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';

const MODELS: Record<Extract<ProfileName, 'openai' | 'kluster'>, [string, string]> = {
  openai: ['gpt-4o-mini', 'gpt-4o-mini'],
  kluster: ['klusterai/Meta-Llama-3.1-8B-Instruct-Turbo', 'deepseek-ai/DeepSeek-V3'],
};

let sim: ProviderSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function batchLines(prefix: string, models: [string, string], n: number) {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: {
      model: i % 2 === 0 ? models[0] : models[1],
      messages: [{ role: 'user', content: `${prefix} question ${i}` }],
    },
  }));
}

async function waitDone(client: OpenAI, id: string) {
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) return batch;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(['openai', 'kluster'] as const)('openai SDK against the %s profile', (profile) => {
  it('files, batches, content, list, cancel and realtime chat', async () => {
    sim = await createProviderSim({
      profile,
      // A little validating time so that the cancel below always lands before the batch finishes.
      timings: { validatingMs: 200, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 },
    });
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0 });
    const models = MODELS[profile];
    const input = batchLines('sdk', models, 6);

    const file = await client.files.create({
      file: await toFile(Buffer.from(input.map((l) => JSON.stringify(l)).join('\n')), 'input.jsonl'),
      purpose: 'batch',
    });
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl' });
    expect((await client.files.retrieve(file.id)).id).toBe(file.id);

    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { batchbridge_flush_id: 'flush-sdk' },
    });
    expect(batch.status).toBe('validating');
    const done = await waitDone(client, batch.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    expect(typeof done.created_at).toBe(profile === 'kluster' ? 'string' : 'number');

    const content = await client.files.content(done.output_file_id!);
    const lines = (await content.text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      const request = input.find((l) => l.custom_id === line.custom_id)!;
      expect(line.response.body.choices[0].message.content).toBe(
        simulatedCompletion(request.body).choices[0].message.content,
      );
    }

    // Two more batches, then find the tagged one again by walking the list page by page (crash recovery).
    const toCancel = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const cancelling = await client.batches.cancel(toCancel.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    expect((await waitDone(client, toCancel.id)).status).toBe('cancelled');
    await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    const seen: string[] = [];
    for await (const b of client.batches.list({ limit: 1 })) seen.push(b.id);
    expect(seen).toHaveLength(3);
    expect(seen[1]).toBe(toCancel.id);
    expect(seen[2]).toBe(batch.id);
    const firstPage = await client.batches.list({ limit: 2 });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.hasNextPage()).toBe(true);

    const files = [];
    for await (const f of client.files.list()) files.push(f.id);
    expect(files).toContain(file.id);
    expect(files).toContain(done.output_file_id);

    const deleted = await client.files.delete(done.output_file_id!);
    expect(deleted).toEqual({ id: done.output_file_id, object: 'file', deleted: true });

    const modelsList = [];
    for await (const m of client.models.list()) modelsList.push(m.id);
    expect(modelsList).toEqual(expect.arrayContaining(models));

    const messages = [{ role: 'user' as const, content: 'realtime hello' }];
    const completion = await client.chat.completions.create({ model: models[0], messages });
    expect(completion.choices[0]?.message.content).toBe(
      simulatedCompletion({ model: models[0], messages }).choices[0].message.content,
    );
  });

  it('surfaces simulator errors as the SDK error classes, and the SDK honours Retry-After', async () => {
    sim = await createProviderSim({
      profile,
      timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 },
      faults: { requestsPerMinute: { 'models.list': 1 }, retryAfterMs: 10 },
    });
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0 });
    await expect(client.batches.retrieve('batch_missing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await client.models.list();
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.RateLimitError);

    sim.setFaults({ rateLimitFraction: { 'files.list': 0.5 } });
    const retrying = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 10 });
    for (let i = 0; i < 5; i++) await retrying.files.list();
    expect(sim.counters().rateLimited).toBeGreaterThan(1);
  });
});
