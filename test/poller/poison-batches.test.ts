/**
 * Issue 16, finding 1: one tenant's line that makes the provider fail a whole batch must not fail anyone else's
 * requests. The packer and the poller run against the simulator; a request carrying `[sim:poison]` makes the provider
 * fail the whole file without naming a line, `[sim:poison-line]` makes it fail the file naming that line.
 */
import { batchLine, estimateInputTokens, groupFor, newRequestId, type RequestRecord } from '@batchbridge/domain';
import { startPacker } from '@batchbridge/packer';
import { startPoller } from '@batchbridge/poller';
import { createProviderSim, type ProviderSim } from '@batchbridge/provider-sim';
import type { Service } from '@batchbridge/runtime';
import { createTestRuntime, newRequestFixture, type TestRuntime } from '@batchbridge/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const MODEL = 'gpt-4o-mini';
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops.length = 0;
});

async function pipeline(): Promise<{ rt: TestRuntime; sim: ProviderSim }> {
  const sim = await createProviderSim({
    timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 },
  });
  stops.push(() => sim.close());
  const rt = await createTestRuntime({
    env: {
      UPSTREAM_BASE_URL: sim.url,
      BATCH_MAX_REQUESTS: '8',
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
  return { rt, sim };
}

async function enqueue(rt: TestRuntime, tenant: string, content: string): Promise<string> {
  const req = newRequestFixture({ tenant, model: MODEL, content });
  const res = await rt.store.requests.enqueue(req, {});
  expect(res.kind).toBe('created');
  return req.id;
}

/** Eight requests in one batch: the poison one of tenant acme, the others of globex and acme. */
async function runWith(marker: string): Promise<{ poison: RequestRecord; others: RequestRecord[]; sim: ProviderSim }> {
  const { rt, sim } = await pipeline();
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const tenant = i % 2 === 0 ? 'acme' : 'globex';
    ids.push(await enqueue(rt, tenant, i === 5 ? `question ${i} ${marker}` : `question ${i}`));
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const recs = await Promise.all(ids.map((id) => rt.store.requests.get(id)));
    if (recs.every((r) => r && (r.status === 'completed' || r.status === 'failed'))) {
      const all = recs as RequestRecord[];
      return { poison: all[5] as RequestRecord, others: all.filter((_, i) => i !== 5), sim };
    }
    if (Date.now() > deadline) throw new Error(`not finished: ${recs.map((r) => r?.status).join(',')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a batch failed by one poison request', () => {
  it('without a line number: split until the poison request is alone; only it fails, nobody else pays', async () => {
    const { poison, others, sim } = await runWith('[sim:poison]');
    for (const rec of others) expect(rec).toMatchObject({ status: 'completed', attempts: 1 });
    expect(poison).toMatchObject({ status: 'failed', error: { code: 'max_attempts_exceeded' } });
    expect(poison.attempts).toBe(2);
    // 8 → 4 → 2 → 1, then the lone request twice: no innocent request was ever counted an attempt.
    expect(sim.counters().customIdsAnsweredTwice).toEqual([]);
  });

  it('with a line number: only the named request fails; the others are resubmitted without an attempt counted', async () => {
    const { poison, others } = await runWith('[sim:poison-line]');
    for (const rec of others) expect(rec).toMatchObject({ status: 'completed', attempts: 1 });
    expect(poison).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'provider_rejected' } });
  });
});
