// Issue 10: the whole pipeline (ingest → packer → simulator → poller → dispatcher → receiver) on a real 3-master Redis
// Cluster with 16 partitions. What a user observes is the same as on one Redis: one signed webhook per request, with
// that request's own completion, to its own tenant's URL, and no request answered by two provider batches — while the
// requests live in partitions owned by different masters.
import { partitionOfRequestId } from '@batchbridge/domain';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import {
  freshPrefix,
  type ReceivedWebhook,
  startRedisCluster,
  startWebhookReceiver,
  TEST_TENANTS,
  type TestRedisCluster,
  type WebhookReceiver,
} from '@batchbridge/testkit';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, GLOBEX_KEY, startPipeline, submit } from '../e2e/helpers.js';

const PARTITIONS = 16;
const REQUESTS = 300;
const MODELS = ['gpt-4o-mini', 'gpt-4.1-mini'];
const ACME_SECRET = String(TEST_TENANTS[0]!.webhook_secret);
const GLOBEX_SECRET = String(TEST_TENANTS[1]!.webhook_secret);

let cluster: TestRedisCluster;
let pipeline: Awaited<ReturnType<typeof startPipeline>>;
let receiver: WebhookReceiver;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  // Both tenants get both models and room for the whole run (the test globex is limited to one model and 5 queued).
  const tenants = TEST_TENANTS.map((t) => ({ ...t, allowed_models: ['*'], max_queued: 10_000 }));
  pipeline = await startPipeline(
    {
      REDIS_MODE: 'cluster',
      REDIS_URL: cluster.url,
      REDIS_PARTITIONS: String(PARTITIONS),
      REDIS_KEY_PREFIX: freshPrefix('e2ecl'),
      BATCH_MAX_REQUESTS: '40',
    },
    tenants,
  );
  receiver = await startWebhookReceiver({
    secrets: (path) => (path.startsWith('/acme') ? [ACME_SECRET] : [GLOBEX_SECRET]),
  });
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
  await cluster?.stop();
});

/** The master (host:port) that owns the slot of each partition's hash tag. */
async function masterOfPartition(): Promise<Map<number, string>> {
  const redis = pipeline.runtime.redis as Cluster;
  const out = new Map<number, string>();
  const ranges = await redis.cluster('SLOTS');
  for (let p = 0; p < PARTITIONS; p++) {
    const slot = Number(await redis.cluster('KEYSLOT', pipeline.runtime.keys.tag(p)));
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    const master = range?.[2];
    out.set(p, master ? `${master[0]}:${master[1]}` : 'unowned');
  }
  return out;
}

describe('end to end on a 3-master Redis Cluster (REDIS_PARTITIONS=16)', () => {
  it('delivers every request once, signed, with its own result, from partitions on several masters', async () => {
    expect(pipeline.config.redis.mode).toBe('cluster');
    const sent = new Map<string, { tenant: string; path: string; body: { model: string; messages: unknown[] } }>();
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < REQUESTS; i++) {
      const tenant = i % 3 === 0 ? 'globex' : 'acme';
      const body = {
        model: MODELS[i % MODELS.length]!,
        messages: [{ role: 'user', content: `cluster prompt ${i}: spell ${i} backwards` }],
      };
      const path = `/${tenant}/${i}`;
      pending.push(
        submit(pipeline.url, tenant === 'acme' ? ACME_KEY : GLOBEX_KEY, body, {
          'x-callback-url': receiver.url(path),
        }).then(({ status, json }) => {
          expect(status, JSON.stringify(json)).toBe(202);
          sent.set(String(json.id), { tenant, path, body });
        }),
      );
      if (pending.length >= 30) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    expect(sent.size).toBe(REQUESTS);

    // Spread: the accepted requests sit in partitions owned by more than one master.
    const owners = await masterOfPartition();
    const mastersUsed = new Set<string>();
    const partitionsUsed = new Set<number>();
    for (const id of sent.keys()) {
      const p = partitionOfRequestId(id);
      expect(p, id).toBeDefined();
      partitionsUsed.add(p!);
      mastersUsed.add(owners.get(p!)!);
    }
    expect(partitionsUsed.size).toBeGreaterThan(8);
    expect(mastersUsed.size).toBeGreaterThan(1);
    expect(mastersUsed.has('unowned')).toBe(false);

    await receiver.waitFor(() => receiver.uniqueByWebhookId().length >= REQUESTS, { timeoutMs: 120_000 });
    const unique = receiver.uniqueByWebhookId();
    expect(unique).toHaveLength(REQUESTS);
    const seenIds = new Set<string>();
    for (const d of unique) {
      expect(d.verified, d.verifyError).toBe(true);
      const event = d.json as {
        type: string;
        data: { id: string; status: string; response: { body: { choices: Array<{ message: { content: string } }> } } };
      };
      expect(event.type).toBe('request.completed');
      const mine = sent.get(event.data.id);
      expect(mine, event.data.id).toBeDefined();
      expect(seenIds.has(event.data.id), `${event.data.id} under two webhook-ids`).toBe(false);
      seenIds.add(event.data.id);
      // Delivered to the URL of the request (and so of its tenant), with the completion of its own messages.
      expect(d.path).toBe(mine!.path);
      expect(event.data.response.body.choices[0]!.message.content).toBe(
        simulatedCompletion(mine!.body).choices[0]!.message.content,
      );
    }

    const counters = pipeline.sim!.counters();
    expect(counters.customIdsAnsweredTwice).toEqual([]);
    // Batches hold one partition each, so there are at least as many as partitions used.
    expect(counters.batchesCreated).toBeGreaterThanOrEqual(partitionsUsed.size);

    // Every request ends completed and the state counters, read partition by partition, drain to zero.
    const sample = [...sent.keys()].slice(0, 20);
    for (const id of sample) expect((await pipeline.runtime.store.requests.get(id))?.status).toBe('completed');
    expect(await pipeline.runtime.store.requests.stateCounts()).toEqual({ queued: 0, batched: 0, submitted: 0 });
  });

  it('finds a request again from any master: idempotent replay, GET, tenant isolation, redeliver', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from globex on a cluster' }] };
    const headers = { 'x-callback-url': receiver.url('/globex/single'), 'idempotency-key': 'cluster-idem-1' };
    const { status, json } = await submit(pipeline.url, GLOBEX_KEY, body, headers);
    expect(status).toBe(202);
    const id = String(json.id);
    // The replay hashes to the same partition (tenant + key), so it finds the first attempt there.
    const replay = await submit(pipeline.url, GLOBEX_KEY, body, headers);
    expect(replay.status).toBe(200);
    expect(replay.json.id).toBe(id);
    const mine = (all: readonly ReceivedWebhook[]) => all.filter((d) => d.path === '/globex/single');
    await receiver.waitFor((all) => mine(all).length >= 1, { timeoutMs: 30_000 });
    const got = await fetch(`${pipeline.url}/v1/requests/${id}`, {
      headers: { authorization: `Bearer ${GLOBEX_KEY}` },
    });
    expect(await got.json()).toMatchObject({ id, status: 'completed' });
    const other = await fetch(`${pipeline.url}/v1/requests/${id}`, {
      headers: { authorization: `Bearer ${ACME_KEY}` },
    });
    expect(other.status).toBe(404);

    const redeliver = await fetch(`${pipeline.url}/v1/requests/${id}/redeliver`, {
      method: 'POST',
      headers: { authorization: `Bearer ${GLOBEX_KEY}` },
    });
    expect(redeliver.status).toBe(202);
    const both = mine(await receiver.waitFor((all) => mine(all).length >= 2, { timeoutMs: 30_000 }));
    expect(both[1]!.webhookId).toBe(both[0]!.webhookId);
    expect(both[1]!.body).toBe(both[0]!.body);
  });
});
