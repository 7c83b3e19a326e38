/**
 * Every batchable endpoint of the provider simulator (SPEC §9) driven by the official openai SDK: realtime
 * `embeddings`, `responses`, `completions`, `moderations`, then one batch per endpoint whose output lines must equal the
 * realtime answers (the simulator is deterministic), and a line whose `url` is not the batch's endpoint.
 */
import {
  createProviderSim,
  FAST_TIMINGS,
  type ProviderSim,
  simulatedEmbedding,
  simulatedModeration,
  simulatedResponse,
  simulatedTextCompletion,
} from '@batchbridge/provider-sim';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let sim: ProviderSim;
let client: OpenAI;

beforeAll(async () => {
  sim = await createProviderSim({ profile: 'openai', timings: FAST_TIMINGS });
  client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0 });
});
afterAll(async () => {
  await sim.close();
});

type Json = Record<string, unknown>;

/** What a realtime call answered, through plain HTTP (the SDK rewrites embeddings it decodes). */
async function realtime(path: string, body: Json): Promise<Json> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Json;
}

async function waitDone(id: string) {
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) return batch;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runBatch(endpoint: string, lines: readonly Json[]) {
  const file = await client.files.create({
    file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n')), 'input.jsonl'),
    purpose: 'batch',
  });
  const created = await client.batches.create({
    input_file_id: file.id,
    endpoint: endpoint as OpenAI.Batches.BatchCreateParams['endpoint'],
    completion_window: '24h',
  });
  expect(created.endpoint).toBe(endpoint);
  const done = await waitDone(created.id);
  const outputs: { custom_id: string; response: { status_code: number; body: Json } }[] = [];
  if (done.output_file_id) {
    const text = await (await client.files.content(done.output_file_id)).text();
    for (const raw of text.split('\n').filter(Boolean)) outputs.push(JSON.parse(raw));
  }
  return { done, outputs };
}

/** Fields that depend on the time of the call, not on the request. */
function timeless(body: Json): Json {
  const { created: _created, created_at: _createdAt, completed_at: _completedAt, ...rest } = body;
  return rest;
}

describe('realtime calls through the openai SDK', () => {
  it('embeddings.create: float, base64 as sent, and base64 decoded by the SDK give the same vectors', async () => {
    const input = ['alpha', 'beta'];
    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input,
      encoding_format: 'float',
    });
    expect(floats.object).toBe('list');
    expect(floats.data).toHaveLength(2);
    // ceil(5 / 4) + ceil(4 / 4)
    expect(floats.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    input.forEach((text, i) => {
      const expected = Array.from(simulatedEmbedding('text-embedding-3-small', text, 1536));
      expect(floats.data[i]?.index).toBe(i);
      // The float form is written as OpenAI writes it (≤ 9 digits): read back as float32, the same values.
      expect(floats.data[i]?.embedding.map(Math.fround)).toEqual(expected);
    });
    // Inputs are told apart: routing can be checked vector by vector.
    expect(floats.data[0]?.embedding).not.toEqual(floats.data[1]?.embedding);
    const norm = Math.hypot(...(floats.data[0]?.embedding ?? []));
    expect(norm).toBeCloseTo(1, 5);

    // Without encoding_format the SDK asks for base64 and decodes it into floats itself.
    const decoded = await client.embeddings.create({ model: 'text-embedding-3-small', input });
    expect(decoded.data.map((d) => d.embedding)).toEqual(floats.data.map((d) => d.embedding.map(Math.fround)));

    // With encoding_format 'base64' the SDK hands over the string: little-endian float32.
    const raw = await client.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'base64' });
    const text = raw.data[0]?.embedding as unknown as string;
    expect(typeof text).toBe('string');
    const bytes = Buffer.from(text, 'base64');
    const values = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(values).toEqual(floats.data[0]?.embedding.map(Math.fround));
  });

  it('embeddings.create honours dimensions and takes token arrays', async () => {
    const short = await client.embeddings.create({
      model: 'text-embedding-3-large',
      input: 'gamma',
      dimensions: 256,
      encoding_format: 'float',
    });
    expect(short.data[0]?.embedding).toHaveLength(256);
    expect(short.data[0]?.embedding.map(Math.fround)).toEqual(
      Array.from(simulatedEmbedding('text-embedding-3-large', 'gamma', 256)),
    );
    const full = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'gamma' });
    expect(full.data[0]?.embedding).toHaveLength(3072);

    const tokens = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: [
        [1, 2, 3],
        [4, 5],
      ],
    });
    expect(tokens.data).toHaveLength(2);
    expect(tokens.usage.prompt_tokens).toBe(5);
    expect(tokens.data[1]?.embedding).toEqual(Array.from(simulatedEmbedding('text-embedding-3-small', [4, 5], 1536)));
    const single = await client.embeddings.create({ model: 'text-embedding-3-small', input: [1, 2, 3] });
    expect(single.data).toHaveLength(1);
    expect(single.data[0]?.embedding).toEqual(tokens.data[0]?.embedding);

    await expect(
      client.embeddings.create({ model: 'text-embedding-ada-002', input: 'x', dimensions: 8 }),
    ).rejects.toMatchObject({ status: 400, param: 'dimensions' });
    await expect(client.embeddings.create({ model: 'text-embedding-3-small', input: '' })).rejects.toMatchObject({
      status: 400,
    });
  });

  it('responses.create: an assistant message derived from instructions and input', async () => {
    const params = { model: 'gpt-4o-mini', instructions: 'Be terse.', input: 'What is the capital of Peru?' };
    const response = await client.responses.create(params);
    expect(response.object).toBe('response');
    expect(response.status).toBe('completed');
    const expected = simulatedResponse(params).output[0].content[0].text;
    expect(expected).toMatch(/^sim:[0-9a-f]{16} gpt-4o-mini re: What is the capital of Peru\?$/);
    // `output_text` is the SDK's own aggregation of the output_text parts.
    expect(response.output_text).toBe(expected);

    const items = await client.responses.create({
      model: 'gpt-4o-mini',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] }],
      max_output_tokens: 16,
    });
    expect(items.output_text).toMatch(/ re: Hello there$/);
    expect(items.output_text).not.toBe(expected);

    await expect(client.responses.create({ model: 'gpt-4o-mini', input: 'x', background: true })).rejects.toMatchObject(
      { status: 400, param: 'background' },
    );
    await expect(client.responses.create({ model: 'gpt-4o-mini', input: 'x [sim:error=503]' })).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
  });

  it('completions.create: one text_completion choice per prompt', async () => {
    const completion = await client.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: ['Say one', 'Say two'],
      max_tokens: 64,
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices.map((c) => c.text)).toEqual(
      simulatedTextCompletion({
        model: 'gpt-3.5-turbo-instruct',
        prompt: ['Say one', 'Say two'],
        max_tokens: 64,
      }).choices.map((c) => c.text),
    );
    expect(completion.choices[1]?.text).toMatch(/ re: Say two$/);
    // OpenAI's default max_tokens is 16.
    const short = await client.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say one thing about the sea, at some length please',
    });
    expect(short.choices[0]?.finish_reason).toBe('length');
    expect(short.choices[0]?.text).toHaveLength(64);
  });

  it('moderations.create: flagged only where a marker asks for it', async () => {
    const moderation = await client.moderations.create({
      model: 'omni-moderation-latest',
      input: ['a calm sentence', 'a [sim:flag=harassment] sentence'],
    });
    expect(moderation.results).toHaveLength(2);
    expect(moderation.results[0]?.flagged).toBe(false);
    expect(moderation.results[1]?.flagged).toBe(true);
    expect(moderation.results[1]?.categories.harassment).toBe(true);
    expect(moderation.results[1]?.categories.violence).toBe(false);
    expect(moderation).toEqual(
      simulatedModeration({
        model: 'omni-moderation-latest',
        input: ['a calm sentence', 'a [sim:flag=harassment] sentence'],
      }),
    );
    // The model may be left out: OpenAI's default.
    const defaulted = await client.moderations.create({ input: 'plain' });
    expect(defaulted.model).toBe('omni-moderation-latest');
  });

  it('lists the embedding, moderation and completions models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'gpt-4o-mini',
        'text-embedding-3-small',
        'omni-moderation-latest',
        'gpt-3.5-turbo-instruct',
      ]),
    );
  });
});

const BATCH_CASES: { endpoint: string; path: string; bodies: Json[] }[] = [
  {
    endpoint: '/v1/embeddings',
    path: '/embeddings',
    bodies: [
      { model: 'text-embedding-3-small', input: 'one' },
      { model: 'text-embedding-3-small', input: ['two', 'three'], dimensions: 64 },
      { model: 'text-embedding-3-small', input: 'four', encoding_format: 'base64' },
    ],
  },
  {
    endpoint: '/v1/responses',
    path: '/responses',
    bodies: [
      { model: 'gpt-4o-mini', input: 'one' },
      { model: 'gpt-4o-mini', instructions: 'Short.', input: [{ role: 'user', content: 'two' }] },
    ],
  },
  {
    endpoint: '/v1/completions',
    path: '/completions',
    bodies: [
      { model: 'gpt-3.5-turbo-instruct', prompt: 'one' },
      { model: 'gpt-3.5-turbo-instruct', prompt: ['two', 'three'], max_tokens: 100 },
    ],
  },
  {
    endpoint: '/v1/moderations',
    path: '/moderations',
    bodies: [
      { model: 'omni-moderation-latest', input: 'one' },
      { model: 'omni-moderation-latest', input: ['two [sim:flag]', 'three'] },
    ],
  },
  {
    endpoint: '/v1/chat/completions',
    path: '/chat/completions',
    bodies: [{ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'one' }] }],
  },
];

describe('one batch per endpoint answers what realtime answers', () => {
  it.each(BATCH_CASES)('$endpoint', async ({ endpoint, path, bodies }) => {
    const lines = bodies.map((body, i) => ({ custom_id: `c-${i}`, method: 'POST', url: endpoint, body }));
    const { done, outputs } = await runBatch(endpoint, lines);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: bodies.length, completed: bodies.length, failed: 0 });
    expect(outputs).toHaveLength(bodies.length);
    for (const [i, body] of bodies.entries()) {
      const line = outputs.find((o) => o.custom_id === `c-${i}`);
      expect(line?.response.status_code).toBe(200);
      expect(timeless(line!.response.body)).toEqual(timeless(await realtime(path, body)));
    }
  });

  it('a line whose url is not the batch endpoint fails the batch at validation, naming the line', async () => {
    const { done, outputs } = await runBatch('/v1/embeddings', [
      { custom_id: 'a', method: 'POST', url: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: 'x' } },
      {
        custom_id: 'b',
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'x' }] },
      },
    ]);
    expect(done.status).toBe('failed');
    expect(outputs).toEqual([]);
    expect(done.errors?.data).toEqual([expect.objectContaining({ code: 'invalid_url', line: 2, param: 'url' })]);
  });

  it('a batch endpoint the simulator does not answer is refused at create', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from('{}'), 'input.jsonl'),
      purpose: 'batch',
    });
    await expect(
      client.batches.create({ input_file_id: file.id, endpoint: '/v1/images/generations', completion_window: '24h' }),
    ).rejects.toMatchObject({ status: 400, param: 'endpoint' });
  });
});
