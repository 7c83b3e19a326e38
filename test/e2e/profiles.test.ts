// Each profile's quirks against the simulator run in that profile (issue 19): the OpenAI adapter sends what the
// profile takes and reads back what the provider answers. Doubleword answers the window as a label ("Standard
// (24h)"), takes 1h; Together ignores the window and reads it back as 24h; Groq takes windows up to 7d.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDER_PROFILES } from '@batchbridge/config';
import { OpenAIAdapter } from '@batchbridge/provider';
import { createProviderSim, PROFILES, type ProviderSim } from '@batchbridge/provider-sim';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'bb-profiles-'));
const sims: ProviderSim[] = [];
afterAll(async () => {
  for (const s of sims) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function adapterFor(profile: 'doubleword' | 'together' | 'groq') {
  const sim = await createProviderSim({
    profile,
    timings: { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 },
  });
  sims.push(sim);
  const client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-x', maxRetries: 0 });
  return {
    sim,
    adapter: new OpenAIAdapter({ id: profile, profile: PROVIDER_PROFILES[profile], client: () => client }),
  };
}

async function run(adapter: OpenAIAdapter, model: string, window: string, flushId: string) {
  const path = join(dir, `${flushId}.jsonl`);
  const line = {
    custom_id: `${flushId}-1`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: 'hi' }] },
  };
  writeFileSync(path, `${JSON.stringify(line)}\n`);
  const { fileId } = await adapter.uploadInput({
    path,
    filename: `batchbridge-${flushId}.jsonl`,
    lines: 1,
    bytes: 1,
    timeoutMs: 10_000,
  });
  const created = await adapter.createBatch({
    flushId,
    partition: 0,
    endpoint: '/v1/chat/completions',
    completionWindow: window,
    fileId,
  });
  let batch = created;
  for (let i = 0; i < 200 && batch.status !== 'completed'; i++) {
    await new Promise((r) => setTimeout(r, 20));
    batch = await adapter.retrieveBatch(created.id);
  }
  const raw = (await adapter.client.batches.retrieve(created.id)) as unknown as { completion_window: string };
  const found = await adapter.findBatchByFlushId(flushId, { notBeforeSec: 0 });
  return { batch, raw, found };
}

describe('profiles against the simulator', () => {
  it('doubleword: takes 1h, answers the window as a label, and the batch still reads normalised', async () => {
    const { sim, adapter } = await adapterFor('doubleword');
    const model = PROFILES[sim.profile].models[0]!;
    const { batch, raw, found } = await run(adapter, model, '1h', 'dw1');
    expect(raw.completion_window).toBe('Priority (1h)');
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toMatchObject({ total: 1, completed: 1 });
    expect(found).toMatchObject({ kind: 'found', batch: { id: batch.id } });
    const day = await run(adapter, model, '24h', 'dw2');
    expect(day.raw.completion_window).toBe('Standard (24h)');
  });

  it('together: ignores the window (any value taken, read back as 24h); 50 000 lines and 100 MB', async () => {
    const { sim, adapter } = await adapterFor('together');
    const { batch, raw } = await run(adapter, PROFILES[sim.profile].models[0]!, '72h', 'tg1');
    expect(batch.status).toBe('completed');
    expect(raw.completion_window).toBe('24h');
    expect(PROVIDER_PROFILES.together).toMatchObject({
      maxRequests: 50_000,
      maxBytes: 100 * 1024 * 1024,
      windowQuirk: 'ignores',
    });
  });

  it('groq: takes windows from 24h to 7d and refuses others', async () => {
    const { sim, adapter } = await adapterFor('groq');
    const { batch, raw } = await run(adapter, PROFILES[sim.profile].models[0]!, '7d', 'gq1');
    expect(batch.status).toBe('completed');
    expect(raw.completion_window).toBe('7d');
    await expect(run(adapter, PROFILES[sim.profile].models[0]!, '1h', 'gq2')).rejects.toMatchObject({ status: 400 });
  });
});
