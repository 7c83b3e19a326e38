import { describe, expect, it } from 'vitest';
import { api, type Batch, chatLine, readLines, startSim, submitBatch, upload, waitForBatch } from '../test/helpers.js';
import { messagesHash, simulatedCompletion } from './completion.js';

const lines = (n: number, model = 'gpt-4o-mini') =>
  Array.from({ length: n }, (_, i) => chatLine(`req-${i}`, `question number ${i}`, model));

describe('batch lifecycle (openai profile)', () => {
  it('completes with one output line per request, in OpenAI line format, each answering its own request', async () => {
    const sim = await startSim();
    const input = lines(20);
    const created = await submitBatch(sim, input, { metadata: { batchbridge_flush_id: 'flush-1' } });
    expect(created.status).toBe('validating');
    expect(created.metadata).toEqual({ batchbridge_flush_id: 'flush-1' });
    expect(typeof created.created_at).toBe('number');

    const done = await waitForBatch(sim, created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
    expect(done.error_file_id).toBeNull();
    for (const field of ['in_progress_at', 'finalizing_at', 'completed_at', 'expires_at']) {
      expect(typeof done[field]).toBe('number');
    }
    expect(done.expires_at).toBe((done.created_at as number) + 24 * 3600);

    const out = await readLines(sim, done.output_file_id);
    expect(out.map((l) => l.custom_id).sort()).toEqual(input.map((l) => l.custom_id).sort());
    for (const line of out) {
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response?.status_code).toBe(200);
      expect(line.response?.request_id).toMatch(/^req_/);
      const request = input.find((l) => l.custom_id === line.custom_id)!;
      const body = request.body as { model: string; messages: unknown[] };
      const expected = simulatedCompletion(body);
      const answer = line.response?.body as unknown as typeof expected;
      expect(answer.choices[0].message.content).toBe(expected.choices[0].message.content);
      expect(answer.choices[0].message.content).toContain(messagesHash(body.messages));
    }
  });

  it('shuffles output lines', async () => {
    const sim = await startSim({ shuffleWindow: 50 });
    const input = lines(200);
    const done = await waitForBatch(sim, (await submitBatch(sim, input)).id);
    const ids = (await readLines(sim, done.output_file_id)).map((l) => l.custom_id);
    expect(ids).toHaveLength(200);
    expect(ids).not.toEqual(input.map((l) => l.custom_id));
  });

  it('moves request_counts while in_progress', async () => {
    const sim = await startSim({ timings: { linesPerSecond: 400 } });
    const created = await submitBatch(sim, lines(200));
    const seen = new Set<number>();
    for (;;) {
      const { body } = await api<Batch>(sim, 'GET', `/batches/${created.id}`);
      if (body.status === 'in_progress') seen.add(body.request_counts.completed);
      if (body.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // At 400 lines/s the 200 lines take half a second: polls in between see the count move.
    expect(seen.size).toBeGreaterThan(1);
  });

  it('lists newest first with a working after cursor', async () => {
    const sim = await startSim();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submitBatch(sim, lines(1), { metadata: { n: String(i) } })).id);
    const newestFirst = [...ids].reverse();
    const page1 = await api<{ data: Batch[]; has_more: boolean; first_id: string; last_id: string }>(
      sim,
      'GET',
      '/batches?limit=2',
    );
    expect(page1.body.data.map((b) => b.id)).toEqual(newestFirst.slice(0, 2));
    expect(page1.body.has_more).toBe(true);
    expect(page1.body.last_id).toBe(newestFirst[1]);
    const page2 = await api<{ data: Batch[]; has_more: boolean }>(
      sim,
      'GET',
      `/batches?limit=2&after=${page1.body.last_id}`,
    );
    expect(page2.body.data.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));
    const page3 = await api<{ data: Batch[]; has_more: boolean }>(
      sim,
      'GET',
      `/batches?limit=2&after=${newestFirst[3]}`,
    );
    expect(page3.body.data.map((b) => b.id)).toEqual(newestFirst.slice(4));
    expect(page3.body.has_more).toBe(false);
    expect(page3.body.data[0]?.metadata).toEqual({ n: '0' });
  });

  it('refuses bad create parameters with OpenAI-shaped errors', async () => {
    const sim = await startSim();
    const file = await upload(sim, lines(1));
    const create = (extra: Record<string, unknown>) =>
      api(sim, 'POST', '/batches', {
        input_file_id: file.body.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        ...extra,
      });
    const window = await create({ completion_window: '48h' });
    expect(window.status).toBe(400);
    expect(window.body.error).toMatchObject({ type: 'invalid_request_error', param: 'completion_window' });
    // OpenAI batches images too; the simulator does not answer them.
    const images = await create({ endpoint: '/v1/images/generations' });
    expect(images.status).toBe(400);
    expect(images.body.error).toMatchObject({ param: 'endpoint' });
    expect((await create({ input_file_id: 'file-nope' })).status).toBe(404);
    expect((await create({ metadata: { k: 'x'.repeat(513) } })).status).toBe(400);
    expect((await api(sim, 'GET', '/batches/batch_nope')).status).toBe(404);
  });
});

describe('batch validation', () => {
  const failWith = async (sim: Awaited<ReturnType<typeof startSim>>, input: string | unknown[]) => {
    const done = await waitForBatch(sim, (await submitBatch(sim, input)).id);
    expect(done.status).toBe('failed');
    expect(typeof done.failed_at).toBe('number');
    expect(done.errors?.object).toBe('list');
    return done.errors?.data ?? [];
  };

  it('reports bad JSON, duplicate custom_id, wrong url and method, unknown model with 1-based lines', async () => {
    const sim = await startSim();
    const good = JSON.stringify(chatLine('a', 'x'));
    const errors = await failWith(sim, [
      good,
      '{not json',
      JSON.stringify(chatLine('a', 'y')),
      JSON.stringify({ ...chatLine('c', 'x'), url: '/v1/embeddings' }),
      JSON.stringify({ ...chatLine('d', 'x'), method: 'GET' }),
      JSON.stringify(chatLine('e', 'x', 'no-such-model')),
      JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini' } }),
    ]);
    expect(errors.map((e) => [e.code, e.line])).toEqual([
      ['invalid_json_line', 2],
      ['duplicate_custom_id', 3],
      ['invalid_url', 4],
      ['invalid_method', 5],
      ['model_not_found', 6],
      ['mismatched_model', 6],
      ['missing_required_parameter', 7],
    ]);
    expect(errors[1]).toMatchObject({ param: 'custom_id' });
  });

  it('refuses mixed models under openai', async () => {
    const sim = await startSim();
    const errors = await failWith(sim, [chatLine('a', 'x', 'gpt-4o-mini'), chatLine('b', 'x', 'gpt-4.1-mini')]);
    expect(errors).toEqual([expect.objectContaining({ code: 'mismatched_model', line: 2, param: 'body.model' })]);
  });

  it('refuses too many lines and too many bytes', async () => {
    const sim = await startSim({ maxLines: 3, maxBytes: 2000 });
    expect(await failWith(sim, lines(4))).toEqual([expect.objectContaining({ code: 'too_many_lines', line: null })]);
    const big = [chatLine('a', 'y'.repeat(2100))];
    expect(await failWith(sim, big)).toEqual([expect.objectContaining({ code: 'file_too_large', line: null })]);
  });

  it('turns an invalid body into a per-line 400, not a failed batch', async () => {
    const sim = await startSim();
    const bad = { custom_id: 'bad', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini' } };
    const done = await waitForBatch(sim, (await submitBatch(sim, [chatLine('ok', 'x'), bad])).id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const [line] = await readLines(sim, done.error_file_id);
    expect(line).toMatchObject({ custom_id: 'bad', error: null, response: { status_code: 400 } });
  });
});

describe('cancellation', () => {
  it('cancels a validating batch: cancelling, then cancelled without output', async () => {
    const sim = await startSim({ timings: { validatingMs: 60_000, cancellingMs: 50 } });
    const created = await submitBatch(sim, lines(3));
    const cancelling = await api<Batch>(sim, 'POST', `/batches/${created.id}/cancel`);
    expect(cancelling.status).toBe(200);
    expect(cancelling.body.status).toBe('cancelling');
    expect(typeof cancelling.body.cancelling_at).toBe('number');
    const done = await waitForBatch(sim, created.id);
    expect(done.status).toBe('cancelled');
    expect(typeof done.cancelled_at).toBe('number');
    expect(done.output_file_id).toBeNull();
  });

  it('cancels an in-progress batch with partial output', async () => {
    const sim = await startSim({ timings: { linesPerSecond: 100 } });
    const created = await submitBatch(sim, lines(300));
    await waitForBatch(sim, created.id, ['in_progress']);
    await api(sim, 'POST', `/batches/${created.id}/cancel`);
    const done = await waitForBatch(sim, created.id);
    expect(done.status).toBe('cancelled');
    const out = await readLines(sim, done.output_file_id);
    expect(out.length).toBe(done.request_counts.completed);
    expect(out.length).toBeLessThan(300);
  });

  it('refuses to cancel a completed batch', async () => {
    const sim = await startSim();
    const done = await waitForBatch(sim, (await submitBatch(sim, lines(1))).id);
    const res = await api(sim, 'POST', `/batches/${done.id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error' });
  });
});

describe('kluster profile', () => {
  it('uses string timestamps in retrieve and list, integers on create, page fields in lists', async () => {
    const sim = await startSim({ profile: 'kluster' });
    const model = 'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo';
    const created = await submitBatch(sim, [chatLine('a', 'x', model), chatLine('b', 'y', 'deepseek-ai/DeepSeek-V3')], {
      completion_window: '72h',
    });
    expect(typeof created.created_at).toBe('number');
    const done = await waitForBatch(sim, created.id);
    expect(done.status).toBe('completed');
    expect(typeof done.created_at).toBe('string');
    expect(typeof done.completed_at).toBe('string');
    expect(Number(done.expires_at) - Number(done.created_at)).toBe(72 * 3600);
    expect(done.failed_at).toBeNull();

    const res = await fetch(`${sim.url}/batches`, { headers: { authorization: 'Bearer k' } });
    const raw = await res.text();
    expect(raw).toContain('"items_per_page":9223372036854775807');
    const list = JSON.parse(raw) as Record<string, unknown> & { data: Batch[] };
    expect(list).toMatchObject({ object: 'list', count: 1, page: 1, page_count: -1, has_more: false });
    expect(typeof list.data[0]?.created_at).toBe('string');
    const limited = await api(sim, 'GET', '/batches?limit=5');
    expect(limited.body.items_per_page).toBe(5);

    const file = await upload(sim, [chatLine('c', 'x', model)]);
    expect(typeof file.body.created_at).toBe('string');
  });

  it('lists kluster models including those from the guide', async () => {
    const sim = await startSim({ profile: 'kluster' });
    const models = await api<{ data: { id: string }[] }>(sim, 'GET', '/models');
    expect(models.body.data.map((m) => m.id)).toEqual(
      expect.arrayContaining(['klusterai/Meta-Llama-3.1-8B-Instruct-Turbo', 'deepseek-ai/DeepSeek-V3']),
    );
    expect((await api(sim, 'GET', '/models/deepseek-ai/DeepSeek-V3')).status).toBe(200);
  });
});
