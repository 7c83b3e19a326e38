// Doubleword's completion windows as lanes of their own (SPEC §10: "batch per completion window; Doubleword `1h` is a
// lane of its own, cheaper than realtime"), end to end against the simulator's `doubleword` profile: a deadline the
// 24 h window would miss but the 1 h window meets is answered by a batch created with `completion_window: "1h"`, and
// the request object says so; a long deadline stays in the 24 h window; a deadline neither window meets goes realtime;
// and a queued request whose 24 h expectation turns bad moves to the 1 h window (still batch, still queued).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupFor } from '@batchbridge/domain';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import { waitFor } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
/** One model per case: each window's observed turnarounds are per model, and one case's batches must not teach another. */
const MODELS = ['dw/one-hour', 'dw/day', 'dw/realtime', 'dw/moved'];
const dir = mkdtempSync(join(tmpdir(), 'bb-windows-e2e-'));

let sim: ProviderSim;
let pipeline: Pipeline;

beforeAll(async () => {
  sim = await createProviderSim({
    profile: 'doubleword',
    models: MODELS,
    timings: { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 },
  });
  const providersFile = join(dir, 'providers.json');
  writeFileSync(
    providersFile,
    JSON.stringify({
      providers: [
        {
          id: 'dw',
          profile: 'doubleword',
          base_url: sim.url,
          api_key: 'sk-dw',
          models: ['dw/*'],
          lanes: ['batch', 'realtime'],
        },
      ],
    }),
  );
  // Doubleword's published shape of prices: realtime, a 1 h and a 24 h batch price per model.
  const rates = {
    realtime: { input_per_1m: 0.16, output_per_1m: 0.8 },
    batch: { input_per_1m: 0.05, output_per_1m: 0.2 },
    batch_windows: { '1h': { input_per_1m: 0.07, output_per_1m: 0.3 } },
  };
  const pricesFile = join(dir, 'prices.json');
  writeFileSync(pricesFile, JSON.stringify({ dw: Object.fromEntries(MODELS.map((m) => [m, rates])) }));
  // The profile's assumptions (24 h window: 4 h, 1 h window: 1 h, until observed), a flush every second.
  pipeline = await startPipeline({
    PROVIDERS_FILE: providersFile,
    PRICE_TABLE_FILE: pricesFile,
    BATCH_MAX_WAIT_MS: '1000',
    DEADLINE_MARGIN: '1s',
    DEADLINE_PASS_MS: '100',
  });
});
afterAll(async () => {
  await pipeline?.dispose();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const chat = (content: string, model: string) => ({ model, messages: [{ role: 'user' as const, content }] });

async function post(body: unknown, deadline: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${pipeline.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ACME_KEY}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      'x-deadline': deadline,
      prefer: 'respond-async',
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(json)).toBe(202);
  return json;
}

async function get(id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${pipeline.url}/v1/requests/${id}`, { headers: { authorization: `Bearer ${ACME_KEY}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const completed = (id: string) =>
  waitFor(`${id} to complete`, async () => {
    const r = await get(id);
    return r.status === 'completed' ? r : undefined;
  });

/** The provider's own view of a batch (Doubleword answers the window as a label). */
async function providerBatch(id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${sim.url}/batches/${id}`, { headers: { authorization: 'Bearer sk-dw' } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** USD of the request's answer at these prices per million input and output tokens. */
function usdAt(r: Record<string, unknown>, input: number, output: number): number {
  const usage = (r.response as { body: { usage: { prompt_tokens: number; completion_tokens: number } } }).body.usage;
  return (usage.prompt_tokens * input + usage.completion_tokens * output) / 1e6;
}

const contentOf = (r: Record<string, unknown>) =>
  (r.response as { body: { choices: Array<{ message: { content: string } }> } }).body.choices[0]?.message.content;

describe("Doubleword's completion windows as lanes", () => {
  it('answers a deadline the 24 h window would miss through a 1 h batch, and says so', async () => {
    const body = chat('1h: name a river', 'dw/one-hour');
    const json = await post(body, '2h');
    expect(json).toMatchObject({ lane: 'batch', completion_window: '1h', status: 'queued' });
    const request = await completed(String(json.id));
    expect(request).toMatchObject({ lane: 'batch', completion_window: '1h', deadline_met: true });
    expect(contentOf(request)).toBe(simulatedCompletion(body).choices[0]?.message.content);
    const batch = await providerBatch(String(request.batch_id));
    expect(batch.completion_window).toBe('Priority (1h)');
    expect(sim.counters().chatCompletions).toBe(0);
    // Billed at the 1 h window's batch price: dearer than the 24 h window, cheaper than realtime.
    const cost = request.cost as { lane: string; usd: number; realtime_usd: number };
    expect(cost.lane).toBe('batch');
    expect(cost.usd).toBeCloseTo(usdAt(request, 0.07, 0.3), 9);
    expect(cost.usd).toBeGreaterThan(usdAt(request, 0.05, 0.2));
    expect(cost.usd).toBeLessThan(cost.realtime_usd);
  });

  it('keeps a long deadline in the 24 h window', async () => {
    const json = await post(chat('24h: name a sea', 'dw/day'), '10h');
    expect(json).toMatchObject({ lane: 'batch', completion_window: null });
    const request = await completed(String(json.id));
    expect(request).toMatchObject({ lane: 'batch', completion_window: null, deadline_met: true });
    expect((await providerBatch(String(request.batch_id))).completion_window).toBe('Standard (24h)');
    expect((request.cost as { usd: number }).usd).toBeCloseTo(usdAt(request, 0.05, 0.2), 9);
  });

  it('sends a deadline neither window meets to realtime', async () => {
    const json = await post(chat('realtime: name a lake', 'dw/realtime'), '20m');
    expect(json).toMatchObject({ lane: 'realtime', completion_window: null });
    const request = await completed(String(json.id));
    expect(request).toMatchObject({ lane: 'realtime', deadline_met: true, batch_id: null });
    expect(sim.counters().chatCompletions).toBe(1);
  });

  it('moves a queued request to the 1 h window when its 24 h expectation turns bad', async () => {
    const group = groupFor('/v1/chat/completions', 'dw/moved', false, { provider: 'dw' });
    // The 24 h group is held (as after token_limit_exceeded) for 30 min: 30 min + 4 h still meets a 5.5 h deadline.
    await pipeline.runtime.store.flushes.holdGroup(0, group, 30 * 60_000);
    const json = await post(chat('moved: name a mountain', 'dw/moved'), '19800');
    expect(json).toMatchObject({ lane: 'batch', completion_window: null, status: 'queued' });
    // The hold grows to 2 h: the 24 h window can no longer answer in time, the 1 h one can.
    await pipeline.runtime.store.flushes.holdGroup(0, group, 2 * 3_600_000);
    const request = await completed(String(json.id));
    expect(request).toMatchObject({ lane: 'batch', completion_window: '1h', deadline_met: true, attempts: 1 });
    expect((await providerBatch(String(request.batch_id))).completion_window).toBe('Priority (1h)');
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).toMatch(/batchbridge_lane_moves_total\{from="batch",to="batch@1h",provider="dw"\} 1/);
    // One answer each: no request answered by two batches or two lanes.
    expect(sim.counters().customIdsAnsweredTwice).toEqual([]);
  });
});
