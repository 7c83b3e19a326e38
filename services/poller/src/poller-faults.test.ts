import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jobIds } from '@batchbridge/domain';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import type { Service } from '@batchbridge/runtime';
import {
  counterValue,
  createTestRuntime,
  records,
  type SubmittedBatch,
  submitRequests,
  type TestRuntime,
  waitFor,
  waitRouted,
} from '@batchbridge/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PollerOptions } from './options.js';
import { startPoller } from './poller.js';

const FAST = { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 };
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  // Last started, first stopped: pollers before runtimes before simulators.
  for (const fn of cleanups.reverse()) await fn();
  cleanups.length = 0;
});

async function sim(options: Parameters<typeof createProviderSim>[0] = {}): Promise<ProviderSim> {
  const s = await createProviderSim({ timings: FAST, ...options });
  cleanups.push(() => s.close());
  return s;
}

async function runtime(url: string, env: Record<string, string> = {}): Promise<TestRuntime> {
  const rt = await createTestRuntime({
    env: { UPSTREAM_BASE_URL: url, POLL_INTERVAL_MS: '20', POLL_MAX_INTERVAL_MS: '50', ...env },
  });
  cleanups.push(() => rt.dispose());
  return rt;
}

async function poller(rt: TestRuntime, options: PollerOptions = {}): Promise<Service> {
  const svc = await startPoller(rt, { backoff: { baseMs: 20, capMs: 100 }, ...options });
  cleanups.push(() => svc.close());
  return svc;
}

function pollJob(rt: TestRuntime, b: SubmittedBatch) {
  return rt.queues.queue('poll', b.partition).getJob(jobIds.poll(b.batchId));
}

async function expectRoutedCorrectly(rt: TestRuntime, b: SubmittedBatch, contents: string[], model = 'gpt-4o-mini') {
  const recs = await records(rt, b.ids);
  recs.forEach((rec, i) => {
    expect(rec.status).toBe('completed');
    const body = rec.response?.body as { choices: Array<{ message: { content: string } }> };
    const want = simulatedCompletion({ model, messages: [{ role: 'user', content: contents[i] }] });
    expect(body.choices[0]?.message.content).toBe(want.choices[0].message.content);
  });
}

describe('poller under faults', () => {
  it('retries a truncated download and routes the batch correctly', async () => {
    const s = await sim();
    const rt = await runtime(s.url);
    // Slow retries leave time to switch the fault off after the first broken download.
    await poller(rt, { settleChunk: 1, backoff: { baseMs: 400, capMs: 400 } });
    // About 900 bytes a line: the simulator sends the first 64 KB (~70 lines), waits ~250 ms (the rate), then cuts
    // the connection a few KB later. The pause lets the lines already received settle before the cut: a reset
    // arriving with them discards what the reader had not yet pulled, and then no line would be seen twice.
    s.setFaults({ truncateDownloadAfterBytes: 70_000, downloadBytesPerSecond: 256 * 1024 });
    const contents = Array.from({ length: 120 }, (_, i) => `line ${i}`);
    const b = await submitRequests(
      rt,
      contents.map((content) => ({ content })),
    );
    await waitFor('a failed download', async () => ((await pollJob(rt, b))?.attemptsMade ?? 0) >= 1);
    s.clearFaults();
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, contents);
    // The lines settled before the cut were seen again on the second pass and changed nothing.
    expect(await counterValue(rt.metrics.m.results, { outcome: 'stale' })).toBeGreaterThan(0);
    expect(await counterValue(rt.metrics.m.results, { outcome: 'completed' })).toBe(contents.length);
  });

  it('retries a rate-limited retrieve (429 with Retry-After)', async () => {
    const s = await sim({ faults: { rateLimitFraction: { 'batches.retrieve': 1 }, retryAfterMs: 50 } });
    const rt = await runtime(s.url);
    await poller(rt, { backoff: { baseMs: 300, capMs: 300 } });
    const b = await submitRequests(rt, [{ content: 'hello' }]);
    await waitFor('a rate-limited poll', async () => ((await pollJob(rt, b))?.attemptsMade ?? 0) >= 1);
    s.clearFaults();
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, ['hello']);
    expect(await counterValue(rt.metrics.m.upstreamRequests, { operation: 'batches.retrieve', status: '429' })).toBe(1);
  });

  it('keeps polling a batch across a poller restart (the schedule lives in Redis)', async () => {
    const s = await sim({ timings: { ...FAST, validatingMs: 600 } });
    const rt = await runtime(s.url);
    const first = await startPoller(rt);
    const b = await submitRequests(rt, [{ content: 'survive' }]);
    await waitFor('two polls', async () => ((await pollJob(rt, b))?.data.polls ?? 0) >= 2);
    await first.close();
    expect(await first.ready()).toBe(false);
    const state = await (await pollJob(rt, b))?.getState();
    expect(['delayed', 'waiting']).toContain(state);
    expect((await rt.store.batches.get(0, b.batchId))?.routed_at).toBeUndefined();

    const second = await poller(rt);
    expect(await second.ready()).toBe(true);
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, ['survive']);
  });

  it('the sweep gives a live batch whose poll job was lost a new one', async () => {
    const s = await sim();
    const rt = await runtime(s.url);
    const b = await submitRequests(rt, [{ content: 'forgotten' }], { relay: false });
    expect(await pollJob(rt, b)).toBeUndefined();
    await poller(rt, { sweepIntervalMs: 50 });
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, ['forgotten']);
  });

  it('fails the job on a refusal no retry can fix (401), and the sweep retries it once the cause is gone', async () => {
    const s = await sim();
    const proxy = await providerProxy(s.url);
    cleanups.push(() => proxy.close());
    proxy.refuseRetrieve(401);
    const rt = await runtime(proxy.url);
    await poller(rt, { sweepIntervalMs: 100 });
    const b = await submitRequests(rt, [{ content: 'patience' }]);
    await waitFor('the poll job to fail', async () => (await (await pollJob(rt, b))?.getState()) === 'failed');
    // Not retried by the queue (a 401 is not worth it): one call per run of the job.
    expect(
      await counterValue(rt.metrics.m.upstreamRequests, { operation: 'batches.retrieve', status: '401' }),
    ).toBeGreaterThanOrEqual(1);
    expect(await rt.store.batches.live(0)).toEqual([b.batchId]);
    proxy.refuseRetrieve(null);
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, ['patience']);
  });

  it('gives up on a batch the provider keeps answering 404 for, and requeues its requests', async () => {
    const s = await sim();
    const rt = await runtime(s.url);
    await poller(rt, { notFoundAttempts: 3 });
    const b = await submitRequests(rt, [{ content: 'lost' }], { fakeBatchId: 'batch_unknown_to_provider' });
    await waitRouted(rt, b);
    const [rec] = await records(rt, b.ids);
    expect(rec).toMatchObject({ status: 'queued', attempts: 1 });
    expect(rec?.last_error).toMatch(/batch_not_found/);
    expect((await rt.store.batches.get(0, b.batchId))?.status).toBe('not_found');
    expect(await counterValue(rt.metrics.m.upstreamRequests, { operation: 'batches.retrieve', status: '404' })).toBe(3);
  });

  it('tolerates the kluster profile (string timestamps, object ids)', async () => {
    const model = 'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo';
    const s = await sim({ profile: 'kluster' });
    const rt = await runtime(s.url, { PROVIDER_PROFILE: 'kluster' });
    await poller(rt);
    const raw = await fetch(`${s.url}/batches?limit=1`, { headers: { authorization: 'Bearer sk-test' } });
    expect(raw.ok).toBe(true);
    const contents = ['k1', 'k2'];
    const b = await submitRequests(
      rt,
      contents.map((content) => ({ content })),
      { model },
    );
    const retrieved = (await (
      await fetch(`${s.url}/batches/${b.batchId}`, { headers: { authorization: 'Bearer sk-test' } })
    ).json()) as { created_at: unknown };
    expect(typeof retrieved.created_at).toBe('string');
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, contents, model);
  });

  it('tolerates uppercase batch statuses', async () => {
    const s = await sim();
    const proxy = await providerProxy(s.url, { uppercaseStatus: true });
    cleanups.push(() => proxy.close());
    const rt = await runtime(proxy.url);
    await poller(rt);
    const contents = ['loud', 'quiet'];
    const b = await submitRequests(
      rt,
      contents.map((content) => ({ content })),
    );
    await waitRouted(rt, b);
    await expectRoutedCorrectly(rt, b, contents);
    expect(proxy.rewritten()).toContain('COMPLETED');
    expect((await rt.store.batches.get(0, b.batchId))?.status).toBe('completed');
  });
});

/**
 * A real HTTP proxy in front of the simulator that can answer batch retrieves with the status in capitals, or refuse
 * them with a status of its choice (switchable while a test runs).
 */
async function providerProxy(simUrl: string, options: { uppercaseStatus?: boolean } = {}) {
  const target = new URL(simUrl);
  const seen: string[] = [];
  let refuseRetrieve: number | null = null;
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const isRetrieve = req.method === 'GET' && /^\/v1\/batches\/[^/?]+$/.test(path.split('?')[0] ?? '');
    if (isRetrieve && refuseRetrieve !== null) {
      res
        .writeHead(refuseRetrieve, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'refused by the test proxy', type: 'invalid_request_error' } }));
      return;
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path, headers: req.headers },
      (up) => {
        if (isRetrieve && options.uppercaseStatus) {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: string };
            if (typeof json.status === 'string') {
              json.status = json.status.toUpperCase();
              seen.push(json.status);
            }
            res.writeHead(up.statusCode ?? 502, { 'content-type': 'application/json' }).end(JSON.stringify(json));
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    rewritten: () => [...seen],
    refuseRetrieve: (status: number | null) => {
      refuseRetrieve = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
