// Several providers behind one deployment (SPEC §11, issue 19): two simulators at once on real HTTP — an OpenAI one
// and a Together one — and PROVIDERS_FILE routing by model (exact, glob, alias). What a user observes: each model's
// requests reach the provider that serves it, under that provider's own model name, and come back signed, once; with
// one provider failing every batch create, new flushes of a model both serve go to the other, none lost, none paid
// twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const dir = mkdtempSync(join(tmpdir(), 'bb-providers-e2e-'));
let openai: ProviderSim;
let together: ProviderSim;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

const FAST = { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 };
const TOGETHER_LLAMA = 'meta-llama/Llama-3.3-70B-Instruct-Turbo';

beforeAll(async () => {
  openai = await createProviderSim({ profile: 'openai', timings: FAST, models: ['gpt-4o-mini', 'oa-llama-3.3-70b'] });
  together = await createProviderSim({
    profile: 'together',
    timings: FAST,
    models: [TOGETHER_LLAMA, 'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo'],
  });
  const providersFile = join(dir, 'providers.json');
  writeFileSync(
    providersFile,
    JSON.stringify({
      providers: [
        {
          id: 'oa',
          profile: 'openai',
          base_url: openai.url,
          api_key: 'sk-oa',
          models: ['gpt-4o-mini'],
          aliases: { 'llama-3.3-70b': 'oa-llama-3.3-70b' },
          priority: 10,
        },
        {
          id: 'tg',
          profile: 'together',
          base_url: together.url,
          api_key_env: 'TG_KEY',
          models: ['meta-llama/*'],
          aliases: { 'llama-3.3-70b': TOGETHER_LLAMA },
          priority: 20,
        },
      ],
    }),
  );
  pipeline = await startPipeline({
    PROVIDERS_FILE: providersFile,
    TG_KEY: 'sk-tg',
    BATCH_MAX_REQUESTS: '10',
    PROVIDER_CIRCUIT_FAILURES: '2',
    PROVIDER_CIRCUIT_COOLDOWN: '60s',
  });
  receiver = await startWebhookReceiver({ secrets: () => [String(TEST_TENANTS[0]!.webhook_secret)] });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
  await openai?.close();
  await together?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Delivered {
  type: string;
  data: {
    id: string;
    status: string;
    response: { body: { model: string; choices: Array<{ message: { content: string } }> } };
  };
}

async function send(model: string, n: number, tag: string): Promise<Map<string, { model: string; content: string }>> {
  const sent = new Map<string, { model: string; content: string }>();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const content = `${tag} ${i}: name a colour`;
      const { status, json } = await submit(
        pipeline.url,
        ACME_KEY,
        { model, messages: [{ role: 'user', content }] },
        { 'x-callback-url': receiver.url(`/${tag}/${i}`) },
      );
      expect(status, JSON.stringify(json)).toBe(202);
      sent.set(String(json.id), { model, content });
    }),
  );
  return sent;
}

function deliveredFor(ids: Iterable<string>): Map<string, Delivered> {
  const wanted = new Set(ids);
  const out = new Map<string, Delivered>();
  for (const d of receiver.uniqueByWebhookId()) {
    const event = d.json as Delivered;
    if (wanted.has(event.data.id)) {
      expect(d.verified).toBe(true);
      out.set(event.data.id, event);
    }
  }
  return out;
}

describe('several providers behind one deployment', () => {
  it('routes each model to the provider that serves it, under its own name, signed and once', async () => {
    const gpt = await send('gpt-4o-mini', 12, 'gpt');
    const glob = await send('meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo', 7, 'glob');
    const alias = await send('llama-3.3-70b', 9, 'alias');
    const all = [...gpt.keys(), ...glob.keys(), ...alias.keys()];
    await receiver.waitFor(() => deliveredFor(all).size >= all.length, { timeoutMs: 60_000 });
    const delivered = deliveredFor(all);
    expect(delivered.size).toBe(all.length);
    const check = (sent: Map<string, { model: string; content: string }>, providerModel: string) => {
      for (const [id, s] of sent) {
        const event = delivered.get(id)!;
        expect(event.type).toBe('request.completed');
        // The simulator answers deterministically from the model it was sent and the messages: the line went to the
        // provider under that provider's name.
        const expected = simulatedCompletion({
          model: providerModel,
          messages: [{ role: 'user', content: s.content }],
        });
        expect(event.data.response.body.choices[0]!.message.content).toBe(expected.choices[0]!.message.content);
      }
    };
    check(gpt, 'gpt-4o-mini');
    check(glob, 'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo');
    // The alias goes to the preferred provider (priority 10) under its own name.
    check(alias, 'oa-llama-3.3-70b');
    const oa = openai.counters();
    const tg = together.counters();
    expect(oa.linesReceived).toBe(gpt.size + alias.size);
    expect(tg.linesReceived).toBe(glob.size);
    expect(oa.customIdsAnsweredTwice).toEqual([]);
    expect(tg.customIdsAnsweredTwice).toEqual([]);

    // A model no provider serves is refused at the door; the model list names each provider's models.
    const refused = await submit(pipeline.url, ACME_KEY, {
      model: 'no-such-model',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(refused.status).toBe(400);
    expect((refused.json as { error: { code: string } }).error.code).toBe('model_not_found');
    const list = (await (
      await fetch(`${pipeline.url}/v1/models`, { headers: { authorization: `Bearer ${ACME_KEY}` } })
    ).json()) as { data: Array<{ id: string; owned_by: string }> };
    expect(list.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'gpt-4o-mini', owned_by: 'oa' }),
        expect.objectContaining({ id: 'llama-3.3-70b', owned_by: 'oa' }),
        expect.objectContaining({ id: TOGETHER_LLAMA, owned_by: 'tg' }),
      ]),
    );
  });

  it('fails new flushes over to the other provider while one fails every create; nothing lost or paid twice', async () => {
    const before = { oa: openai.counters(), tg: together.counters() };
    openai.setFaults({ serverErrorFraction: { 'batches.create': 1 } });
    try {
      const alias = await send('llama-3.3-70b', 25, 'failover');
      await receiver.waitFor(() => deliveredFor(alias.keys()).size >= alias.size, { timeoutMs: 90_000 });
      const delivered = deliveredFor(alias.keys());
      expect(delivered.size).toBe(alias.size);
      for (const [id, s] of alias) {
        const event = delivered.get(id)!;
        expect(event.type).toBe('request.completed');
        // Answered by Together, under Together's name for the alias.
        const expected = simulatedCompletion({
          model: TOGETHER_LLAMA,
          messages: [{ role: 'user', content: s.content }],
        });
        expect(event.data.response.body.choices[0]!.message.content).toBe(expected.choices[0]!.message.content);
      }
      const oa = openai.counters();
      const tg = together.counters();
      // Not one batch was created at the failing provider, and Together answered each request once.
      expect(oa.batchesCreated).toBe(before.oa.batchesCreated);
      expect(oa.serverErrors).toBeGreaterThan(before.oa.serverErrors);
      expect(tg.linesReceived - before.tg.linesReceived).toBe(alias.size);
      expect(tg.customIdsAnsweredTwice).toEqual([]);

      const ready = (await (await fetch(`${pipeline.url}/readyz`)).json()) as {
        status: string;
        providers: Array<{ id: string; circuit: string; opened_by?: string }>;
      };
      expect(ready.status).toBe('ready');
      expect(ready.providers).toEqual([
        expect.objectContaining({ id: 'oa', circuit: 'open', opened_by: 'create' }),
        expect.objectContaining({ id: 'tg', circuit: 'closed' }),
      ]);
      const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
      expect(metrics).toMatch(/batchbridge_provider_circuit_open\{provider="oa"\} 1/);
      expect(metrics).toMatch(/batchbridge_provider_circuit_open\{provider="tg"\} 0/);
      expect(metrics).toMatch(/batchbridge_provider_failovers_total\{from="oa",to="tg"\} [1-9]/);
    } finally {
      openai.clearFaults();
    }
  });
});
