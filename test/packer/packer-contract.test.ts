/**
 * Contract: every `files.create` and `batches.create` the packer sends validates against the request schemas of
 * OpenAI's OpenAPI document (`CreateFileRequest`, `CreateBatchRequest`), and the uploaded file is the batch input
 * JSONL (one line per request, `custom_id` = request id). Requests are captured with a recording `fetch` on the client.
 */
import { readFileSync } from 'node:fs';
import { startPacker } from '@batchbridge/packer';
import { createProviderSim } from '@batchbridge/provider-sim';
import { createTestRuntime } from '@batchbridge/testkit';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import OpenAI from 'openai';
import { afterEach, expect, it } from 'vitest';
import { parse } from 'yaml';
import { enqueueChat, FAST_PACKER, waitSubmitted } from './packer-helpers.js';

const SPEC_URL = new URL('../fixtures/openai-openapi/openai-openapi.yaml', import.meta.url);

function validators(...names: string[]): ValidateFunction[] {
  const doc = parse(readFileSync(SPEC_URL, 'utf8')) as { components: Record<string, unknown> };
  // OpenAPI keywords (`x-…`, `discriminator`, `example`, …) are annotations here: strict mode off.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: 'openai.json', components: doc.components });
  return names.map((name) => ajv.compile({ $ref: `openai.json#/components/schemas/${name}` }));
}

interface Sent {
  op: 'files.create' | 'batches.create';
  body: Record<string, unknown>;
  file?: { name: string; text: string };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

it('sends files.create and batches.create that match the OpenAPI request schemas', async () => {
  const sim = await createProviderSim({ timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0 } });
  cleanups.push(() => sim.close());
  const runtime = await createTestRuntime({ env: { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_WAIT_MS: '50' } });
  cleanups.push(() => runtime.dispose());

  const sent: Sent[] = [];
  const recording: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    let body = init?.body;
    if (body instanceof ReadableStream) {
      // The upload is streamed (multipart, chunked): read it whole here, these files are small.
      body = new Uint8Array(await new Response(body).arrayBuffer());
    }
    if (init?.method === 'POST' && url.pathname.endsWith('/files')) {
      const contentType = new Headers(init.headers).get('content-type') ?? '';
      const form =
        body instanceof FormData
          ? body
          : await new Response(body, { headers: { 'content-type': contentType } }).formData();
      const fields: Record<string, unknown> = {};
      let file: Sent['file'];
      for (const [key, value] of form.entries()) {
        if (typeof value === 'string') fields[key] = value;
        else {
          // `format: binary`: the part is a file; the schema sees its presence as a string.
          fields[key] = value.name;
          file = { name: value.name, text: await value.text() };
        }
      }
      sent.push({ op: 'files.create', body: fields, ...(file ? { file } : {}) });
    } else if (init?.method === 'POST' && url.pathname.endsWith('/batches')) {
      sent.push({ op: 'batches.create', body: JSON.parse(String(body)) as Record<string, unknown> });
    }
    return fetch(input, { ...init, body: body ?? null });
  };
  runtime.provider = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0, fetch: recording });
  const packer = await startPacker(runtime, { ...FAST_PACKER, uploadFetch: recording });
  cleanups.push(() => packer.close());

  const mini = [await enqueueChat(runtime), await enqueueChat(runtime)];
  const big = [await enqueueChat(runtime, { model: 'gpt-4o' })];
  const records = await waitSubmitted(runtime, [...mini, ...big]);

  const [fileRequest, batchRequest] = validators('CreateFileRequest', 'CreateBatchRequest') as [
    ValidateFunction,
    ValidateFunction,
  ];
  // The validators do refuse what the API would refuse.
  expect(fileRequest({ file: 'x.jsonl', purpose: 'batches' })).toBe(false);
  expect(batchRequest({ input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '48h' })).toBe(
    false,
  );
  const files = sent.filter((s) => s.op === 'files.create');
  const batches = sent.filter((s) => s.op === 'batches.create');
  expect(files).toHaveLength(2);
  expect(batches).toHaveLength(2);
  for (const s of sent) {
    const validate = s.op === 'files.create' ? fileRequest : batchRequest;
    expect(validate(s.body), `${s.op}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }

  const byFlush = new Map(records.map((r) => [r.flush_id, [] as string[]]));
  for (const r of records) byFlush.get(r.flush_id)?.push(r.id);
  for (const f of files) {
    const flushId = /^batchbridge-(.+)\.jsonl$/.exec(f.file?.name ?? '')?.[1];
    expect(byFlush.has(flushId)).toBe(true);
    const lines = (f.file?.text ?? '').split('\n');
    expect(lines.pop()).toBe('');
    const parsed = lines.map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: unknown });
    expect(parsed.map((l) => l.custom_id)).toEqual(byFlush.get(flushId));
    for (const l of parsed) expect(l).toMatchObject({ method: 'POST', url: '/v1/chat/completions' });
  }
  for (const b of batches) {
    expect(b.body).toMatchObject({ endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(byFlush.has((b.body.metadata as Record<string, string>).batchbridge_flush_id)).toBe(true);
  }
});
