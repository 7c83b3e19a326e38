// Issue 10: replicas of every service as separate processes on one Redis — 2 ingest APIs, 3 packers, 2 pollers and
// 2 dispatchers, all with the same environment, none a leader. Packers race for the same groups, pollers and
// dispatchers for the same queues. What must hold (SPEC §6): no request in two provider batches (I2), every outcome
// delivered, and a receiver that dedupes on `webhook-id` sees each outcome once (I3).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLUSH_METADATA_KEY } from '@batchbridge/provider';
import { createProviderSim, FAST_TIMINGS, type ProviderSim } from '@batchbridge/provider-sim';
import { freePort } from '@batchbridge/redis';
import {
  createTestRuntime,
  sharedRedisUrl,
  startWebhookReceiver,
  TEST_TENANTS,
  type TestRuntime,
  type WebhookReceiver,
} from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceName, ServiceProcesses } from './service-processes.js';

const REQUESTS = 1_000;
const PARTITIONS = 2;
const MODELS = ['gpt-4o-mini', 'gpt-4.1-mini'];
const TENANTS = TEST_TENANTS.map((t) => ({ ...t, allowed_models: ['*'], max_queued: 10_000 }));
const KEYS = new Map(TENANTS.map((t) => [t.id, String(t.api_keys[0])]));
const SECRETS = new Map(TENANTS.map((t) => [t.id, String(t.webhook_secret)]));

const processes = new ServiceProcesses();
let rt: TestRuntime;
let sim: ProviderSim;
let receiver: WebhookReceiver;
let tmp: string;
let redisStop: () => Promise<void> = async () => undefined;
const ingestUrls: string[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'bb-replicas-'));
  const tenantsFile = join(tmp, 'tenants.json');
  writeFileSync(tenantsFile, JSON.stringify({ tenants: TENANTS }));
  const redis = await sharedRedisUrl();
  redisStop = redis.stop;
  // The test's own runtime shares the children's prefix: it reads their records and deletes every key at the end.
  rt = await createTestRuntime({ redisUrl: redis.url, env: { REDIS_PARTITIONS: String(PARTITIONS) } });
  sim = await createProviderSim({ profile: 'openai', timings: FAST_TIMINGS });
  receiver = await startWebhookReceiver({ secrets: (path) => SECRETS.get(path.split('/')[1] ?? '') ?? [] });

  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: rt.prefix,
    REDIS_PARTITIONS: String(PARTITIONS),
    TENANTS_FILE: tenantsFile,
    UPSTREAM_BASE_URL: sim.url,
    UPSTREAM_API_KEY: 'sk-replicas',
    LOG_LEVEL: 'warn',
    // Flushes mostly on count. The openai profile allows 60 batches.create per minute across all packers; a short
    // wait would cut the 4 groups (2 partitions × 2 models) into more small batches than that, and the run would
    // wait for the next minute.
    BATCH_MAX_REQUESTS: '100',
    BATCH_MAX_WAIT_MS: '3000',
    POLL_INTERVAL_MS: '50',
    POLL_MAX_INTERVAL_MS: '200',
    WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,400ms',
    REDIS_DATA_DIR: join(tmp, 'redis'),
  };
  const start = async (service: ServiceName, n: number) => {
    // A free port may be taken by another test's process before this one binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const own = service === 'ingest-api' ? { PORT: String(port) } : { METRICS_PORT: String(port) };
      try {
        await processes.start(`${service}-${n}`, service, { ...env, ...own }, `http://127.0.0.1:${port}/readyz`);
      } catch (err) {
        if (attempt < 3 && String((err as Error).message).includes('EADDRINUSE')) continue;
        throw err;
      }
      if (service === 'ingest-api') ingestUrls.push(`http://127.0.0.1:${port}`);
      return;
    }
  };
  // Workers first, intake last; started two at a time so that nine tsx start-ups do not starve each other.
  const plan: Array<[ServiceName, number]> = [
    ['dispatcher', 1],
    ['dispatcher', 2],
    ['poller', 1],
    ['poller', 2],
    ['packer', 1],
    ['packer', 2],
    ['packer', 3],
    ['ingest-api', 1],
    ['ingest-api', 2],
  ];
  for (let i = 0; i < plan.length; i += 2) await Promise.all(plan.slice(i, i + 2).map(([s, n]) => start(s, n)));
}, 120_000);

afterAll(async () => {
  await processes.stopAll();
  await receiver?.close();
  await sim?.close();
  await rt?.dispose();
  await redisStop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Sent {
  tenant: string;
  path: string;
}

describe('2 ingest APIs, 3 packers, 2 pollers, 2 dispatchers as processes on one Redis', () => {
  it('puts each request in one flush and one batch, and delivers each outcome once under one webhook-id', async () => {
    const sent = new Map<string, Sent>();
    const viaIngest = [0, 0];
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < REQUESTS; i++) {
      const tenant = i % 2 === 0 ? 'acme' : 'globex';
      const api = i % ingestUrls.length;
      const path = `/${tenant}/${i}`;
      pending.push(
        fetch(`${ingestUrls[api]}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${KEYS.get(tenant)}`,
            'content-type': 'application/json',
            'x-callback-url': receiver.url(path),
          },
          body: JSON.stringify({
            model: MODELS[Math.floor(i / 2) % MODELS.length],
            messages: [{ role: 'user', content: `replica prompt ${i}` }],
          }),
        }).then(async (res) => {
          const json = (await res.json()) as { id: string };
          expect(res.status, JSON.stringify(json)).toBe(202);
          sent.set(json.id, { tenant, path });
          viaIngest[api]! += 1;
        }),
      );
      if (pending.length >= 40) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    expect(sent.size).toBe(REQUESTS);
    expect(viaIngest).toEqual([REQUESTS / 2, REQUESTS / 2]);

    await receiver.waitFor(() => receiver.uniqueByWebhookId().length >= REQUESTS, { timeoutMs: 150_000 });
    expect(processes.exitedEarly().map((p) => `${p.name}: ${p.tail()}`)).toEqual([]);

    // Every outcome arrived, signed, at its own URL, and no outcome came under two different webhook-ids.
    const webhookIdsByRequest = new Map<string, Set<string>>();
    for (const d of receiver.deliveries()) {
      expect(d.verified, d.verifyError).toBe(true);
      const event = d.json as { type: string; data: { id: string } };
      expect(event.type).toBe('request.completed');
      expect(d.path).toBe(sent.get(event.data.id)?.path);
      const ids = webhookIdsByRequest.get(event.data.id) ?? new Set<string>();
      ids.add(d.webhookId);
      webhookIdsByRequest.set(event.data.id, ids);
    }
    expect(webhookIdsByRequest.size).toBe(REQUESTS);
    const underSeveralIds = [...webhookIdsByRequest].filter(([, ids]) => ids.size > 1).map(([id]) => id);
    expect(underSeveralIds).toEqual([]);

    // No request in two batches: each was sent to the provider once and answered by exactly one batch.
    const counters = sim.counters();
    expect(counters.customIdsAnsweredTwice).toEqual([]);
    expect(counters.linesReceived).toBe(REQUESTS);
    expect(Object.keys(counters.outputBatchesByCustomId).sort()).toEqual([...sent.keys()].sort());

    // Each request in exactly one flush: one provider batch per flush, and every request's one batch is its flush's.
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-replicas', maxRetries: 0 });
    const flushOfBatch = new Map<string, string>();
    for await (const batch of client.batches.list({ limit: 100 })) {
      const flushId = batch.metadata?.[FLUSH_METADATA_KEY];
      expect(flushId, batch.id).toBeTypeOf('string');
      flushOfBatch.set(batch.id, flushId!);
    }
    expect(new Set(flushOfBatch.values()).size).toBe(flushOfBatch.size);
    expect(flushOfBatch.size).toBe(counters.batchesCreated);
    const flushesPerRequest = new Map<string, Set<string>>();
    for (const [id, batches] of Object.entries(counters.outputBatchesByCustomId)) {
      flushesPerRequest.set(id, new Set(batches.map((b) => flushOfBatch.get(b)!)));
    }
    expect([...flushesPerRequest.values()].filter((f) => f.size !== 1)).toEqual([]);
    expect(counters.batchesCreated).toBeGreaterThanOrEqual(REQUESTS / 100); // BATCH_MAX_REQUESTS=100

    // What GET would answer: completed after one attempt, recorded in the flush and batch the provider answered from.
    const ids = [...sent.keys()];
    for (let i = 0; i < ids.length; i += 100) {
      const records = await Promise.all(ids.slice(i, i + 100).map((id) => rt.store.requests.get(id)));
      for (const [j, record] of records.entries()) {
        const id = ids[i + j]!;
        expect(record, id).toMatchObject({ status: 'completed', attempts: 1 });
        const batchId = counters.outputBatchesByCustomId[id]?.[0];
        expect(record?.batch_id, id).toBe(batchId);
        expect(record?.flush_id, id).toBe(flushOfBatch.get(batchId!));
      }
    }
    expect(await rt.store.requests.stateCounts()).toEqual({ queued: 0, batched: 0, submitted: 0 });
  }, 200_000); // ~30 s on a quiet 2-core box; the margin is for a box other test runs share
});
