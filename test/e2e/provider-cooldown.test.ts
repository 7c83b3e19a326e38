// A provider's circuit over its whole life (SPEC §11 failover, issue 19): two OpenAI-compatible simulators serve the
// same model. While the preferred one fails every batch create its circuit opens and new flushes go to the other;
// once it recovers and the cool-down has passed, new requests probe it, the probe's create succeeds, the circuit
// closes and the preferred provider takes the model's batches again. What a user observes: every request answered,
// signed, once; no batch created at a failing provider; /readyz and the operator page saying which circuit is open.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProviderSim, type ProviderSim } from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver, waitFor } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const dir = mkdtempSync(join(tmpdir(), 'bb-cooldown-e2e-'));
const FAST = { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 };
const COOLDOWN_MS = 1_500;
const ADMIN_KEY = 'admin-key-for-the-cooldown-test';
let primary: ProviderSim;
let backup: ProviderSim;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  primary = await createProviderSim({ profile: 'openai', timings: FAST, models: ['gpt-4o-mini'] });
  backup = await createProviderSim({ profile: 'openai', timings: FAST, models: ['gpt-4o-mini'] });
  const providersFile = join(dir, 'providers.json');
  writeFileSync(
    providersFile,
    JSON.stringify({
      providers: [
        { id: 'primary', profile: 'openai', base_url: primary.url, api_key: 'sk-p', models: ['gpt-*'], priority: 1 },
        { id: 'backup', profile: 'openai', base_url: backup.url, api_key: 'sk-b', models: ['gpt-*'], priority: 2 },
      ],
    }),
  );
  pipeline = await startPipeline({
    PROVIDERS_FILE: providersFile,
    BATCH_MAX_REQUESTS: '4',
    PROVIDER_CIRCUIT_FAILURES: '2',
    PROVIDER_CIRCUIT_COOLDOWN: `${COOLDOWN_MS}ms`,
    ADMIN_KEY,
  });
  receiver = await startWebhookReceiver({ secrets: () => [String(TEST_TENANTS[0]!.webhook_secret)] });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
  await primary?.close();
  await backup?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function send(n: number, tag: string): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const { status, json } = await submit(
        pipeline.url,
        ACME_KEY,
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${tag} ${i}` }] },
        { 'x-callback-url': receiver.url(`/${tag}/${i}`) },
      );
      expect(status, JSON.stringify(json)).toBe(202);
      return String(json.id);
    }),
  );
}

async function completed(ids: string[]): Promise<void> {
  const wanted = new Set(ids);
  const done = () =>
    receiver.uniqueByWebhookId().filter((d) => wanted.has((d.json as { data: { id: string } }).data.id) && d.verified)
      .length;
  await receiver.waitFor(() => done() >= ids.length, { timeoutMs: 90_000 });
  for (const d of receiver.uniqueByWebhookId()) {
    const event = d.json as { type: string; data: { id: string } };
    if (wanted.has(event.data.id)) expect(event.type).toBe('request.completed');
  }
  expect(done()).toBe(ids.length);
}

async function circuits(): Promise<Record<string, string>> {
  const ready = (await (await fetch(`${pipeline.url}/readyz`)).json()) as {
    providers: Array<{ id: string; circuit: string }>;
  };
  return Object.fromEntries(ready.providers.map((p) => [p.id, p.circuit]));
}

async function adminPage(): Promise<string> {
  const res = await fetch(`${pipeline.url}/admin/`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('provider circuit: open, fail over, cool down, probe, close', () => {
  it('sends flushes to the backup while the primary fails, and back to the primary after its cool-down', {
    timeout: 180_000,
  }, async () => {
    primary.setFaults({ serverErrorFraction: { 'batches.create': 1 } });
    const during = await send(10, 'down');
    await completed(during);
    expect(primary.counters().batchesCreated).toBe(0);
    expect(backup.counters().linesReceived).toBe(during.length);
    expect(await circuits()).toEqual({ primary: 'open', backup: 'closed' });
    const openPage = await adminPage();
    expect(openPage).toMatch(/<h2>Providers<\/h2>/);
    expect(openPage).toMatch(/<td>primary<\/td><td>openai<\/td><td[^>]*>open<\/td><td>create<\/td>/);
    expect(openPage).toMatch(/<td>backup<\/td><td>openai<\/td><td[^>]*>closed<\/td>/);

    // The primary recovers. Traffic goes on; once its cool-down has passed, a new flush probes it, and the probe's
    // create closes the circuit.
    primary.clearFaults();
    const after: string[] = [];
    let round = 0;
    await waitFor(
      'the primary circuit to close',
      async () => {
        after.push(...(await send(2, `up${round++}`)));
        await new Promise((r) => setTimeout(r, 300));
        return (await circuits()).primary === 'closed';
      },
      60_000,
    );
    await completed(after);
    expect(await circuits()).toEqual({ primary: 'closed', backup: 'closed' });
    expect(primary.counters().batchesCreated).toBeGreaterThan(0);
    // Each request of both phases was answered by exactly one provider, once.
    const p = primary.counters();
    const b = backup.counters();
    expect(p.linesReceived + b.linesReceived).toBe(during.length + after.length);
    expect(p.customIdsAnsweredTwice).toEqual([]);
    expect(b.customIdsAnsweredTwice).toEqual([]);
    for (const id of during) expect(p.outputBatchesByCustomId[id]).toBeUndefined();

    // Once closed, the preferred provider takes all of the model's new batches again.
    const backupBefore = backup.counters().linesReceived;
    const settled = await send(6, 'settled');
    await completed(settled);
    expect(backup.counters().linesReceived).toBe(backupBefore);
    expect(await adminPage()).toMatch(/<td>primary<\/td><td>openai<\/td><td[^>]*>closed<\/td>/);
  });
});
