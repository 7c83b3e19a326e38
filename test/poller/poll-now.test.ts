// `pollNow` (SPEC §13): a provider's batch event runs the batch's one poll job at once, whatever state that job is in,
// and never makes a second one — so push and poll cannot route a batch twice. Real Redis, real BullMQ.
import { type PollJobData, pollNow, QUEUES } from '@batchbridge/queues';
import { createTestRuntime, type TestRuntime, waitFor } from '@batchbridge/testkit';
import { DelayedError, type Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let runtime: TestRuntime;
beforeAll(async () => {
  runtime = await createTestRuntime();
});
afterAll(async () => {
  await runtime?.dispose();
});

const jobId = (batchId: string) => `poll-${batchId}`;
const add = (batchId: string, delay?: number) =>
  runtime.queues
    .queue('poll', 0)
    .add(QUEUES.poll.jobName, { partition: 0, batchId }, { jobId: jobId(batchId), ...(delay ? { delay } : {}) });
const stateOf = async (batchId: string) =>
  (await runtime.queues.queue('poll', 0).getJob(jobId(batchId)))?.getState() ?? 'missing';

describe('pollNow', () => {
  it('promotes a poll job waiting for its next poll, and leaves a waiting one alone', async () => {
    await add('batch_delayed', 60_000);
    expect(await stateOf('batch_delayed')).toBe('delayed');
    expect(await pollNow(runtime.queues, 0, 'batch_delayed')).toBe('promoted');
    expect(await stateOf('batch_delayed')).toBe('waiting');
    // A second event for the same batch: the job already runs soon; still one job.
    expect(await pollNow(runtime.queues, 0, 'batch_delayed')).toBe('queued');
    expect(await runtime.queues.queue('poll', 0).getJobCounts('waiting', 'delayed')).toEqual({
      waiting: 1,
      delayed: 0,
    });
  });

  it('adds the poll job of a live batch that has none (as the sweep would)', async () => {
    expect(await pollNow(runtime.queues, 0, 'batch_missing')).toBe('added');
    expect(await stateOf('batch_missing')).toBe('waiting');
  });

  it('waits out a running poll that moves itself back to delayed, then promotes it', async () => {
    const queue = runtime.queues.queue('poll', 0);
    await queue.obliterate({ force: true });
    await add('batch_active');
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let runs = 0;
    // The poll of a batch that was still in progress at the provider: it reschedules itself a minute on.
    const worker = new Worker<PollJobData>(
      QUEUES.poll.name,
      async (job: Job<PollJobData>, token?: string) => {
        runs++;
        if (runs === 1) {
          await released;
          await job.moveToDelayed(Date.now() + 60_000, token);
          throw new DelayedError();
        }
        return 'routed';
      },
      { connection: runtime.workerRedis, prefix: runtime.keys.tag(0) },
    );
    try {
      await waitFor('the poll job is running', async () => ((await stateOf('batch_active')) === 'active' ? 1 : 0));
      const triggered = pollNow(runtime.queues, 0, 'batch_active', { budgetMs: 5_000, stepMs: 20 });
      await new Promise((r) => setTimeout(r, 200));
      release();
      expect(await triggered).toBe('promoted');
      await waitFor('the promoted poll ran', () => (runs === 2 ? 1 : 0));
      expect(await stateOf('batch_active')).toBe('completed');
    } finally {
      await worker.close();
    }
  });

  it('answers running when the poll job stays active past the budget (it routes, or reschedules itself)', async () => {
    const queue = runtime.queues.queue('poll', 0);
    await queue.obliterate({ force: true });
    await add('batch_busy');
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const worker = new Worker<PollJobData>(
      QUEUES.poll.name,
      async () => {
        await released;
        return 'routed';
      },
      { connection: runtime.workerRedis, prefix: runtime.keys.tag(0) },
    );
    try {
      await waitFor('the poll job is running', async () => ((await stateOf('batch_busy')) === 'active' ? 1 : 0));
      expect(await pollNow(runtime.queues, 0, 'batch_busy', { budgetMs: 300, stepMs: 20 })).toBe('running');
    } finally {
      release();
      await worker.close();
    }
  });
});
