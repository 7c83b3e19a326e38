/**
 * Security checks of issue 8 that need no fault injection (the slow ones — no secret in any log line under faults —
 * are in test/faults): tenant isolation of the request routes, the callback address policy at intake and at delivery,
 * Standard Webhooks signatures against tampering, wrong secrets, stale timestamps and during a secret rotation, and the
 * size limits on bodies and headers.
 */
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { startIngestApi } from '@batchbridge/ingest-api';
import {
  createTestRuntime,
  makeOutcomes,
  startWebhookReceiver,
  TEST_TENANTS,
  type TestRuntime,
} from '@batchbridge/testkit';
import { createAddressPolicy, createWebhookSender, type ResolveHost, signWebhook } from '@batchbridge/webhooks';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';

const ACME_KEY = TEST_TENANTS[0]?.api_keys[0] as string;
const GLOBEX_KEY = TEST_TENANTS[1]?.api_keys[0] as string;
const ACME_SECRET = TEST_TENANTS[0]?.webhook_secret as string;
const GLOBEX_SECRET = TEST_TENANTS[1]?.webhook_secret as string;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function runtime(env: Record<string, string> = {}, tenants?: Tenant[]): Promise<TestRuntime> {
  const rt = await createTestRuntime({ env, ...(tenants ? { tenants } : {}) });
  cleanups.push(() => rt.dispose());
  return rt;
}

async function ingest(rt: TestRuntime, resolveHost?: ResolveHost): Promise<string> {
  const api = await startIngestApi(rt, { host: '127.0.0.1', port: 0, ...(resolveHost ? { resolveHost } : {}) });
  cleanups.push(() => api.close());
  return api.url;
}

async function post(
  url: string,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const chat = (callbackUrl: string) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hello' }],
  callback_url: callbackUrl,
});

describe('tenant isolation', () => {
  it("tenant B can neither read, cancel nor redeliver tenant A's request, and A's request is untouched", async () => {
    const rt = await runtime();
    const url = await ingest(rt);
    const created = await post(`${url}/v1/chat/completions`, ACME_KEY, chat('http://127.0.0.1:9/hook'));
    expect(created.status).toBe(202);
    const id = created.json.id as string;

    const asGlobex = { authorization: `Bearer ${GLOBEX_KEY}` };
    expect((await fetch(`${url}/v1/requests/${id}`, { headers: asGlobex })).status).toBe(404);
    expect((await fetch(`${url}/v1/requests/${id}/cancel`, { method: 'POST', headers: asGlobex })).status).toBe(404);
    expect((await fetch(`${url}/v1/requests/${id}/redeliver`, { method: 'POST', headers: asGlobex })).status).toBe(404);

    const mine = await fetch(`${url}/v1/requests/${id}`, { headers: { authorization: `Bearer ${ACME_KEY}` } });
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { status: string }).status).toBe('queued');
    // Without a key, nothing at all.
    expect((await fetch(`${url}/v1/requests/${id}`)).status).toBe(401);
  });
});

// Loopback, private, link-local and metadata addresses in every spelling the issue lists.
const REFUSED_CALLBACKS = [
  'http://127.0.0.1/hook',
  'http://localhost/hook',
  'http://10.0.0.1/hook',
  'http://172.16.0.1/hook',
  'http://192.168.1.1/hook',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::1]/hook',
  'http://[::ffff:127.0.0.1]/hook',
  'http://2130706433/hook',
  'http://0x7f000001/hook',
  'http://loopback.example/hook',
];
// A resolver for the test: `loopback.example` resolves to 127.0.0.1 (as a rebinding name would), `public.example`
// to a public address; no DNS query leaves the machine.
const resolveHost: ResolveHost = async (name) => {
  if (name === 'localhost') return ['127.0.0.1', '::1'];
  if (name === 'loopback.example') return ['127.0.0.1'];
  if (name === 'public.example') return ['93.184.216.34'];
  return [];
};

describe('callback address policy', () => {
  it.each(REFUSED_CALLBACKS)('refuses %s at intake with 422 when nothing is allow-listed', async (callback) => {
    const rt = await runtime({ WEBHOOK_ALLOW_CIDRS: '' });
    const url = await ingest(rt, resolveHost);
    const res = await post(`${url}/v1/chat/completions`, ACME_KEY, chat(callback));
    expect(res.status).toBe(422);
    expect((await rt.store.requests.stateCounts()).queued).toBe(0);
  });

  it('accepts a public name, and loopback once it is allow-listed', async () => {
    const strict = await runtime({ WEBHOOK_ALLOW_CIDRS: '' });
    const strictUrl = await ingest(strict, resolveHost);
    expect((await post(`${strictUrl}/v1/chat/completions`, ACME_KEY, chat('http://public.example/h'))).status).toBe(
      202,
    );
    const laptop = await runtime({ WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8,::1/128' });
    const laptopUrl = await ingest(laptop, resolveHost);
    for (const callback of [
      'http://127.0.0.1:9/h',
      'http://localhost:9/h',
      'http://[::1]:9/h',
      'http://0x7f000001/h',
    ]) {
      expect((await post(`${laptopUrl}/v1/chat/completions`, ACME_KEY, chat(callback))).status).toBe(202);
    }
  });

  it('refuses every listed address again at delivery time (the policy the sender connects through)', () => {
    const policy = createAddressPolicy({ allowCidrs: [] });
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      '::ffff:127.0.0.1',
      '0:0:0:0:0:ffff:7f00:1',
    ]) {
      expect(policy.checkIp(ip).allowed, ip).toBe(false);
    }
    expect(policy.checkIp('93.184.216.34').allowed).toBe(true);
    expect(createAddressPolicy({ allowCidrs: ['127.0.0.0/8'] }).checkIp('127.0.0.1').allowed).toBe(true);
  });

  it('the sender never connects to loopback — literal, decimal, hex or a name resolving there — unless allowed', async () => {
    const hooks = await startWebhookReceiver({ secrets: [ACME_SECRET] });
    cleanups.push(() => hooks.close());
    const port = new URL(hooks.url()).port;
    const lookups: ResolveHost = async (name) => (name === 'loopback.example' ? ['127.0.0.1'] : ['127.0.0.1']);
    const strict = createWebhookSender({ policy: createAddressPolicy({ allowCidrs: [] }), resolve: lookups });
    cleanups.push(() => strict.close());
    for (const host of [
      '127.0.0.1',
      'localhost',
      '[::ffff:127.0.0.1]',
      '2130706433',
      '0x7f000001',
      'loopback.example',
    ]) {
      const result = await strict.send({ url: `http://${host}:${port}/h`, headers: {}, body: '{}' });
      expect(result.outcome, host).toBe('refused');
    }
    expect(hooks.deliveries()).toHaveLength(0);

    const allowed = createWebhookSender({ policy: createAddressPolicy({ allowCidrs: ['127.0.0.0/8'] }) });
    cleanups.push(() => allowed.close());
    expect((await allowed.send({ url: hooks.url('/h'), headers: {}, body: '{}' })).outcome).toBe('delivered');
  });

  it('does not follow a redirect to 127.0.0.1', async () => {
    let internalHits = 0;
    const hooks = await startWebhookReceiver({
      secrets: [ACME_SECRET],
      respond: (d) => {
        if (d.path.startsWith('/internal')) {
          internalHits += 1;
          return { status: 200 };
        }
        return { status: 302, headers: { location: `http://127.0.0.1:${new URL(hooks.url()).port}/internal` } };
      },
    });
    cleanups.push(() => hooks.close());
    const sender = createWebhookSender({ policy: createAddressPolicy({ allowCidrs: ['127.0.0.0/8'] }) });
    cleanups.push(() => sender.close());
    const result = await sender.send({ url: hooks.url('/start'), headers: {}, body: '{}' });
    expect(result.outcome).not.toBe('delivered');
    expect(result.status).toBe(302);
    expect(internalHits).toBe(0);
  });

  it('a dispatcher whose policy refuses the callback dead-letters the outcome without sending it', async () => {
    const hooks = await startWebhookReceiver({ secrets: [ACME_SECRET] });
    cleanups.push(() => hooks.close());
    const rt = await runtime({ WEBHOOK_ALLOW_CIDRS: '', WEBHOOK_RETRY_SCHEDULE: '20ms,20ms' });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    const dispatcher = await startDispatcher(rt, { stalledIntervalMs: 500 });
    cleanups.push(() => dispatcher.close());
    for (let i = 0; i < 400 && (await rt.store.deadLetters.count()) === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(await rt.store.deadLetters.count()).toBe(1);
    expect((await rt.store.requests.get(id as string))?.delivered_at).toBeUndefined();
    expect(hooks.deliveries()).toHaveLength(0);
  });
});

describe('webhook signatures (Standard Webhooks)', () => {
  const NEW_SECRET = 'whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCAxMjM0NTY=';
  const rotating: Tenant[] = [
    { ...(TEST_TENANTS[0] as Tenant), webhook_secret: [NEW_SECRET, ACME_SECRET] },
    TEST_TENANTS[1] as Tenant,
  ];

  it('during a rotation both the new and the old secret verify; tampering, a wrong secret and a stale timestamp fail', async () => {
    const hooks = await startWebhookReceiver({
      secrets: (path) => (path === '/old' ? [ACME_SECRET] : path === '/new' ? [NEW_SECRET] : undefined),
    });
    cleanups.push(() => hooks.close());
    const rt = await runtime({ WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' }, rotating);
    await makeOutcomes(rt, [{ callbackUrl: hooks.url('/old') }, { callbackUrl: hooks.url('/new') }]);
    const dispatcher = await startDispatcher(rt);
    cleanups.push(() => dispatcher.close());
    const got = await hooks.waitFor((d) => d.length >= 2, { timeoutMs: 20_000 });
    // Receivers that know only the old secret, or only the new one, both verify (the reference library says so).
    expect(got.map((d) => [d.path, d.verified])).toEqual(
      expect.arrayContaining([
        ['/old', true],
        ['/new', true],
      ]),
    );

    const delivery = got[0];
    if (!delivery) throw new Error('no delivery');
    const headers = {
      'webhook-id': delivery.headers['webhook-id'] as string,
      'webhook-timestamp': delivery.headers['webhook-timestamp'] as string,
      'webhook-signature': delivery.headers['webhook-signature'] as string,
    };
    expect(() => new Webhook(NEW_SECRET).verify(delivery.body, headers)).not.toThrow();
    expect(() => new Webhook(ACME_SECRET).verify(delivery.body, headers)).not.toThrow();
    const tampered = delivery.body.replace('"status":"completed"', '"status":"failed"');
    expect(tampered).not.toBe(delivery.body);
    expect(() => new Webhook(NEW_SECRET).verify(tampered, headers)).toThrow();
    expect(() => new Webhook(GLOBEX_SECRET).verify(delivery.body, headers)).toThrow();

    // A correctly signed attempt from an hour ago is refused as a replay.
    const stale = signWebhook({
      secret: [NEW_SECRET, ACME_SECRET],
      id: headers['webhook-id'],
      timestamp: new Date(Date.now() - 3_600_000),
      body: delivery.body,
    });
    expect(() => new Webhook(NEW_SECRET).verify(delivery.body, { ...stale })).toThrow(/too old/i);
  });
});

describe('size limits', () => {
  it('answers 413 to a body over MAX_BODY_BYTES and 431 to oversized headers, storing nothing', async () => {
    const rt = await runtime({ MAX_BODY_BYTES: '2048' });
    const url = await ingest(rt);
    const big = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x'.repeat(4096) }],
      callback_url: 'http://127.0.0.1:9/h',
    };
    expect((await post(`${url}/v1/chat/completions`, ACME_KEY, big)).status).toBe(413);

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ACME_KEY}`,
        'content-type': 'application/json',
        'x-padding': 'y'.repeat(64 * 1024),
      },
      body: JSON.stringify(chat('http://127.0.0.1:9/h')),
    }).catch((err: unknown) => err as Error);
    // Node answers 431 and closes; a client may also see the connection end first. Either way nothing is stored.
    if (res instanceof Response) expect(res.status).toBe(431);
    expect((await rt.store.requests.stateCounts()).queued).toBe(0);
  });
});
