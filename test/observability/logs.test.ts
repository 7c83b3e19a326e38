// Logs that trace a request (issue 7): one grep of a request id tells its whole life — accepted, submitted in a
// batch, settled, delivered (or dead-lettered and redelivered) — every such line names the tenant and, once known,
// the batch; and no line of the run carries an API key, a webhook secret, the upstream key, the admin key, an
// authorization header value or the prompt text.
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObservedPipeline, startObservedPipeline } from './observed-pipeline.js';

const ACME_KEY = TEST_TENANTS[0]!.api_keys[0]!;
const UPSTREAM_KEY = 'sk-upstream-log-test-9f8e7d6c5b4a';
const ADMIN_KEY = 'admin-log-test-key-0123456789';
const METRICS_TOKEN = 'metrics-token-log-test-abcdef';
const WRONG_KEY = 'bb_wrong_key_presented_0123456789';
const PROMPT = 'PROMPT-MARKER the llama ate my homework 4242';

type Line = { msg: string; requestId?: string; tenant?: string; batchId?: string; level: string } & Record<
  string,
  unknown
>;

let pipeline: ObservedPipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({
    secrets: [String(TEST_TENANTS[0]!.webhook_secret)],
    respond: (d) => ({ status: d.path.startsWith('/fail') ? 500 : 200 }),
  });
  pipeline = await startObservedPipeline({
    UPSTREAM_API_KEY: UPSTREAM_KEY,
    ADMIN_KEY,
    METRICS_TOKEN,
    LOG_LEVEL: 'debug',
  });
});
afterAll(async () => {
  await pipeline?.dispose();
  await receiver?.close();
});

async function post(path: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(pipeline.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function linesOf(requestId: string): Line[] {
  return pipeline.lines.filter((l) => l.includes(requestId)).map((l) => JSON.parse(l) as Line);
}

describe('logs', () => {
  it('trace each request by its id, with tenant and batch id, and never carry secrets or prompts', async () => {
    const chat = (callback: string) =>
      post(
        '/v1/chat/completions',
        ACME_KEY,
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] },
        {
          'x-callback-url': receiver.url(callback),
        },
      );
    const fine = await chat('/ok');
    const failing = await chat('/fail');
    expect([fine.status, failing.status]).toEqual([202, 202]);
    const fineId = String(fine.json.id);
    const failingId = String(failing.json.id);
    // A refused key: its value must not reach the logs either.
    expect((await post('/v1/chat/completions', WRONG_KEY, { model: 'gpt-4o-mini', messages: [] })).status).toBe(401);

    await receiver.waitFor((ds) => ds.filter((d) => d.path === '/ok').length >= 1, { timeoutMs: 30_000 });
    await expect.poll(() => pipeline.runtime.store.deadLetters.count(), { timeout: 30_000 }).toBe(1);
    receiver.setResponder(() => ({ status: 200 }));
    expect((await post(`/v1/requests/${failingId}/redeliver`, ACME_KEY, {})).status).toBe(202);
    await receiver.waitFor((ds) => ds.filter((d) => d.path === '/fail').length >= 4, { timeoutMs: 30_000 });
    // The operator page and the metrics, with their keys.
    expect(
      (await fetch(`${pipeline.url}/admin/overview.json`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }))
        .status,
    ).toBe(200);
    expect(
      (await fetch(`${pipeline.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status,
    ).toBe(200);
    await expect
      .poll(() => linesOf(failingId).some((l) => l.msg === 'webhook delivered'), { timeout: 10_000 })
      .toBe(true);

    // One grep of the completed request's id: accepted, submitted in its batch, settled, delivered.
    const batchId = (await pipeline.runtime.store.requests.get(fineId))!.batch_id!;
    const fineLines = linesOf(fineId);
    const messages = fineLines.map((l) => l.msg);
    for (const step of ['request accepted', 'request submitted in batch', 'request settled', 'webhook delivered']) {
      expect(messages, `${step} in ${JSON.stringify(messages)}`).toContain(step);
    }
    for (const line of fineLines) {
      expect(line.requestId, line.msg).toBe(fineId);
      expect(line.tenant, line.msg).toBe('acme');
      if (line.msg !== 'request accepted') expect(line.batchId, line.msg).toBe(batchId);
    }
    expect(fineLines.find((l) => l.msg === 'request settled')?.outcome).toBe('completed');

    // The dead-lettered one: its failed attempts, the dead letter, the redelivery and the final delivery.
    const failingMessages = linesOf(failingId).map((l) => l.msg);
    for (const step of [
      'request accepted',
      'request submitted in batch',
      'request settled',
      'last delivery attempt failed; outcome dead-lettered',
      'redelivery requested',
      'webhook delivered',
    ]) {
      expect(failingMessages, `${step} in ${JSON.stringify(failingMessages)}`).toContain(step);
    }
    for (const line of linesOf(failingId)) expect(line.tenant, line.msg).toBe('acme');

    // Nothing secret anywhere in the run's logs.
    const secrets = [
      ...TEST_TENANTS.flatMap((t) => t.api_keys),
      ...TEST_TENANTS.flatMap((t) => [t.webhook_secret ?? []].flat()),
      UPSTREAM_KEY,
      ADMIN_KEY,
      METRICS_TOKEN,
      WRONG_KEY,
      'PROMPT-MARKER',
      'homework',
    ];
    expect(pipeline.lines.length).toBeGreaterThan(20);
    for (const line of pipeline.lines) {
      for (const secret of secrets) expect(line.includes(secret), `${secret} in ${line}`).toBe(false);
      expect(line, line).not.toMatch(/whsec_|Bearer /);
      expect(() => JSON.parse(line)).not.toThrow();
    }
  });
});
