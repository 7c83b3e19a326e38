import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createAddressPolicy } from './address-policy.js';
import type { ResolveHost } from './resolve-host.js';
import { createWebhookSender, type WebhookSender } from './sender.js';
import { generateWebhookSecret, signWebhook } from './sign.js';

// Every server here listens on 127.0.0.1; no test sends anything to another address.
interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const hits: Hit[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    hits.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { port, hits, url: (path = '/hook') => `http://127.0.0.1:${port}${path}` };
}

function sender(options: Partial<Parameters<typeof createWebhookSender>[0]> = {}): WebhookSender {
  const created = createWebhookSender({ policy: laptop, ...options });
  cleanups.push(() => created.close());
  return created;
}

const laptop = createAddressPolicy({ allowCidrs: ['127.0.0.0/8'] });
const strict = createAddressPolicy({ allowCidrs: [] });
const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1733832768', 'webhook-signature': 'v1,abc' };
const body = JSON.stringify({ type: 'request.completed', data: { id: 'breq_1' } });

describe('createWebhookSender', () => {
  it('POSTs the exact body as JSON with the signed headers; 2xx is delivered', async () => {
    const server = await startServer((_req, res) => res.writeHead(202).end('thanks'));
    const result = await sender({ userAgent: 'bb-test/1' }).send({ url: server.url(), headers, body });
    expect(result).toMatchObject({ outcome: 'delivered', status: 202, responseSnippet: 'thanks' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(server.hits).toHaveLength(1);
    expect(server.hits[0]).toMatchObject({
      method: 'POST',
      url: '/hook',
      body,
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'bb-test/1' },
    });
  });

  it('delivers a signWebhook attempt that the receiver verifies with standardwebhooks', async () => {
    const secret = generateWebhookSecret();
    const server = await startServer((_req, res) => res.writeHead(204).end());
    const signed = signWebhook({ secret, id: 'msg_9', timestamp: new Date(), body });
    const result = await sender().send({
      url: server.url(),
      headers: { ...signed, 'Content-Type': 'text/plain' },
      body,
    });
    expect(result).toMatchObject({ outcome: 'delivered', status: 204 });
    const hit = server.hits[0];
    expect(hit?.headers['content-type']).toBe('application/json');
    expect(new Webhook(secret).verify(hit?.body ?? '', hit?.headers as Record<string, string>)).toEqual(
      JSON.parse(body),
    );
  });

  it('does not follow a redirect to 127.0.0.1 and counts it as a retryable failure', async () => {
    const internal = await startServer((_req, res) => res.writeHead(200).end());
    const redirecting = await startServer((_req, res) =>
      res.writeHead(302, { location: internal.url('/admin') }).end(),
    );
    const result = await sender().send({ url: redirecting.url(), headers, body });
    expect(result).toMatchObject({
      outcome: 'retry',
      status: 302,
      error: 'receiver answered 302; redirects are not followed',
    });
    expect(internal.hits).toHaveLength(0);
  });

  it('times out a receiver that does not answer, as a retry', async () => {
    const server = await startServer(() => {
      // never answers; the connection is dropped by the cleanup
    });
    const result = await sender({ timeoutMs: 300 }).send({ url: server.url(), headers, body });
    expect(result).toMatchObject({ outcome: 'retry', error: 'timed out after 300 ms' });
    expect(result.status).toBeUndefined();
    expect(server.hits).toHaveLength(1);
  });

  it('treats 410 as gone', async () => {
    const server = await startServer((_req, res) => res.writeHead(410).end('unsubscribed'));
    const result = await sender().send({ url: server.url(), headers, body });
    expect(result).toMatchObject({ outcome: 'gone', status: 410, responseSnippet: 'unsubscribed' });
  });

  it('retries other statuses and honours Retry-After in seconds and as a date', async () => {
    const server = await startServer((req, res) => {
      if (req.url === '/busy') res.writeHead(503, { 'retry-after': '30' }).end();
      else if (req.url === '/limited') {
        res.writeHead(429, { 'retry-after': new Date(Date.now() + 120_000).toUTCString() }).end();
      } else res.writeHead(500).end('boom');
    });
    const send = sender();
    expect(await send.send({ url: server.url('/busy'), headers, body })).toMatchObject({
      outcome: 'retry',
      status: 503,
      retryAfterMs: 30_000,
    });
    const limited = await send.send({ url: server.url('/limited'), headers, body });
    expect(limited).toMatchObject({ outcome: 'retry', status: 429 });
    expect(limited.retryAfterMs).toBeGreaterThan(100_000);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(120_000);
    const failed = await send.send({ url: server.url('/error'), headers, body });
    expect(failed).toMatchObject({
      outcome: 'retry',
      status: 500,
      responseSnippet: 'boom',
      error: 'receiver answered 500',
    });
    expect(failed.retryAfterMs).toBeUndefined();
  });

  it('reads at most maxResponseBytes of an endless response body and drops the connection', async () => {
    let responseClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      responseClosed = resolve;
    });
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      // Writes forever unless the client goes away: a sender that read the whole body would never return.
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {
          // keep the socket buffer full
        }
      };
      res.on('drain', pump);
      res.on('close', responseClosed);
      pump();
    });
    const result = await sender({ maxResponseBytes: 1000 }).send({ url: server.url(), headers, body });
    expect(result.outcome).toBe('delivered');
    expect(result.responseSnippet).toBe('x'.repeat(1000));
    await closed;
  });

  it('refuses at connect time a name the resolver maps to a refused address', async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    const lookups: string[] = [];
    // DNS rebinding: the name looked public when the callback URL was validated, now it points at loopback.
    const rebinding: ResolveHost = async (hostname) => {
      lookups.push(hostname);
      return ['127.0.0.1'];
    };
    const url = `http://hooks.rebind.test:${server.port}/hook`;
    const refused = await sender({ policy: strict, resolve: rebinding }).send({ url, headers, body });
    expect(refused).toMatchObject({
      outcome: 'refused',
      error: 'hooks.rebind.test resolves to an address that is not allowed (not a public address)',
    });
    expect(lookups).toEqual(['hooks.rebind.test']);
    expect(server.hits).toHaveLength(0);

    // The same lookup with loopback allow-listed connects to the server: the injected resolver is the one used.
    const delivered = await sender({ policy: laptop, resolve: rebinding }).send({ url, headers, body });
    expect(delivered).toMatchObject({ outcome: 'delivered', status: 200 });
    expect(server.hits).toHaveLength(1);
    expect(server.hits[0]?.headers.host).toBe(`hooks.rebind.test:${server.port}`);
  });

  it('refuses a name when any of its addresses is refused', async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    const resolve: ResolveHost = async () => ['127.0.0.1', '10.0.0.1'];
    const result = await sender({ policy: laptop, resolve }).send({
      url: `http://mixed.test:${server.port}/`,
      headers,
      body,
    });
    expect(result).toMatchObject({ outcome: 'refused', error: expect.stringContaining('mixed.test resolves to an') });
    // The stored error never names the resolved address (a tenant reads it: issue 16.7).
    expect((result as { error?: string }).error).not.toContain('10.0.0.1');
    expect(server.hits).toHaveLength(0);
  });

  it('refuses IP literals before connecting, in every form the URL parser accepts', async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    const send = sender({ policy: strict });
    for (const host of ['127.0.0.1', '2130706433', '0x7f000001', '[::ffff:127.0.0.1]', '[::1]']) {
      const result = await send.send({ url: `http://${host}:${server.port}/`, headers, body });
      expect(result, host).toMatchObject({
        outcome: 'refused',
        error: expect.stringMatching(/not allowed \(loopback\)/),
      });
    }
    expect(server.hits).toHaveLength(0);
  });

  it('turns a refused connection into a retry', async () => {
    const server = await startServer(() => undefined);
    const port = server.port;
    await cleanups.pop()?.();
    const result = await sender().send({ url: `http://127.0.0.1:${port}/`, headers, body });
    expect(result).toMatchObject({ outcome: 'retry', error: expect.stringContaining('ECONNREFUSED') });
  });

  it('refuses URLs it cannot send to', async () => {
    const send = sender();
    expect(await send.send({ url: 'not a url', headers, body })).toMatchObject({ outcome: 'refused' });
    expect(await send.send({ url: 'ftp://127.0.0.1/', headers, body })).toMatchObject({ outcome: 'refused' });
  });
});
