import { costOf, DEFAULT_PRICE_TABLE, priceFor, type Tenant } from '@batchbridge/config';
import { jobIds, ledgerDay } from '@batchbridge/domain';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import type { Service } from '@batchbridge/runtime';
import {
  chatRequestBody as chatBody,
  counterValue,
  createTestRuntime,
  records,
  type SubmittedBatch,
  submitRequests,
  TEST_TENANTS,
  type TestRuntime,
  waitRouted,
} from '@batchbridge/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BatchRouter } from './batch-router.js';
import type { PollerOptions } from './options.js';
import { startPoller } from './poller.js';

const MODEL = 'gpt-4o-mini';

let sim: ProviderSim;
let rt: TestRuntime | undefined;
let poller: Service | undefined;

beforeAll(async () => {
  sim = await createProviderSim({ timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 } });
});
afterAll(async () => {
  await sim.close();
});
afterEach(async () => {
  await poller?.close();
  await rt?.dispose();
  poller = undefined;
  rt = undefined;
  sim.clearFaults();
});

async function start(env: Record<string, string> = {}, options: PollerOptions = {}, tenants?: Tenant[]) {
  rt = await createTestRuntime({
    env: { UPSTREAM_BASE_URL: sim.url, POLL_INTERVAL_MS: '20', POLL_MAX_INTERVAL_MS: '50', ...env },
    ...(tenants ? { tenants } : {}),
  });
  poller = await startPoller(rt, { backoff: { baseMs: 20, capMs: 100 }, ...options });
  return rt;
}

function expectedContent(content: string, model = MODEL): string {
  return simulatedCompletion({ model, messages: [{ role: 'user', content }] }).choices[0].message.content ?? '';
}

/** The outcome deliveries the routing made due (no dispatcher runs), named as their deliver ids. */
async function deliverJobIds(r: TestRuntime, b: SubmittedBatch): Promise<string[]> {
  const due = await r.redis.zrange(r.keys.partitionKeys(b.partition).dlvDue, '0', '-1');
  return due.map((m) => jobIds.deliver(m)).sort();
}

describe('poller', () => {
  it('routes every line of a completed batch to its own request and asks for one delivery each', async () => {
    const r = await start();
    const contents = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    const b = await submitRequests(
      r,
      contents.map((content) => ({ content })),
    );
    await waitRouted(r, b);

    const recs = await records(r, b.ids);
    recs.forEach((rec, i) => {
      expect(rec.status).toBe('completed');
      expect(rec.attempts).toBe(1);
      expect(rec.batch_id).toBe(b.batchId);
      expect(rec.response?.status_code).toBe(200);
      const body = rec.response?.body as { choices: Array<{ message: { content: string } }> };
      expect(body.choices[0]?.message.content).toBe(expectedContent(contents[i] as string));
    });
    expect(await deliverJobIds(r, b)).toEqual(b.ids.map((id) => jobIds.deliver(id)).sort());
    expect(await r.store.batches.live(0)).toEqual([]);
    expect(await r.store.batches.get(0, b.batchId)).toMatchObject({
      status: 'completed',
      outcomes: { completed: 6, failed: 0, retried: 0 },
    });
    expect(await counterValue(r.metrics.m.results, { outcome: 'completed' })).toBe(6);
    // The savings estimate counts the tokens the provider reported for these six results (stored in micro-dollars).
    const usage = recs.map(
      (rec) => (rec.response!.body as { usage: { prompt_tokens: number; completion_tokens: number } }).usage,
    );
    const [savings] = await r.store.ledger.savings();
    expect(savings).toMatchObject({
      model: MODEL,
      inputTokens: usage.reduce((n, u) => n + u.prompt_tokens, 0),
      outputTokens: usage.reduce((n, u) => n + u.completion_tokens, 0),
    });
    expect(savings?.usd).toBeGreaterThan(0);
    expect(await counterValue(r.metrics.m.estimatedSavings, { model: MODEL })).toBeCloseTo(savings?.usd ?? 0, 5);
    expect(await counterValue(r.metrics.m.batchesFinished, { status: 'completed' })).toBe(1);
    // DELETE_PROVIDER_FILES defaults to true: the input file is gone from the provider.
    await expect(r.provider?.files.retrieve(b.inputFileId)).rejects.toMatchObject({ status: 404 });
  });

  it('fails a line the provider answered 400, retries a 500 and a dropped line, and counts unknown custom_ids', async () => {
    const r = await start();
    const b = await submitRequests(
      r,
      [
        { content: 'fine' },
        { content: 'bad [sim:error=400]' },
        { content: 'flaky [sim:error=500]' },
        { content: 'gone [sim:drop]' },
      ],
      {
        extraLines: [
          `{"custom_id":"stranger","method":"POST","url":"/v1/chat/completions","body":${chatBody(MODEL, 'who')}}\n`,
        ],
      },
    );
    await waitRouted(r, b);
    const [fine, bad, flaky, gone] = await records(r, b.ids);
    expect(fine?.status).toBe('completed');
    expect(bad?.status).toBe('failed');
    expect(bad?.error?.code).toBe('provider_rejected');
    expect(bad?.response?.status_code).toBe(400);
    expect(flaky).toMatchObject({ status: 'queued', attempts: 1 });
    expect(flaky?.last_error).toMatch(/500|server/i);
    expect(gone).toMatchObject({ status: 'queued', attempts: 1 });
    expect(gone?.last_error).toMatch(/missing_from_output/);
    // Retried requests are back in their group for the packer.
    expect((await r.store.flushes.groups(0)).find((g) => g.group === b.group)?.count).toBe(2);
    expect(await deliverJobIds(r, b)).toEqual([jobIds.deliver(b.ids[0]!), jobIds.deliver(b.ids[1]!)].sort());
    expect(await counterValue(r.metrics.m.results, { outcome: 'unknown' })).toBe(1);
    expect(await counterValue(r.metrics.m.results, { outcome: 'retried' })).toBe(2);
    expect((await r.store.batches.get(0, b.batchId))?.outcomes).toEqual({ completed: 1, failed: 1, retried: 2 });
  });

  it('fails a retried request for good once MAX_ATTEMPTS batches are used up', async () => {
    const r = await start({ MAX_ATTEMPTS: '1' });
    const b = await submitRequests(r, [{ content: 'gone [sim:drop]' }]);
    await waitRouted(r, b);
    const [rec] = await records(r, b.ids);
    expect(rec?.status).toBe('failed');
    expect(rec?.error?.code).toBe('max_attempts_exceeded');
    expect(rec?.error?.message).toMatch(/missing_from_output/);
    expect(await deliverJobIds(r, b)).toEqual([jobIds.deliver(b.ids[0]!)]);
  });

  it('delivers the finished lines of an expired batch and puts the rest back in the queue', async () => {
    const r = await start();
    sim.setFaults({ expireAfterFraction: 0.5 });
    const b = await submitRequests(
      r,
      ['one', 'two', 'three', 'four'].map((content) => ({ content })),
    );
    await waitRouted(r, b);
    // The simulator finishes the first half of the file's lines, in the claim's order.
    const recs = await records(r, b.lineIds);
    expect(recs.map((x) => x.status)).toEqual(['completed', 'completed', 'queued', 'queued']);
    expect(recs[2]).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/batch_expired/) });
    expect((await r.store.batches.get(0, b.batchId))?.status).toBe('expired');
    expect(await counterValue(r.metrics.m.batchesFinished, { status: 'expired' })).toBe(1);
  });

  it('rejects only the line a failed batch names (I5) and retries the others', async () => {
    const r = await start();
    const b = await submitRequests(r, [
      { content: 'good one' },
      { content: 'no model', body: JSON.stringify({ messages: [{ role: 'user', content: 'no model' }] }) },
      { content: 'good two' },
    ]);
    await waitRouted(r, b);
    const [one, bad, two] = await records(r, b.ids);
    expect(bad?.status).toBe('failed');
    expect(bad?.error?.code).toBe('provider_rejected');
    expect(bad?.error?.message).toMatch(/missing_required_parameter/);
    // Not their fault: back to the queue with the attempt given back (issue 16, finding 1).
    for (const rec of [one, two]) {
      expect(rec).toMatchObject({ status: 'queued', attempts: 0 });
      expect(rec?.last_error).toMatch(/batch_failed/);
    }
    expect(await deliverJobIds(r, b)).toEqual([jobIds.deliver(b.ids[1]!)]);
    expect((await r.store.batches.get(0, b.batchId))?.status).toBe('failed');
  });

  it('holds the group after token_limit_exceeded and retries its requests', async () => {
    const r = await start({}, { groupHoldMs: 60_000 });
    sim.setFaults({ enqueuedTokenLimit: 1 });
    const b = await submitRequests(r, [{ content: 'a long enough prompt' }, { content: 'another prompt' }]);
    await waitRouted(r, b);
    const recs = await records(r, b.ids);
    for (const rec of recs) {
      expect(rec).toMatchObject({ status: 'queued', attempts: 1 });
      expect(rec.last_error).toMatch(/token_limit_exceeded/);
    }
    const group = (await r.store.flushes.groups(0)).find((g) => g.group === b.group);
    expect(group).toMatchObject({ count: 2, held: true });
    const claim = await r.store.flushes.claim(
      0,
      b.group,
      'fl_test',
      { maxRequests: 10, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 0 },
      true,
    );
    expect(claim).toEqual({ claimed: false, why: 'held' });
  });

  it('splits a batch that failed without naming a line into two halves, attempts given back', async () => {
    const r = await start();
    const b = await submitRequests(r, [
      { content: 'one' },
      { content: 'two [sim:poison]' },
      { content: 'three' },
      { content: 'four' },
    ]);
    await waitRouted(r, b);
    const recs = await records(r, b.lineIds);
    for (const rec of recs) expect(rec).toMatchObject({ status: 'queued', attempts: 0 });
    const groups = recs.map((rec) => rec.group);
    expect(groups[0]).toBe(groups[1]);
    expect(groups[2]).toBe(groups[3]);
    expect(groups[0]).not.toBe(groups[2]);
    for (const g of groups) expect(g.startsWith(`${b.group}|iso:`)).toBe(true);
    expect((await r.metrics.m.batchesSplit.get()).values[0]?.value).toBe(1);
  });

  it('takes the answered line when a request has a retryable error line and an answer, in either order', async () => {
    const r = await start({ DELETE_PROVIDER_FILES: 'false' });
    const b = await submitRequests(r, [{ content: 'first' }, { content: 'second' }], { relay: false });
    const [first, second] = b.lineIds as [string, string];
    const answer = (id: string, content: string) =>
      JSON.stringify({
        id: `br_${id}`,
        custom_id: id,
        response: { status_code: 200, request_id: 'req_1', body: { id: 'c', object: 'chat.completion', content } },
        error: null,
      });
    const serverError = (id: string) =>
      JSON.stringify({
        id: `br_e_${id}`,
        custom_id: id,
        response: { status_code: 500, request_id: 'req_2', body: { error: { message: 'boom', type: 'server_error' } } },
        error: null,
      });
    const { toFile } = await import('openai');
    const file = await r.provider!.files.create({
      file: await toFile(
        Buffer.from(
          `${[serverError(first), answer(first, 'a1'), answer(second, 'a2'), serverError(second)].join('\n')}\n`,
        ),
        'out.jsonl',
      ),
      purpose: 'batch',
    });
    const { normalizeBatch } = await import('@batchbridge/provider');
    const remote = normalizeBatch({ ...(await r.provider!.batches.retrieve(b.batchId)), status: 'completed' });
    const batch = (await r.store.batches.get(0, b.batchId))!;
    await new BatchRouter(r).route(
      0,
      batch,
      { ...remote, output_file_id: file.id, error_file_id: null },
      {
        logger: r.logger,
        attemptsMade: 0,
      },
    );
    const [one, two] = await records(r, [first, second]);
    expect(one).toMatchObject({ status: 'completed', attempts: 1 });
    expect((one?.response?.body as { content?: string } | undefined)?.content).toBe('a1');
    expect(two).toMatchObject({ status: 'completed', attempts: 1 });
    expect((two?.response?.body as { content?: string } | undefined)?.content).toBe('a2');
  });

  it('routing the same batch twice changes nothing', async () => {
    const r = await start({ DELETE_PROVIDER_FILES: 'false' });
    const b = await submitRequests(r, [
      { content: 'x' },
      { content: 'y [sim:error=400]' },
      { content: 'z [sim:drop]' },
    ]);
    await waitRouted(r, b);
    const before = await records(r, b.ids);
    const deliveries = await deliverJobIds(r, b);
    const groups = await r.store.flushes.groups(0);
    const savings = await r.store.ledger.savings();

    const remote = await r.provider!.batches.retrieve(b.batchId);
    const { normalizeBatch } = await import('@batchbridge/provider');
    const batch = (await r.store.batches.get(0, b.batchId))!;
    const summary = await new BatchRouter(r).route(0, batch, normalizeBatch(remote), {
      logger: r.logger,
      attemptsMade: 0,
    });
    expect(summary.lines).toMatchObject({ completed: 0, failed: 0, retried: 0, stale: 2 });
    expect(summary.leftovers).toMatchObject({ completed: 0, failed: 0, retried: 0 });
    expect(await records(r, b.ids)).toEqual(before);
    expect(await deliverJobIds(r, b)).toEqual(deliveries);
    expect(await r.store.flushes.groups(0)).toEqual(groups);
    expect(await r.store.ledger.savings()).toEqual(savings);
    // Nothing billed twice either: the one answered line is in the ledger once.
    const { day } = ledgerDay(Date.now());
    expect((await r.store.ledger.usage('acme', day, day)).total.requests).toBe(1);
  });

  it("bills each answered line from the provider's usage at the batch price, and tells the ledger and metrics", async () => {
    const r = await start();
    const b = await submitRequests(r, [{ content: 'one' }, { content: 'two two' }, { content: 'x [sim:error=400]' }]);
    await waitRouted(r, b);
    const recs = await records(r, b.ids);
    const priced = priceFor(DEFAULT_PRICE_TABLE, 'openai', MODEL);
    let total = 0;
    let saved = 0;
    for (const rec of recs.slice(0, 2)) {
      const u = (rec.response!.body as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
      expect(rec.usage).toEqual({
        input_tokens: u.prompt_tokens,
        cached_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: u.completion_tokens,
      });
      // gpt-4o-mini in a batch: half of $0.15 in and $0.60 out per million tokens.
      const expected = costOf(priced, 'batch', { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens });
      expect(rec.cost).toEqual(expected);
      expect(rec.cost?.usd).toBeCloseTo((u.prompt_tokens * 0.075 + u.completion_tokens * 0.3) / 1e6, 9);
      total += rec.cost!.usd!;
      saved += rec.cost!.saved_usd!;
    }
    // The 400 line was answered with an error: no usage, no cost, not billed.
    expect(recs[2]).toMatchObject({ status: 'failed', usage: undefined, cost: undefined });

    const { day } = ledgerDay(Date.now());
    const report = await r.store.ledger.usage('acme', day, day);
    expect(report.total.requests).toBe(2);
    expect(report.total.usd).toBeCloseTo(total, 9);
    expect(report.data).toEqual([
      expect.objectContaining({ date: day, provider: 'openai', model: MODEL, lane: 'batch', requests: 2 }),
    ]);
    const labels = { lane: 'batch', provider: 'openai', model: MODEL, tenant: '' };
    expect(await counterValue(r.metrics.m.costUsd, labels)).toBeCloseTo(total, 9);
    expect(await counterValue(r.metrics.m.savedUsd, labels)).toBeCloseTo(saved, 9);
  });

  it('queues one budget event per threshold once a tenant passes 80 % and 100 % of its budget', async () => {
    const r = await start({}, {}, [
      { ...TEST_TENANTS[0]!, operations_url: 'https://ops.example.test/hook', monthly_budget_usd: 0.000_000_1 },
    ]);
    const b = await submitRequests(r, [{ content: 'spend' }]);
    await waitRouted(r, b);
    const { month } = ledgerDay(Date.now());
    const queue = r.queues.queue('deliver', 0);
    for (const pct of [80, 100]) {
      const job = await queue.getJob(jobIds.event(`evt_bud_acme_${month}_${pct}`));
      expect(job?.data.event).toMatchObject({ tenant: 'acme', type: 'budget.threshold' });
      expect(JSON.parse(job!.data.event.body)).toMatchObject({
        type: 'budget.threshold',
        data: { tenant: 'acme', period: 'month', period_start: month, threshold_percent: pct },
      });
    }
    // Once per period and threshold: another billed batch queues nothing more.
    const before = (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).length;
    const c = await submitRequests(r, [{ content: 'more' }]);
    await waitRouted(r, c);
    const after = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    expect(after.filter((j) => String(j.id).startsWith(jobIds.event('evt_bud_'))).length).toBe(2);
    // Only the budget events are jobs: the outcomes' deliveries are due in the delivery zset.
    expect(after.length).toBe(before);
    expect(await deliverJobIds(r, c)).toEqual([...b.ids, ...c.ids].map((id) => jobIds.deliver(id)).sort());
  });
});
