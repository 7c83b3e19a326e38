// Results you can trust (SPEC §14, issue 22), against the bundled simulator, as a user sees them in the request object:
// every kind of line reaches its request truthfully — answered, a provider 4xx (kept in `response`), a refusal, a
// truncated answer, an expired line, a missing line, and a batch the provider calls `completed` while every line
// failed — and structured outputs are checked: a schema-breaking answer is batched again, and after MAX_ATTEMPTS the
// request fails `schema_validation_failed` with the last answer kept.
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
let pipeline: Pipeline;

interface RequestObject {
  id: string;
  status: string;
  attempts: number;
  batch_id: string | null;
  truncated?: true;
  response: { status_code: number; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}

beforeAll(async () => {
  pipeline = await startPipeline({ MAX_ATTEMPTS: '2' });
});
afterAll(async () => {
  await pipeline?.dispose();
});

/** Submits one request (callback to a closed port: delivery is not what these tests look at) and waits for its end. */
async function outcome(body: Record<string, unknown>, endpoint = '/v1/chat/completions'): Promise<RequestObject> {
  const headers = { 'x-callback-url': 'http://127.0.0.1:9/hook', 'idempotency-key': crypto.randomUUID() };
  let id: string;
  if (endpoint === '/v1/chat/completions') {
    const { status, json } = await submit(pipeline.url, ACME_KEY, body, headers);
    expect(status, JSON.stringify(json)).toBe(202);
    id = String(json.id);
  } else {
    const res = await fetch(`${pipeline.url}${endpoint}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME_KEY}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { id: string };
    expect(res.status, JSON.stringify(json)).toBe(202);
    id = json.id;
  }
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${pipeline.url}/v1/requests/${id}`, {
      headers: { authorization: `Bearer ${ACME_KEY}`, prefer: 'wait=20' },
    });
    const r = (await res.json()) as RequestObject;
    if (['completed', 'failed', 'cancelled'].includes(r.status)) return r;
  }
  throw new Error(`request ${id} did not finish`);
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  ...extra,
});
const choice = (r: RequestObject) =>
  (r.response!.body.choices as Array<{ message: Record<string, unknown>; finish_reason: string }>)[0]!;

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 2 },
    age: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
    role: { enum: ['admin', 'user'] },
  },
  required: ['name', 'age', 'tags', 'role'],
  additionalProperties: false,
};
const personFormat = { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict: true } };
const validPerson = new Ajv2020({ strict: false }).compile(PERSON);

describe('the line taxonomy', () => {
  it('answered: completed with the provider answer', async () => {
    const r = await outcome(chat('taxonomy: answered'));
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(1);
    expect(r.response?.status_code).toBe(200);
    expect(r.truncated).toBeUndefined();
    expect(String(choice(r).message.content)).toMatch(/^sim:[0-9a-f]{16} gpt-4o-mini re: taxonomy: answered/);
  });

  it('a provider 4xx: failed provider_rejected, its body kept in response', async () => {
    const r = await outcome(chat('taxonomy: rejected [sim:error=400]'));
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('provider_rejected');
    expect(r.response?.status_code).toBe(400);
    expect((r.response!.body.error as { message: string }).message).toMatch(/Simulated error 400/);
  });

  it('refused: completed with the refusal, told as the model said it', async () => {
    const r = await outcome(chat('taxonomy: refused [sim:refuse]'));
    expect(r.status).toBe('completed');
    expect(choice(r).message.content).toBeNull();
    expect(String(choice(r).message.refusal)).toMatch(/can't help/);
  });

  it('truncated: completed with truncated: true (finish_reason length)', async () => {
    const r = await outcome(chat('taxonomy: truncated, a long enough prompt', { max_completion_tokens: 2 }));
    expect(r.status).toBe('completed');
    expect(r.truncated).toBe(true);
    expect(choice(r).finish_reason).toBe('length');
  });

  it('missing from the output: retried, then failed max_attempts_exceeded naming it', async () => {
    const r = await outcome(chat('taxonomy: missing [sim:drop]'));
    expect(r.status).toBe('failed');
    expect(r.attempts).toBe(2);
    expect(r.error?.code).toBe('max_attempts_exceeded');
    expect(r.error?.message).toMatch(/missing_from_output/);
  });

  it('expired: retried, then failed max_attempts_exceeded naming batch_expired', async () => {
    pipeline.sim!.setFaults({ expireAfterFraction: 0 });
    try {
      const r = await outcome(chat('taxonomy: expired'));
      expect(r.status).toBe('failed');
      expect(r.attempts).toBe(2);
      expect(r.error?.code).toBe('max_attempts_exceeded');
      expect(r.error?.message).toMatch(/batch_expired/);
    } finally {
      pipeline.sim!.setFaults({ expireAfterFraction: null });
    }
  });

  it('a batch the provider calls completed while every line failed: each request fails truthfully', async () => {
    const all = await Promise.all([0, 1, 2].map((i) => outcome(chat(`taxonomy: all failed ${i} [sim:error=422]`))));
    for (const r of all) {
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('provider_rejected');
      expect(r.response?.status_code).toBe(422);
    }
    const sim = new OpenAI({ baseURL: pipeline.sim!.url, apiKey: 'sim', maxRetries: 2 });
    for (const batchId of new Set(all.map((r) => String(r.batch_id)))) {
      const batch = await sim.batches.retrieve(batchId);
      expect(batch.status).toBe('completed');
      expect(batch.request_counts?.completed).toBe(0);
    }
  });
});

describe('structured outputs', () => {
  it('a chat json_schema answer follows its schema', async () => {
    const r = await outcome(chat('structured: a person', { response_format: personFormat }));
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(1);
    expect(validPerson(JSON.parse(String(choice(r).message.content)))).toBe(true);
  });

  it('a schema-breaking answer is batched again once, and the final answer validates', async () => {
    pipeline.sim!.setFaults({ schemaBreakingAnswers: 1 });
    const before = (await pipeline.runtime.metrics.m.schemaRejected.get()).values[0]?.value ?? 0;
    const r = await outcome(chat('structured: broken once', { response_format: personFormat }));
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(2);
    expect(validPerson(JSON.parse(String(choice(r).message.content)))).toBe(true);
    expect((await pipeline.runtime.metrics.m.schemaRejected.get()).values[0]?.value).toBe(before + 1);
  });

  it('after MAX_ATTEMPTS broken answers: failed schema_validation_failed, the last answer kept', async () => {
    pipeline.sim!.setFaults({ schemaBreakingAnswers: 2 });
    const r = await outcome(chat('structured: broken twice', { response_format: personFormat }));
    expect(r.status).toBe('failed');
    expect(r.attempts).toBe(2);
    expect(r.error?.code).toBe('schema_validation_failed');
    expect(r.error?.message).toMatch(/not JSON/);
    expect(String(choice(r).message.content)).toMatch(/breaks its JSON schema on purpose/);
  });

  it('a Batch API line with a json_schema is checked too: broken once, redone, valid in the output file', async () => {
    const client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: ACME_KEY, maxRetries: 2 });
    const line = (i: number) =>
      JSON.stringify({
        custom_id: `person-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: chat(`structured: batch api person ${i}`, { response_format: personFormat }),
      });
    pipeline.sim!.setFaults({ schemaBreakingAnswers: 1 });
    const file = await client.files.create({
      file: await toFile(Buffer.from(`${line(0)}\n${line(1)}\n`), 'people.jsonl'),
      purpose: 'batch',
    });
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    let batch = created;
    for (let i = 0; i < 200 && batch.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      batch = await client.batches.retrieve(created.id);
    }
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toMatchObject({ total: 2, completed: 2, failed: 0 });
    const output = (await (await client.files.content(String(batch.output_file_id))).text()).trim().split('\n');
    expect(output).toHaveLength(2);
    for (const raw of output) {
      const l = JSON.parse(raw) as { response: { body: { choices: Array<{ message: { content: string } }> } } };
      expect(validPerson(JSON.parse(l.response.body.choices[0]!.message.content))).toBe(true);
    }
    expect(pipeline.sim!.getFaults().schemaBreakingAnswers).toBe(0);
  });

  it('a Responses text.format json_schema answer follows its schema', async () => {
    const r = await outcome(
      {
        model: 'gpt-4o-mini',
        input: 'structured: a person via Responses',
        text: { format: { type: 'json_schema', name: 'person', schema: PERSON, strict: true } },
      },
      '/v1/responses',
    );
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(1);
    const output = r.response?.body.output as Array<{ content: Array<{ text: string }> }>;
    expect(validPerson(JSON.parse(output[0]!.content[0]!.text))).toBe(true);
  });
});
