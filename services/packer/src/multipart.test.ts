import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeMultipart } from './multipart.js';

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** A form with what the encoding must escape or normalise: quotes and line breaks in names, values and filenames. */
function awkwardForm(file: Blob): FormData {
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('note', 'one\ntwo\rthree\r\nfour');
  form.append('quote"d\nname', 'x');
  form.append('file', file, 'in"put\r\n.jsonl');
  form.append('untyped', new Blob([Buffer.from([0, 1, 2, 13, 10])]), 'raw.bin');
  return form;
}

describe('encodeMultipart', () => {
  it("encodes byte for byte as Node's fetch (undici) does, and announces the body's exact length", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bb-multipart-test-'));
    try {
      const path = join(dir, 'input.jsonl');
      await writeFile(path, randomBytes(300_000));
      const file = new File([await openAsBlob(path)], 'unused', { type: 'application/jsonl' });
      const form = awkwardForm(file);

      const reference = new Response(form);
      const referenceBody = Buffer.from(await reference.arrayBuffer());
      const referenceType = reference.headers.get('content-type') ?? '';
      const boundary = /boundary=(.+)$/.exec(referenceType)?.[1] ?? '';
      expect(boundary).not.toBe('');

      const ours = encodeMultipart(form, boundary);
      const body = await collect(ours.chunks());
      expect(ours.contentType).toBe(referenceType);
      expect(body.length).toBe(ours.length);
      expect(body.equals(referenceBody)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads back to the same fields and files with a random boundary', async () => {
    const content = randomBytes(70_000);
    const form = awkwardForm(new Blob([content], { type: 'application/jsonl' }));
    const ours = encodeMultipart(form);
    expect(ours.contentType).toMatch(/^multipart\/form-data; boundary=batchbridge-[0-9a-f]{32}$/);
    const body = await collect(ours.chunks());
    expect(body.length).toBe(ours.length);
    const parsed = await new Response(body, { headers: { 'content-type': ours.contentType } }).formData();
    expect(parsed.get('purpose')).toBe('batch');
    expect(parsed.get('note')).toBe('one\r\ntwo\r\nthree\r\nfour');
    const file = parsed.get('file') as File;
    expect(file.type).toBe('application/jsonl');
    expect(Buffer.from(await file.arrayBuffer()).equals(content)).toBe(true);
    expect((parsed.get('untyped') as File).type).toBe('application/octet-stream');
  });

  it('stops with an error when a file part is not the size it had when the body was measured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bb-multipart-test-'));
    try {
      const path = join(dir, 'input.jsonl');
      await writeFile(path, randomBytes(100_000));
      const form = new FormData();
      form.append('file', new File([await openAsBlob(path)], 'input.jsonl'));
      const ours = encodeMultipart(form);
      await writeFile(path, randomBytes(200_000));
      await expect(collect(ours.chunks())).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
