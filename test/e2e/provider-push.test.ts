// Provider push (SPEC §13, issue 22): the bundled simulator sends OpenAI's batch webhooks to
// `POST /v1/provider-events/default`. What a user observes: with polls a minute apart, outcomes arrive within seconds
// of the provider's terminal status; an unsigned, forged or stale event gets 401 and changes nothing; an event sent
// twice is handled once; the simulator's faults (lost, duplicated, badly signed events) are survived.
import { randomBytes } from 'node:crypto';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver, waitFor } from '@batchbridge/testkit';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secrets: [String(TEST_TENANTS[0]!.webhook_secret)] });
  pipeline = await startPipeline({
    // Polls a minute apart (and the backstop of a pushing provider slower still): only push can be quick.
    POLL_INTERVAL_MS: '60000',
    POLL_MAX_INTERVAL_MS: '60000',
    POLL_MAX_INTERVAL_MS_PUSH: '600000',
    UPSTREAM_WEBHOOK_SECRET: SECRET,
    // Without SIM_WEBHOOK_URL the bundled simulator pushes to this process's own provider-events endpoint.
    SIM_WEBHOOK_SECRET: SECRET,
    // The first poll (right after submission) sees the batch still validating, so the next one is a minute away.
    SIM_VALIDATING_MS: '400',
    BATCH_MAX_WAIT_MS: '100',
  });
});
afterAll(async () => {
  await pipeline?.dispose();
  await receiver?.close();
});

const eventsUrl = (provider = 'default') => `${pipeline.url}/v1/provider-events/${provider}`;

async function send(n: number, tag: string): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const { status, json } = await submit(
        pipeline.url,
        ACME_KEY,
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${tag} ${i}: name a colour` }] },
        { 'x-callback-url': receiver.url(`/${tag}/${i}`) },
      );
      expect(status, JSON.stringify(json)).toBe(202);
      return String(json.id);
    }),
  );
  return ids;
}

function deliveredIds(): Set<string> {
  return new Set(receiver.uniqueByWebhookId().map((d) => (d.json as { data: { id: string } }).data.id));
}

async function request(id: string): Promise<{ status: string; batch_id: string | null }> {
  const res = await fetch(`${pipeline.url}/v1/requests/${id}`, { headers: { authorization: `Bearer ${ACME_KEY}` } });
  return (await res.json()) as { status: string; batch_id: string | null };
}

async function eventCount(outcome: string): Promise<number> {
  const values = (await pipeline.runtime.metrics.m.providerEvents.get()).values;
  return values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
}

/** An OpenAI batch event, signed as OpenAI signs it (Standard Webhooks, the reference library). */
function signedEvent(batchId: string, options: { secret?: string; at?: Date; eventId?: string } = {}) {
  const body = JSON.stringify({
    id: options.eventId ?? `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    created_at: Math.floor(Date.now() / 1000),
    type: 'batch.completed',
    data: { id: batchId },
  });
  const webhookId = `wh_${randomBytes(12).toString('hex')}`;
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? SECRET).sign(webhookId, at, body);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    },
  };
}

async function post(event: { body: string; headers: Record<string, string> }, provider = 'default') {
  const res = await fetch(eventsUrl(provider), { method: 'POST', headers: event.headers, body: event.body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Sends requests whose batch's event the simulator loses, and waits until that batch is done at the provider. */
async function batchWithLostEvent(tag: string): Promise<{ id: string; batchId: string }> {
  const lostBefore = pipeline.sim!.webhookStats().lost;
  pipeline.sim!.setFaults({ webhookLost: 1 });
  const [id] = await send(1, tag);
  await waitFor('the simulator finished the batch and lost its event', () =>
    pipeline.sim!.webhookStats().lost > lostBefore ? true : undefined,
  );
  const record = await request(id!);
  expect(record.status).toBe('submitted');
  return { id: id!, batchId: String(record.batch_id) };
}

describe('provider push (SPEC §13)', () => {
  it('delivers outcomes within seconds of the terminal status though polls are a minute apart', async () => {
    const started = Date.now();
    const ids = await send(4, 'push');
    await receiver.waitFor(() => ids.every((id) => deliveredIds().has(id)), { timeoutMs: 20_000 });
    const elapsed = Date.now() - started;
    // The next poll was 60 s away: only the pushed event can have routed the batch this soon.
    expect(elapsed).toBeLessThan(20_000);
    for (const d of receiver.uniqueByWebhookId()) expect(d.verified).toBe(true);
    expect(await eventCount('polled')).toBeGreaterThanOrEqual(1);
    expect(await eventCount('refused')).toBe(0);
    // Observed by the dispatcher once each delivery is recorded (just after the receiver answered).
    await waitFor('terminal-to-delivery latency of the four outcomes', async () => {
      const latency = (await pipeline.runtime.metrics.m.providerTerminalToDelivery.get()).values;
      return (latency.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0) >= 4 ? true : undefined;
    });
  });

  it('answers 401 to unsigned, forged and stale events, and they change nothing', async () => {
    const { id, batchId } = await batchWithLostEvent('forged');
    const unsigned = signedEvent(batchId);
    const bare = await post({ body: unsigned.body, headers: { 'content-type': 'application/json' } });
    expect(bare.status).toBe(401);
    const forged = await post(signedEvent(batchId, { secret: `whsec_${randomBytes(32).toString('base64')}` }));
    expect(forged.status).toBe(401);
    expect((forged.json.error as { code: string }).code).toBe('invalid_signature');
    const stale = await post(signedEvent(batchId, { at: new Date(Date.now() - 10 * 60_000) }));
    expect(stale.status).toBe(401);
    expect((stale.json.error as { code: string }).code).toBe('stale_event');
    // Tampered: a genuine signature over another body.
    const genuine = signedEvent(batchId);
    const tampered = await post({ ...genuine, body: genuine.body.replace('batch.completed', 'batch.cancelled') });
    expect(tampered.status).toBe(401);

    await new Promise((r) => setTimeout(r, 1_500));
    expect((await request(id)).status).toBe('submitted');
    expect(deliveredIds().has(id)).toBe(false);

    // The genuine event, then the same event again (a provider's retry): polled once, the second one deduped.
    const first = await post(genuine);
    expect(first.status).toBe(200);
    expect(first.json.outcome).toBe('polled');
    const again = await post({ ...genuine, headers: { ...genuine.headers } });
    expect(again.status).toBe(200);
    expect(again.json.outcome).toBe('duplicate');
    await receiver.waitFor(() => deliveredIds().has(id), { timeoutMs: 10_000 });
    expect((await request(id)).status).toBe('completed');
    expect(
      receiver.uniqueByWebhookId().filter((d) => (d.json as { data: { id: string } }).data.id === id),
    ).toHaveLength(1);
  });

  it('survives the simulator duplicating an event and signing one badly', async () => {
    const duplicatesBefore = await eventCount('duplicate');
    pipeline.sim!.setFaults({ webhookDuplicate: 1 });
    const [dup] = await send(1, 'dup');
    await receiver.waitFor(() => deliveredIds().has(dup!), { timeoutMs: 20_000 });
    await waitFor('the duplicate event was answered as one', async () =>
      (await eventCount('duplicate')) > duplicatesBefore ? true : undefined,
    );
    expect(
      receiver.uniqueByWebhookId().filter((d) => (d.json as { data: { id: string } }).data.id === dup),
    ).toHaveLength(1);

    const refusedBefore = await eventCount('refused');
    pipeline.sim!.setFaults({ webhookBadSignature: 1 });
    const [bad] = await send(1, 'badsig');
    await waitFor('the badly signed event was refused', async () =>
      (await eventCount('refused')) > refusedBefore ? true : undefined,
    );
    expect(pipeline.sim!.webhookStats().badSignature).toBe(1);
    // Refused, so nothing moved: the batch waits for its backstop poll (or the provider's next event).
    expect((await request(bad!)).status).toBe('submitted');
    const { batch_id } = await request(bad!);
    expect((await post(signedEvent(String(batch_id)))).json.outcome).toBe('polled');
    await receiver.waitFor(() => deliveredIds().has(bad!), { timeoutMs: 10_000 });
  });

  it('answers 200 and changes nothing for events it has no batch for, 404 for an unknown provider', async () => {
    const unknown = await post(signedEvent('batch_not_ours'));
    expect(unknown.status).toBe(200);
    expect(unknown.json.outcome).toBe('unknown_batch');
    const other = await post(signedEvent('batch_x'), 'nobody');
    expect(other.status).toBe(404);
    const notBatch = signedEvent('resp_1');
    const body = notBatch.body.replace('batch.completed', 'response.completed');
    const at = new Date();
    const headers = {
      ...notBatch.headers,
      'webhook-signature': new Webhook(SECRET).sign(notBatch.headers['webhook-id'], at, body),
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    };
    const ignored = await post({ body, headers });
    expect(ignored.status).toBe(200);
    expect(ignored.json.outcome).toBe('ignored');
  });
});
