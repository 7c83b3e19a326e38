// The whole pipeline in one process, as `pnpm start` runs it: ingest → packer → simulator → poller → dispatcher →
// a real receiver that verifies Standard Webhooks signatures. What a user observes: one signed webhook per request,
// carrying the completion that belongs to that request, to that tenant's URL only.
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, GLOBEX_KEY, startPipeline, submit } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  pipeline = await startPipeline({ BATCH_MAX_REQUESTS: '150' });
  receiver = await startWebhookReceiver({
    secrets: (path) =>
      path.startsWith('/acme') ? [String(TEST_TENANTS[0]!.webhook_secret)] : [String(TEST_TENANTS[1]!.webhook_secret)],
  });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
});

describe('end to end', () => {
  it('delivers 1 000 requests over several batches and two models, each once, signed, with its own result', async () => {
    const bodies = new Map<string, { model: string; messages: Array<{ role: string; content: string }> }>();
    const models = ['gpt-4o-mini', 'gpt-4.1-mini'];
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 1_000; i++) {
      const body = {
        model: models[i % 2]!,
        messages: [{ role: 'user', content: `prompt ${i}: what is ${i} squared?` }],
      };
      pending.push(
        submit(pipeline.url, ACME_KEY, body, {
          'x-callback-url': receiver.url(`/acme/${i}`),
          'x-custom-id': `client-${i}`,
        }).then(({ status, json }) => {
          expect(status).toBe(202);
          bodies.set(String(json.id), body);
        }),
      );
      if (pending.length >= 50) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    expect(bodies.size).toBe(1_000);

    await receiver.waitFor(() => receiver.uniqueByWebhookId().length >= 1_000, { timeoutMs: 120_000 });
    const unique = receiver.uniqueByWebhookId();
    expect(unique).toHaveLength(1_000);
    for (const d of unique) {
      expect(d.verified).toBe(true);
      const event = d.json as {
        type: string;
        data: {
          id: string;
          custom_id: string;
          status: string;
          response: { body: { choices: Array<{ message: { content: string } }> } };
        };
      };
      expect(event.type).toBe('request.completed');
      const body = bodies.get(event.data.id);
      expect(body, event.data.id).toBeDefined();
      // Routed by custom_id: the content is the simulator's deterministic answer to *this* request's messages.
      expect(event.data.response.body.choices[0]!.message.content).toBe(
        simulatedCompletion(body!).choices[0]!.message.content,
      );
      expect(d.path).toBe(`/acme/${event.data.custom_id.slice('client-'.length)}`);
    }
    const counters = pipeline.sim!.counters();
    expect(counters.batchesCreated).toBeGreaterThanOrEqual(8); // 500 per model in batches of ≤ 150
    expect(counters.customIdsAnsweredTwice).toEqual([]);
  });

  it('answers GET with the final request object, and keeps tenants apart', async () => {
    const { json } = await submit(
      pipeline.url,
      GLOBEX_KEY,
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from globex' }] },
      { 'x-callback-url': receiver.url('/globex/1') },
    );
    const id = String(json.id);
    await receiver.waitFor((all) => all.some((d) => (d.json as { data?: { id?: string } }).data?.id === id), {
      timeoutMs: 30_000,
    });
    const own = await fetch(`${pipeline.url}/v1/requests/${id}`, {
      headers: { authorization: `Bearer ${GLOBEX_KEY}` },
    });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ id, status: 'completed', attempts: 1 });
    const other = await fetch(`${pipeline.url}/v1/requests/${id}`, {
      headers: { authorization: `Bearer ${ACME_KEY}` },
    });
    expect(other.status).toBe(404);
    const globexDeliveries = receiver.deliveries().filter((d) => d.path.startsWith('/globex'));
    expect(globexDeliveries.every((d) => (d.json as { data: { id: string } }).data.id === id)).toBe(true);
  });
});
