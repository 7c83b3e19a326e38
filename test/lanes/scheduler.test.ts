// The deadline scheduler's choice (SPEC §10) over a real runtime and Redis: the cheapest lane expected to meet the
// deadline, within the lanes the provider and the tenant allow; observed turnarounds replace the default.
import type { Tenant } from '@batchbridge/config';
import { groupFor } from '@batchbridge/domain';
import { LaneScheduler } from '@batchbridge/runtime';
import { createTestRuntime, TEST_TENANTS, type TestRuntime } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let rt: TestRuntime;
let scheduler: LaneScheduler;
const tenant = TEST_TENANTS[0] as Tenant;
/** A model OpenAI offers flex for (the gpt-5 family, o3, o4-mini). */
const chat = groupFor('/v1/chat/completions', 'gpt-5-mini', false);

beforeAll(async () => {
  // Flushes every 10 s, batches assumed to take 60 s until observed, a 5 s margin: 75 s to a batch answer.
  rt = await createTestRuntime({
    env: {
      UPSTREAM_BASE_URL: 'http://127.0.0.1:1/v1',
      UPSTREAM_API_KEY: 'sk-test',
      BATCH_MAX_WAIT_MS: '10000',
      BATCH_TURNAROUND: '60s',
      DEADLINE_MARGIN: '5s',
    },
  });
  scheduler = new LaneScheduler(rt);
});
afterAll(async () => {
  await rt?.dispose();
});

const plan = (seconds: number, group = chat, t: Tenant = tenant) =>
  scheduler.plan({ partition: 0, group, tenant: t, deadlineAt: Date.now() + seconds * 1000, queued: false });

describe('the deadline scheduler', () => {
  it('keeps batch when it is expected in time, else flex when there is time for it, else realtime', async () => {
    expect((await plan(3600)).lane).toBe('batch');
    expect((await plan(80)).lane).toBe('batch');
    expect((await plan(60)).lane).toBe('flex');
    expect((await plan(12)).lane).toBe('realtime');
  });

  it('stays within the lanes the tenant and the endpoint allow', async () => {
    expect((await plan(60, chat, { ...tenant, lanes: ['batch', 'realtime'] })).lane).toBe('realtime');
    expect((await plan(60, chat, { ...tenant, lanes: ['batch'] })).lane).toBe('batch');
    // Flex is a tier of chat and Responses: embeddings go realtime.
    expect((await plan(60, groupFor('/v1/embeddings', 'text-embedding-3-small', false))).lane).toBe('realtime');
    // And of some models only: gpt-4o-mini has none at OpenAI.
    expect((await plan(60, groupFor('/v1/chat/completions', 'gpt-4o-mini', false))).lane).toBe('realtime');
    expect((await plan(60, groupFor('/v1/responses', 'o4-mini', false))).lane).toBe('flex');
  });

  it('predicts with the observed turnaround (p90) once batches were seen', async () => {
    const model = 'gpt-5-nano';
    const group = groupFor('/v1/chat/completions', model, false);
    expect((await plan(80, group)).lane).toBe('batch');
    for (let i = 0; i < 10; i++) await rt.store.lanes.recordTurnaround('default', model, 300_000);
    await new Promise((r) => setTimeout(r, 2_100)); // the scheduler's cache of the p90
    expect(await scheduler.turnaroundMs('default', model)).toBe(300_000);
    expect((await plan(80, group)).lane).toBe('flex');
    expect((await plan(400, group)).lane).toBe('batch');
  });
});

describe('the deadline scheduler over a provider whose completion windows are lanes (Doubleword)', () => {
  let dw: TestRuntime;
  let dwScheduler: LaneScheduler;
  const model = 'Qwen/Qwen3-30B-A3B-Instruct-2507-FP8';
  const group = groupFor('/v1/chat/completions', model, false);

  beforeAll(async () => {
    // The profile's own assumptions: the 24 h window answers in 4 h, the 1 h window in 1 h, until observed.
    dw = await createTestRuntime({
      env: {
        UPSTREAM_BASE_URL: 'http://127.0.0.1:1/v1',
        UPSTREAM_API_KEY: 'sk-test',
        PROVIDER_PROFILE: 'doubleword',
        BATCH_MAX_WAIT_MS: '10000',
        DEADLINE_MARGIN: '5s',
      },
    });
    dwScheduler = new LaneScheduler(dw);
  });
  afterAll(async () => {
    await dw?.dispose();
  });

  const dwPlan = (seconds: number, g = group) =>
    dwScheduler.plan({ partition: 0, group: g, tenant, deadlineAt: Date.now() + seconds * 1000, queued: false });

  it('lists the windows of the profile, cheapest first, each with its turnaround and price', () => {
    expect(dwScheduler.windowsOf('default')).toEqual([
      { window: '24h', turnaroundMs: 4 * 3_600_000, priceVsRealtime: 0.3 },
      { window: '1h', turnaroundMs: 3_600_000, priceVsRealtime: 0.4 },
    ]);
    expect(scheduler.windowsOf('default')).toBeUndefined();
  });

  it('takes the 1 h window when the 24 h one would miss the deadline and 1 h meets it, before realtime', async () => {
    expect(await dwPlan(5 * 3600)).toMatchObject({ lane: 'batch', group });
    const fast = await dwPlan(2 * 3600);
    expect(fast).toMatchObject({
      lane: 'batch',
      group: groupFor('/v1/chat/completions', model, false, undefined, '1h'),
    });
    expect(fast.group).toBe(`chat.completions@1h|${model}`);
    // A request already in the 1 h window keeps it while that meets the deadline; neither window: realtime.
    expect(await dwPlan(2 * 3600, fast.group)).toMatchObject({ lane: 'batch', group: fast.group });
    expect(await dwPlan(30 * 60)).toMatchObject({ lane: 'realtime', group });
    expect(await dwPlan(30 * 60, fast.group)).toMatchObject({ lane: 'realtime', group: fast.group });
  });

  it('predicts each window from its own observed batches', async () => {
    const m = 'meta-llama/Llama-3.3-70B-Instruct';
    const g = groupFor('/v1/chat/completions', m, false);
    // 1 h batches seen taking 3 h: a 2 h deadline meets neither window any more.
    for (let i = 0; i < 10; i++) await dw.store.lanes.recordTurnaround('default', `${m}@1h`, 3 * 3_600_000);
    expect(await dwScheduler.groupTurnaroundMs(`chat.completions@1h|${m}`)).toBe(3 * 3_600_000);
    expect(await dwScheduler.groupTurnaroundMs(g)).toBe(4 * 3_600_000);
    expect((await dwPlan(2 * 3600, g)).lane).toBe('realtime');
  });
});
