import { describe, expect, it } from 'vitest';
import {
  admin,
  api,
  type Batch,
  chatLine,
  jsonl,
  readLines,
  startSim,
  submitBatch,
  upload,
  waitForBatch,
} from '../test/helpers.js';

const chat = (text = 'hi', model = 'gpt-4o-mini') => ({ model, messages: [{ role: 'user', content: text }] });
const lines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(`req-${i}`, `question ${i}`));

describe('per-call faults', () => {
  it('answers a fraction of calls 429 with Retry-After, per operation', async () => {
    const sim = await startSim({ faults: { rateLimitFraction: { 'chat.completions': 0.5 }, retryAfterMs: 2500 } });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await api(sim, 'POST', '/chat/completions', chat());
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get('retry-after')).toBe('3');
        expect(res.headers.get('retry-after-ms')).toBe('2500');
        expect(res.body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
      }
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
    // Other operations are untouched.
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
    expect(sim.counters().rateLimited).toBe(statuses.filter((s) => s === 429).length);
  });

  it('answers a fraction of calls with 5xx, per operation or for all (*)', async () => {
    const sim = await startSim({ faults: { serverErrorFraction: { 'batches.list': 1 }, serverErrorStatus: 503 } });
    const res = await api(sim, 'GET', '/batches');
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'server_error' });
    expect((await api(sim, 'GET', '/files')).status).toBe(200);
    sim.setFaults({ serverErrorFraction: { '*': 1 } });
    expect((await api(sim, 'GET', '/files')).status).toBe(503);
    expect(sim.counters().serverErrors).toBe(2);
  });

  it('holds calls for the configured latency (a held call occupies its concurrency slot)', async () => {
    const sim = await startSim({
      faults: { latencyMs: { 'chat.completions': 300 }, maxConcurrent: { 'chat.completions': 1 } },
    });
    const first = api(sim, 'POST', '/chat/completions', chat('first'));
    await new Promise((r) => setTimeout(r, 50));
    const second = await api(sim, 'POST', '/chat/completions', chat('second'));
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await first).status).toBe(200);
    expect((await api(sim, 'POST', '/chat/completions', chat('third'))).status).toBe(200);
  });

  it('limits requests per minute with a Retry-After until the window frees up', async () => {
    const sim = await startSim({ faults: { requestsPerMinute: { 'chat.completions': 3 } } });
    for (let i = 0; i < 3; i++) expect((await api(sim, 'POST', '/chat/completions', chat())).status).toBe(200);
    const limited = await api(sim, 'POST', '/chat/completions', chat());
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
  });

  it('limits concurrent calls', async () => {
    const sim = await startSim({
      faults: { latencyMs: { 'chat.completions': 200 }, maxConcurrent: { 'chat.completions': 2 } },
    });
    const results = await Promise.all(Array.from({ length: 5 }, () => api(sim, 'POST', '/chat/completions', chat())));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3);
  });
});

describe('download faults', () => {
  it('serves slow downloads intact', async () => {
    const sim = await startSim({ faults: { downloadBytesPerSecond: 200_000 } });
    const file = await upload(sim, lines(50));
    const res = await fetch(`${sim.url}/files/${file.body.id}/content`, { headers: { authorization: 'Bearer k' } });
    const text = await res.text();
    expect(Buffer.byteLength(text)).toBe(file.body.bytes);
    expect(text.split('\n').filter(Boolean)).toHaveLength(50);
  });

  it('cuts a download short: the connection dies before Content-Length bytes', async () => {
    const sim = await startSim({ faults: { truncateDownloadAfterBytes: 100 } });
    const file = await upload(sim, lines(50));
    const res = await fetch(`${sim.url}/files/${file.body.id}/content`, { headers: { authorization: 'Bearer k' } });
    expect(res.headers.get('content-length')).toBe(String(file.body.bytes));
    await expect(res.text()).rejects.toThrow();
    sim.clearFaults();
    const again = await fetch(`${sim.url}/files/${file.body.id}/content`, { headers: { authorization: 'Bearer k' } });
    expect(Buffer.byteLength(await again.text())).toBe(file.body.bytes);
  });
});

/** A multipart upload sent chunked (a stream body: no Content-Length), as the openai SDK's streaming form does. */
async function chunkedUpload(sim: Awaited<ReturnType<typeof startSim>>, text: string) {
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob([text], { type: 'application/jsonl' }), 'input.jsonl');
  const encoded = new Response(form);
  const res = await fetch(`${sim.url}/files`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-test', 'content-type': encoded.headers.get('content-type') ?? '' },
    body: encoded.body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('upload faults', () => {
  it('takes chunked uploads by default', async () => {
    const sim = await startSim();
    const text = jsonl(lines(3));
    const res = await chunkedUpload(sim, text);
    expect(res.status).toBe(200);
    expect(res.body.bytes).toBe(Buffer.byteLength(text));
    expect(sim.counters().filesCreated).toBe(1);
  });

  it('answers a chunked upload 411 Length Required with requireContentLength, and takes one with a length', async () => {
    const sim = await startSim({ faults: { requireContentLength: true } });
    const refused = await chunkedUpload(sim, jsonl(lines(3)));
    expect(refused.status).toBe(411);
    expect(refused.body.error).toMatchObject({ type: 'invalid_request_error', code: 'length_required' });
    expect(sim.counters().filesCreated).toBe(0);
    // Node's fetch sends a FormData of Blobs with a Content-Length.
    const accepted = await upload(sim, lines(3));
    expect(accepted.status).toBe(200);
    expect(sim.counters().filesCreated).toBe(1);
    sim.setFaults({ requireContentLength: false });
    expect((await chunkedUpload(sim, 'x')).status).toBe(200);
  });
});

describe('batch faults', () => {
  it('fails a batch with token_limit_exceeded when enqueued tokens pass the limit', async () => {
    const sim = await startSim({ timings: { linesPerSecond: 50 }, faults: { enqueuedTokenLimit: 2000 } });
    // ~1350 tokens: the first batch fits and stays enqueued for a while (50 lines/s); ~1000 more do not.
    const first = await submitBatch(sim, [chatLine('a', 'x'.repeat(3000)), ...lines(200)]);
    await waitForBatch(sim, first.id, ['in_progress']);
    const second = await waitForBatch(sim, (await submitBatch(sim, [chatLine('b', 'y'.repeat(4000))])).id);
    expect(second.status).toBe('failed');
    expect(second.errors?.data).toEqual([expect.objectContaining({ code: 'token_limit_exceeded', line: null })]);
    await api(sim, 'POST', `/batches/${first.id}/cancel`);
  });

  it('expires after a fraction of lines: partial output plus batch_expired error lines', async () => {
    const sim = await startSim({ faults: { expireAfterFraction: 0.5 } });
    const done = await waitForBatch(sim, (await submitBatch(sim, lines(10))).id);
    expect(done.status).toBe('expired');
    expect(typeof done.expired_at).toBe('number');
    expect(done.request_counts).toEqual({ total: 10, completed: 5, failed: 5 });
    const out = await readLines(sim, done.output_file_id);
    const errors = await readLines(sim, done.error_file_id);
    expect(out).toHaveLength(5);
    expect(errors).toHaveLength(5);
    for (const e of errors) {
      expect(e.response).toBeNull();
      expect(e.error).toEqual({ code: 'batch_expired', message: expect.any(String) });
    }
    expect(new Set([...out, ...errors].map((l) => l.custom_id)).size).toBe(10);
  });

  it('answers [sim:error=400] and [sim:error=500] lines in the error file, the rest in the output', async () => {
    const sim = await startSim();
    const done = await waitForBatch(
      sim,
      (
        await submitBatch(sim, [
          chatLine('ok', 'fine'),
          chatLine('bad', 'please [sim:error=400]'),
          chatLine('boom', 'please [sim:error=500]'),
        ])
      ).id,
    );
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    const errors = await readLines(sim, done.error_file_id);
    const byId = Object.fromEntries(errors.map((e) => [e.custom_id, e]));
    expect(byId.bad).toMatchObject({
      error: null,
      response: { status_code: 400, body: { error: { type: 'invalid_request_error' } } },
    });
    expect(byId.boom).toMatchObject({
      error: null,
      response: { status_code: 500, body: { error: { type: 'server_error' } } },
    });
    expect((await readLines(sim, done.output_file_id)).map((l) => l.custom_id)).toEqual(['ok']);
  });

  it('fails a fraction of lines with lineErrorStatus', async () => {
    const sim = await startSim({ faults: { lineErrorFraction: 1, lineErrorStatus: 503 } });
    const done = await waitForBatch(sim, (await submitBatch(sim, lines(4))).id);
    expect(done.output_file_id).toBeNull();
    const errors = await readLines(sim, done.error_file_id);
    expect(errors.map((e) => e.response?.status_code)).toEqual([503, 503, 503, 503]);
  });

  it('silently drops [sim:drop] lines and a fraction of lines', async () => {
    const sim = await startSim();
    const done = await waitForBatch(
      sim,
      (await submitBatch(sim, [chatLine('keep', 'x'), chatLine('gone', 'y [sim:drop]')])).id,
    );
    expect(done.status).toBe('completed');
    expect(done.request_counts.total).toBe(2);
    expect((await readLines(sim, done.output_file_id)).map((l) => l.custom_id)).toEqual(['keep']);
    expect(done.error_file_id).toBeNull();

    sim.setFaults({ dropLineFraction: 0.5 });
    const half = await waitForBatch(sim, (await submitBatch(sim, lines(40))).id);
    const out = await readLines(sim, half.output_file_id);
    expect(out.length).toBeGreaterThan(5);
    expect(out.length).toBeLessThan(35);
  });

  it('keeps a batch cancelling for cancelDelayMs, then cancelled', async () => {
    const sim = await startSim({ timings: { validatingMs: 60_000 }, faults: { cancelDelayMs: 300 } });
    const created = await submitBatch(sim, lines(2));
    await api(sim, 'POST', `/batches/${created.id}/cancel`);
    const during = await api<Batch>(sim, 'GET', `/batches/${created.id}`);
    expect(during.body.status).toBe('cancelling');
    const again = await api<Batch>(sim, 'POST', `/batches/${created.id}/cancel`);
    expect(again.body.status).toBe('cancelling');
    expect((await waitForBatch(sim, created.id)).status).toBe('cancelled');
  });

  it('creates the batch but drops the connection (createBatchTimeout drop), once', async () => {
    const sim = await startSim({ faults: { createBatchTimeout: { mode: 'drop' } } });
    const file = await upload(sim, lines(2));
    const params = {
      input_file_id: file.body.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { batchbridge_flush_id: 'f-1' },
    };
    await expect(api(sim, 'POST', '/batches', params)).rejects.toThrow();
    const list = await api<{ data: Batch[] }>(sim, 'GET', '/batches');
    expect(list.body.data.map((b) => b.metadata)).toEqual([{ batchbridge_flush_id: 'f-1' }]);
    expect(sim.getFaults().createBatchTimeout).toBeNull();
    expect((await api(sim, 'POST', '/batches', params)).status).toBe(200);
    expect(sim.counters().batchesCreated).toBe(2);
  });

  it('creates the batch but answers later than the client waits (createBatchTimeout delay)', async () => {
    const sim = await startSim({ faults: { createBatchTimeout: { mode: 'delay', delayMs: 5_000 } } });
    const file = await upload(sim, lines(1));
    const params = { input_file_id: file.body.id, endpoint: '/v1/chat/completions', completion_window: '24h' };
    await expect(api(sim, 'POST', '/batches', params, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const list = await api<{ data: Batch[] }>(sim, 'GET', '/batches');
    expect(list.body.data).toHaveLength(1);
  });
});

describe('admin API and counters', () => {
  it('sets, reads and clears faults over HTTP', async () => {
    const sim = await startSim();
    const put = await admin(sim, 'PUT', '/faults', { rateLimitFraction: { 'files.list': 1 } });
    expect(put.status).toBe(200);
    expect(put.body.rateLimitFraction).toEqual({ 'files.list': 1 });
    expect((await api(sim, 'GET', '/files')).status).toBe(429);
    expect((await admin(sim, 'GET', '/faults')).body.rateLimitFraction).toEqual({ 'files.list': 1 });
    expect((await admin(sim, 'PUT', '/faults', { dropLineFraction: 7 })).status).toBe(400);
    await admin(sim, 'DELETE', '/faults');
    expect((await api(sim, 'GET', '/files')).status).toBe(200);
  });

  it('records for each custom_id the batches whose output answered it', async () => {
    const sim = await startSim();
    const a = await waitForBatch(sim, (await submitBatch(sim, [chatLine('x', '1'), chatLine('y', '2')])).id);
    const b = await waitForBatch(
      sim,
      (await submitBatch(sim, [chatLine('x', '1'), chatLine('z', '[sim:error=500]'), chatLine('w', '[sim:error=400]')]))
        .id,
    );
    const counters = (await admin<ReturnType<typeof sim.counters>>(sim, 'GET', '/counters')).body;
    expect(counters.outputBatchesByCustomId).toEqual({ x: [a.id, b.id], y: [a.id] });
    expect(counters.customIdsAnsweredTwice).toEqual(['x']);
    // Only the 4xx line counts as refused by the model; the 500 is a retryable provider error.
    expect(counters.customIdsRejected).toEqual(['w']);
    expect(counters).toMatchObject({
      filesCreated: 2,
      batchesCreated: 2,
      linesReceived: 5,
      outputLines: 3,
      errorLines: 2,
    });
    expect(sim.counters()).toEqual(counters);
  });

  it('resets files, batches, counters and faults', async () => {
    const sim = await startSim({ faults: { latencyMs: { 'files.list': 1 } } });
    await submitBatch(sim, lines(1));
    sim.setFaults({ dropLineFraction: 1 });
    expect((await admin(sim, 'POST', '/reset')).status).toBe(204);
    expect((await api<{ data: unknown[] }>(sim, 'GET', '/batches')).body.data).toEqual([]);
    expect((await api<{ data: unknown[] }>(sim, 'GET', '/files')).body.data).toEqual([]);
    expect(sim.counters().batchesCreated).toBe(0);
    expect(sim.getFaults().dropLineFraction).toBe(0);
    expect(sim.getFaults().latencyMs).toEqual({ 'files.list': 1 });
  });

  it('guards the admin API with adminKey when set', async () => {
    const sim = await startSim({ adminKey: 'adm' });
    expect((await admin(sim, 'GET', '/faults')).status).toBe(401);
    const ok = await fetch(`${sim.adminUrl}/faults`, { headers: { authorization: 'Bearer adm' } });
    expect(ok.status).toBe(200);
  });
});

describe('auth, files and realtime chat', () => {
  it('requires a bearer key; accepts only configured keys when given', async () => {
    const open = await startSim();
    const missing = await api(open, 'GET', '/models', undefined, { key: null });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ type: 'invalid_request_error', param: null });
    const closed = await startSim({ apiKeys: ['sk-good'] });
    expect((await api(closed, 'GET', '/models', undefined, { key: 'sk-bad' })).status).toBe(401);
    expect((await api(closed, 'GET', '/models', undefined, { key: 'sk-good' })).status).toBe(200);
  });

  it('uploads, lists, retrieves, downloads and deletes files', async () => {
    const sim = await startSim();
    const content = lines(3);
    const file = await upload(sim, content);
    expect(file.body).toMatchObject({ object: 'file', purpose: 'batch', status: 'processed', filename: 'input.jsonl' });
    const id = file.body.id as string;
    expect((await api(sim, 'GET', `/files/${id}`)).body.bytes).toBe(file.body.bytes);
    expect((await api<{ data: { id: string }[] }>(sim, 'GET', '/files')).body.data.map((f) => f.id)).toEqual([id]);
    expect((await readLines(sim, id)).map((l) => l.custom_id)).toEqual(['req-0', 'req-1', 'req-2']);
    expect((await api(sim, 'DELETE', `/files/${id}`)).body).toEqual({ id, object: 'file', deleted: true });
    expect((await api(sim, 'GET', `/files/${id}`)).status).toBe(404);
    expect((await upload(sim, content, 'fine-tune')).status).toBe(400);
  });

  it('refuses uploads over uploadMaxBytes', async () => {
    const sim = await startSim({ uploadMaxBytes: 100 });
    const res = await upload(sim, lines(5));
    expect(res.status).toBe(413);
    expect(sim.counters().filesCreated).toBe(0);
  });

  it('answers realtime chat deterministically, with markers and model checks', async () => {
    const sim = await startSim();
    const a = await api(sim, 'POST', '/chat/completions', chat('same'));
    const b = await api(sim, 'POST', '/chat/completions', chat('same'));
    expect(a.status).toBe(200);
    expect(a.body.choices).toEqual(b.body.choices);
    expect((await api(sim, 'POST', '/chat/completions', chat('x [sim:error=503]'))).status).toBe(503);
    const unknown = await api(sim, 'POST', '/chat/completions', chat('x', 'gpt-nope'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'model_not_found' });
    expect((await api(sim, 'POST', '/chat/completions', { model: 'gpt-4o-mini' })).status).toBe(400);
    expect(sim.counters().chatCompletions).toBe(2);
  });
});
