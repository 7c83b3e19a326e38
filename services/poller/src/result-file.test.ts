import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProviderClient } from '@batchbridge/provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TruncatedDownloadError } from './errors.js';
import { type FileItem, readResultFile } from './result-file.js';

const line = (id: string) =>
  `${JSON.stringify({ id: 'r', custom_id: id, response: { status_code: 200, body: {} } })}\n`;

const EMBEDDINGS_BODY = {
  object: 'list',
  data: [{ object: 'embedding', index: 0, embedding: Array.from({ length: 1536 }, (_, i) => Math.cos(i) / 9) }],
  // Not ASCII: the body is cut out of the line by byte offsets.
  model: 'text-embedding-3-small-é😀',
  usage: { prompt_tokens: 4, total_tokens: 4 },
};
const EMBEDDINGS_LINE = {
  id: 'r',
  custom_id: 'emb',
  response: { status_code: 200, body: EMBEDDINGS_BODY },
  error: null,
};

// A real HTTP server standing in for a provider's `GET /v1/files/{id}/content`, with file bodies chosen per test.
const FILES: Record<string, string> = {
  clean: line('a') + line('b'),
  'no-final-newline': line('a') + line('b').trimEnd(),
  'malformed-middle': `${line('a')}{not json\n${JSON.stringify({ nope: 1 })}\n\n${line('b')}`,
  'cut-last-line': line('a') + line('b').slice(0, 20),
  // A line far longer than the test's 1 KiB cap, sent in many chunks, between normal lines; CRLF line ends too.
  'huge-line': `${line('a')}${JSON.stringify({ id: 'r', custom_id: 'big', pad: 'x'.repeat(200_000) })}\r\n${line('b')}`,
  // An embeddings answer (a large line): read with parseLazy, its body text handed on as it came.
  embeddings: `${line('a')}${JSON.stringify(EMBEDDINGS_LINE)}\n${line('b')}`,
};
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const id = /^\/v1\/files\/([^/]+)\/content$/.exec(req.url ?? '')?.[1] ?? '';
    const body = FILES[id];
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"No such file"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function read(fileId: string, maxLineBytes?: number): Promise<FileItem[]> {
  const client = createProviderClient({ baseUrl: url, apiKey: 'sk-test' });
  const out: FileItem[] = [];
  const options = { idleTimeoutMs: 5_000, ...(maxLineBytes ? { maxLineBytes } : {}) };
  for await (const item of readResultFile(client, fileId, options)) out.push(item);
  return out;
}

const ids = (items: FileItem[]) => items.flatMap((i) => (i.kind === 'line' ? [i.line.custom_id] : []));

describe('readResultFile', () => {
  it('drops a line longer than the cap without holding it, and goes on (issue 16.13)', async () => {
    const items = await read('huge-line', 1_024);
    expect(ids(items)).toEqual(['a', 'b']);
    expect(items.filter((i) => i.kind === 'malformed')).toEqual([
      { kind: 'malformed', lineNumber: 2, reason: 'line_too_long' },
    ]);
    // Under the default cap the same line is read whole.
    expect(ids(await read('huge-line'))).toEqual(['a', 'big', 'b']);
  });

  it('reads a large line lazily: the same line, and the body text as the provider wrote it', async () => {
    const items = await read('embeddings');
    expect(ids(items)).toEqual(['a', 'emb', 'b']);
    const emb = items[1]!;
    if (emb.kind !== 'line') throw new Error('expected a line');
    expect(emb.bodyBytes?.toString('utf8')).toBe(JSON.stringify(EMBEDDINGS_BODY));
    expect(emb.line.response?.body).toEqual(EMBEDDINGS_BODY);
    // Short lines are parsed whole and carry no body text.
    expect(items[0]).not.toHaveProperty('bodyBytes');
  });

  it('yields every line of a file', async () => {
    expect(ids(await read('clean'))).toEqual(['a', 'b']);
  });

  it('accepts a complete last line without a newline', async () => {
    expect(ids(await read('no-final-newline'))).toEqual(['a', 'b']);
  });

  it('reports malformed lines in the middle and goes on', async () => {
    const items = await read('malformed-middle');
    expect(ids(items)).toEqual(['a', 'b']);
    expect(items.filter((i) => i.kind === 'malformed').map((i) => (i.kind === 'malformed' ? i.reason : ''))).toEqual([
      'json',
      'schema',
    ]);
  });

  it('treats a cut-off last line as a truncated download', async () => {
    await expect(read('cut-last-line')).rejects.toBeInstanceOf(TruncatedDownloadError);
  });

  it('passes a 404 through as the provider error', async () => {
    await expect(read('gone')).rejects.toMatchObject({ status: 404 });
  });
});
