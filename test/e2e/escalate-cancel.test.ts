// ESCALATE_CANCEL_BATCHES (SPEC §10) against the simulator with slow batches (one line every two seconds): a live
// batch most of whose requests are now expected to miss their deadline is cancelled; the lines its partial output
// answered settle from it, the at-risk requests it did not answer go to a fast lane only once the cancel is confirmed,
// the others back to the batch queue — each request answered exactly once. Without the flag nothing is cancelled.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { groupFor, modelOfGroup } from '@batchbridge/domain';
import { TEST_TENANTS, waitFor } from '@batchbridge/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

const ADMIN_KEY = 'operator-key-for-the-escalation-test';

/** The `batchbridge_*` metrics the dashboard's escalation panel queries. */
function escalationDashboardMetrics(): string[] {
  const file = resolve(import.meta.dirname, '../../infra/grafana/dashboards/batchbridge.json');
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  };
  const panel = dashboard.panels.find((p) => /cancelled to meet deadlines/i.test(p.title));
  const names = new Set<string>();
  for (const t of panel?.targets ?? []) for (const m of t.expr.matchAll(/\bbatchbridge_[a-z0-9_]+/g)) names.add(m[0]);
  return [...names].sort();
}

const MODEL = 'gpt-4o-mini';
const GROUP = groupFor('/v1/chat/completions', MODEL, false);

/** A batch flushed at once, answering one line every 2 s; a 5 s turnaround assumed until the test says otherwise. */
const SLOW_LINES = {
  BATCH_MAX_WAIT_MS: '300',
  SIM_LINES_PER_SECOND: '0.5',
  SIM_CANCELLING_MS: '200',
  BATCH_TURNAROUND: '5s',
  DEADLINE_MARGIN: '1s',
  DEADLINE_PASS_MS: '100',
};

async function post(url: string, content: string, deadline: string): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ACME_KEY}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      'x-deadline': deadline,
      prefer: 'respond-async',
    },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(json)).toBe(202);
  expect(json).toMatchObject({ lane: 'batch', status: 'queued' });
  return String(json.id);
}

async function getRequest(url: string, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/requests/${id}`, { headers: { authorization: `Bearer ${ACME_KEY}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/**
 * Two requests with an hour to go, then four with 40 s, all in one batch (lines in that order); once the provider has
 * answered its first line, the observed turnaround turns to ten minutes: the four short ones are now at risk (4 of 6).
 */
async function slowBatchTurnedBad(pipeline: Pipeline): Promise<{ long: string[]; short: string[]; batchId: string }> {
  const { runtime } = pipeline;
  const long = [await post(pipeline.url, 'long 0', '1h'), await post(pipeline.url, 'long 1', '1h')];
  const short: string[] = [];
  for (let i = 0; i < 4; i++) short.push(await post(pipeline.url, `short ${i}`, '40s'));
  const batchId = await waitFor('the batch to be live', async () => (await runtime.store.batches.live(0))[0]);
  await waitFor('the provider to answer a first line', async () => {
    const res = await fetch(`${pipeline.sim!.url}/batches/${batchId}`, { headers: { authorization: 'Bearer sk' } });
    const batch = (await res.json()) as { status: string; request_counts: { completed: number } };
    return batch.status === 'in_progress' && batch.request_counts.completed >= 1 ? true : undefined;
  });
  for (let i = 0; i < 50; i++) await runtime.store.lanes.recordTurnaround('default', modelOfGroup(GROUP), 600_000);
  return { long, short, batchId };
}

async function allCompleted(pipeline: Pipeline, ids: string[]): Promise<Array<Record<string, unknown>>> {
  return waitFor(
    'every request to complete',
    async () => {
      const all = await Promise.all(ids.map((id) => getRequest(pipeline.url, id)));
      return all.every((r) => r.status === 'completed') ? all : undefined;
    },
    45_000,
  );
}

describe('cancelling a live batch to meet deadlines (ESCALATE_CANCEL_BATCHES)', () => {
  let pipeline: Pipeline | undefined;
  afterEach(async () => {
    await pipeline?.dispose();
    pipeline = undefined;
  });

  it('takes the partial output, sends the rest of the at-risk requests to a fast lane, each answered once', async () => {
    pipeline = await startPipeline(
      { ...SLOW_LINES, ESCALATE_CANCEL_BATCHES: 'true', ESCALATE_CANCEL_AT_RISK_SHARE: '0.5', ADMIN_KEY },
      TEST_TENANTS,
    );
    const { long, short, batchId } = await slowBatchTurnedBad(pipeline);
    const requests = await allCompleted(pipeline, [...long, ...short]);
    const sim = pipeline.sim!;
    const counters = sim.counters();
    const byId = new Map(requests.map((r) => [String(r.id), r]));

    // The batch was cancelled, and its partial output answered at least its first line.
    const res = await fetch(`${sim.url}/batches/${batchId}`, { headers: { authorization: 'Bearer sk' } });
    expect(((await res.json()) as { status: string }).status).toBe('cancelled');
    const fromPartial = [...long, ...short].filter((id) => counters.outputBatchesByCustomId[id]?.includes(batchId));
    expect(fromPartial.length).toBeGreaterThanOrEqual(1);
    for (const id of fromPartial) expect(byId.get(id)).toMatchObject({ lane: 'batch' });

    // Each at-risk request the partial output did not answer: one synchronous call, in time, never a batch line.
    const moved = short.filter((id) => !fromPartial.includes(id));
    expect(moved.length).toBeGreaterThanOrEqual(1);
    for (const id of moved) {
      expect(counters.outputBatchesByCustomId[id], id).toBeUndefined();
      expect(['flex', 'realtime']).toContain(byId.get(id)?.lane);
      // Handed over by the settle of the cancelled batch itself (its attempt given back, the lane's counted), not
      // requeued first and moved later by the deadline pass (that would count two).
      expect(byId.get(id)).toMatchObject({ deadline_met: true, attempts: 1 });
    }
    expect(counters.chatCompletions).toBe(moved.length);
    // The long ones it did not answer went back to the batch queue, attempt given back, and a later batch answered.
    for (const id of long.filter((i) => !fromPartial.includes(i))) {
      expect(byId.get(id)).toMatchObject({ lane: 'batch', deadline_met: true, attempts: 1 });
      expect(counters.outputBatchesByCustomId[id]).toHaveLength(1);
    }
    expect(counters.customIdsAnsweredTwice).toEqual([]);

    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).toMatch(/batchbridge_escalation_cancels_total\{provider="default",result="requested"\} 1\b/);
    expect(metrics).toMatch(/batchbridge_escalated_requests_total\{lane="(flex|realtime)",provider="default"\} 4\b/);
    // The dashboard's escalation panel queries exactly these counters, and this run moved them.
    const exposed = metrics.split('\n').filter((l) => !l.startsWith('#'));
    const names = escalationDashboardMetrics();
    expect(names).toEqual(['batchbridge_escalated_requests_total', 'batchbridge_escalation_cancels_total']);
    for (const name of names) {
      expect(
        exposed.some((l) => l.startsWith(`${name}{`) && Number(l.split(' ').at(-1)) > 0),
        name,
      ).toBe(true);
    }

    // The operator page shows them too, counted in Redis for every replica.
    const bearer = { authorization: `Bearer ${ADMIN_KEY}` };
    const overview = (await (await fetch(`${pipeline.url}/admin/overview.json`, { headers: bearer })).json()) as {
      escalations: unknown[];
      escalateEnabled: boolean;
    };
    expect(overview.escalateEnabled).toBe(true);
    expect(overview.escalations).toEqual([
      {
        provider: 'default',
        cancels: { requested: 1, refused: 0, error: 0 },
        requests: expect.objectContaining({ realtime: expect.any(Number), flex: expect.any(Number) }),
      },
    ]);
    const marked = (overview.escalations[0] as { requests: { flex: number; realtime: number } }).requests;
    expect(marked.flex + marked.realtime).toBe(4);
    const page = await (await fetch(`${pipeline.url}/admin/`, { headers: bearer })).text();
    expect(page).toContain('id="escalations"');
    expect(page).toMatch(/<td><code>default<\/code><\/td><td class="num">1<\/td>/);
  });

  it("starts the cancel early enough for the provider's cancel delay, and learns that delay", async () => {
    // Deadlines 90 s away, the batch now expected at about 61 s: it would answer in time if it kept to that — but a
    // cancel of this provider takes 45 s to be confirmed (as observed), so by the time the batch is due, a cancel
    // could no longer get them a fast answer by their deadlines. The pass cancels now, while it still can.
    for (const [delayMs, cancelled] of [
      [45_000, true],
      [1_000, false],
    ] as const) {
      pipeline = await startPipeline(
        { ...SLOW_LINES, ESCALATE_CANCEL_BATCHES: 'true', ESCALATE_CANCEL_AT_RISK_SHARE: '0.5' },
        TEST_TENANTS,
      );
      const { runtime } = pipeline;
      for (let i = 0; i < 20; i++) await runtime.store.lanes.recordCancelDelay('default', delayMs);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await post(pipeline.url, `cancel delay ${delayMs} ${i}`, '90s'));
      const batchId = await waitFor('the batch to be live', async () => (await runtime.store.batches.live(0))[0]);
      await waitFor('the provider to answer a first line', async () => {
        const res = await fetch(`${pipeline!.sim!.url}/batches/${batchId}`, {
          headers: { authorization: 'Bearer sk' },
        });
        const batch = (await res.json()) as { status: string; request_counts: { completed: number } };
        return batch.status === 'in_progress' && batch.request_counts.completed >= 1 ? true : undefined;
      });
      for (let i = 0; i < 50; i++) await runtime.store.lanes.recordTurnaround('default', modelOfGroup(GROUP), 60_000);
      const requests = await allCompleted(pipeline, ids);
      for (const r of requests) expect(r).toMatchObject({ deadline_met: true });
      const res = await fetch(`${pipeline.sim!.url}/batches/${batchId}`, { headers: { authorization: 'Bearer sk' } });
      const status = ((await res.json()) as { status: string }).status;
      const counters = pipeline.sim!.counters();
      expect(counters.customIdsAnsweredTwice).toEqual([]);
      if (cancelled) {
        // A 45 s cancel delay: cancelled, the unanswered at-risk requests realtime; the confirmed cancel observed.
        expect(status).toBe('cancelled');
        expect(requests.some((r) => r.lane === 'realtime')).toBe(true);
        const delays = await runtime.store.lanes.cancelDelays('default');
        // Newest first, the last 20 kept: the simulator's cancel took well under a second.
        expect(delays).toHaveLength(20);
        expect(delays[0]).toBeLessThan(45_000);
      } else {
        // A 1 s cancel delay: there is time to wait and see; the batch answers them all.
        expect(status).toBe('completed');
        for (const r of requests) expect(r).toMatchObject({ lane: 'batch' });
        expect(counters.chatCompletions).toBe(0);
      }
      await pipeline.dispose();
      pipeline = undefined;
    }
  });

  it('cancels a batch marked by a packer that died before asking the provider', async () => {
    // A threshold no batch here reaches: only the mark left behind can get this batch cancelled.
    pipeline = await startPipeline(
      { ...SLOW_LINES, ESCALATE_CANCEL_BATCHES: 'true', ESCALATE_CANCEL_AT_RISK_SHARE: '1' },
      TEST_TENANTS,
    );
    const { runtime } = pipeline;
    const { long, short, batchId } = await slowBatchTurnedBad(pipeline);
    // What the dead packer wrote (escalate-batch.lua), a minute ago; its cancel call never reached the provider.
    const mark = await runtime.store.lanes.markEscalated(
      0,
      batchId,
      short.map((id) => ({ id, lane: 'realtime' as const })),
    );
    expect(mark.marked).toBe(true);
    await runtime.redis.hset(runtime.keys.partitionKeys(0).batch(batchId), 'escalated_at', Date.now() - 60_000);
    const requests = await allCompleted(pipeline, [...long, ...short]);
    const counters = pipeline.sim!.counters();
    const res = await fetch(`${pipeline.sim!.url}/batches/${batchId}`, { headers: { authorization: 'Bearer sk' } });
    expect(((await res.json()) as { status: string }).status).toBe('cancelled');
    const moved = requests.filter((r) => r.lane === 'realtime').map((r) => String(r.id));
    expect(moved.length).toBeGreaterThanOrEqual(1);
    for (const id of moved) expect(counters.outputBatchesByCustomId[id]).toBeUndefined();
    expect(counters.chatCompletions).toBe(moved.length);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
  });

  it('cancels nothing without the flag: the slow batch answers every request, late', async () => {
    pipeline = await startPipeline(SLOW_LINES, TEST_TENANTS);
    const { long, short, batchId } = await slowBatchTurnedBad(pipeline);
    const requests = await allCompleted(pipeline, [...long, ...short]);
    const counters = pipeline.sim!.counters();
    const res = await fetch(`${pipeline.sim!.url}/batches/${batchId}`, { headers: { authorization: 'Bearer sk' } });
    expect(((await res.json()) as { status: string }).status).toBe('completed');
    for (const r of requests) expect(r).toMatchObject({ lane: 'batch' });
    for (const id of [...long, ...short]) expect(counters.outputBatchesByCustomId[id]).toEqual([batchId]);
    expect(counters.chatCompletions).toBe(0);
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
    expect(metrics).not.toMatch(/batchbridge_escalation_cancels_total\{[^}]*\} [1-9]/);
  });
});
