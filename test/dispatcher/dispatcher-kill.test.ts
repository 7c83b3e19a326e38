// SIGKILL a dispatcher process while its deliveries are in flight: another dispatcher takes the jobs over once their
// locks expire, and a receiver that dedupes by `webhook-id` sees every outcome exactly once (SPEC §6 I1, I3).
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { webhookIdFor } from '@batchbridge/domain';
import { createTestRuntime, makeOutcomes, startWebhookReceiver, TEST_TENANTS } from '@batchbridge/testkit';
import type { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { startDispatcherChild } from './fixtures/child-process.js';

const SECRET = (TEST_TENANTS[0] as Tenant).webhook_secret as string;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

it('a killed dispatcher loses no delivery: the survivor resends what was in flight, under the same webhook-id', async () => {
  const rt = await createTestRuntime({
    env: { WEBHOOK_RETRY_SCHEDULE: '50ms,50ms,50ms', WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
  });
  cleanups.push(() => rt.dispose());
  // Until the child is dead, every delivery hangs: the child dies with all its deliveries unanswered.
  let childAlive = true;
  const hooks = await startWebhookReceiver({
    secrets: [SECRET],
    respond: () => (childAlive ? { status: 200, delayMs: 60_000 } : { status: 200 }),
  });
  cleanups.push(() => hooks.close());

  const { host, port } = (rt.redis as Redis).options;
  const child = await startDispatcherChild(
    { BB_TEST_REDIS_URL: `redis://${host}:${port}`, BB_TEST_PREFIX: rt.prefix },
    (c) => cleanups.push(c),
  );
  const ids = await makeOutcomes(
    rt,
    [1, 2, 3, 4, 5, 6].map(() => ({ callbackUrl: hooks.url('/h') })),
  );
  const inFlight = await hooks.waitFor((d) => d.length >= 4);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  childAlive = false;
  expect(await rt.store.deadLetters.count()).toBe(0);
  for (const id of ids) expect((await rt.store.requests.get(id))?.delivered_at).toBeUndefined();

  const survivor = await startDispatcher(rt, { stalledIntervalMs: 200 });
  cleanups.push(() => survivor.close());
  // Each outcome the child had in flight comes again, and the two it never started come once.
  await hooks.waitFor((d) => d.length >= inFlight.length + ids.length, { timeoutMs: 30_000 });
  // Wait until every outcome is recorded as delivered (the survivor got a 2xx for each).
  for (const id of ids) {
    for (let i = 0; i < 500 && (await rt.store.requests.get(id))?.delivered_at === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await rt.store.requests.get(id))?.delivered_at).toBeTypeOf('number');
  }
  expect(
    hooks
      .uniqueByWebhookId()
      .map((d) => d.webhookId)
      .sort(),
  ).toEqual(ids.map(webhookIdFor).sort());
  // What the child had in flight was sent again, with the same id and bytes: at least once, deduped to once.
  for (const first of inFlight) {
    const again = hooks.deliveries().filter((d) => d.webhookId === first.webhookId);
    expect(again.length).toBeGreaterThanOrEqual(2);
    expect(new Set(again.map((d) => d.body)).size).toBe(1);
    expect(again.every((d) => d.verified)).toBe(true);
  }
});
