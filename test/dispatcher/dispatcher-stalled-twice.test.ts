// Found by the fault suite (test/faults): an outcome whose dispatcher was SIGKILLed mid-delivery twice was moved to
// BullMQ's failed set ("job stalled more than allowable limit") without the processor running, so it was neither
// delivered nor dead-lettered, and its job id then blocked the outbox relay. It must still be delivered (SPEC §6 I1).
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { createTestRuntime, makeOutcomes, startWebhookReceiver, TEST_TENANTS } from '@batchbridge/testkit';
import type { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { killChild, startDispatcherChild } from './fixtures/child-process.js';

const SECRET = (TEST_TENANTS[0] as Tenant).webhook_secret as string;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

it('delivers an outcome whose dispatcher was killed mid-delivery twice', async () => {
  const rt = await createTestRuntime({
    env: { WEBHOOK_RETRY_SCHEDULE: '50ms,50ms,50ms', WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
  });
  cleanups.push(() => rt.dispose());
  // While a child dispatcher holds the delivery, the receiver never answers: each child dies with it in flight.
  let hang = true;
  const hooks = await startWebhookReceiver({
    secrets: [SECRET],
    respond: () => (hang ? { status: 200, delayMs: 60_000 } : { status: 200 }),
  });
  cleanups.push(() => hooks.close());
  const { host, port } = (rt.redis as Redis).options;
  const childEnv = { BB_TEST_REDIS_URL: `redis://${host}:${port}`, BB_TEST_PREFIX: rt.prefix };

  const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);
  const first = await startDispatcherChild(childEnv, (c) => cleanups.push(c));
  await hooks.waitFor((d) => d.length >= 1);
  await killChild(first);
  // The second child takes the stalled job over once the first one's 1 s lock has expired, and dies with it too.
  const second = await startDispatcherChild(childEnv, (c) => cleanups.push(c));
  await hooks.waitFor((d) => d.length >= 2, { timeoutMs: 30_000 });
  await killChild(second);
  hang = false;

  const survivor = await startDispatcher(rt, { stalledIntervalMs: 200 });
  cleanups.push(() => survivor.close());
  for (let i = 0; i < 600 && (await rt.store.requests.get(id as string))?.delivered_at === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect((await rt.store.requests.get(id as string))?.delivered_at).toBeTypeOf('number');
  expect(await rt.store.deadLetters.count()).toBe(0);
  expect(new Set(hooks.deliveries().map((d) => d.webhookId)).size).toBe(1);
});
