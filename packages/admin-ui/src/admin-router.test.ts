// The operator page over real HTTP and a real Redis: who gets in, what the page shows (and never shows), the
// redeliver button's job, and the queues board served from this origin only. The browser test is in test/observability.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliveryMember, jobIds, newFlushId, newRequestId } from '@batchbridge/domain';
import { createTestRuntime, newRequestFixture, type TestRuntime } from '@batchbridge/testkit';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_OFF_MESSAGE, createAdminRouter } from './index.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const PROMPT = 'secret prompt text about the quarterly numbers';

async function serve(runtime: TestRuntime): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use('/admin', createAdminRouter(runtime));
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** One request through a batch to `completed`, dead-lettered, and one routed batch with its outcome counts. */
async function seed(runtime: TestRuntime) {
  const { store } = runtime;
  const req = newRequestFixture({
    partition: 1,
    content: PROMPT,
    tokens: 12,
    callbackUrl: 'https://hooks.example.com/path/with-token-abc123',
  });
  const id = req.id;
  await store.requests.enqueue(req, {});
  const flushId = newFlushId();
  await store.flushes.claim(
    1,
    'chat.completions|gpt-4o-mini',
    flushId,
    { maxRequests: 10, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 60_000 },
    true,
  );
  await store.flushes.recordSubmission(1, (await store.flushes.get(1, flushId))!, 'batch_seeded01', 'file-input01');
  await store.requests.settle(1, 'batch_seeded01', [
    {
      id,
      kind: 'completed',
      response: { status_code: 200, body: {} },
      // Billed as the poller bills it: $0.50 in the batch lane, $1 at realtime (SPEC §15).
      bill: {
        provider: 'openai',
        model: 'gpt-4o-mini',
        usage: { input_tokens: 10, cached_tokens: 0, cache_write_tokens: 0, output_tokens: 1 },
        lanes: { batch: 500_000_000, realtime: 1_000_000_000 },
        rt: 1_000_000_000,
      },
    },
  ]);
  await store.batches.finish(1, (await store.batches.get(1, 'batch_seeded01'))!, 'completed', {
    completed: 1,
    failed: 0,
    retried: 0,
  });
  await store.deadLetters.add(1, id);
  // A request with a deadline answered on the realtime lane (SPEC §10).
  const urgent = newRequestFixture({ partition: 1, model: 'gpt-4.1-mini', deadlineAt: Date.now() + 60_000 });
  await store.requests.enqueue(urgent, {});
  const claim = await store.lanes.claim(1, urgent.id, 'realtime');
  if (!claim.claimed) throw new Error('lane claim refused');
  await store.requests.settle(1, claim.runId, [
    { id: urgent.id, kind: 'completed', response: { status_code: 200, body: {} } },
  ]);
  await store.ledger.addSavings([{ model: 'gpt-4o-mini', usd: 1.25, inputTokens: 4_000_000, outputTokens: 1_000_000 }]);
  return { id, flushId };
}

describe('operator page without ADMIN_KEY', () => {
  it('is off, and says how to turn it on', async () => {
    const runtime = await createTestRuntime();
    const { url, server } = await serve(runtime);
    try {
      for (const path of ['/admin/', '/admin/login', '/admin/queues/', '/admin/overview.json']) {
        const res = await fetch(url + path, { headers: { authorization: 'Bearer anything-at-all-123456' } });
        expect(res.status, path).toBe(404);
        expect(await res.text()).toBe(ADMIN_OFF_MESSAGE);
      }
    } finally {
      server.close();
      await runtime.dispose();
    }
  });
});

describe('operator page', () => {
  let runtime: TestRuntime;
  let url: string;
  let server: Server;
  let seeded: { id: string; flushId: string };

  beforeAll(async () => {
    runtime = await createTestRuntime({ env: { ADMIN_KEY, REDIS_PARTITIONS: '2' } });
    ({ url, server } = await serve(runtime));
    seeded = await seed(runtime);
  });
  afterAll(async () => {
    server?.close();
    await runtime?.dispose();
  });
  afterEach(async () => {
    await runtime.queues.queue('deliver', 1).obliterate({ force: true });
  });

  const bearer = { authorization: `Bearer ${ADMIN_KEY}` };

  it('sends browsers without a session to the login form and API clients away with 401', async () => {
    const page = await fetch(`${url}/admin/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/admin/login');
    const json = await fetch(`${url}/admin/overview.json`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(401);
    const wrong = await fetch(`${url}/admin/overview.json`, {
      headers: { authorization: 'Bearer not-the-key-0123456789' },
    });
    expect(wrong.status).toBe(401);
    const login = await fetch(`${url}/admin/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="key"');
  });

  it('logs in with the key into an HttpOnly, SameSite=Strict cookie that does not contain the key', async () => {
    const refused = await fetch(`${url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ key: 'wrong-key-wrong-key-0000' }),
      redirect: 'manual',
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('set-cookie')).toBeNull();

    const ok = await fetch(`${url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ key: ADMIN_KEY }),
      redirect: 'manual',
    });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^bb_admin=[^;]+;/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(ADMIN_KEY);
    const session = cookie.split(';')[0]!;
    const page = await fetch(`${url}/admin/`, { headers: { cookie: session } });
    expect(page.status).toBe(200);

    const forged = await fetch(`${url}/admin/`, {
      headers: { cookie: 'bb_admin=forged', accept: 'text/html' },
      redirect: 'manual',
    });
    expect(forged.status).toBe(303);
  });

  it('serves bull-board read-only: clean, retry and remove are refused and no job is lost (issue 14.6)', async () => {
    const queue = runtime.queues.queue('deliver', 1);
    await queue.add(
      'deliver',
      { partition: 1, requestId: 'x' },
      { jobId: jobIds.deliver('readonly-probe'), delay: 60_000 },
    );
    const name = encodeURIComponent('p1/deliver');
    const list = await fetch(`${url}/admin/queues/api/queues`, { headers: bearer });
    expect(list.status).toBe(200);
    for (const [method, path] of [
      ['PUT', `/admin/queues/api/queues/${name}/clean/delayed`],
      ['PUT', `/admin/queues/api/queues/${name}/empty`],
      ['PUT', `/admin/queues/api/queues/${name}/${jobIds.deliver('readonly-probe')}/clean`],
      ['PUT', `/admin/queues/api/queues/${name}/pause`],
    ] as const) {
      const res = await fetch(`${url}${path}`, { method, headers: bearer });
      expect(res.status, path).toBe(405);
    }
    expect(await queue.getJob(jobIds.deliver('readonly-probe'))).toBeDefined();
  });

  it('ends a session on logout, on the server: the same cookie no longer works (issue 16.15)', async () => {
    const ok = await fetch(`${url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ key: ADMIN_KEY }),
      redirect: 'manual',
    });
    const session = ok.headers.get('set-cookie')!.split(';')[0]!;
    // Two logins are two sessions: a session is not a fixed function of the key.
    const other = await fetch(`${url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ key: ADMIN_KEY }),
      redirect: 'manual',
    });
    expect(other.headers.get('set-cookie')!.split(';')[0]).not.toBe(session);
    expect((await fetch(`${url}/admin/overview.json`, { headers: { cookie: session } })).status).toBe(200);
    const out = await fetch(`${url}/admin/logout`, {
      method: 'POST',
      headers: { cookie: session, origin: url },
      redirect: 'manual',
    });
    expect(out.status).toBe(303);
    expect((await fetch(`${url}/admin/overview.json`, { headers: { cookie: session } })).status).toBe(401);
  });

  it('shows the routed batch, the dead letter and the savings, but no prompt text and no callback path', async () => {
    const res = await fetch(`${url}/admin/`, { headers: bearer });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('batch_seeded01');
    expect(html).toContain(seeded.flushId);
    expect(html).toContain('forced'); // the flush reason
    expect(html).toContain('file-input01');
    expect(html).toContain(seeded.id);
    expect(html).toContain('hooks.example.com');
    expect(html).toContain('$1.25');
    expect(html).not.toContain(PROMPT);
    expect(html).not.toContain('with-token-abc123');
    expect(html).not.toMatch(/<script|https?:\/\/(?!hooks)/);

    const json = (await (await fetch(`${url}/admin/overview.json`, { headers: bearer })).json()) as {
      batches: Array<{ id: string; outcomes: unknown; reason: string }>;
      deadLetters: Array<{ id: string }>;
      savings: { totalUsd: number };
    };
    expect(json.batches).toEqual([
      expect.objectContaining({
        id: 'batch_seeded01',
        reason: 'forced',
        outcomes: { completed: 1, failed: 0, retried: 0 },
      }),
    ]);
    expect(json.deadLetters.map((d) => d.id)).toEqual([seeded.id]);
    expect(json.savings.totalUsd).toBe(1.25);
    expect((json as unknown as { deadlines: unknown[] }).deadlines).toEqual([
      { lane: 'realtime', provider: 'default', model: 'gpt-4.1-mini', met: 1, missed: 0 },
    ]);
    expect(html).toContain('id="deadlines"');
    // Cost per tenant this month, against its budget (none here), and one tenant's ledger in detail.
    expect(html).toContain('id="tenant-costs"');
    expect(html).toContain('$0.50');
    expect((json as unknown as { tenants: unknown[] }).tenants).toContainEqual(
      expect.objectContaining({ tenant: 'acme', usd: 0.5, realtimeUsd: 1, savedUsd: 0.5, requests: 1 }),
    );
    const detail = await fetch(`${url}/admin/tenants/acme/usage.json?group_by=model`, { headers: bearer });
    expect(detail.status).toBe(200);
    expect(await detail.json()).toMatchObject({
      object: 'usage',
      total: { usd: 0.5, requests: 1 },
      data: [expect.objectContaining({ model: 'gpt-4o-mini', lane: null, usd: 0.5 })],
    });
    expect((await fetch(`${url}/admin/tenants/nobody/usage.json`, { headers: bearer })).status).toBe(404);
  });

  it('redeliver makes a redeliver of the request due, like the public route', async () => {
    const res = await fetch(`${url}/admin/requests/${seeded.id}/redeliver`, {
      method: 'POST',
      headers: { ...bearer, accept: 'text/html' },
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/?redelivered=${seeded.id}`);
    const due = await runtime.redis.zrange(runtime.keys.partitionKeys(1).dlvDue, '0', '-1');
    expect(due.filter((m) => m.startsWith('r:'))).toEqual([deliveryMember(seeded.id, true)]);

    const unknown = await fetch(`${url}/admin/requests/${newRequestId(0)}/redeliver`, {
      method: 'POST',
      headers: bearer,
    });
    expect(unknown.status).toBe(404);
  });

  it('refuses a cookie-authenticated POST from another origin', async () => {
    const login = await fetch(`${url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ key: ADMIN_KEY }),
      redirect: 'manual',
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const due = runtime.keys.partitionKeys(1).dlvDue;
    await runtime.redis.zrem(due, deliveryMember(seeded.id, true));
    const res = await fetch(`${url}/admin/requests/${seeded.id}/redeliver`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(await runtime.queues.queue('deliver', 1).getJobs(['waiting', 'delayed', 'prioritized'])).toEqual([]);
    expect(await runtime.redis.zscore(due, deliveryMember(seeded.id, true))).toBeNull();
  });

  it('serves bull-board from this origin over every partition of every queue', async () => {
    const page = await fetch(`${url}/admin/queues/`, { headers: bearer });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<base href="/admin/queues/"');
    expect(html).not.toMatch(/https?:\/\//);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const script = /src="(static\/js\/main[^"]+)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${url}/admin/queues/${script}`, { headers: bearer })).status).toBe(200);

    const api = await fetch(`${url}/admin/queues/api/queues`, { headers: bearer });
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((q) => q.name).sort()).toEqual([
      'p0/deliver',
      'p0/flush',
      'p0/lane',
      'p0/poll',
      'p1/deliver',
      'p1/flush',
      'p1/lane',
      'p1/poll',
    ]);
    expect((await fetch(`${url}/admin/queues/api/queues`)).status).toBe(401);
  });
});

describe('operator page login limit (issue 16.15)', () => {
  let runtime: TestRuntime;
  let url: string;
  let server: Server;
  beforeAll(async () => {
    runtime = await createTestRuntime({ env: { ADMIN_KEY } });
    ({ url, server } = await serve(runtime));
  });
  afterAll(async () => {
    server?.close();
    await runtime?.dispose();
  });

  it('answers 429 with Retry-After after 10 wrong keys from one address, even to the right key', async () => {
    const login = (key: string) =>
      fetch(`${url}/admin/login`, { method: 'POST', body: new URLSearchParams({ key }), redirect: 'manual' });
    for (let i = 0; i < 9; i++) expect((await login(`wrong-key-${i}-0000000000`)).status).toBe(401);
    // A wrong bearer key counts as well: the tenth failure.
    const bearer = await fetch(`${url}/admin/overview.json`, {
      headers: { authorization: 'Bearer wrong-key-xxxxxxxx' },
    });
    expect(bearer.status).toBe(401);
    const locked = await login(ADMIN_KEY);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(60);
    expect(
      (await fetch(`${url}/admin/overview.json`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status,
    ).toBe(429);
  });
});
