import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from './receiver.js';

// Secrets are generated per test run: whsec_ + base64 of 32 random bytes.
const secretA = `whsec_${randomBytes(32).toString('base64')}`;
const secretB = `whsec_${randomBytes(32).toString('base64')}`;

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function start(options: Parameters<typeof startWebhookReceiver>[0]) {
  const receiver = await startWebhookReceiver(options);
  receivers.push(receiver);
  return receiver;
}

function signed(secret: string, id: string, body: string, timestamp = new Date()) {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, timestamp, body),
  };
}

// A plain node:http client, so the receiver is tested independently of the batchbridge sender.
function post(url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const body = JSON.stringify({ type: 'request.completed', data: { id: 'breq_1' } });

describe('startWebhookReceiver', () => {
  it('records deliveries and verifies their signatures', async () => {
    const receiver = await start({ secrets: [secretA] });
    expect(receiver.url('/hooks/a')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hooks\/a$/);
    const response = await post(receiver.url('/hooks/a'), signed(secretA, 'msg_1', body), body);
    expect(response.status).toBe(200);
    const [delivery] = receiver.deliveries();
    expect(delivery).toMatchObject({
      path: '/hooks/a',
      body,
      json: JSON.parse(body),
      webhookId: 'msg_1',
      verified: true,
    });
    expect(delivery?.headers['content-type']).toBe('application/json');
    expect(delivery?.receivedAt).toBeInstanceOf(Date);
  });

  it('marks tampered, wrongly signed, stale and unsigned deliveries as not verified', async () => {
    const receiver = await start({ secrets: [secretA] });
    await post(receiver.url(), signed(secretA, 'msg_1', body), body.replace('breq_1', 'breq_2'));
    await post(receiver.url(), signed(secretB, 'msg_2', body), body);
    await post(receiver.url(), signed(secretA, 'msg_3', body, new Date(Date.now() - 10 * 60_000)), body);
    await post(receiver.url(), { 'content-type': 'application/json' }, body);
    const deliveries = receiver.deliveries();
    expect(deliveries.map((d) => d.verified)).toEqual([false, false, false, false]);
    expect(deliveries.map((d) => d.verifyError)).toEqual([
      'No matching signature found',
      'No matching signature found',
      'Message timestamp too old',
      'Missing required headers',
    ]);
  });

  it('accepts either secret during a rotation and picks secrets by path', async () => {
    const receiver = await start({
      secrets: (path) => (path.startsWith('/a') ? [secretA, secretB] : path.startsWith('/b') ? secretB : undefined),
    });
    await post(receiver.url('/a'), signed(secretB, 'msg_1', body), body);
    await post(receiver.url('/b'), signed(secretA, 'msg_2', body), body);
    await post(receiver.url('/c'), signed(secretA, 'msg_3', body), body);
    expect(receiver.deliveries().map((d) => [d.path, d.verified])).toEqual([
      ['/a', true],
      ['/b', false],
      ['/c', false],
    ]);
  });

  it('answers as scripted, and the responder can be replaced', async () => {
    const receiver = await start({
      secrets: [secretA],
      respond: () => ({ status: 503, headers: { 'retry-after': '7' }, body: 'busy' }),
    });
    const first = await post(receiver.url(), signed(secretA, 'msg_1', body), body);
    expect(first).toMatchObject({ status: 503, body: 'busy', headers: { 'retry-after': '7' } });
    receiver.setResponder((delivery) => ({ status: delivery.webhookId === 'msg_1' ? 410 : 204 }));
    expect((await post(receiver.url(), signed(secretA, 'msg_1', body), body)).status).toBe(410);
    expect((await post(receiver.url(), signed(secretA, 'msg_2', body), body)).status).toBe(204);
  });

  it('dedupes by webhook-id and waits for a condition', async () => {
    const receiver = await start({ secrets: [secretA] });
    const waiting = receiver.waitFor((deliveries) => deliveries.length >= 3, { timeoutMs: 5_000 });
    await post(receiver.url(), signed(secretA, 'msg_1', body), body);
    await post(receiver.url(), signed(secretA, 'msg_1', body), body);
    await post(receiver.url(), signed(secretA, 'msg_2', body), body);
    expect(await waiting).toHaveLength(3);
    expect(receiver.uniqueByWebhookId().map((d) => d.webhookId)).toEqual(['msg_1', 'msg_2']);
  });

  it('rejects waitFor after the timeout', async () => {
    const receiver = await start({ secrets: [secretA] });
    await expect(receiver.waitFor((deliveries) => deliveries.length > 0, { timeoutMs: 50 })).rejects.toThrow(
      /not met within 50 ms \(0 deliveries\)/,
    );
  });

  it('records a delivery before a delayed answer, and close() drops it and is idempotent', async () => {
    const receiver = await start({ secrets: [secretA], respond: () => ({ status: 200, delayMs: 60_000 }) });
    const pending = post(receiver.url(), signed(secretA, 'msg_1', body), body).catch((error: Error) => error);
    await receiver.waitFor((deliveries) => deliveries.length === 1, { timeoutMs: 5_000 });
    const closing = receiver.close();
    expect(receiver.close()).toBe(closing);
    await closing;
    expect(await pending).toBeInstanceOf(Error);
  });
});
