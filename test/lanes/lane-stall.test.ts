// A fast-lane job whose worker died mid-call (SPEC §10, docs/deadlines.md): BullMQ's stall check hands it to another
// worker, which calls the provider again — the provider may have charged the first call too. The request is answered
// once; the repeated call is counted (batchbridge_lane_calls_after_stall_total), once per stall.
import { jobIds } from '@batchbridge/domain';
import { createLaneProcessor } from '@batchbridge/packer';
import { createProviderSim, type ProviderSim } from '@batchbridge/provider-sim';
import { createTestRuntime, newRequestFixture, type TestRuntime } from '@batchbridge/testkit';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let sim: ProviderSim;
let rt: TestRuntime;

beforeAll(async () => {
  sim = await createProviderSim({ port: 0 });
  rt = await createTestRuntime({ env: { UPSTREAM_BASE_URL: sim.url, UPSTREAM_API_KEY: 'sk-sim' } });
});
afterAll(async () => {
  await rt?.dispose();
  await sim?.close();
});

/** A request claimed by the realtime lane, and its lane job in the queue; `stalls`: as the stall check left it. */
async function laneJob(content: string, stalls: number): Promise<Job> {
  const req = newRequestFixture({ deadlineAt: Date.now() + 60_000, content });
  await rt.store.requests.enqueue(req, {});
  const claim = await rt.store.lanes.claim(0, req.id, 'realtime');
  if (!claim.claimed) throw new Error('not claimed');
  const jobId = jobIds.lane(claim.runId);
  const data = { partition: 0, requestId: req.id, runId: claim.runId, lane: 'realtime' as const };
  await rt.queues.addBulk('lane', 0, [{ data, jobId }]);
  const queue = rt.queues.queue('lane', 0);
  // BullMQ's stall check raises the job's stall counter (`stc` in its hash) when its worker stopped renewing the lock.
  if (stalls > 0) await rt.redis.hset(queue.toKey(jobId), 'stc', stalls);
  const job = await queue.getJob(jobId);
  if (!job) throw new Error('no job');
  return job;
}

const afterStall = async () =>
  ((await rt.metrics.m.laneCallsAfterStall.get()).values.find((v) => v.labels.lane === 'realtime')?.value ??
    0) as number;

describe('a fast-lane job run again after a stall', () => {
  it('calls again and counts it once; the request is answered once', async () => {
    const process = createLaneProcessor(rt, { store: rt.store });
    const fresh = await laneJob('never stalled', 0);
    expect(await process(fresh, undefined, 0)).toMatchObject({ outcome: 'completed', lane: 'realtime' });
    expect(await afterStall()).toBe(0);

    const stalled = await laneJob('stalled once', 1);
    expect(await process(stalled, undefined, 0)).toMatchObject({ outcome: 'completed', lane: 'realtime' });
    expect(await afterStall()).toBe(1);
    expect(stalled.data.stallsSeen).toBe(1);
    // Answered: a further run of the job (say, it stalled again before finishing) settles nothing and calls nobody.
    expect(await process(stalled, undefined, 0)).toEqual({ stale: true });
    expect(await afterStall()).toBe(1);
    expect(sim.counters().chatCompletions).toBe(2);
    const record = await rt.store.requests.get(stalled.data.requestId);
    expect(record).toMatchObject({ status: 'completed', lane: 'realtime' });
  });
});
