// Issue 26: a dispatcher claims deliveries ahead of its free slots, so that a freed slot never waits for a claim's
// round trip. When every slot is held by receivers that do not answer, the claims waiting behind them must not wait
// with them: they go back to due (no attempt spent) and another dispatcher sends them — while the slow receiver still
// holds its requests.
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

it('hands back claims waiting behind stuck slots; another dispatcher delivers them meanwhile', async () => {
  const rt = await createTestRuntime({
    env: {
      WEBHOOK_CONCURRENCY: '2',
      WEBHOOK_HOST_CONCURRENCY: '2',
      WEBHOOK_TENANT_CONCURRENCY: '2',
      WEBHOOK_TIMEOUT_MS: '60000',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    },
  });
  cleanups.push(() => rt.dispose());
  const fast = await startWebhookReceiver({ secrets: [SECRET] });
  cleanups.push(() => fast.close());

  // Dispatcher A: both its slots held by a receiver that answers only after a minute.
  const slow = await startWebhookReceiver({ secrets: [SECRET], respond: () => ({ status: 200, delayMs: 60_000 }) });
  await makeOutcomes(rt, [{ callbackUrl: slow.url('/s0') }, { callbackUrl: slow.url('/s1') }]);
  const a = await startDispatcher(rt, { stuckMs: 5_000 });
  cleanups.push(() => a.close());
  cleanups.push(() => slow.close()); // closed first: its held requests end, so A closes at once
  await slow.waitFor((d) => d.length >= 2);

  // Six more outcomes: A claims them ahead (its slots are not stuck yet), then, its slots still held, hands them back.
  const fastIds = await makeOutcomes(
    rt,
    Array.from({ length: 6 }, (_, i) => ({ callbackUrl: fast.url(`/f${i}`) })),
  );
  await expect.poll(() => rt.store.deliveries.counts(0), { timeout: 10_000 }).toEqual({ due: 0, leased: 8 });
  await expect.poll(() => rt.store.deliveries.counts(0), { timeout: 20_000 }).toEqual({ due: 6, leased: 2 });

  // Dispatcher B sends them, while the slow receiver still holds A's two requests.
  const b = await startDispatcher(rt);
  cleanups.push(() => b.close());
  await fast.waitFor((d) => d.length >= 6, { timeoutMs: 20_000 });
  expect(slow.deliveries()).toHaveLength(2);
  const got = fast.deliveries();
  expect(got.map((d) => d.webhookId).sort()).toEqual(fastIds.map(webhookIdFor).sort());
  expect(got.every((d) => d.verified)).toBe(true);
  // Handed back without spending an attempt: each was sent once, as its first attempt.
  for (const id of fastIds) {
    await expect.poll(async () => (await rt.store.requests.get(id))?.delivery_attempts, { timeout: 10_000 }).toBe(1);
  }
});
