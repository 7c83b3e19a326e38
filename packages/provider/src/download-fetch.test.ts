import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviderClient } from './client.js';
import { downloadFetch, nodeBodyOf } from './download-fetch.js';

let server: Server;
let base = '';
const seen: Array<{ url: string; auth: string | undefined }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    if (req.url?.includes('missing')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"no such file","type":"invalid_request_error"}}');
      return;
    }
    if (req.url?.includes('stall')) {
      res.writeHead(200);
      res.write('{"a":1}\n');
      return; // never ends
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end('line 1\nline 2\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('downloadFetch', () => {
  it("hands a file's content to the SDK's caller as a Node stream, with the SDK's auth", async () => {
    const client = createProviderClient({ baseUrl: base, apiKey: 'sk-test' });
    const response = await client.files.content('file_1');
    const node = nodeBodyOf(response);
    expect(node).toBeDefined();
    const chunks: Buffer[] = [];
    for await (const c of node!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('line 1\nline 2\n');
    expect(seen.at(-1)).toEqual({ url: '/v1/files/file_1/content', auth: 'Bearer sk-test' });
  });

  it('is a whole Response for a reader that does not take the Node stream', async () => {
    const client = createProviderClient({ baseUrl: base, apiKey: 'sk-test' });
    const response = await client.files.content('file_2');
    expect(await response.text()).toBe('line 1\nline 2\n');
    expect(nodeBodyOf(response)).toBeUndefined();
  });

  it("reports a provider's error as the SDK does", async () => {
    const client = createProviderClient({ baseUrl: base, apiKey: 'sk-test' });
    await expect(client.files.content('missing')).rejects.toMatchObject({ status: 404 });
  });

  it('ends the stream with an error when its signal aborts mid-body', async () => {
    const abort = new AbortController();
    const response = await downloadFetch(`${base}/files/stall/content`, { signal: abort.signal });
    const node = nodeBodyOf(response)!;
    const read = (async () => {
      for await (const _ of node) abort.abort(new Error('idle'));
    })();
    await expect(read).rejects.toThrow();
  });
});
