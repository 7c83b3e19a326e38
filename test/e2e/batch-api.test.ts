// The Batch API served by batchbridge (SPEC §12, issue 21), with the official openai SDK as the client against the
// real service and the provider simulator: the kluster guide's workflow step by step (write a JSONL file, upload it
// with purpose=batch, create a batch, poll it, download the output, list, cancel), a 60 000-line file answered over
// several provider batches while the simulator expires some of them, cancel, a bad line, and the signed batch webhook.
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tenant } from '@batchbridge/config';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

const BATCHER_KEY = 'bb_test_batcher_key_0123456789';
const BATCHER_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

// The guide's file, verbatim (its `cat << EOF` form).
const GUIDE_FILE = `{"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "klusterai/Meta-Llama-3.1-8B-Instruct-Turbo", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is the capital of Argentina?"}],"max_completion_tokens":1000}}
{"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "klusterai/Meta-Llama-3.3-70B-Instruct-Turbo", "messages": [{"role": "system", "content": "You are an experienced maths tutor."}, {"role": "user", "content": "Explain the Pythagorean theorem."}],"max_completion_tokens":1000}}
{"custom_id": "request-3", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "klusterai/Meta-Llama-3.1-405B-Instruct-Turbo", "messages": [{"role": "system", "content": "You are an astronomer."}, {"role": "user", "content": "What is the distance between the Earth and the Moon"}],"max_completion_tokens":1000}}
{"custom_id": "request-4", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "klusterai/Meta-Llama-3.3-70B-Instruct-Turbo", "messages":[{"role": "system", "content": "You are a multilingual, experienced maths tutor."}, {"role": "user", "content": "Explain the Pythagorean theorem in Spanish"}],"max_completion_tokens":1000}}
`;

let pipeline: Pipeline;
let receiver: WebhookReceiver;
let client: OpenAI;
let work: string;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secrets: () => [BATCHER_SECRET] });
  const tenants: Tenant[] = [
    ...TEST_TENANTS,
    {
      id: 'batcher',
      api_keys: [BATCHER_KEY],
      webhook_secret: BATCHER_SECRET,
      allowed_models: ['*'],
      default_callback_url: receiver.url('/batches'),
    },
  ];
  pipeline = await startPipeline(
    // A packing wait long enough that the 60 000 lines, enqueued chunk by chunk, fill provider batches of 10 000
    // rather than many small ones (the kluster profile allows 30 batch creates a minute).
    { PROVIDER_PROFILE: 'kluster', BATCH_MAX_REQUESTS: '10000', BATCH_MAX_WAIT_MS: '1000', MAX_ATTEMPTS: '5' },
    tenants,
  );
  client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: BATCHER_KEY });
  work = mkdtempSync(join(tmpdir(), 'bb-batch-api-'));
}, 60_000);

afterAll(async () => {
  await pipeline?.dispose();
  await receiver?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: timed out; last ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'];

/** The simulator as a provider's client sees it (its batches are the provider batches batchbridge made). */
function simClient(): OpenAI {
  return new OpenAI({ baseURL: pipeline.sim?.url as string, apiKey: 'sim' });
}

describe('the Batch API served by batchbridge', () => {
  it("runs the guide's workflow: upload, create, poll, download, list", async () => {
    const fileName = join(work, 'mybatchtest.jsonl');
    writeFileSync(fileName, GUIDE_FILE);

    // Upload Batch job files
    const batchInputFile = await client.files.create({ file: createReadStream(fileName), purpose: 'batch' });
    expect(batchInputFile).toMatchObject({
      object: 'file',
      purpose: 'batch',
      filename: 'mybatchtest.jsonl',
      bytes: Buffer.byteLength(GUIDE_FILE),
    });
    expect(batchInputFile.id).toMatch(/^file-/);
    expect(Number.isInteger(batchInputFile.created_at)).toBe(true);

    // Submit a Batch job
    const batchRequest = await client.batches.create({
      input_file_id: batchInputFile.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    expect(batchRequest).toMatchObject({
      object: 'batch',
      endpoint: '/v1/chat/completions',
      input_file_id: batchInputFile.id,
      completion_window: '24h',
      status: 'validating',
      errors: null,
      output_file_id: null,
      error_file_id: null,
      cancelled_at: null,
      completed_at: null,
      metadata: {},
    });
    expect(batchRequest.expires_at).toBe(batchRequest.created_at + 86_400);

    // Monitor job progress
    const seen = new Set<string>();
    const batchStatus = await until(
      'batch done',
      async () => {
        const b = await client.batches.retrieve(batchRequest.id);
        seen.add(b.status);
        return b;
      },
      (b) => ['completed', 'failed', 'cancelled'].includes(b.status.toLowerCase()),
    );
    expect(batchStatus.status).toBe('completed');
    expect(batchStatus.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
    expect(batchStatus.error_file_id).toBeNull();
    expect(batchStatus.in_progress_at).toBeTypeOf('number');
    expect(batchStatus.completed_at).toBeTypeOf('number');
    expect(batchStatus.finalizing_at).toBeTypeOf('number');

    // Retrieve results
    const results = Buffer.from(await (await client.files.content(batchStatus.output_file_id as string)).arrayBuffer());
    const lines = results
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id)).toEqual(['request-1', 'request-2', 'request-3', 'request-4']);
    const inputs = GUIDE_FILE.trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const [i, line] of lines.entries()) {
      expect(line.error).toBeNull();
      expect(line.response.status_code).toBe(200);
      expect(line.response.body.choices[0].message.content).toBe(
        simulatedCompletion(inputs[i].body).choices[0]?.message.content,
      );
    }

    // List all Batch jobs
    const listed = await client.batches.list({ limit: 2 });
    expect(listed.data[0]?.id).toBe(batchRequest.id);
    expect(listed.data[0]?.status).toBe('completed');

    // The file is listed, retrievable, and its content is the lines as they will be sent.
    expect((await client.files.retrieve(batchInputFile.id)).id).toBe(batchInputFile.id);
    expect((await client.files.list()).data.map((f) => f.id)).toContain(batchInputFile.id);

    // The batch webhook, signed with the tenant's secret, to its default URL.
    await receiver.waitFor((all) =>
      all.some((d) => (d.json as { data?: { id?: string } }).data?.id === batchRequest.id),
    );
    const hook = receiver.deliveries().find((d) => (d.json as { data?: { id?: string } }).data?.id === batchRequest.id);
    expect(hook?.verified).toBe(true);
    expect(hook?.json).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: batchRequest.id } });
  });

  it('list pages newest first with limit/after and has_more; deleted file content answers 404', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(GUIDE_FILE), 'x.jsonl'),
      purpose: 'batch',
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (
          await client.batches.create({
            input_file_id: file.id,
            endpoint: '/v1/chat/completions',
            completion_window: '1h' as '24h',
          })
        ).id,
      );
    }
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = await client.batches.list({ limit: 2, after: ids[1] as string });
    expect(second.data[0]?.id).toBe(ids[0]);
    for (const id of ids)
      await until(
        'done',
        () => client.batches.retrieve(id),
        (b) => b.status === 'completed',
      );
    await client.files.delete(file.id);
    await expect(client.files.content(file.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a bad line: the upload answers 400 naming the line; a line for another endpoint fails the batch', async () => {
    const bad = `${GUIDE_FILE.split('\n')[0]}\n{"custom_id": "x", "method": "POST", "url": "/v1/chat/completions", "body": {"model": 1}}\n`;
    const refused = await client.files
      .create({ file: await toFile(Buffer.from(bad), 'bad.jsonl'), purpose: 'batch' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/Line 2/);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('line 2: body.model');

    const dup = `${GUIDE_FILE.split('\n')[0]}\n${GUIDE_FILE.split('\n')[0]}\n`;
    const dupErr = await client.files
      .create({ file: await toFile(Buffer.from(dup), 'dup.jsonl'), purpose: 'batch' })
      .catch((e: unknown) => e);
    expect((dupErr as { code?: string }).code).toBe('duplicate_custom_id');

    const mixed = `${GUIDE_FILE.split('\n')[0]}\n{"custom_id":"e","method":"POST","url":"/v1/embeddings","body":{"model":"x","input":"a"}}\n`;
    const mixedErr = await client.files
      .create({ file: await toFile(Buffer.from(mixed), 'mixed.jsonl'), purpose: 'batch' })
      .catch((e: unknown) => e);
    // The kluster profile batches chat only: an embeddings line is refused at the door.
    expect((mixedErr as { code?: string }).code).toBe('invalid_url');

    const file = await client.files.create({
      file: await toFile(Buffer.from(GUIDE_FILE), 'ok.jsonl'),
      purpose: 'batch',
    });
    const wrongEndpoint = await client.batches
      .create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' })
      .catch((e: unknown) => e);
    expect((wrongEndpoint as { status?: number }).status).toBe(400);
  });

  it('cancel: queued lines are cancelled, the batch ends cancelled with an error file', async () => {
    // A long packing wait keeps the lines queued long enough to cancel them.
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) {
      lines.push(
        JSON.stringify({
          custom_id: `c-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'deepseek-ai/DeepSeek-R1', messages: [{ role: 'user', content: `cancel me ${i}` }] },
        }),
      );
    }
    pipeline.sim?.setFaults({ latencyMs: { 'files.create': 3_000 } });
    try {
      const file = await client.files.create({
        file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'cancel.jsonl'),
        purpose: 'batch',
      });
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { purpose: 'cancel test' },
      });
      const cancelling = await client.batches.cancel(batch.id);
      expect(cancelling.status).toBe('cancelling');
      expect(cancelling.cancelling_at).toBeTypeOf('number');
      const done = await until(
        'cancelled',
        () => client.batches.retrieve(batch.id),
        (b) => TERMINAL.includes(b.status),
      );
      expect(done.status).toBe('cancelled');
      expect(done.metadata).toEqual({ purpose: 'cancel test' });
      const c = done.request_counts as { total: number; completed: number; failed: number };
      expect(c.total).toBe(500);
      expect(c.completed + c.failed).toBe(500);
      expect(c.failed).toBeGreaterThan(0);
      const errors = (await (await client.files.content(done.error_file_id as string)).text()).trimEnd().split('\n');
      expect(errors).toHaveLength(c.failed);
      const first = JSON.parse(errors[0] as string);
      expect(first.error.code).toBe('batch_cancelled');
      expect(first.custom_id).toMatch(/^c-\d+$/);
      await expect(client.batches.cancel(batch.id)).rejects.toMatchObject({ status: 409 });
      await receiver.waitFor((all) =>
        all.some((d) => (d.json as { type?: string; data?: { id?: string } }).data?.id === batch.id),
      );
      const hook = receiver.deliveries().find((d) => (d.json as { data?: { id?: string } }).data?.id === batch.id);
      expect(hook?.json).toMatchObject({ type: 'batch.cancelled' });
    } finally {
      pipeline.sim?.setFaults({ latencyMs: {} });
    }
  });

  it('60 000 lines complete over several provider batches, each answered once and right, while some expire', async () => {
    const n = 60_000;
    const models = ['klusterai/Meta-Llama-3.1-8B-Instruct-Turbo', 'deepseek-ai/DeepSeek-R1'];
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      lines.push(
        JSON.stringify({
          custom_id: `line-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: models[i % 2], messages: [{ role: 'user', content: `what is ${i} plus one?` }] },
        }),
      );
    }
    // Provider batches expire after half their lines for a while: those lines are retried, invisibly.
    pipeline.sim?.setFaults({ expireAfterFraction: 0.5 });
    const file = await client.files.create({
      file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'big.jsonl'),
      purpose: 'batch',
    });
    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const expired = await until(
      'some provider batches expired',
      async () => (await simClient().batches.list({ limit: 100 })).data,
      (list) => list.filter((b) => b.status === 'expired').length >= 2,
      120_000,
    );
    expect(expired.length).toBeGreaterThan(0);
    pipeline.sim?.setFaults({ expireAfterFraction: null });
    const done = await until(
      '60k done',
      () => client.batches.retrieve(batch.id),
      (b) => TERMINAL.includes(b.status),
      240_000,
    );

    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
    const text = await (await client.files.content(done.output_file_id as string)).text();
    const out = text.trimEnd().split('\n');
    expect(out).toHaveLength(n);
    const ids = new Set<string>();
    for (const [i, raw] of out.entries()) {
      const line = JSON.parse(raw) as {
        custom_id: string;
        response: { body: { choices: Array<{ message: { content: string } }> } };
      };
      expect(line.custom_id).toBe(`line-${i}`);
      ids.add(line.custom_id);
      const body = JSON.parse(lines[i] as string).body;
      expect(line.response.body.choices[0]?.message.content).toBe(
        simulatedCompletion(body).choices[0]?.message.content,
      );
    }
    expect(ids.size).toBe(n);
    const providerBatches = (await simClient().batches.list({ limit: 100 })).data;
    expect(providerBatches.length).toBeGreaterThan(8);
  }, 600_000);
});
