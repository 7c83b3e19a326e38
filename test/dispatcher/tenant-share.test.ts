// Issue 16.8: one tenant with many slow callback hosts could hold every delivery slot of a dispatcher, so another
// tenant's outcomes waited behind it. With a per-tenant share (WEBHOOK_TENANT_CONCURRENCY) beside the per-host one,
// tenant B's outcome is delivered while tenant A's slow deliveries are still in flight.
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import {
  createTestRuntime,
  makeOutcomes,
  startWebhookReceiver,
  TEST_TENANTS,
  type WebhookReceiver,
} from '@batchbridge/testkit';
import { afterEach, expect, it } from 'vitest';

const ACME = TEST_TENANTS[0] as Tenant;
const GLOBEX = TEST_TENANTS[1] as Tenant;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

it("delivers another tenant's outcome while one tenant's slow hosts are busy", async () => {
  const rt = await createTestRuntime({
    env: {
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_HOST_CONCURRENCY: '2',
      WEBHOOK_TENANT_CONCURRENCY: '2',
      WEBHOOK_TIMEOUT_MS: '20000',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    },
  });
  cleanups.push(() => rt.dispose());
  const slow: WebhookReceiver[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await startWebhookReceiver({
      secrets: [ACME.webhook_secret as string],
      respond: () => ({ status: 200, delayMs: 4_000 }),
    });
    cleanups.push(() => r.close());
    slow.push(r);
  }
  const fast = await startWebhookReceiver({ secrets: [GLOBEX.webhook_secret as string] });
  cleanups.push(() => fast.close());

  // Tenant A: six outcomes over three slow hosts (two per host fit the host limit, so only the tenant share stops
  // A from taking all four slots); then tenant B: one outcome on a fast host.
  await makeOutcomes(
    rt,
    Array.from({ length: 6 }, (_, i) => ({ tenant: ACME.id, callbackUrl: slow[i % 3]!.url(`/a${i}`) })),
  );
  const [b] = await makeOutcomes(rt, [{ tenant: GLOBEX.id, callbackUrl: fast.url('/b') }]);

  const dispatcher = await startDispatcher(rt, { parkMs: 50 });
  cleanups.push(() => dispatcher.close());
  await expect
    .poll(async () => (await rt.store.requests.get(b as string))?.delivered_at, { timeout: 20_000 })
    .toBeTypeOf('number');
  // No slow delivery had been answered yet when B's was: B did not wait for A's slots.
  const answeredA = slow.flatMap((r) => r.deliveries()).filter((d) => d.receivedAt.getTime() + 4_000 <= Date.now());
  expect(answeredA).toEqual([]);
  expect(fast.deliveries()).toHaveLength(1);
});
