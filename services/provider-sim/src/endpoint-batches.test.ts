/**
 * Batches and realtime calls of the endpoints beyond chat over real HTTP: markers and faults on every endpoint,
 * parameters refused per line, the embedding-input limit, a line too large to buffer, and a profile without them.
 */
import { describe, expect, it } from 'vitest';
import { api, readLines, startSim, submitBatch, waitForBatch } from '../test/helpers.js';
import type { ProviderSim } from './create-provider-sim.js';
import { simulatedEmbedding } from './embeddings.js';

type Body = Record<string, unknown>;

const ENDPOINTS: { endpoint: string; path: string; body: (text: string) => Body }[] = [
  {
    endpoint: '/v1/embeddings',
    path: '/embeddings',
    body: (text) => ({ model: 'text-embedding-3-small', input: text }),
  },
  { endpoint: '/v1/responses', path: '/responses', body: (text) => ({ model: 'gpt-4o-mini', input: text }) },
  {
    endpoint: '/v1/completions',
    path: '/completions',
    body: (text) => ({ model: 'gpt-3.5-turbo-instruct', prompt: text }),
  },
  {
    endpoint: '/v1/moderations',
    path: '/moderations',
    body: (text) => ({ model: 'omni-moderation-latest', input: text }),
  },
];

const line = (endpoint: string, customId: string, body: Body) => ({
  custom_id: customId,
  method: 'POST',
  url: endpoint,
  body,
});

async function run(sim: ProviderSim, endpoint: string, lines: readonly unknown[]) {
  return waitForBatch(sim, (await submitBatch(sim, lines, { endpoint })).id);
}

describe.each(ENDPOINTS)('$endpoint', ({ endpoint, path, body }) => {
  it('honours [sim:error], [sim:drop] and [sim:poison-line] in batches, [sim:error] in realtime', async () => {
    const sim = await startSim();
    const done = await run(sim, endpoint, [
      line(endpoint, 'ok', body('fine')),
      line(endpoint, 'err', body('please [sim:error=429]')),
      line(endpoint, 'drop', body('gone [sim:drop]')),
    ]);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 3, completed: 2, failed: 1 });
    expect((await readLines(sim, done.output_file_id)).map((l) => l.custom_id)).toEqual(['ok']);
    const [error] = await readLines(sim, done.error_file_id);
    expect(error).toMatchObject({ custom_id: 'err', response: { status_code: 429 } });

    const poisoned = await run(sim, endpoint, [
      line(endpoint, 'a', body('x')),
      line(endpoint, 'b', body('[sim:poison-line]')),
    ]);
    expect(poisoned.status).toBe('failed');
    expect(poisoned.errors?.data).toEqual([expect.objectContaining({ line: 2 })]);

    expect((await api(sim, 'POST', path, body('fine'))).status).toBe(200);
    const refused = await api(sim, 'POST', path, body('x [sim:error=503]'));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ type: 'server_error' });
    expect(sim.counters().requests).toMatchObject({ [path.slice(1)]: 2 });
  });

  it('answers a body its endpoint refuses with a per-line 400, and an unknown model as at validation', async () => {
    const sim = await startSim();
    const done = await run(sim, endpoint, [
      line(endpoint, 'ok', body('fine')),
      line(endpoint, 'bad', { ...body('x'), input: 42, prompt: 42 }),
    ]);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const [error] = await readLines(sim, done.error_file_id);
    expect(error).toMatchObject({ custom_id: 'bad', response: { status_code: 400 } });
    expect((await api(sim, 'POST', path, { ...body('x'), model: 'no-such-model' })).status).toBe(404);
  });
});

describe('endpoint rules', () => {
  it('refuses stream: true and background: true per line in batches, and in realtime', async () => {
    const sim = await startSim();
    const responses = await run(sim, '/v1/responses', [
      line('/v1/responses', 'bg', { model: 'gpt-4o-mini', input: 'x', background: true }),
      line('/v1/responses', 'st', { model: 'gpt-4o-mini', input: 'x', stream: true }),
    ]);
    const errors = await readLines(sim, responses.error_file_id);
    const params = Object.fromEntries(
      errors.map((e) => [e.custom_id, (e.response?.body.error as { param: string } | undefined)?.param]),
    );
    expect(params).toEqual({ bg: 'background', st: 'stream' });
    const completions = await run(sim, '/v1/completions', [
      line('/v1/completions', 'st', { model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true }),
    ]);
    expect(completions.request_counts).toMatchObject({ completed: 0, failed: 1 });
    const stream = await api(sim, 'POST', '/completions', {
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'x',
      stream: true,
    });
    expect(stream.status).toBe(400);
    expect(stream.body.error).toMatchObject({ param: 'stream' });
  });

  it('takes moderation lines without a model (OpenAI default) and checks the model of the others', async () => {
    const sim = await startSim();
    const done = await run(sim, '/v1/moderations', [
      line('/v1/moderations', 'a', { input: 'x' }),
      line('/v1/moderations', 'b', { model: 'omni-moderation-latest', input: 'y' }),
    ]);
    expect(done.status).toBe('completed');
    const out = await readLines(sim, done.output_file_id);
    expect(out.map((l) => l.response?.body.model)).toEqual(['omni-moderation-latest', 'omni-moderation-latest']);
    const missing = await run(sim, '/v1/embeddings', [line('/v1/embeddings', 'a', { input: 'x' })]);
    expect(missing.errors?.data).toEqual([expect.objectContaining({ code: 'missing_required_parameter', line: 1 })]);
  });

  it('fails an embeddings batch over 50 000 inputs in all', async () => {
    const sim = await startSim();
    const inputs = Array.from({ length: 2048 }, (_, i) => `t${i}`);
    const lines = Array.from({ length: 25 }, (_, i) =>
      line('/v1/embeddings', `e-${i}`, { model: 'text-embedding-3-small', input: inputs }),
    );
    const done = await run(sim, '/v1/embeddings', lines);
    expect(done.status).toBe('failed');
    expect(done.errors?.data).toEqual([expect.objectContaining({ code: 'too_many_embedding_inputs', line: null })]);
    // 24 lines: 49 152 inputs, under the limit (dimensions kept small so the test stays quick).
    const under = lines.slice(1).map((l) => ({ ...l, body: { ...l.body, dimensions: 1 } }));
    expect((await run(sim, '/v1/embeddings', under)).status).toBe('completed');
  });

  it('writes an embeddings answer too large to buffer through, intact, among small ones', async () => {
    const sim = await startSim();
    const inputs = Array.from({ length: 300 }, (_, i) => `big ${i}`);
    const lines = [
      line('/v1/embeddings', 'small-1', { model: 'text-embedding-3-small', input: 'one' }),
      line('/v1/embeddings', 'big', { model: 'text-embedding-3-small', input: inputs }),
      line('/v1/embeddings', 'small-2', { model: 'text-embedding-3-small', input: 'two' }),
    ];
    const done = await run(sim, '/v1/embeddings', lines);
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const out = await readLines(sim, done.output_file_id);
    expect(out.map((l) => l.custom_id).sort()).toEqual(['big', 'small-1', 'small-2']);
    const big = out.find((l) => l.custom_id === 'big')?.response?.body as { data: { embedding: number[] }[] };
    expect(big.data).toHaveLength(300);
    expect(big.data[299]?.embedding.map(Math.fround)).toEqual(
      Array.from(simulatedEmbedding('text-embedding-3-small', 'big 299', 1536)),
    );
    expect(done.usage).toMatchObject({ output_tokens: 0 });
  });

  it('serves chat only under kluster: other endpoints are refused at create and unknown in realtime', async () => {
    const sim = await startSim({ profile: 'kluster' });
    const create = await submitBatch(sim, [line('/v1/embeddings', 'a', { model: 'x', input: 'x' })], {
      endpoint: '/v1/embeddings',
    }).catch((err: Error) => err);
    expect(create).toBeInstanceOf(Error);
    expect(String(create)).toContain("Invalid value for 'endpoint'");
    const realtime = await api(sim, 'POST', '/embeddings', { model: 'x', input: 'x' });
    expect(realtime.status).toBe(404);
    expect(realtime.body.error).toMatchObject({ code: 'unknown_url' });
  });
});
