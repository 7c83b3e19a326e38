/**
 * The batch-file upload as the packer does it (uploadBatchFile → the openai SDK's files.create → streamingFetch),
 * against a real node:http server that records what arrives: the request carries an exact Content-Length and no
 * Transfer-Encoding, and the file part is the file on disk, byte for byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import OpenAI, { toStreamingFile } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { streamingFetch } from './streaming-fetch.js';
import { uploadBatchFile } from './upload-file.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server | undefined;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bb-upload-test-'));
});
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A provider stand-in: keeps the headers and every byte of each POST /v1/files and answers a file object. */
async function recordingProvider(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const srv = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    } catch {
      return; // the client gave up mid-body: nothing was uploaded
    }
    const body = Buffer.concat(chunks);
    received.push({ headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `file-${received.length}`,
        object: 'file',
        bytes: body.length,
        created_at: 1,
        filename: 'x',
        purpose: 'batch',
        status: 'processed',
      }),
    );
  });
  server = srv;
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1`, received };
}

interface Part {
  headers: string;
  content: Buffer;
}

/** Splits a multipart body on the boundary of its content-type (strictly: a malformed body fails the test). */
function parseMultipart(contentType: string | undefined, body: Buffer): Part[] {
  const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(contentType ?? '')?.[1];
  if (!boundary) throw new Error(`not multipart: ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const closing = Buffer.from(`\r\n--${boundary}--\r\n`);
  expect(body.subarray(0, delimiter.length).equals(delimiter)).toBe(true);
  expect(body.subarray(body.length - closing.length).equals(closing)).toBe(true);
  const parts: Part[] = [];
  let at = delimiter.length;
  for (;;) {
    if (body.subarray(at, at + 2).toString() === '--') break;
    expect(body.subarray(at, at + 2).toString()).toBe('\r\n');
    const headersEnd = body.indexOf('\r\n\r\n', at + 2);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd);
    parts.push({ headers: body.subarray(at + 2, headersEnd).toString(), content: body.subarray(headersEnd + 4, next) });
    at = next + 2 + delimiter.length;
  }
  return parts;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** JSONL-ish content that also holds what could confuse a multipart reader: CRLFs, `--` lines, arbitrary bytes. */
function awkwardFile(bytes: number): Buffer {
  const lines: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line =
      i % 3 === 0
        ? Buffer.from(`{"custom_id":"breq_${i}","body":{"messages":[{"content":"--x\\r\\n"}]}}\r\n--\r\n`)
        : randomBytes(1 + (i % 4096));
    lines.push(line);
    size += line.length;
  }
  return Buffer.concat(lines).subarray(0, bytes);
}

const client = (url: string, fetch: typeof globalThis.fetch = streamingFetch) =>
  new OpenAI({ baseURL: url, apiKey: 'sk-test', maxRetries: 0, fetch });

describe('uploadBatchFile', () => {
  it('sends an exact Content-Length, no Transfer-Encoding, and the file part byte-identical to the file', async () => {
    const { url, received } = await recordingProvider();
    const content = awkwardFile(3 * 1024 * 1024 + 17);
    const path = join(dir, 'input.jsonl');
    await writeFile(path, content);

    const created = await uploadBatchFile(client(url), path, 'batchbridge-f1.jsonl', { timeout: 30_000 });

    expect(created.id).toBe('file-1');
    expect(received).toHaveLength(1);
    const [upload] = received as [Received];
    expect(upload.headers['transfer-encoding']).toBeUndefined();
    expect(upload.headers['content-length']).toBe(String(upload.body.length));
    expect(upload.headers.authorization).toBe('Bearer sk-test');
    const parts = parseMultipart(upload.headers['content-type'], upload.body);
    expect(parts.map((p) => p.headers)).toEqual([
      'Content-Disposition: form-data; name="file"; filename="batchbridge-f1.jsonl"\r\nContent-Type: application/jsonl',
      'Content-Disposition: form-data; name="purpose"',
    ]);
    const [file, purpose] = parts as [Part, Part];
    expect(file.content.length).toBe(content.length);
    expect(sha256(file.content)).toBe(sha256(content));
    expect(purpose.content.toString()).toBe('batch');
  });

  it('sends an empty file as a zero-byte part with its length', async () => {
    const { url, received } = await recordingProvider();
    const path = join(dir, 'empty.jsonl');
    await writeFile(path, '');
    await uploadBatchFile(client(url), path, 'empty.jsonl');
    const [upload] = received as [Received];
    expect(upload.headers['transfer-encoding']).toBeUndefined();
    expect(upload.headers['content-length']).toBe(String(upload.body.length));
    const [file] = parseMultipart(upload.headers['content-type'], upload.body) as [Part];
    expect(file.content.length).toBe(0);
  });

  it('tells a chunked upload apart: the SDK streaming form goes out without a length', async () => {
    // What the packer sent before: the SDK's own streamed multipart body, whose length nobody knows.
    const { url, received } = await recordingProvider();
    const content = awkwardFile(256 * 1024);
    await client(url).files.create({
      file: toStreamingFile(Readable.from([content]), 'stream.jsonl', { type: 'application/jsonl' }),
      purpose: 'batch',
    });
    const [upload] = received as [Received];
    expect(upload.headers['content-length']).toBeUndefined();
    expect(upload.headers['transfer-encoding']).toBe('chunked');
    const [file] = parseMultipart(upload.headers['content-type'], upload.body) as [Part];
    expect(sha256(file.content)).toBe(sha256(content));
  });

  it('fails the upload instead of sending a body that disagrees with its length when the file changes', async () => {
    const { url, received } = await recordingProvider();
    const path = join(dir, 'changing.jsonl');
    await writeFile(path, awkwardFile(1024 * 1024));
    const sdk = client(url, async (input, init) => {
      // The file is replaced by a shorter one after the SDK opened it and before the body is read.
      await writeFile(path, 'short');
      return streamingFetch(input, init);
    });
    await expect(uploadBatchFile(sdk, path, 'changing.jsonl')).rejects.toThrow('Connection error');
    expect(received).toHaveLength(0);
  });
});
