// SPEC §16 — webhook delivery on par with dedicated webhook services: secret rotation with overlap, the abort header,
// the delivery log, endpoint circuit and disabling with its operational events, and replay by time range. Real Redis,
// a real ingest API and dispatcher, real receivers verifying with the `standardwebhooks` library.
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { buildWebhookBody, webhookBodyMark, webhookIdFor } from '@batchbridge/domain';
import type { Service } from '@batchbridge/runtime';
import {
  jobOutcome,
  makeOutcomes,
  type ReceivedWebhook,
  startWebhookReceiver,
  TEST_TENANTS,
  type WebhookReceiver,
} from '@batchbridge/testkit';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestIngest, type TestIngest } from '../../services/ingest-api/test/helpers.js';

const ACME = TEST_TENANTS[0] as Tenant;
const OLD_SECRET = ACME.webhook_secret as string;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setup(
  env: Record<string, string> = {},
  tenants?: Tenant[],
): Promise<{ ingest: TestIngest; dispatcher: Service }> {
  const ingest = await startTestIngest({
    env: {
      WEBHOOK_RETRY_SCHEDULE: '50ms,50ms,50ms',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
      ...env,
    },
    ...(tenants ? { tenants } : {}),
  });
  cleanups.push(() => ingest.dispose());
  const dispatcher = await startDispatcher(ingest.rt, { parkMs: 50 });
  cleanups.push(() => dispatcher.close());
  return { ingest, dispatcher };
}

async function receiver(options: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

/** Verifies a received delivery with one secret through the reference library. */
function verifiesWith(delivery: ReceivedWebhook, secret: string): boolean {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers);
    return true;
  } catch {
    return false;
  }
}

describe('secret rotation', () => {
  it('signs with the old and the new secret during the overlap, then with the new one only', async () => {
    const { ingest } = await setup({ WEBHOOK_SECRET_OVERLAP: '3s' });
    ingest.rt.store.secrets.cacheMs = 0;
    const hooks = await receiver({ secrets: [OLD_SECRET] });

    const rotated = await ingest.call('POST', '/v1/webhook-secret/rotate');
    expect(rotated.status).toBe(200);
    const secret = rotated.json.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(secret).not.toBe(OLD_SECRET);
    const validUntil = Date.parse(rotated.json.previous_valid_until);
    expect(validUntil - Date.now()).toBeGreaterThan(2_000);
    expect(validUntil - Date.now()).toBeLessThanOrEqual(3_000);

    const [during] = await makeOutcomes(ingest.rt, [{ callbackUrl: hooks.url('/during') }]);
    const [d] = await hooks.waitFor((x) => x.length >= 1);
    expect(d?.webhookId).toBe(webhookIdFor(during!));
    // One `v1,` signature per active secret; a receiver on either secret accepts the delivery.
    expect(d?.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(verifiesWith(d!, OLD_SECRET)).toBe(true);
    expect(verifiesWith(d!, secret)).toBe(true);
    expect(verifiesWith(d!, 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD')).toBe(false);

    // After the overlap the old secret signs nothing any more.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, validUntil - Date.now()) + 100));
    await makeOutcomes(ingest.rt, [{ callbackUrl: hooks.url('/after') }]);
    const all = await hooks.waitFor((x) => x.length >= 2);
    const after = all[1]!;
    expect(after.path).toBe('/after');
    expect(after.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(verifiesWith(after, secret)).toBe(true);
    expect(verifiesWith(after, OLD_SECRET)).toBe(false);

    // Another tenant's key rotates its own secret, not acme's.
    const globex = await ingest.call('POST', '/v1/webhook-secret/rotate', { key: TEST_TENANTS[1]!.api_keys[0]! });
    expect(globex.status).toBe(200);
    expect((await ingest.rt.store.secrets.list('acme')).map((s) => s.secret)).not.toContain(globex.json.secret);
    expect((await ingest.call('POST', '/v1/webhook-secret/rotate', { key: null })).status).toBe(401);
  });
});

describe('stop signals and the delivery log', () => {
  it('stops retries on webhook-delivery: abort-message and records it', async () => {
    const { ingest } = await setup();
    const hooks = await receiver({
      secrets: [OLD_SECRET],
      respond: () => ({ status: 500, headers: { 'webhook-delivery': 'abort-message' } }),
    });
    const [id] = await makeOutcomes(ingest.rt, [{ callbackUrl: hooks.url('/abort') }]);
    expect(await jobOutcome(ingest.rt, `dlv-${id}`)).toBe('aborted');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hooks.deliveries()).toHaveLength(1);
    const log = await ingest.call('GET', `/v1/requests/${id}/deliveries`);
    expect(log.status).toBe(200);
    expect(log.json.delivery).toMatchObject({ state: 'stopped', reason: 'aborted', attempts: 1 });
    expect(log.json.data).toHaveLength(1);
    expect(log.json.data[0]).toMatchObject({ attempt: 1, status_code: 500, next_attempt_at: null });
    expect(log.json.data[0].error).toContain('abort-message');
  });

  it('keeps each attempt with its status, error, duration and next attempt, bounded, expiring with the record', async () => {
    const { ingest } = await setup({ WEBHOOK_LOG_ATTEMPTS: '3', WEBHOOK_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms' });
    let calls = 0;
    const hooks = await receiver({ secrets: [OLD_SECRET], respond: () => ({ status: ++calls <= 3 ? 503 : 200 }) });
    const [id] = await makeOutcomes(ingest.rt, [{ callbackUrl: hooks.url('/log') }]);
    expect(await jobOutcome(ingest.rt, `dlv-${id}`)).toBe('delivered');
    const log = await ingest.call('GET', `/v1/requests/${id}/deliveries`);
    expect(log.json.object).toBe('list');
    expect(log.json.delivery).toMatchObject({ state: 'delivered', attempts: 4 });
    // Four attempts, the last three kept, oldest first.
    expect(log.json.data.map((a: { attempt: number }) => a.attempt)).toEqual([2, 3, 4]);
    expect(log.json.data.map((a: { status_code: number }) => a.status_code)).toEqual([503, 503, 200]);
    const [second, third, fourth] = log.json.data;
    expect(second.error).toBe('receiver answered 503');
    expect(fourth.error).toBeNull();
    expect(fourth.next_attempt_at).toBeNull();
    // The next attempt happened no earlier than the log said it would.
    expect(Date.parse(third.at)).toBeGreaterThanOrEqual(Date.parse(second.next_attempt_at) - 5);
    expect(typeof second.duration_ms).toBe('number');
    const p = ingest.rt.store.requests.partitionOf(id!)!;
    const k = ingest.rt.keys.partitionKeys(p);
    const [recordTtl, logTtl] = [await ingest.rt.redis.pttl(k.req(id!)), await ingest.rt.redis.pttl(k.attempts(id!))];
    expect(logTtl).toBeGreaterThan(0);
    expect(Math.abs(recordTtl - logTtl)).toBeLessThan(5_000);
    // Another tenant does not see it.
    const other = await ingest.call('GET', `/v1/requests/${id}/deliveries`, { key: TEST_TENANTS[1]!.api_keys[0]! });
    expect(other.status).toBe(404);
  });
});

describe('endpoint health', () => {
  it('opens a circuit on a failing host, disables it after WEBHOOK_DISABLE_AFTER and tells the operations URL', async () => {
    const ops = await receiver({ secrets: [OLD_SECRET] });
    const tenants: Tenant[] = [{ ...ACME, operations_url: ops.url('/ops') }, TEST_TENANTS[1]!];
    const { ingest } = await setup(
      {
        WEBHOOK_CIRCUIT_FAILURES: '2',
        WEBHOOK_CIRCUIT_COOLDOWN: '400ms',
        WEBHOOK_DISABLE_AFTER: '2s',
        WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 40 }, () => '50ms').join(','),
      },
      tenants,
    );
    const dead = await receiver({ secrets: [OLD_SECRET], respond: () => ({ status: 500 }) });
    const ids = await makeOutcomes(
      ingest.rt,
      [1, 2, 3].map(() => ({ callbackUrl: dead.url('/dead') })),
    );

    // Open after two failures: the three outcomes (40 attempts each allowed) wait instead of hammering the host.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const hits = dead.deliveries().length;
    // Without a circuit: ~3 × 1200/50 attempts; with it: the first failures and about one probe per cooldown.
    expect(hits).toBeLessThan(12);
    const endpoints = await ingest.call('GET', '/v1/endpoints');
    expect(endpoints.json.data).toHaveLength(1);
    expect(endpoints.json.data[0]).toMatchObject({
      host: new URL(dead.url()).host,
      state: expect.stringMatching(/open|failing/),
    });
    for (const id of ids) expect((await ingest.rt.store.requests.get(id))?.dead).toBe(false);

    // Failing for 2 s: disabled, every outcome dead-lettered, the events signed like every webhook.
    const events = await ops.waitFor(
      (d) => d.filter((x) => (x.json as { type: string }).type === 'message.attempt.exhausted').length >= 3,
      { timeoutMs: 15_000 },
    );
    const types = events.map((e) => (e.json as { type: string }).type);
    expect(types.filter((t) => t === 'endpoint.disabled')).toHaveLength(1);
    expect(events.every((e) => e.verified)).toBe(true);
    const exhausted = events
      .filter((e) => (e.json as { type: string }).type === 'message.attempt.exhausted')
      .map((e) => (e.json as { data: { request_id: string; webhook_id: string; reason: string } }).data);
    expect(exhausted.map((e) => e.request_id).sort()).toEqual([...ids].sort());
    expect(exhausted.every((e) => e.reason === 'endpoint_disabled' && e.webhook_id.startsWith('msg_'))).toBe(true);
    for (const id of ids) {
      const record = await ingest.rt.store.requests.get(id);
      expect(record?.dead).toBe(true);
      expect(record?.dead_reason).toBe('endpoint_disabled');
    }
    expect((await ingest.call('GET', '/v1/endpoints')).json.data[0].state).toBe('disabled');

    // Re-enabled by the API, the receiver fixed: a redelivery goes through.
    dead.setResponder(() => ({ status: 200 }));
    const enabled = await ingest.call('POST', '/v1/endpoints/enable', { body: { url: dead.url('/dead') } });
    expect(enabled.status).toBe(200);
    expect(enabled.json.was_unhealthy).toBe(true);
    expect((await ingest.call('GET', '/v1/endpoints')).json.data).toEqual([]);
    expect((await ingest.call('POST', `/v1/requests/${ids[0]}/redeliver`)).status).toBe(202);
    await expect
      .poll(async () => (await ingest.rt.store.requests.get(ids[0]!))?.delivered_at, { timeout: 10_000 })
      .toBeTypeOf('number');
    expect((await ingest.call('POST', '/v1/endpoints/enable', { body: { host: 'nope' } })).status).toBe(400);
  });
});

describe('replay', () => {
  it('redelivers the dead letters of a time range under their webhook-ids, as a background job with progress', async () => {
    // A circuit would hold the failing deliveries back; this test wants them dead-lettered quickly.
    const { ingest } = await setup({ WEBHOOK_CIRCUIT_FAILURES: '1000' });
    let failing = true;
    const hooks = await receiver({ secrets: [OLD_SECRET], respond: () => ({ status: failing ? 500 : 200 }) });
    const before = new Date(Date.now() - 1_000).toISOString();
    const deadIds = await makeOutcomes(
      ingest.rt,
      [1, 2].map(() => ({ callbackUrl: hooks.url('/r') })),
    );
    for (const id of deadIds) expect(await jobOutcome(ingest.rt, `dlv-${id}`)).toBe('dead_letter');
    failing = false;
    const [fine] = await makeOutcomes(ingest.rt, [{ callbackUrl: hooks.url('/r') }]);
    expect(await jobOutcome(ingest.rt, `dlv-${fine}`)).toBe('delivered');
    const seen = hooks.deliveries().length;

    expect((await ingest.call('POST', '/v1/deliveries/replay', { body: { since: 'yesterday' } })).status).toBe(400);
    expect(
      (await ingest.call('POST', '/v1/deliveries/replay', { body: { since: before, status: 'x' } })).json.error.param,
    ).toBe('status');
    const started = await ingest.call('POST', '/v1/deliveries/replay', { body: { since: before, status: 'dead' } });
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ object: 'delivery.replay', status: 'dead' });
    const again = await ingest.call('POST', '/v1/deliveries/replay', { body: { since: before } });
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toBeTruthy();

    await expect
      .poll(async () => (await ingest.call('GET', `/v1/deliveries/replay/${started.json.id}`)).json.state, {
        timeout: 10_000,
      })
      .toBe('done');
    const progress = await ingest.call('GET', `/v1/deliveries/replay/${started.json.id}`);
    expect(progress.json).toMatchObject({ scanned: 3, queued: 2 });
    for (const id of deadIds) {
      await expect
        .poll(async () => (await ingest.rt.store.requests.get(id))?.delivered_at, { timeout: 10_000 })
        .toBeTypeOf('number');
    }
    const replayed = hooks.deliveries().slice(seen);
    expect(replayed.map((d) => d.webhookId).sort()).toEqual(deadIds.map(webhookIdFor).sort());
    expect(replayed.every((d) => d.verified)).toBe(true);
    // The job is the tenant's own.
    expect(
      (await ingest.call('GET', `/v1/deliveries/replay/${started.json.id}`, { key: TEST_TENANTS[1]!.api_keys[0]! }))
        .status,
    ).toBe(404);
  });
});

describe('aggregated deliveries', () => {
  it('sends a tenant its outcomes N per signed POST, each with its own webhook-id, the same bytes on a retry', async () => {
    const tenant: Tenant = { ...ACME, webhook_batch: { max_events: 10, max_wait_ms: 300 } };
    const { ingest } = await setup({}, [tenant, ...TEST_TENANTS.slice(1)]);
    let failFirst = true;
    const hooks = await receiver({
      secrets: [OLD_SECRET],
      // The first POST fails: the retry must carry the same envelope.
      respond: () => {
        if (!failFirst) return { status: 200 };
        failFirst = false;
        return { status: 500 };
      },
    });
    const ids = await makeOutcomes(
      ingest.rt,
      Array.from({ length: 25 }, () => ({ callbackUrl: hooks.url('/agg') })),
    );
    type Envelope = { type: string; timestamp: string; data: Array<{ webhook_id: string; event: any }> };
    const events = (ds: readonly ReceivedWebhook[]) =>
      ds.flatMap((d) => (d.json as Envelope).data.map((e) => e.webhook_id));
    const all = await hooks.waitFor((ds) => new Set(events(ds.slice(1))).size >= 25, { timeoutMs: 30_000 });

    for (const d of all) {
      expect(d.verified).toBe(true);
      expect(verifiesWith(d, OLD_SECRET)).toBe(true);
      expect((d.json as Envelope).type).toBe('request.outcomes');
      expect((d.json as Envelope).data.length).toBeLessThanOrEqual(10);
    }
    // The failed first POST was sent again byte for byte, under the same webhook-id.
    const [first, ...rest] = all;
    const retry = rest.find((d) => d.webhookId === first!.webhookId);
    expect(retry?.body).toBe(first!.body);
    // 25 outcomes in a few POSTs (≤ 10 each, plus the retry), every outcome exactly once among the delivered ones.
    const delivered = rest;
    expect(delivered.length).toBeGreaterThanOrEqual(3);
    expect(delivered.length).toBeLessThanOrEqual(8);
    const inner = events(delivered);
    expect(new Set(inner)).toEqual(new Set(ids.map(webhookIdFor)));
    expect(inner).toHaveLength(25);
    // Each inner event is the outcome's own webhook body: its request object, completed.
    for (const e of delivered.flatMap((d) => (d.json as Envelope).data)) {
      expect(e.event.type).toBe('request.completed');
      expect(webhookIdFor(e.event.data.id)).toBe(e.webhook_id);
    }
    // The request objects say delivered; the delivery log names the envelope.
    await waitForDelivered(ingest, ids);
    // Each member's event is the body a single delivery would carry, rebuilt from its record (none is stored; the
    // first envelope fixed each one's mark).
    for (const id of ids) {
      const record = (await ingest.rt.store.requests.get(id))!;
      const own = buildWebhookBody(record) as string;
      const member = `{"webhook_id":${JSON.stringify(webhookIdFor(id))},"event":${own}}`;
      expect(delivered.some((d) => d.body.includes(member))).toBe(true);
      expect(record.webhook_body).toBeUndefined();
      expect(record.webhook_fp).toBe(webhookBodyMark(own));
    }
    const log = await ingest.call('GET', `/v1/requests/${ids[0]}/deliveries`);
    expect(log.json.delivery.state).toBe('delivered');
    expect(log.json.data[0].envelope_id).toMatch(/^msg_agg/);
  }, 60_000);
});

async function waitForDelivered(ingest: TestIngest, ids: readonly string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(
      ids.map(async (id) => (await ingest.call('GET', `/v1/requests/${id}/deliveries`)).json.delivery.state),
    );
    if (states.every((s) => s === 'delivered')) return;
    if (Date.now() > deadline) throw new Error(`not all delivered: ${states.join(',')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
