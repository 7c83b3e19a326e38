/**
 * The packer against the real provider simulator and a real Redis: each flush trigger, models kept apart, two packers
 * sharing the work without sharing a request, and the provider's faults at batch creation (a create that times out
 * after the batch exists, 429 with Retry-After, a 400, the create-per-minute limit).
 */
import { jobIds, newFlushId } from '@batchbridge/domain';
import { startPacker } from '@batchbridge/packer';
import { createProviderSim, FAST_TIMINGS, type ProviderSim, type ProviderSimOptions } from '@batchbridge/provider-sim';
import type { Service } from '@batchbridge/runtime';
import { createTestRuntime, type TestRuntime } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { enqueueChat, FAST_PACKER, flushReason, useSuiteRedis, waitFor, waitSubmitted } from './packer-helpers.js';

const suite = useSuiteRedis();
const { cleanups } = suite;

interface Setup {
  sim: ProviderSim;
  runtime: TestRuntime;
  packer: Service;
}

async function setup(
  env: Record<string, string>,
  simOptions: ProviderSimOptions = {},
  packerOptions: Parameters<typeof startPacker>[1] = {},
): Promise<Setup> {
  const sim = await createProviderSim({ timings: FAST_TIMINGS, ...simOptions });
  cleanups.push(() => sim.close());
  const runtime = await createTestRuntime({
    redisUrl: suite.redisUrl,
    env: { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_WAIT_MS: '3600000', ...env },
  });
  cleanups.push(() => runtime.dispose());
  const packer = await startPacker(runtime, { ...FAST_PACKER, ...packerOptions });
  cleanups.push(() => packer.close());
  return { sim, runtime, packer };
}

const flushes = async (runtime: TestRuntime, reason: string) =>
  (await runtime.metrics.m.batchFlushes.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('flush triggers', () => {
  it('flushes when a group reaches BATCH_MAX_REQUESTS, and leaves the rest queued', async () => {
    const { sim, runtime, packer } = await setup({ BATCH_MAX_REQUESTS: '3' });
    expect(await packer.ready()).toBe(true);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueueChat(runtime, { content: `question ${i}` }));
    const records = await waitSubmitted(runtime, ids.slice(0, 3));
    expect(new Set(records.map((r) => r.batch_id)).size).toBe(1);
    expect(records.every((r) => r.status === 'submitted' && r.attempts === 1)).toBe(true);
    expect(await flushReason(runtime, ids[0]!)).toBe('count');
    expect((await runtime.store.requests.get(ids[3]!))?.status).toBe('queued');
    expect(await flushes(runtime, 'count')).toBe(1);
    expect(sim.counters().batchesCreated).toBe(1);
    // The batch the requests point at is the provider's, tagged with their flush.
    const batch = await runtime.provider!.batches.retrieve(records[0]!.batch_id!);
    expect(batch.metadata?.batchbridge_flush_id).toBe(records[0]!.flush_id);
  });

  it('flushes on BATCH_MAX_BYTES, taking only what fits', async () => {
    const { runtime } = await setup({ BATCH_MAX_BYTES: '1024' });
    const a = await enqueueChat(runtime, { content: 'a'.repeat(600) });
    const b = await enqueueChat(runtime, { content: 'b'.repeat(600) });
    await waitSubmitted(runtime, [a]);
    expect(await flushReason(runtime, a)).toBe('bytes');
    // b alone is below the limit and far from the age trigger.
    expect((await runtime.store.requests.get(b))?.status).toBe('queued');
  });

  it('flushes on BATCH_MAX_TOKENS (estimated input tokens)', async () => {
    const { runtime } = await setup({ BATCH_MAX_TOKENS: '100' });
    const a = await enqueueChat(runtime, { content: 'x'.repeat(300) });
    const b = await enqueueChat(runtime, { content: 'y'.repeat(300) });
    await waitSubmitted(runtime, [a]);
    expect(await flushReason(runtime, a)).toBe('tokens');
    expect((await runtime.store.requests.get(b))?.status).toBe('queued');
  });

  it('flushes a lone request once it is BATCH_MAX_WAIT_MS old', async () => {
    const { runtime } = await setup({ BATCH_MAX_WAIT_MS: '150' });
    const id = await enqueueChat(runtime);
    const [record] = await waitSubmitted(runtime, [id]);
    expect(record?.status).toBe('submitted');
    expect(await flushReason(runtime, id)).toBe('age');
    expect(await flushes(runtime, 'age')).toBe(1);
  });

  it('keeps models apart: one batch per model, each accepted by a one-model-per-file provider', async () => {
    const { sim, runtime } = await setup({ BATCH_MAX_WAIT_MS: '50' });
    const mini = [
      await enqueueChat(runtime, { model: 'gpt-4o-mini' }),
      await enqueueChat(runtime, { model: 'gpt-4o-mini' }),
    ];
    const big = [await enqueueChat(runtime, { model: 'gpt-4o' }), await enqueueChat(runtime, { model: 'gpt-4o' })];
    const records = await waitSubmitted(runtime, [...mini, ...big]);
    const [m1, m2, b1, b2] = records.map((r) => r.batch_id);
    expect(m1).toBe(m2);
    expect(b1).toBe(b2);
    expect(m1).not.toBe(b1);
    for (const batchId of [m1!, b1!]) {
      const done = await waitFor('batch completed', async () => {
        const b = await runtime.provider!.batches.retrieve(batchId);
        return ['completed', 'failed'].includes(b.status) ? b : undefined;
      });
      expect(done.status).toBe('completed');
      expect(done.request_counts?.completed).toBe(2);
    }
    expect(sim.counters().batchesCreated).toBe(2);
  });
});

describe('a flush whose request record vanished', () => {
  it('leaves the line out and keeps the id list equal to the file, line for line', async () => {
    const sim = await createProviderSim({ timings: FAST_TIMINGS });
    cleanups.push(() => sim.close());
    const runtime = await createTestRuntime({ redisUrl: suite.redisUrl, env: { UPSTREAM_BASE_URL: sim.url } });
    cleanups.push(() => runtime.dispose());
    const ids = [await enqueueChat(runtime), await enqueueChat(runtime), await enqueueChat(runtime)];
    const claim = await runtime.store.flushes.claim(
      0,
      'chat.completions|gpt-4o-mini',
      newFlushId(),
      runtime.config.batch,
      true,
    );
    if (!claim.claimed) throw new Error('not claimed');
    // Cannot happen in production (batched records never expire, eviction is refused): a hand-deleted key.
    await runtime.redis.del(runtime.keys.partitionKeys(0).req(ids[1]!));
    await runtime.relay.relay(0, [claim.outbox]);
    const packer = await startPacker(runtime, FAST_PACKER);
    cleanups.push(() => packer.close());

    const records = await waitSubmitted(runtime, [ids[0]!, ids[2]!]);
    expect(records[0]?.batch_id).toBe(records[1]?.batch_id);
    expect(await runtime.store.flushes.ids(0, claim.flushId, 0, -1)).toEqual([ids[0], ids[2]]);
    expect((await runtime.store.flushes.get(0, claim.flushId))?.count).toBe(2);
    const counters = await waitFor('lines answered', () => {
      const c = sim.counters();
      return c.outputLines >= 2 ? c : undefined;
    });
    expect(counters.linesReceived).toBe(2);
    expect(Object.keys(counters.outputBatchesByCustomId).sort()).toEqual([ids[0], ids[2]].sort());
  });
});

describe('recovery sweep', () => {
  it('gives a claimed flush whose job never reached BullMQ a job again', async () => {
    const sim = await createProviderSim({ timings: FAST_TIMINGS });
    cleanups.push(() => sim.close());
    const runtime = await createTestRuntime({ redisUrl: suite.redisUrl, env: { UPSTREAM_BASE_URL: sim.url } });
    cleanups.push(() => runtime.dispose());
    const id = await enqueueChat(runtime);
    const claim = await runtime.store.flushes.claim(
      0,
      'chat.completions|gpt-4o-mini',
      newFlushId(),
      runtime.config.batch,
      true,
    );
    if (!claim.claimed) throw new Error('not claimed');
    // The outbox entry is lost too (say, a hand cleanup): only the stale-flush check can find the flush now.
    await runtime.redis.zrem(runtime.keys.partitionKeys(0).outbox, claim.outbox);
    const packer = await startPacker(runtime, FAST_PACKER);
    cleanups.push(() => packer.close());
    const [record] = await waitSubmitted(runtime, [id]);
    expect(record?.flush_id).toBe(claim.flushId);
    expect(sim.counters().batchesCreated).toBe(1);
  });
});

describe('two packers on one Redis', () => {
  it('never put one request in two batches', async () => {
    const first = await setup({ BATCH_MAX_REQUESTS: '5', BATCH_MAX_WAIT_MS: '30' });
    const second = await createTestRuntime({
      redisUrl: suite.redisUrl,
      env: {
        UPSTREAM_BASE_URL: first.sim.url,
        REDIS_KEY_PREFIX: first.runtime.prefix,
        BATCH_MAX_REQUESTS: '5',
        BATCH_MAX_WAIT_MS: '30',
      },
    });
    cleanups.push(() => second.dispose());
    const otherPacker = await startPacker(second, FAST_PACKER);
    cleanups.push(() => otherPacker.close());

    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            enqueueChat(i % 2 ? first.runtime : second, { content: `q${round}.${i}` }),
          ),
        )),
      );
    }
    const records = await waitSubmitted(first.runtime, ids);
    expect(records.every((r) => r.attempts === 1)).toBe(true);
    const counters = await waitFor('every line answered', () => {
      const c = first.sim.counters();
      return c.outputLines >= ids.length ? c : undefined;
    });
    expect(counters.linesReceived).toBe(ids.length);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
    expect(Object.keys(counters.outputBatchesByCustomId).sort()).toEqual([...ids].sort());
    for (const r of records) expect(counters.outputBatchesByCustomId[r.id]).toEqual([r.batch_id]);
  });
});

describe('provider faults at batch creation', () => {
  it('adopts the batch when batches.create drops the connection after creating it', async () => {
    const { sim, runtime } = await setup({ BATCH_MAX_WAIT_MS: '0' });
    sim.setFaults({ createBatchTimeout: { mode: 'drop', times: 1 } });
    const ids = [await enqueueChat(runtime), await enqueueChat(runtime)];
    const records = await waitSubmitted(runtime, ids);
    expect(sim.counters().batchesCreated).toBe(1);
    expect(sim.counters().requests['batches.create']).toBe(1);
    const [batch] = (await runtime.provider!.batches.list()).data;
    expect(records.map((r) => r.batch_id)).toEqual([batch?.id, batch?.id]);
  });

  it('adopts the batch when batches.create answers after the client timed out', async () => {
    const { sim, runtime } = await setup({ BATCH_MAX_WAIT_MS: '0', UPSTREAM_TIMEOUT_MS: '300' });
    sim.setFaults({ createBatchTimeout: { mode: 'delay', delayMs: 5_000, times: 1 } });
    const id = await enqueueChat(runtime);
    const [record] = await waitSubmitted(runtime, [id]);
    expect(record?.status).toBe('submitted');
    expect(sim.counters().batchesCreated).toBe(1);
  });

  it('retries a 429 after its Retry-After and creates one batch', async () => {
    const { sim, runtime } = await setup({ BATCH_MAX_WAIT_MS: '0' });
    sim.setFaults({ rateLimitFraction: { 'batches.create': 1 }, retryAfterMs: 100 });
    const id = await enqueueChat(runtime);
    await waitFor('two 429s', () => sim.counters().rateLimited >= 2);
    expect((await runtime.store.requests.get(id))?.status).toBe('batched');
    sim.clearFaults();
    const [record] = await waitSubmitted(runtime, [id]);
    expect(record?.status).toBe('submitted');
    expect(sim.counters().batchesCreated).toBe(1);
    expect(sim.counters().filesCreated).toBe(1);
  });

  it('fails the requests with provider_rejected and the message when the provider refuses the batch (400)', async () => {
    // The kluster profile accepts a 48h window; the openai-profile simulator refuses it.
    const { sim, runtime } = await setup({
      BATCH_MAX_WAIT_MS: '0',
      PROVIDER_PROFILE: 'kluster',
      COMPLETION_WINDOW: '48h',
    });
    const ids = [await enqueueChat(runtime), await enqueueChat(runtime)];
    const records = await waitSubmitted(runtime, ids);
    for (const r of records) {
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('provider_rejected');
      expect(r.error?.message).toContain("Invalid value for 'completion_window'");
      expect(await runtime.store.deliveries.pending(0, [r.id])).toEqual([true]);
    }
    expect(sim.counters().batchesCreated).toBe(0);
  });

  it('delays, not fails, a flush over the batch creates per minute', async () => {
    // Two takes straddling a minute boundary would both pass: start well inside a minute.
    if (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 50));
    const { sim, runtime } = await setup({ BATCH_MAX_REQUESTS: '1' }, {}, { batchCreatesPerMinute: 1 });
    const first = await enqueueChat(runtime);
    await waitSubmitted(runtime, [first]);
    const second = await enqueueChat(runtime);
    const fid = await waitFor('second flush claimed', async () => (await runtime.store.requests.get(second))?.flush_id);
    const job = await waitFor('flush job delayed', async () => {
      const j = await runtime.queues.queue('flush', 0).getJob(jobIds.flush(fid));
      return j && (await j.getState()) === 'delayed' ? j : undefined;
    });
    expect(job.failedReason).toBeFalsy();
    expect((await runtime.store.requests.get(second))?.status).toBe('batched');
    expect(sim.counters().batchesCreated).toBe(1);
  });
});
