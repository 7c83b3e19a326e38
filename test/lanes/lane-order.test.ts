// Fast-lane jobs run earliest deadline first (SPEC §10): when the lane's budget is the bottleneck, the request due
// soonest takes the next call, not the one claimed first. The priority travels from the claim script's outbox entry
// (the record's deadline) through the relay into BullMQ.
import { lanePriority } from '@batchbridge/queues';
import { createTestRuntime, newRequestFixture, type TestRuntime } from '@batchbridge/testkit';
import { type Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let rt: TestRuntime;

beforeAll(async () => {
  rt = await createTestRuntime();
});
afterAll(async () => {
  await rt?.dispose();
});

describe('lane job order', () => {
  it('gives a sooner deadline a higher priority, and a job without one the lowest', () => {
    const now = 1_000_000;
    expect(lanePriority({ deadlineAt: now + 10_000 }, now)).toBeLessThan(
      lanePriority({ deadlineAt: now + 60_000 }, now),
    );
    expect(lanePriority({ deadlineAt: now - 5_000 }, now)).toBe(1);
    expect(lanePriority({}, now)).toBe(2_097_151);
    expect(lanePriority({ deadlineAt: now + 10 * 86_400_000 }, now)).toBeLessThan(2_097_151);
  });

  it('runs claimed lane jobs by deadline, not by claim order', async () => {
    const leftSeconds = [300, 20, 3_600, 90, 45];
    const ids: string[] = [];
    for (const [i, left] of leftSeconds.entries()) {
      const req = newRequestFixture({ deadlineAt: Date.now() + left * 1000, content: `order ${i}` });
      await rt.store.requests.enqueue(req, {});
      const claim = await rt.store.lanes.claim(0, req.id, 'realtime');
      if (!claim.claimed) throw new Error('not claimed');
      await rt.relay.relay(0, [claim.outbox]);
      ids.push(req.id);
    }
    const queue = rt.queues.queue('lane', 0);
    const seen: string[] = [];
    const worker = new Worker(
      queue.name,
      async (job: Job) => {
        seen.push((job.data as { requestId: string }).requestId);
      },
      { connection: rt.workerRedis, prefix: queue.opts.prefix ?? 'bull', concurrency: 1 },
    );
    try {
      for (let i = 0; i < 200 && seen.length < ids.length; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await worker.close();
    }
    const byDeadline = [...ids.keys()].sort((a, b) => leftSeconds[a]! - leftSeconds[b]!).map((i) => ids[i]);
    expect(seen).toEqual(byDeadline);
  });
});
