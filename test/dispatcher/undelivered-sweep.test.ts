// Issue 14.6: a deleted delivery must never mean a lost outcome. A pending retry removed from the due zset (anyone
// with redis-cli) is found by the dispatcher's undelivered sweep, made due again and delivered, under the same
// webhook-id.
import type { Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { createTestRuntime, makeOutcomes, startWebhookReceiver, TEST_TENANTS } from '@batchbridge/testkit';
import { afterEach, expect, it } from 'vitest';
import { sweepUndelivered } from '../../services/dispatcher/src/undelivered-sweep.js';

const SECRET = (TEST_TENANTS[0] as Tenant).webhook_secret as string;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

it('delivers an outcome whose pending retry was removed from the due zset', async () => {
  const rt = await createTestRuntime({
    env: { WEBHOOK_RETRY_SCHEDULE: '60s,60s', WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
  });
  cleanups.push(() => rt.dispose());
  let down = true;
  const hooks = await startWebhookReceiver({ secrets: [SECRET], respond: () => ({ status: down ? 503 : 200 }) });
  cleanups.push(() => hooks.close());
  const [id] = await makeOutcomes(rt, [{ callbackUrl: hooks.url('/h') }]);

  // The first attempt gets a 503; its retry waits 60 s in the due zset.
  const first = await startDispatcher(rt, { undeliveredSweepIntervalMs: 3_600_000 });
  await hooks.waitFor((d) => d.length >= 1);
  const due = rt.keys.partitionKeys(0).dlvDue;
  await expect
    .poll(async () => Number(await rt.redis.zscore(due, id!)) > Date.now() + 30_000, { timeout: 10_000 })
    .toBe(true);
  await first.close();
  await rt.redis.zrem(due, id!); // the retry removed by hand
  expect(await rt.store.deliveries.pending(0, [id!])).toEqual([false]);
  down = false;

  // Without the sweep nothing would ever send it again; with it, it is delivered within one interval.
  const second = await startDispatcher(rt, { undeliveredSweepIntervalMs: 100, undeliveredGraceMs: 0 });
  cleanups.push(() => second.close());
  await expect
    .poll(async () => (await rt.store.requests.get(id as string))?.delivered_at, { timeout: 20_000 })
    .toBeTypeOf('number');
  expect(new Set(hooks.deliveries().map((d) => d.webhookId)).size).toBe(1);
  // Out of the index once delivered: later sweeps leave it alone.
  expect(await rt.store.requests.undeliveredBefore(0, Date.now())).toEqual([]);
});

it('pages through the whole index in one pass, reading only what it needs', async () => {
  const rt = await createTestRuntime({ env: { WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } });
  cleanups.push(() => rt.dispose());
  // 25 finished outcomes whose deliveries are due (no dispatcher runs): nothing to recreate…
  const ids = (await makeOutcomes(
    rt,
    Array.from({ length: 25 }, (_, i) => ({ callbackUrl: `http://127.0.0.1:9/h${i}` })),
  )) as string[];
  // …but the newest one's delivery was removed, and the five oldest were delivered after all (a mark that raced the
  // index).
  const newest = ids[ids.length - 1] as string;
  await rt.redis.zrem(rt.keys.partitionKeys(0).dlvDue, newest);
  for (const id of ids.slice(0, 5)) await rt.store.requests.markDelivered(0, id);
  await rt.redis.zadd(rt.keys.partitionKeys(0).undelivered, ...ids.slice(0, 5).flatMap((id) => [0, id]));

  // Four members per read: the old sweep looked at the oldest page only and never reached the newest member.
  const recreated = await sweepUndelivered(rt, rt.logger, { graceMs: 0, limit: 4 });
  expect(recreated).toBe(1);
  expect(await rt.store.deliveries.pending(0, [newest])).toEqual([true]);
  const left = await rt.store.requests.undeliveredBefore(0, Date.now(), 100);
  expect(left).toHaveLength(20);
  expect(left).not.toContain(ids[0]);
});
