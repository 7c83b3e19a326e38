/**
 * The packer and the poller together against the provider simulator: requests of two models over two partitions are
 * packed into several batches, polled and routed; every request ends in the terminal status its prompt asks for, with
 * its own answer, and with exactly one delivery job.
 */
import { batchLine, estimateInputTokens, groupFor, newRequestId, type RequestRecord } from '@batchbridge/domain';
import { startPacker } from '@batchbridge/packer';
import { startPoller } from '@batchbridge/poller';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import type { Service } from '@batchbridge/runtime';
import { createTestRuntime, newRequestFixture, type TestRuntime } from '@batchbridge/testkit';
import { afterEach, expect, it } from 'vitest';

const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops.length = 0;
});

interface Sent {
  id: string;
  model: string;
  content: string;
}

async function enqueue(rt: TestRuntime, model: string, content: string, partition: number): Promise<Sent> {
  const req = newRequestFixture({ partition, model, content });
  const res = await rt.store.requests.enqueue(req, {});
  expect(res.kind).toBe('created');
  return { id: req.id, model, content };
}

it('packer → provider → poller: every request reaches the status its prompt asks for, once', async () => {
  const sim: ProviderSim = await createProviderSim({
    timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 },
  });
  stops.push(() => sim.close());
  const rt = await createTestRuntime({
    env: {
      UPSTREAM_BASE_URL: sim.url,
      REDIS_PARTITIONS: '2',
      BATCH_MAX_REQUESTS: '7',
      BATCH_MAX_WAIT_MS: '20',
      POLL_INTERVAL_MS: '20',
      POLL_MAX_INTERVAL_MS: '50',
      MAX_ATTEMPTS: '2',
    },
  });
  stops.push(() => rt.dispose());
  const services: Service[] = [
    await startPacker(rt, { tickIntervalMs: 20, backoff: { baseMs: 20, capMs: 100 } }),
    await startPoller(rt, { backoff: { baseMs: 20, capMs: 100 } }),
  ];
  stops.push(() => Promise.all(services.map((s) => s.close())));

  const sent: Sent[] = [];
  for (let i = 0; i < 24; i++) {
    const model = i % 2 === 0 ? 'gpt-4o-mini' : 'gpt-4.1-nano';
    const marker = i % 8 === 3 ? ' [sim:error=400]' : i % 8 === 5 ? ' [sim:drop]' : '';
    sent.push(await enqueue(rt, model, `question ${i}${marker}`, i % 2));
  }

  const final = async (): Promise<RequestRecord[] | undefined> => {
    const recs = await Promise.all(sent.map((s) => rt.store.requests.get(s.id)));
    return recs.every((r) => r && (r.status === 'completed' || r.status === 'failed'))
      ? (recs as RequestRecord[])
      : undefined;
  };
  const deadline = Date.now() + 30_000;
  let recs = await final();
  while (!recs) {
    if (Date.now() > deadline) throw new Error('requests did not all finish');
    await new Promise((resolve) => setTimeout(resolve, 20));
    recs = await final();
  }

  recs.forEach((rec, i) => {
    const s = sent[i] as Sent;
    if (s.content.includes('[sim:error=400]')) {
      expect(rec).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'provider_rejected' } });
    } else if (s.content.includes('[sim:drop]')) {
      // Dropped by the provider every time: retried in a new batch until MAX_ATTEMPTS, then failed.
      expect(rec).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'max_attempts_exceeded' } });
    } else {
      expect(rec).toMatchObject({ status: 'completed', attempts: 1 });
      const want = simulatedCompletion({ model: s.model, messages: [{ role: 'user', content: s.content }] });
      const body = rec.response?.body as { choices: Array<{ message: { content: string } }> };
      expect(body.choices[0]?.message.content).toBe(want.choices[0].message.content);
    }
  });

  // Exactly one delivery per request, due in the request's own partition (no deliver job).
  for (const p of [0, 1]) {
    const due = await rt.redis.zrange(rt.keys.partitionKeys(p).dlvDue, '0', '-1');
    const mine = sent.filter((s) => rt.store.requests.partitionOf(s.id) === p).map((s) => s.id);
    expect(due.sort()).toEqual(mine.sort());
    expect(await rt.queues.queue('deliver', p).getJobs(['waiting', 'delayed', 'active', 'completed'])).toEqual([]);
    expect(await rt.store.batches.live(p)).toEqual([]);
  }
});
