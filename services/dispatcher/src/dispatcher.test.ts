import { PassThrough } from 'node:stream';
import type { Tenant } from '@batchbridge/config';
import { buildWebhookBody, jobIds, toRequestObject, webhookBodyMark, webhookIdFor } from '@batchbridge/domain';
import { createLogger } from '@batchbridge/logger';
import type { Service } from '@batchbridge/runtime';
import {
  createTestRuntime,
  deliverAgain,
  jobOutcome,
  makeOutcomes,
  type ReceivedWebhook,
  redeliver,
  startWebhookReceiver,
  TEST_TENANTS,
  type TestRuntime,
  type WebhookReceiver,
} from '@batchbridge/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type DispatcherOptions, startDispatcher } from './index.js';

const ACME = TEST_TENANTS[0] as Tenant;
const GLOBEX = TEST_TENANTS[1] as Tenant;
const ACME_SECRET = ACME.webhook_secret as string;
const GLOBEX_SECRET = GLOBEX.webhook_secret as string;

const BASE_ENV = {
  WEBHOOK_RETRY_SCHEDULE: '50ms,50ms,50ms',
  WEBHOOK_TIMEOUT_MS: '500',
  WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
};

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setup(
  options: {
    env?: Record<string, string>;
    tenants?: Tenant[];
    dispatcher?: DispatcherOptions;
    start?: boolean;
    logger?: ReturnType<typeof createLogger>;
  } = {},
): Promise<{ rt: TestRuntime; dispatcher: Service | undefined }> {
  const rt = await createTestRuntime({
    env: { ...BASE_ENV, ...options.env },
    ...(options.tenants ? { tenants: options.tenants } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  cleanups.push(() => rt.dispose());
  let dispatcher: Service | undefined;
  if (options.start !== false) {
    dispatcher = await startDispatcher(rt, options.dispatcher);
    cleanups.push(() => dispatcher?.close() ?? Promise.resolve());
  }
  return { rt, dispatcher };
}

async function receiver(options: Parameters<typeof startWebhookReceiver>[0] = { secrets: [ACME_SECRET] }) {
  const r = await startWebhookReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

const forId = (id: string) => (d: readonly ReceivedWebhook[]) => d.filter((x) => x.webhookId === webhookIdFor(id));

async function metricLine(rt: TestRuntime, prefix: string): Promise<string | undefined> {
  return (await rt.metrics.render()).split('\n').find((line) => line.startsWith(prefix));
}

describe('dispatcher', () => {
  it('delivers each outcome once, signed, with the exact request object and event type', async () => {
    const { rt } = await setup();
    const hooks = await receiver();
    const ids = await makeOutcomes(rt, [
      { callbackUrl: hooks.url('/done'), clientRef: 'my-ref-1' },
      { callbackUrl: hooks.url('/done'), kind: 'rejected' },
      { callbackUrl: hooks.url('/done'), kind: 'cancelled' },
    ]);
    await hooks.waitFor((d) => d.length >= 3);
    for (const id of ids) expect(await jobOutcome(rt, jobIds.deliver(id))).toBe('delivered');

    const got = hooks.deliveries();
    expect(got).toHaveLength(3);
    const types: string[] = [];
    for (const id of ids) {
      const [delivery] = forId(id)(got);
      expect(delivery?.verified).toBe(true);
      expect(delivery?.path).toBe('/done');
      const record = await rt.store.requests.get(id);
      expect(record?.delivered_at).toBeTypeOf('number');
      const event = delivery?.json as { type: string; timestamp: string; data: unknown };
      expect(event.data).toEqual(toRequestObject(record!));
      expect(event.timestamp).toBe(new Date(record!.completed_at!).toISOString());
      types.push(event.type);
    }
    expect(types).toEqual(['request.completed', 'request.failed', 'request.cancelled']);
    expect((forId(ids[0]!)(got)[0]!.json as { data: { custom_id: string } }).data.custom_id).toBe('my-ref-1');

    // A deliver job of an older version (or added by hand) hands the outcome to the due zset, where a second delivery
    // of an outcome delivered already (without `redeliver`) is skipped: still one delivery each.
    await rt.queues.addBulk('deliver', 0, [
      { jobId: `${jobIds.deliver(ids[0]!)}-again`, data: { partition: 0, requestId: ids[0] } },
    ]);
    expect(await jobOutcome(rt, `${jobIds.deliver(ids[0]!)}-again`)).toBe('moved');
    expect(await jobOutcome(rt, jobIds.deliver(ids[0]!))).toBe('skipped');
    expect(hooks.deliveries()).toHaveLength(3);
    expect(await metricLine(rt, 'batchbridge_webhook_deliveries_total{outcome="delivered"}')).toMatch(/ 3$/);
    expect(await metricLine(rt, 'batchbridge_webhook_deliveries_total{outcome="skipped"}')).toMatch(/ 1$/);
    expect(await metricLine(rt, 'batchbridge_request_turnaround_seconds_count')).toMatch(/ 3$/);
  });

  it('retries a 500 with the same webhook-id and byte-identical body, signed anew', async () => {
    const { rt } = await setup();
    let calls = 0;
    const hooks = await receiver({ secrets: [ACME_SECRET], respond: () => ({ status: ++calls === 1 ? 500 : 200 }) });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('delivered');
    const [first, second, ...rest] = hooks.deliveries();
    expect(rest).toHaveLength(0);
    expect(first?.webhookId).toBe(webhookIdFor(id!));
    expect(second?.webhookId).toBe(first?.webhookId);
    expect(second?.body).toBe(first?.body);
    expect(first?.verified && second?.verified).toBe(true);
    expect(await metricLine(rt, 'batchbridge_webhook_deliveries_total{outcome="retry"}')).toMatch(/ 1$/);
    // The body is not stored: the retry rebuilt it from the record and checked it against the first attempt's mark.
    const key = rt.keys.partitionKeys(0).req(id!);
    expect(await rt.redis.hexists(key, 'webhook_body')).toBe(0);
    expect(await rt.redis.hget(key, 'webhook_fp')).toBe(webhookBodyMark(first!.body));
    expect(await metricLine(rt, 'batchbridge_webhook_body_changed_total')).toMatch(/ 0$/);
  });

  it('sends a body an earlier version stored as stored; a body its mark does not vouch for is sent and counted', async () => {
    const { rt } = await setup({ start: false });
    const hooks = await receiver();
    const [legacy, marked] = await makeOutcomes(rt, [
      { callbackUrl: hooks.url('/h') },
      { callbackUrl: hooks.url('/h') },
    ]);
    const k = rt.keys.partitionKeys(0);
    await rt.redis.hset(k.req(legacy!), 'webhook_body', '{"type":"request.completed","stored":true}');
    // A mark of a format this version cannot build (a rollback after a newer version's first attempt).
    await rt.redis.hset(k.req(marked!), 'webhook_fp', '2.AAAAAAAAAAAAAAAA');
    const dispatcher = await startDispatcher(rt);
    cleanups.push(() => dispatcher.close());
    await hooks.waitFor((d) => d.length >= 2);
    expect(forId(legacy!)(hooks.deliveries())[0]?.body).toBe('{"type":"request.completed","stored":true}');
    const sent = forId(marked!)(hooks.deliveries())[0];
    expect(sent?.verified).toBe(true);
    expect(sent?.body).toBe(buildWebhookBody((await rt.store.requests.get(marked!))!));
    expect(await metricLine(rt, 'batchbridge_webhook_body_changed_total')).toMatch(/ 1$/);
  });

  it('logs who and which attempt, never the body, the secret or the query string of the URL', async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const { rt } = await setup({ logger: createLogger({ service: 'test', level: 'debug', destination: sink }) });
    let calls = 0;
    const hooks = await receiver({ secrets: [ACME_SECRET], respond: () => ({ status: ++calls === 1 ? 500 : 200 }) });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h?token=query-secret-123') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('delivered');
    await new Promise((resolve) => setImmediate(resolve));

    const text = lines.join('\n');
    for (const secret of [
      'query-secret-123',
      ACME_SECRET,
      `chatcmpl_${id}`,
      'question 0',
      hooks.deliveries()[0]!.body,
    ]) {
      expect(text).not.toContain(secret);
    }
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const retried = entries.find((e) => e.msg === 'delivery attempt failed; will retry');
    expect(retried).toMatchObject({
      requestId: id,
      tenant: 'acme',
      webhookId: webhookIdFor(id!),
      attempt: 1,
      status: 500,
    });
    const delivered = entries.find((e) => e.msg === 'webhook delivered');
    expect(delivered).toMatchObject({
      requestId: id,
      tenant: 'acme',
      webhookId: webhookIdFor(id!),
      attempt: 2,
      status: 200,
    });
  });

  it('retries after a timeout', async () => {
    const { rt } = await setup();
    let calls = 0;
    const hooks = await receiver({
      secrets: [ACME_SECRET],
      respond: () => (++calls === 1 ? { status: 200, delayMs: 2_000 } : { status: 200 }),
    });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('delivered');
    expect(hooks.deliveries().map((d) => d.webhookId)).toEqual([webhookIdFor(id!), webhookIdFor(id!)]);
  });

  it("honours the receiver's Retry-After over the shorter schedule", async () => {
    const { rt } = await setup();
    let calls = 0;
    const hooks = await receiver({
      secrets: [ACME_SECRET],
      respond: () => (++calls === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }),
    });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('delivered');
    const [first, second] = hooks.deliveries();
    // The schedule says 50 ms; the receiver asked for 1 s. Both bounds below follow from the delay, not from speed.
    expect(second!.receivedAt.getTime() - first!.receivedAt.getTime()).toBeGreaterThanOrEqual(950);
    expect(Number(second!.headers['webhook-timestamp'])).toBeGreaterThan(Number(first!.headers['webhook-timestamp']));
    expect(second?.body).toBe(first?.body);
  });

  it('stops after 410 Gone: one attempt, not dead-lettered', async () => {
    const { rt } = await setup();
    const hooks = await receiver({ secrets: [ACME_SECRET], respond: () => ({ status: 410 }) });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('gone');
    expect(hooks.deliveries()).toHaveLength(1);
    expect(await rt.store.deadLetters.count()).toBe(0);
    expect((await rt.store.requests.get(id!))?.delivered_at).toBeUndefined();
    expect((await rt.store.requests.get(id!))?.gone_at).toBeDefined();
    expect(await metricLine(rt, 'batchbridge_webhook_deliveries_total{outcome="gone"}')).toMatch(/ 1$/);
    // The same delivery run again (its job's completion lost in a crash, the outbox relaying it anew): nothing is sent.
    expect(await jobOutcome(rt, await deliverAgain(rt, id!))).toBe('skipped');
    expect(hooks.deliveries()).toHaveLength(1);
  });

  it('dead-letters after the last attempt, then a redeliver delivers the same webhook and clears the dead flag', async () => {
    const { rt } = await setup();
    const hooks = await receiver({ secrets: [ACME_SECRET], respond: () => ({ status: 503 }) });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('dead_letter');
    // 1 + 3 schedule entries.
    expect(hooks.deliveries()).toHaveLength(4);
    expect(await rt.store.deadLetters.list(0)).toEqual([id]);
    expect((await rt.store.requests.get(id!))?.dead).toBe(true);
    expect(await metricLine(rt, 'batchbridge_webhook_dead_letters ')).toBe('batchbridge_webhook_dead_letters 1');
    expect(await metricLine(rt, 'batchbridge_webhook_deliveries_total{outcome="dead_letter"}')).toMatch(/ 1$/);

    hooks.setResponder(() => ({ status: 200 }));
    const replay = await redeliver(rt, id!);
    expect(await jobOutcome(rt, replay)).toBe('delivered');
    const all = hooks.deliveries();
    expect(all).toHaveLength(5);
    expect(new Set(all.map((d) => d.webhookId))).toEqual(new Set([webhookIdFor(id!)]));
    expect(new Set(all.map((d) => d.body)).size).toBe(1);
    expect(all.every((d) => d.verified)).toBe(true);
    expect(await rt.store.deadLetters.list(0)).toEqual([]);
    expect((await rt.store.requests.get(id!))?.dead).toBe(false);
    expect(await metricLine(rt, 'batchbridge_webhook_dead_letters ')).toBe('batchbridge_webhook_dead_letters 0');

    // A redeliver of an outcome already delivered sends it again (that is what the caller asked for).
    const again = await redeliver(rt, id!);
    expect(await jobOutcome(rt, again)).toBe('delivered');
    expect(hooks.deliveries()).toHaveLength(6);
    // Rebuilt from the record each time, never stored: the same bytes on all six.
    expect(new Set(hooks.deliveries().map((d) => d.body)).size).toBe(1);
    expect(await rt.redis.hexists(rt.keys.partitionKeys(0).req(id!), 'webhook_body')).toBe(0);
  });

  it('dead-letters when the receiver is unreachable', async () => {
    const { rt } = await setup();
    const hooks = await receiver();
    const url = hooks.url('/h');
    await hooks.close();
    const [id] = await makeOutcomes(rt, [{ callbackUrl: url }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('dead_letter');
    expect(await rt.store.deadLetters.list(0)).toEqual([id]);
  });

  it('does not follow a redirect to another loopback URL', async () => {
    const { rt } = await setup();
    const target = await receiver();
    const redirector = await receiver({
      secrets: [ACME_SECRET],
      respond: () => ({ status: 307, headers: { location: target.url('/stolen') } }),
    });
    const [id] = await makeOutcomes(rt, [{ callbackUrl: redirector.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('dead_letter');
    expect(redirector.deliveries()).toHaveLength(4);
    expect(target.deliveries()).toHaveLength(0);
  });

  it('refuses a callback the address policy does not allow at delivery: dead letter, nothing sent', async () => {
    // Intake allowed loopback; this deployment's allow-list does not (a TEST-NET range, never connected to).
    const { rt } = await setup({ env: { WEBHOOK_ALLOW_CIDRS: '192.0.2.0/24' } });
    const hooks = await receiver();
    const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('dead_letter');
    expect(hooks.deliveries()).toHaveLength(0);
    expect(await rt.store.deadLetters.list(0)).toEqual([id]);
    expect(await metricLine(rt, 'batchbridge_webhook_deliveries_total{outcome="refused"}')).toMatch(/ 1$/);
  });

  it('keeps delivering to other hosts while one slow host holds its only slot', async () => {
    const { rt } = await setup({
      env: { WEBHOOK_HOST_CONCURRENCY: '1', WEBHOOK_CONCURRENCY: '8', WEBHOOK_TIMEOUT_MS: '20000' },
      dispatcher: { parkMs: 20 },
    });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = await receiver({
      secrets: [ACME_SECRET],
      respond: async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await gate;
        inFlight -= 1;
        return { status: 200 };
      },
    });
    const fast = await receiver();
    const slowIds = await makeOutcomes(
      rt,
      [1, 2, 3].map(() => ({ callbackUrl: slow.url('/slow') })),
    );
    const fastIds = await makeOutcomes(
      rt,
      [1, 2, 3].map(() => ({ callbackUrl: fast.url('/fast') })),
    );

    // All of the fast host's outcomes arrive while the slow host still holds its first delivery.
    await fast.waitFor((d) => d.length >= 3);
    expect(slow.deliveries()).toHaveLength(1);
    for (const id of fastIds) expect(await jobOutcome(rt, jobIds.deliver(id))).toBe('delivered');

    open();
    await slow.waitFor((d) => d.length >= 3);
    for (const id of slowIds) expect(await jobOutcome(rt, jobIds.deliver(id))).toBe('delivered');
    expect(maxInFlight).toBe(1);
    // Parking does not spend attempts: each slow outcome was sent exactly once.
    expect(slow.uniqueByWebhookId()).toHaveLength(3);
    expect(slow.deliveries()).toHaveLength(3);
  });

  it("signs with each tenant's own secret and sends only to that tenant's URL (or its default)", async () => {
    const hooks = await receiver({
      secrets: (path) =>
        path.startsWith('/acme') ? ACME_SECRET : path.startsWith('/globex') ? GLOBEX_SECRET : undefined,
    });
    const tenants: Tenant[] = [
      { ...ACME, default_callback_url: hooks.url('/acme-default') },
      { ...GLOBEX, default_callback_url: hooks.url('/globex-default') },
    ];
    const { rt } = await setup({ tenants });
    const [acmeExplicit, acmeDefault, globexExplicit, globexDefault] = await makeOutcomes(rt, [
      { tenant: 'acme', callbackUrl: hooks.url('/acme') },
      { tenant: 'acme' },
      { tenant: 'globex', callbackUrl: hooks.url('/globex') },
      { tenant: 'globex' },
    ]);
    const got = await hooks.waitFor((d) => d.length >= 4);
    const pathOf = (id: string | undefined) => forId(id!)(got).map((d) => d.path);
    expect(pathOf(acmeExplicit)).toEqual(['/acme']);
    expect(pathOf(acmeDefault)).toEqual(['/acme-default']);
    expect(pathOf(globexExplicit)).toEqual(['/globex']);
    expect(pathOf(globexDefault)).toEqual(['/globex-default']);
    expect(got.every((d) => d.verified)).toBe(true);
    // One signature each, and it verified with the path's own tenant secret: never the other tenant's.
    for (const d of got) expect(d.headers['webhook-signature']?.split(' ')).toHaveLength(1);
  });

  it('dead-letters an outcome whose tenant is no longer configured, sending nothing', async () => {
    const hooks = await receiver();
    const { rt } = await setup({ tenants: [ACME] });
    const [id] = await makeOutcomes(rt, [{ tenant: 'globex', callbackUrl: hooks.url('/globex') }]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('dead_letter');
    expect(hooks.deliveries()).toHaveLength(0);
    expect(await rt.store.deadLetters.list(0)).toEqual([id]);
  });

  it('finishes without sending when neither the request nor its tenant has a callback URL', async () => {
    const { rt } = await setup();
    const [id] = await makeOutcomes(rt, [{}]);
    expect(await jobOutcome(rt, jobIds.deliver(id!))).toBe('no_callback_url');
    expect(await rt.store.deadLetters.count()).toBe(0);
  });

  it('delivers every outcome once after a restart, including jobs a dead process never relayed', async () => {
    let slowFirst = true;
    const hooks: WebhookReceiver = await receiver({
      secrets: [ACME_SECRET],
      respond: () => {
        // The first delivery is slow, so that closing the dispatcher finds it in flight.
        if (slowFirst) {
          slowFirst = false;
          return { status: 200, delayMs: 300 };
        }
        return { status: 200 };
      },
    });
    const { rt, dispatcher } = await setup({
      env: { WEBHOOK_CONCURRENCY: '1', WEBHOOK_TIMEOUT_MS: '5000' },
      dispatcher: { sweepIntervalMs: 100, sweepGraceMs: 200 },
    });
    const relayed = await makeOutcomes(
      rt,
      [1, 2, 3, 4, 5, 6].map(() => ({ callbackUrl: hooks.url('/h') })),
    );
    await hooks.waitFor((d) => d.length >= 1);
    expect(await dispatcher?.ready()).toBe(true);
    const closing = dispatcher?.close();
    expect(dispatcher?.close()).toBe(closing);
    await closing;
    expect(await dispatcher?.ready()).toBe(false);
    // Outcomes settled by a process that died before relaying its outbox entries.
    const orphaned = await makeOutcomes(
      rt,
      [1, 2, 3].map(() => ({ callbackUrl: hooks.url('/h') })),
      { relay: false },
    );
    // Closing let the delivery in flight finish and started no other.
    expect(hooks.deliveries()).toHaveLength(1);
    expect((await rt.store.requests.get(relayed[0]!))?.delivered_at).toBeTypeOf('number');

    const restarted = await startDispatcher(rt, { sweepIntervalMs: 100, sweepGraceMs: 200 });
    cleanups.push(() => restarted.close());
    const all = [...relayed, ...orphaned];
    // The orphans are relayed by the sweep once their entries are older than its grace period.
    await hooks.waitFor((d) => all.every((id) => d.some((x) => x.webhookId === webhookIdFor(id))));
    expect(hooks.uniqueByWebhookId()).toHaveLength(all.length);
    for (const id of all) expect((await rt.store.requests.get(id))?.delivered_at).toBeTypeOf('number');
  });
});
