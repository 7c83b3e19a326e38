// Deadlines and lanes (SPEC §10) through the whole pipeline against the simulator with slow batches (a minute in
// `validating`): a short deadline is answered in time by a synchronous call (realtime, or flex where the profile has
// it) and delivered exactly like a batch result (Prefer: wait, webhook, GET); a long one stays on the batch lane; a
// queued request moves lanes when its flush is delayed; no request is answered by two lanes; and the realtime budget
// is shared by two replicas.
import { randomUUID } from 'node:crypto';
import type { Tenant } from '@batchbridge/config';
import { groupFor } from '@batchbridge/domain';
import { laneSweep } from '@batchbridge/packer';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import {
  freshPrefix,
  newRequestFixture,
  startWebhookReceiver,
  TEST_TENANTS,
  type WebhookReceiver,
  waitFor,
} from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

/** A tenant limited to the batch and realtime lanes (no flex). */
const RT_KEY = 'bb_test_realtime_only_key_0123';
/** A tenant whose requests get a one-hour deadline by default. */
const PATIENT_KEY = 'bb_test_patient_tenant_key_0123';
/** A tenant whose unchanged openai SDK's own timeout (X-Stainless-Timeout) is the deadline. */
const SDK_KEY = 'bb_test_sdk_timeout_tenant_key_01';
const tenants: Tenant[] = [
  ...TEST_TENANTS,
  {
    id: 'rt',
    api_keys: [RT_KEY],
    webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    allowed_models: ['*'],
    lanes: ['batch', 'realtime'],
  },
  {
    id: 'patient',
    api_keys: [PATIENT_KEY],
    webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    allowed_models: ['*'],
    default_deadline: '1h',
  },
  {
    id: 'sdk',
    api_keys: [SDK_KEY],
    webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    allowed_models: ['*'],
    default_wait_s: 9,
    deadline_from_client_timeout: true,
    lanes: ['batch', 'realtime'],
  },
];

/** Slow batches, a flush every 30 s, and the scheduler's assumptions made small enough for a test. */
const SLOW = {
  BATCH_MAX_WAIT_MS: '30000',
  SIM_VALIDATING_MS: '60000',
  BATCH_TURNAROUND: '20s',
  DEADLINE_MARGIN: '1s',
  DEADLINE_PASS_MS: '100',
};

async function post(
  url: string,
  apiKey: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function getRequest(url: string, apiKey: string, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/requests/${id}`, { headers: { authorization: `Bearer ${apiKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const contentOf = (completion: unknown): string | undefined =>
  (completion as { choices?: Array<{ message?: { content?: string } }> }).choices?.[0]?.message?.content;

/** A model OpenAI offers flex for (the gpt-5 family, o3, o4-mini); gpt-4o-mini has none. */
const FLEX_MODEL = 'gpt-5-mini';
const chat = (content: string, model = 'gpt-4o-mini') => ({ model, messages: [{ role: 'user' as const, content }] });

describe('deadlines and lanes under slow batches', () => {
  let pipeline: Pipeline;
  let receiver: WebhookReceiver;
  /** Every request this suite created, with the lane it ended on. */
  const created = new Map<string, string>();

  beforeAll(async () => {
    pipeline = await startPipeline(SLOW, tenants);
    receiver = await startWebhookReceiver({ secrets: [String(TEST_TENANTS[0]!.webhook_secret)] });
  });
  afterAll(async () => {
    await receiver?.close();
    await pipeline?.dispose();
  });

  it('answers a short deadline in time through realtime, and reports the lane and deadline', async () => {
    const body = chat('realtime: name a river');
    const started = Date.now();
    const { status, json, headers } = await post(pipeline.url, RT_KEY, body, {
      'x-deadline': '10s',
      prefer: 'wait=20',
    });
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The provider's own completion, exactly as a batch line would have carried it.
    expect(json.object).toBe('chat.completion');
    expect(contentOf(json)).toBe(contentOf(simulatedCompletion(body)));
    const id = String(headers.get('x-request-id'));
    const request = await getRequest(pipeline.url, RT_KEY, id);
    expect(request).toMatchObject({ status: 'completed', lane: 'realtime', deadline_met: true, batch_id: null });
    expect(request.deadline_at).toBeGreaterThanOrEqual(Math.floor(started / 1000) + 9);
    // Billed at realtime prices (SPEC §15): nothing saved.
    expect(request.cost).toMatchObject({ lane: 'realtime', priced: true, saved_usd: 0 });
    const cost = request.cost as { usd: number; realtime_usd: number };
    expect(cost.usd).toBeGreaterThan(0);
    expect(cost.usd).toBe(cost.realtime_usd);
    created.set(id, 'realtime');
  });

  it('takes flex (batch price) where the profile has it for the model and there is time, and delivers the webhook', async () => {
    const body = { ...chat('flex: name a mountain', FLEX_MODEL), deadline: '30s' };
    const { status, json } = await post(pipeline.url, ACME_KEY, body, { 'x-callback-url': receiver.url('/flex') });
    expect(status).toBe(202);
    expect(json).toMatchObject({ lane: 'flex', status: 'submitted' });
    const id = String(json.id);
    created.set(id, 'flex');
    const [delivery] = await receiver.waitFor((all) => all.some((d) => d.path === '/flex'), { timeoutMs: 20_000 });
    expect(delivery?.verified).toBe(true);
    const event = delivery?.json as { type: string; data: Record<string, unknown> };
    expect(event.type).toBe('request.completed');
    expect(event.data).toMatchObject({ id, lane: 'flex', deadline_met: true });
    // The `deadline` field is batchbridge's: it never reaches the provider; flex is asked for with service_tier.
    const answer = (event.data.response as { body: Record<string, unknown> }).body;
    expect(answer.service_tier).toBe('flex');
    expect(contentOf(answer)).toBe(contentOf(simulatedCompletion(chat('flex: name a mountain', FLEX_MODEL))));
    expect(pipeline.sim!.counters().flexCompletions).toBeGreaterThanOrEqual(1);
    // Billed in its lane: flex at the Batch API's rates (half the realtime price).
    const cost = event.data.cost as { lane: string; priced: boolean; usd: number; realtime_usd: number };
    expect(cost).toMatchObject({ lane: 'flex', priced: true });
    expect(cost.usd).toBeGreaterThan(0);
    expect(cost.usd).toBeCloseTo(cost.realtime_usd / 2, 9);
  });

  it('offers no flex for a model the profile does not list for it: realtime instead', async () => {
    // gpt-4o-mini has no flex tier at OpenAI (the simulator answers such a call 400, as OpenAI does).
    const { status, json } = await post(
      pipeline.url,
      ACME_KEY,
      { ...chat('no flex: name a bay'), deadline: '30s' },
      {
        prefer: 'respond-async',
      },
    );
    expect(status, JSON.stringify(json)).toBe(202);
    expect(json).toMatchObject({ lane: 'realtime' });
    const id = String(json.id);
    created.set(id, 'realtime');
    const request = await waitFor('the request to complete', async () => {
      const r = await getRequest(pipeline.url, ACME_KEY, id);
      return r.status === 'completed' ? r : undefined;
    });
    expect(request).toMatchObject({ lane: 'realtime', deadline_met: true });
    expect(request.cost).toMatchObject({ lane: 'realtime', priced: true, saved_usd: 0 });
  });

  it('falls back from flex to realtime when flex has no capacity and the deadline nears', async () => {
    pipeline.sim!.setFaults({ flexUnavailableFraction: 1, retryAfterMs: 1000 });
    try {
      const body = chat('flex unavailable: name a lake', FLEX_MODEL);
      const started = Date.now();
      const { status, headers } = await post(pipeline.url, ACME_KEY, body, { 'x-deadline': '14', prefer: 'wait=30' });
      expect(status).toBe(200);
      expect(Date.now() - started).toBeLessThan(14_000);
      const id = String(headers.get('x-request-id'));
      const request = await getRequest(pipeline.url, ACME_KEY, id);
      expect(request).toMatchObject({ status: 'completed', lane: 'realtime', deadline_met: true });
      created.set(id, 'realtime');
    } finally {
      pipeline.sim!.setFaults({ flexUnavailableFraction: 0 });
    }
  });

  it('keeps a long deadline on the batch lane', async () => {
    const { status, json } = await post(pipeline.url, ACME_KEY, chat('batch: name a sea'), {
      'x-deadline': '1h',
      prefer: 'respond-async',
    });
    expect(status).toBe(202);
    expect(json).toMatchObject({ lane: 'batch', status: 'queued', deadline_met: null });
    const id = String(json.id);
    created.set(id, 'batch');
    await new Promise((r) => setTimeout(r, 1_000));
    // Several deadline passes later it is still waiting for its batch.
    expect(await getRequest(pipeline.url, ACME_KEY, id)).toMatchObject({ lane: 'batch', status: 'queued' });
  });

  it('moves a queued request to a faster lane when its flush is delayed', async () => {
    const model = 'gpt-4.1-mini';
    // 30 s to the flush + 20 s turnaround + 1 s margin: a 60 s deadline fits the batch lane at intake.
    const { status, json } = await post(pipeline.url, RT_KEY, chat('move me: name a desert', model), {
      'x-deadline': '60s',
      prefer: 'respond-async',
    });
    expect(status).toBe(202);
    expect(json).toMatchObject({ lane: 'batch', status: 'queued' });
    const id = String(json.id);
    created.set(id, 'realtime');
    // The provider's token limit holds the group back for two minutes (what the poller does after
    // token_limit_exceeded): the batch can no longer answer in time, and the deadline pass moves the request.
    const group = groupFor('/v1/chat/completions', model, false);
    await pipeline.runtime.store.flushes.holdGroup(0, group, 120_000);
    const request = await waitFor('the request to complete on another lane', async () => {
      const r = await getRequest(pipeline.url, RT_KEY, id);
      return r.status === 'completed' ? r : undefined;
    });
    expect(request).toMatchObject({ lane: 'realtime', deadline_met: true, attempts: 1, batch_id: null });
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).toMatch(/batchbridge_lane_moves_total\{from="batch",to="realtime",provider="default"\} [1-9]/);
    expect(metrics).toMatch(/batchbridge_deadline_outcomes\{[^}]*lane="realtime"[^}]*outcome="met"\} [1-9]/);
  });

  it("takes the tenant's default_deadline, and for a tenant that asks, the SDK's own timeout", async () => {
    const started = Date.now();
    const { status, json } = await post(pipeline.url, PATIENT_KEY, chat('patient: name a forest'), {
      prefer: 'respond-async',
    });
    expect(status).toBe(202);
    expect(json).toMatchObject({ lane: 'batch', status: 'queued' });
    expect(Number(json.deadline_at)).toBeGreaterThanOrEqual(Math.floor(started / 1000) + 3599);
    created.set(String(json.id), 'batch');

    // An unchanged client: only its base URL and key, and a timeout on the call, which the SDK sends as
    // X-Stainless-Timeout: 10.
    const client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: SDK_KEY, maxRetries: 0 });
    const body = chat('sdk: name a glacier');
    const { data, response } = await client.chat.completions.create(body, { timeout: 10_000 }).withResponse();
    expect(contentOf(data)).toBe(contentOf(simulatedCompletion(body)));
    const id = String(response.headers.get('x-request-id'));
    created.set(id, 'realtime');
    expect(await getRequest(pipeline.url, SDK_KEY, id)).toMatchObject({ lane: 'realtime', deadline_met: true });
  });

  it('gives a fast-lane run whose job was lost its job again (lane sweep)', async () => {
    const { runtime } = pipeline;
    const req = newRequestFixture({ tenant: 'rt', deadlineAt: Date.now() + 30_000, content: 'lost job: name a cape' });
    await runtime.store.requests.enqueue(req, {});
    const claim = await runtime.store.lanes.claim(0, req.id, 'realtime');
    if (!claim.claimed) throw new Error('not claimed');
    // The process died after the claim, and its outbox entry was lost with its job (say, removed by hand).
    await runtime.redis.zrem(runtime.keys.partitionKeys(0).outbox, claim.outbox);
    created.set(req.id, 'realtime');
    expect(await laneSweep(runtime, runtime.store, 0)).toBe(1);
    const request = await waitFor('the run to complete', async () => {
      const r = await getRequest(pipeline.url, RT_KEY, req.id);
      return r.status === 'completed' ? r : undefined;
    });
    expect(request).toMatchObject({ lane: 'realtime', deadline_met: true, attempts: 1 });
    // Settled: no longer a lane run, so a later sweep leaves it alone.
    expect(await laneSweep(runtime, runtime.store, 0)).toBe(0);
  });

  it('refuses a bad deadline with a 400 naming it', async () => {
    const bad = await post(pipeline.url, ACME_KEY, { ...chat('x'), deadline: 'tomorrow' }, { prefer: 'respond-async' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ param: 'deadline', code: 'invalid_deadline' });
    const past = await post(pipeline.url, ACME_KEY, chat('x'), {
      'x-deadline': '2020-01-01T00:00:00Z',
      prefer: 'respond-async',
    });
    expect(past.status).toBe(400);
    expect(past.json.error).toMatchObject({ param: 'X-Deadline', code: 'invalid_deadline' });
    expect(String((past.json.error as { message: string }).message)).toMatch(/already passed/);
  });

  it('answers no request by two lanes', async () => {
    const counters = pipeline.sim!.counters();
    const fast = [...created.values()].filter((lane) => lane !== 'batch').length;
    // Every fast-lane request was answered by exactly one synchronous call, and none of them by a batch.
    expect(counters.chatCompletions).toBe(fast);
    for (const [id, lane] of created) {
      if (lane !== 'batch') expect(counters.outputBatchesByCustomId[id], id).toBeUndefined();
    }
    expect(counters.customIdsAnsweredTwice).toEqual([]);
  });
});

describe('the realtime budget across two replicas', () => {
  let sim: ProviderSim;
  const pipelines: Pipeline[] = [];

  beforeAll(async () => {
    // The provider takes two realtime calls at a time (more are answered 429), each taking 300 ms; the budget says one.
    sim = await createProviderSim({
      port: 0,
      faults: { maxConcurrent: { 'chat.completions': 2 }, latencyMs: { 'chat.completions': 300 } },
    });
    const prefix = freshPrefix('e2e');
    for (let i = 0; i < 2; i++) {
      pipelines.push(
        await startPipeline(
          {
            ...SLOW,
            REDIS_KEY_PREFIX: prefix,
            UPSTREAM_BASE_URL: sim.url,
            UPSTREAM_API_KEY: 'sk-sim',
            REALTIME_CONCURRENCY: '1',
          },
          tenants,
        ),
      );
    }
  });
  afterAll(async () => {
    for (const p of pipelines) await p.dispose();
    await sim?.close();
  });

  it('shares the concurrency budget in Redis: the provider never sees two calls at once', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => chat(`shared budget ${i}`));
    const started = Date.now();
    const answers = await Promise.all(
      bodies.map((b, i) => post(pipelines[i % 2]!.url, RT_KEY, b, { 'x-deadline': '20s', prefer: 'wait=25' })),
    );
    for (const [i, a] of answers.entries()) {
      expect(a.status, JSON.stringify(a.json)).toBe(200);
      expect(contentOf(a.json)).toBe(contentOf(simulatedCompletion(bodies[i]!)));
    }
    const counters = sim.counters();
    expect(counters.rateLimited).toBe(0);
    expect(counters.requests['chat.completions']).toBe(6);
    // One at a time: six calls of 300 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_700);
  });
});
