import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { streamingFetch } from './streaming-fetch.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that answers with the method, the content-type, the byte count and the SHA-256 of the body it read. */
async function echoServer(): Promise<string> {
  server = createServer(async (req, res) => {
    if (req.url === '/hang') return;
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    res.writeHead(201, { 'content-type': 'application/json', 'x-test': 'yes' });
    res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], bytes, sha: hash.digest('hex') }));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('streamingFetch', () => {
  it('sends a streamed body whole and hands back status, headers and body', async () => {
    const url = await echoServer();
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    const res = await streamingFetch(`${url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/jsonl' },
      body: Readable.toWeb(Readable.from(chunks)) as unknown as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-test')).toBe('yes');
    expect(await res.json()).toEqual({
      method: 'POST',
      type: 'application/jsonl',
      bytes: 64 * 64 * 1024,
      sha: expected,
    });
  });

  it('sends string bodies and none', async () => {
    const url = await echoServer();
    expect(await (await streamingFetch(url, { method: 'POST', body: 'abc' })).json()).toMatchObject({ bytes: 3 });
    expect(await (await streamingFetch(url)).json()).toMatchObject({ method: 'GET', bytes: 0 });
  });

  it('rejects when aborted (the SDK timeout) and when nothing listens', async () => {
    const url = await echoServer();
    const controller = new AbortController();
    const pending = streamingFetch(`${url}/hang`, { signal: controller.signal });
    controller.abort(new Error('timed out'));
    await expect(pending).rejects.toThrow('timed out');
    await expect(streamingFetch('http://127.0.0.1:1/')).rejects.toThrow();
  });

  it('rejects with the error of a body that fails before a byte is sent', async () => {
    const url = await echoServer();
    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error(new Error('disk gone'));
      },
    });
    await expect(streamingFetch(url, { method: 'POST', body: failing, duplex: 'half' } as RequestInit)).rejects.toThrow(
      'disk gone',
    );
  });

  it("answers data: URLs (the openai SDK's FormData probe) without a network call", async () => {
    expect(await (await streamingFetch('data:,hello')).text()).toBe('hello');
  });
});
