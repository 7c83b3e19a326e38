// Issue 26: outcome deliveries are claimed in bulk under a lease. A dispatcher that claimed deliveries and died before
// sending any (its lease abandoned) must not lose them: once the lease runs out another dispatcher claims them and
// delivers each, under the request's own webhook-id, and a receiver counts exactly one receipt per outcome. The dead
// one's late completion (a zombie that wakes up) is fenced off: it changes nothing of the schedule.
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { webhookIdFor } from '@batchbridge/domain';
import { createTestRuntime, makeOutcomes, startWebhookReceiver, TEST_TENANTS } from '@batchbridge/testkit';
import { afterEach, expect, it } from 'vitest';

const SECRET = (TEST_TENANTS[0] as Tenant).webhook_secret as string;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

it('delivers claims whose dispatcher died before sending, once each, after their lease; a zombie completion is fenced', async () => {
  const rt = await createTestRuntime({
    env: { WEBHOOK_RETRY_SCHEDULE: '50ms,50ms', WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
  });
  cleanups.push(() => rt.dispose());
  const hooks = await startWebhookReceiver({ secrets: [SECRET] });
  cleanups.push(() => hooks.close());
  const ids = await makeOutcomes(
    rt,
    Array.from({ length: 12 }, () => ({ callbackUrl: hooks.url('/h') })),
  );

  // A dispatcher claims 8 of the 12 with a 1.5 s lease, then dies: nothing sent, nothing completed.
  const dead = await rt.store.deliveries.claim(0, 8, 1_500);
  expect(dead.deliveries).toHaveLength(8);
  const abandoned = dead.deliveries.map((d) => d.requestId);
  expect(await rt.store.deliveries.counts(0)).toEqual({ due: 4, leased: 8 });

  // Another dispatcher delivers the 4 unclaimed ones at once, and the 8 once their lease ran out.
  const survivor = await startDispatcher(rt, { leaseMs: 1_500 });
  cleanups.push(() => survivor.close());
  await hooks.waitFor((d) => d.length >= 4);
  const early = hooks.deliveries().map((d) => d.webhookId);
  for (const id of abandoned) expect(early).not.toContain(webhookIdFor(id));
  await hooks.waitFor((d) => d.length >= ids.length, { timeoutMs: 20_000 });
  for (const id of ids) {
    await expect
      .poll(async () => (await rt.store.requests.get(id))?.delivered_at, { timeout: 10_000 })
      .toBeTypeOf('number');
  }
  await expect.poll(() => rt.store.deliveries.counts(0), { timeout: 10_000 }).toEqual({ due: 0, leased: 0 });

  // Exactly one receipt per outcome, each under its request's webhook-id, verified.
  const got = hooks.deliveries();
  expect(got).toHaveLength(ids.length);
  expect(got.map((d) => d.webhookId).sort()).toEqual(ids.map(webhookIdFor).sort());
  expect(got.every((d) => d.verified)).toBe(true);
  expect(await rt.metrics.render()).toMatch(/batchbridge_webhook_leases_reclaimed_total 8/);

  // The dead dispatcher wakes up and completes its old claims as retries: its fence is gone, so nothing is due again.
  const late = await rt.store.deliveries.complete(
    0,
    dead.deliveries.map((d) => ({ ...d, at: Date.now(), countsAttempt: true, result: 'retry' })),
    20,
  );
  expect(late.every((a) => !a.ours)).toBe(true);
  expect(await rt.store.deliveries.counts(0)).toEqual({ due: 0, leased: 0 });
  expect(await rt.redis.hlen(rt.keys.partitionKeys(0).dlvTries)).toBe(0);
});
