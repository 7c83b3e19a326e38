// SPEC §16: fair delivery across tenants. The delivery slots of a partition are split between busy tenants, and while
// another tenant delivered recently one share is kept free for it: tenant A's slow receivers hold at most their share,
// and tenant B's next outcomes go out at once instead of waiting behind A's slow deliveries.
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

it("one tenant's slow hosts hold only their share of the slots; another tenant's outcomes are not starved", async () => {
  const rt = await createTestRuntime({
    env: {
      // Four slots; neither the host limit nor a tenant cap stops A from taking all four: only the fair share does.
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_HOST_CONCURRENCY: '4',
      WEBHOOK_TIMEOUT_MS: '20000',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    },
  });
  cleanups.push(() => rt.dispose());
  const slow: WebhookReceiver[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await startWebhookReceiver({
      secrets: [ACME.webhook_secret as string],
      respond: () => ({ status: 200, delayMs: 4_000 }),
    });
    cleanups.push(() => r.close());
    slow.push(r);
  }
  const fast = await startWebhookReceiver({ secrets: [GLOBEX.webhook_secret as string] });
  cleanups.push(() => fast.close());
  const dispatcher = await startDispatcher(rt, { parkMs: 50 });
  cleanups.push(() => dispatcher.close());

  // B has been delivering (it is a tenant this dispatcher knows).
  const [b0] = await makeOutcomes(rt, [{ tenant: GLOBEX.id, callbackUrl: fast.url('/b0') }]);
  await expect
    .poll(async () => (await rt.store.requests.get(b0 as string))?.delivered_at, { timeout: 15_000 })
    .toBeTypeOf('number');

  // A's backlog of slow deliveries arrives.
  await makeOutcomes(
    rt,
    Array.from({ length: 8 }, (_, i) => ({ tenant: ACME.id, callbackUrl: slow[i % 2]!.url(`/a${i}`) })),
  );
  const aReceived = () => slow.flatMap((r) => r.deliveries());
  await expect.poll(() => aReceived().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // A holds two of the four slots (the other share is kept for B), not all four.
  expect(aReceived()).toHaveLength(2);

  // B's next outcomes are delivered while A's slow deliveries are still unanswered.
  const bs = await makeOutcomes(
    rt,
    [1, 2].map((i) => ({ tenant: GLOBEX.id, callbackUrl: fast.url(`/b${i}`) })),
  );
  for (const b of bs) {
    await expect
      .poll(async () => (await rt.store.requests.get(b))?.delivered_at, { timeout: 3_000 })
      .toBeTypeOf('number');
  }
  const answeredA = aReceived().filter((d) => d.receivedAt.getTime() + 4_000 <= Date.now());
  expect(answeredA).toEqual([]);
  expect(fast.deliveries()).toHaveLength(3);
});
