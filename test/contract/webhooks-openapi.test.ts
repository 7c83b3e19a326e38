// The OpenAPI document's `webhooks` section against real deliveries: the whole pipeline sends a completed, a failed and
// a cancelled outcome to a real receiver, and each body and its signature headers must validate against the event the
// document describes (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). A field the server sends and the document does
// not allow (the event schemas are closed), or a documented required one it does not send, fails here.
import type { WebhookEvent } from '@batchbridge/client';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from '../e2e/helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
type Operation = {
  post: {
    parameters: Array<{ name: string; in: string; required?: boolean; schema: object }>;
    requestBody: { content: Record<string, { schema: object }> };
  };
};
type Doc = { webhooks: Record<string, Operation>; components: object };

let pipeline: Pipeline;
let receiver: WebhookReceiver;
let doc: Doc;

beforeAll(async () => {
  // A flush age long enough that the cancel below always finds its request still queued.
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '1500' });
  receiver = await startWebhookReceiver({ secrets: [String(TEST_TENANTS[0]!.webhook_secret)] });
  const res = await fetch(`${pipeline.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
});

describe('OpenAPI webhooks', () => {
  it('documents the three outcome events exactly as they are delivered', async () => {
    expect(
      Object.keys(doc.webhooks)
        .filter((k) => k.startsWith('request.'))
        .sort(),
    ).toEqual(['request.cancelled', 'request.completed', 'request.failed']);

    const send = async (name: string, content: string) => {
      const { status, json } = await submit(
        pipeline.url,
        ACME_KEY,
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] },
        { 'x-callback-url': receiver.url(`/${name}`), 'x-custom-id': name },
      );
      expect(status).toBe(202);
      return String(json.id);
    };
    const completed = await send('completed', 'hello');
    const failed = await send('failed', 'refuse this [sim:error=400]');
    const cancelled = await send('cancelled', 'never mind');
    const cancel = await fetch(`${pipeline.url}/v1/requests/${cancelled}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME_KEY}` },
    });
    expect(cancel.status).toBe(200);

    await receiver.waitFor((all) => new Set(all.map((d) => d.webhookId)).size >= 3, { timeoutMs: 60_000 });
    const byPath = new Map(receiver.uniqueByWebhookId().map((d) => [d.path, d]));

    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'bb-openapi', components: doc.components });
    const rewrite = (schema: object) =>
      JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"bb-openapi#/components/')) as object;

    const expected: Array<[string, string, string]> = [
      ['completed', 'request.completed', completed],
      ['failed', 'request.failed', failed],
      ['cancelled', 'request.cancelled', cancelled],
    ];
    for (const [path, type, id] of expected) {
      const delivery = byPath.get(`/${path}`);
      expect(delivery, `no ${type} delivery`).toBeDefined();
      expect(delivery!.verified).toBe(true);
      const event = delivery!.json as WebhookEvent;
      expect(event.type).toBe(type);
      expect(event.data.id).toBe(id);
      expect(event.data.custom_id).toBe(path);

      const operation = doc.webhooks[type]!.post;
      const validate = ajv.compile(rewrite(operation.requestBody.content['application/json']!.schema));
      expect(validate(event), `${type}: ${ajv.errorsText(validate.errors)} in ${delivery!.body}`).toBe(true);
      // Another event's schema must refuse it: the `type` constant is part of each event's contract.
      const other = expected.find(([, t]) => t !== type)![1];
      const validateOther = ajv.compile(
        rewrite(doc.webhooks[other]!.post.requestBody.content['application/json']!.schema),
      );
      expect(validateOther(event)).toBe(false);

      for (const header of operation.parameters.filter((p) => p.in === 'header')) {
        const value = delivery!.headers[header.name];
        if (header.required) expect(value, `${type}: header ${header.name}`).toBeDefined();
        if (value === undefined) continue;
        const validateHeader = ajv.compile(header.schema);
        expect(validateHeader(value), `${type}: header ${header.name}=${value}`).toBe(true);
      }
    }
    const completedEvent = byPath.get('/completed')!.json as WebhookEvent;
    expect(completedEvent.data.status).toBe('completed');
    expect(completedEvent.data.response?.status_code).toBe(200);
    const failedEvent = byPath.get('/failed')!.json as WebhookEvent;
    expect(failedEvent.data.status).toBe('failed');
    expect(failedEvent.data.error?.code).toBeTruthy();
  });
});
