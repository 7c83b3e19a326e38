/**
 * Every response of the simulator's `openai` profile validates against OpenAI's own OpenAPI document
 * (vendored at `test/fixtures/openai-openapi/openai-openapi.yaml`): Batch in each status, OpenAIFile, the list and delete responses,
 * models, every batchable endpoint's answer (chat completions, embeddings, responses, completions, moderations;
 * realtime and inside batch output lines) and error bodies. The simulator's own request checks agree with the
 * document's request schemas on a table of bodies, accepted and refused.
 */
import { readFileSync } from 'node:fs';
import { createProviderSim, type ProviderSim } from '@batchbridge/provider-sim';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

type Json = Record<string, unknown>;

const SPEC_URL = new URL('../fixtures/openai-openapi/openai-openapi.yaml', import.meta.url);

/**
 * Fields the live API sends as `null` while the document types them as plain optional values. The document's own
 * Batch example shows `"errors": null`, `"failed_at": null`, …; the SDK types treat them the same way. Only these
 * named fields are relaxed, nothing else.
 */
const NULLABLE_IN_PRACTICE: Record<string, readonly string[]> = {
  Batch: [
    'errors',
    'output_file_id',
    'error_file_id',
    'in_progress_at',
    'finalizing_at',
    'completed_at',
    'failed_at',
    'expired_at',
    'cancelling_at',
    'cancelled_at',
  ],
  OpenAIFile: ['expires_at', 'status_details'],
};

/** OpenAPI 3.0 `nullable: true` → JSON Schema `anyOf [schema, null]` (the 3.1 document has none, a 3.0 one would). */
function convertNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertNullable);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = convertNullable(v);
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  // `nullable: false` says nothing (CreateModerationRequest.model), and ajv refuses it beside `anyOf`.
  if (out.nullable === false) delete out.nullable;
  return out;
}

/**
 * With `encoding_format: "base64"` OpenAI sends each embedding as a base64 string (the openai SDK asks for it and
 * decodes it); the document types `Embedding.embedding` as floats only. Only that field is widened.
 */
function allowBase64Embeddings(schemas: Record<string, Json>): void {
  const properties = schemas.Embedding?.properties as Record<string, unknown> | undefined;
  if (!properties?.embedding) throw new Error('Embedding.embedding not found in the OpenAPI document');
  properties.embedding = { anyOf: [properties.embedding, { type: 'string', contentEncoding: 'base64' }] };
}

function loadValidators(): (name: string) => ValidateFunction {
  const doc = convertNullable(parse(readFileSync(SPEC_URL, 'utf8'))) as {
    components: { schemas: Record<string, Json> };
  };
  const schemas = doc.components.schemas;
  for (const [schemaName, fields] of Object.entries(NULLABLE_IN_PRACTICE)) {
    const properties = schemas[schemaName]?.properties as Record<string, unknown> | undefined;
    if (!properties) throw new Error(`schema ${schemaName} not found in the OpenAPI document`);
    for (const field of fields) {
      if (!properties[field]) throw new Error(`${schemaName}.${field} not found in the OpenAPI document`);
      properties[field] = { anyOf: [properties[field], { type: 'null' }] };
    }
  }
  allowBase64Embeddings(schemas);
  // OpenAPI keywords (`x-…`, `discriminator`, `example`, …) are annotations here: strict mode off.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  const addFormats = addFormatsModule as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addSchema({ $id: 'openai.json', components: doc.components });
  const cache = new Map<string, ValidateFunction>();
  return (name) => {
    let validate = cache.get(name);
    if (!validate) {
      validate = ajv.compile({ $ref: `openai.json#/components/schemas/${name}` });
      cache.set(name, validate);
    }
    return validate;
  };
}

let sim: ProviderSim;
let validator: (name: string) => ValidateFunction;

beforeAll(async () => {
  validator = loadValidators();
  sim = await createProviderSim({
    profile: 'openai',
    timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 },
  });
});
afterAll(async () => {
  await sim.close();
});

function expectValid(schema: string, value: unknown): void {
  const validate = validator(schema);
  const ok = validate(value);
  expect(ok, `${schema}: ${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(value)}`).toBe(true);
}

async function call(method: string, path: string, body?: unknown, key: string | null = 'sk-test') {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function uploadLines(lines: readonly unknown[]): Promise<Json> {
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob([lines.map((l) => JSON.stringify(l)).join('\n')]), 'input.jsonl');
  const res = await fetch(`${sim.url}/files`, { method: 'POST', headers: { authorization: 'Bearer k' }, body: form });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

const line = (id: string, text: string, model = 'gpt-4o-mini') => ({
  custom_id: id,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model, messages: [{ role: 'user', content: text }] },
});

async function createBatch(lines: readonly unknown[], endpoint = '/v1/chat/completions'): Promise<Json> {
  const file = await uploadLines(lines);
  const res = await call('POST', '/batches', {
    input_file_id: file.id,
    endpoint,
    completion_window: '24h',
    metadata: { batchbridge_flush_id: 'f' },
  });
  expect(res.status).toBe(200);
  return res.body;
}

async function finished(id: unknown): Promise<Json> {
  for (;;) {
    const { body } = await call('GET', `/batches/${String(id)}`);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(body.status as string)) return body;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the validators', () => {
  it('reject what the document forbids (so that passing means something)', () => {
    const batch = {
      id: 'batch_1',
      object: 'batch',
      endpoint: '/v1/chat/completions',
      input_file_id: 'file-1',
      completion_window: '24h',
      status: 'completed',
      created_at: 1,
    };
    expect(validator('Batch')(batch)).toBe(true);
    expect(validator('Batch')({ ...batch, created_at: '1733832777' })).toBe(false);
    expect(validator('Batch')({ ...batch, status: 'done' })).toBe(false);
    expect(validator('Batch')({ ...batch, request_counts: { total: 'x' } })).toBe(false);
    expect(validator('OpenAIFile')({ id: 'f', object: 'file', bytes: 1, created_at: 1, filename: 'a' })).toBe(false);
    expect(validator('ErrorResponse')({ error: { message: 'm', type: 't' } })).toBe(false);
    expect(validator('CreateChatCompletionResponse')({ choices: [{ index: 0 }] })).toBe(false);
    const embeddings = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5] }], model: 'm' };
    expect(validator('CreateEmbeddingResponse')({ ...embeddings, usage: { prompt_tokens: 1, total_tokens: 1 } })).toBe(
      true,
    );
    expect(validator('CreateEmbeddingResponse')(embeddings)).toBe(false);
    expect(validator('Response')({ id: 'resp_1', object: 'response', created_at: 1, output: [] })).toBe(false);
    expect(
      validator('CreateCompletionResponse')({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [],
      }),
    ).toBe(false);
    expect(validator('CreateModerationResponse')({ id: 'm', model: 'm', results: [{ flagged: false }] })).toBe(false);
  });
});

describe('openai profile responses validate against openai-openapi.yaml', () => {
  it('files: create, retrieve, list, delete', async () => {
    const file = await uploadLines([line('a', 'x')]);
    expectValid('OpenAIFile', file);
    expectValid('OpenAIFile', (await call('GET', `/files/${String(file.id)}`)).body);
    const list = await call('GET', '/files');
    expect((list.body.data as unknown[]).length).toBeGreaterThan(0);
    expectValid('ListFilesResponse', list.body);
    expectValid('DeleteFileResponse', (await call('DELETE', `/files/${String(file.id)}`)).body);
  });

  it('batches in every status, with output lines whose bodies are chat completions', async () => {
    const created = await createBatch([line('ok', 'x'), line('bad', 'y [sim:error=400]')]);
    expect(created.status).toBe('validating');
    expectValid('Batch', created);
    const completed = await finished(created.id);
    expect(completed.status).toBe('completed');
    expectValid('Batch', completed);
    const content = await fetch(`${sim.url}/files/${String(completed.output_file_id)}/content`, {
      headers: { authorization: 'Bearer k' },
    });
    for (const raw of (await content.text()).split('\n').filter(Boolean)) {
      expectValid('CreateChatCompletionResponse', (JSON.parse(raw) as { response: { body: unknown } }).response.body);
    }
    const errorContent = await fetch(`${sim.url}/files/${String(completed.error_file_id)}/content`, {
      headers: { authorization: 'Bearer k' },
    });
    for (const raw of (await errorContent.text()).split('\n').filter(Boolean)) {
      expectValid('ErrorResponse', (JSON.parse(raw) as { response: { body: unknown } }).response.body);
    }

    const failed = await finished((await createBatch(['{broken'])).id);
    expect(failed.status).toBe('failed');
    expectValid('Batch', failed);

    sim.setFaults({ expireAfterFraction: 0.5 });
    const expired = await finished((await createBatch([line('a', '1'), line('b', '2')])).id);
    sim.clearFaults();
    expect(expired.status).toBe('expired');
    expectValid('Batch', expired);

    sim.setFaults({ cancelDelayMs: 60_000 });
    const toCancel = await createBatch([line('c', '3')]);
    const cancelling = await call('POST', `/batches/${String(toCancel.id)}/cancel`);
    expect(cancelling.body.status).toBe('cancelling');
    expectValid('Batch', cancelling.body);
    sim.clearFaults();

    const list = await call('GET', '/batches?limit=3');
    expect(list.body.has_more).toBe(true);
    expectValid('ListBatchesResponse', list.body);
  });

  it('cancelled batches', async () => {
    // A simulator whose batches wait in `validating`, so that the cancel always lands before they finish.
    const main = sim;
    sim = await createProviderSim({ timings: { validatingMs: 60_000, cancellingMs: 0 } });
    try {
      const created = await createBatch([line('x', '1')]);
      await call('POST', `/batches/${String(created.id)}/cancel`);
      const done = await finished(created.id);
      expect(done.status).toBe('cancelled');
      expectValid('Batch', done);
    } finally {
      await sim.close();
      sim = main;
    }
  });

  it('models and realtime chat completions', async () => {
    expectValid('ListModelsResponse', (await call('GET', '/models')).body);
    expectValid('Model', (await call('GET', '/models/gpt-4o-mini')).body);
    const chat = await call('POST', '/chat/completions', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
      max_completion_tokens: 2,
    });
    expect(chat.status).toBe(200);
    expectValid('CreateChatCompletionResponse', chat.body);
  });

  it('errors', async () => {
    const errors = [
      await call('GET', '/models', undefined, null),
      await call('GET', '/batches/batch_nope'),
      await call('POST', '/batches', { endpoint: '/v1/chat/completions' }),
      await call('POST', '/chat/completions', {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: '[sim:error=500]' }],
      }),
    ];
    expect(errors.map((e) => e.status)).toEqual([401, 404, 400, 500]);
    for (const e of errors) expectValid('ErrorResponse', e.body);
    sim.setFaults({ rateLimitFraction: { 'files.list': 1 } });
    const limited = await call('GET', '/files');
    sim.clearFaults();
    expect(limited.status).toBe(429);
    expectValid('ErrorResponse', limited.body);
  });
});

/** Per endpoint: its request and response schemas in the document, bodies it must answer, and bodies both refuse. */
const ENDPOINT_CASES: {
  endpoint: string;
  path: string;
  request: string;
  response: string;
  valid: Json[];
  invalid: Json[];
}[] = [
  {
    endpoint: '/v1/embeddings',
    path: '/embeddings',
    request: 'CreateEmbeddingRequest',
    response: 'CreateEmbeddingResponse',
    valid: [
      { model: 'text-embedding-3-small', input: 'one' },
      { model: 'text-embedding-3-small', input: ['two', 'three'], dimensions: 8, encoding_format: 'float' },
      { model: 'text-embedding-3-small', input: [1, 2, 3], encoding_format: 'base64' },
      { model: 'text-embedding-3-small', input: [[1, 2], [3]], user: 'u' },
    ],
    invalid: [
      { model: 'text-embedding-3-small' },
      { input: 'no model' },
      { model: 'text-embedding-3-small', input: [] },
      { model: 'text-embedding-3-small', input: 'x', encoding_format: 'int8' },
      { model: 'text-embedding-3-small', input: 'x', dimensions: 0 },
      { model: 'text-embedding-3-small', input: 'x', temperature: 1 },
      { model: 'text-embedding-3-small', input: [1.5] },
    ],
  },
  {
    endpoint: '/v1/responses',
    path: '/responses',
    request: 'CreateResponse',
    response: 'Response',
    valid: [
      { model: 'gpt-4o-mini', input: 'one' },
      { model: 'gpt-4o-mini', instructions: 'Short.', input: [{ role: 'user', content: 'two' }], temperature: 0.5 },
      // (Content as a part list matches two branches of the document's `InputItem` oneOf; the SDK test sends it.)
      {
        model: 'gpt-4o-mini',
        input: [
          { role: 'user', content: 'three' },
          { role: 'assistant', content: 'four' },
        ],
        max_output_tokens: 16,
        metadata: { k: 'v' },
      },
    ],
    invalid: [
      { model: 'gpt-4o-mini', input: 42 },
      { model: 'gpt-4o-mini', input: 'x', temperature: 3 },
      { model: 'gpt-4o-mini', input: 'x', instructions: 7 },
    ],
  },
  {
    endpoint: '/v1/completions',
    path: '/completions',
    request: 'CreateCompletionRequest',
    response: 'CreateCompletionResponse',
    valid: [
      { model: 'gpt-3.5-turbo-instruct', prompt: 'one' },
      { model: 'gpt-3.5-turbo-instruct', prompt: ['two', 'three'], max_tokens: 100, n: 2 },
      { model: 'gpt-3.5-turbo-instruct', prompt: [[1, 2], [3]], echo: false },
    ],
    invalid: [
      { model: 'gpt-3.5-turbo-instruct' },
      { prompt: 'no model' },
      { model: 'gpt-3.5-turbo-instruct', prompt: 'x', n: 0 },
      { model: 'gpt-3.5-turbo-instruct', prompt: 'x', max_tokens: -1 },
    ],
  },
  {
    endpoint: '/v1/moderations',
    path: '/moderations',
    request: 'CreateModerationRequest',
    response: 'CreateModerationResponse',
    valid: [
      { model: 'omni-moderation-latest', input: 'one' },
      { input: ['two [sim:flag=hate]', 'three'] },
      {
        model: 'omni-moderation-latest',
        input: [
          { type: 'text', text: 'four' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
        ],
      },
    ],
    invalid: [{ model: 'omni-moderation-latest' }, { input: 5 }, { input: [{ type: 'audio', audio: 'x' }] }],
  },
  {
    endpoint: '/v1/chat/completions',
    path: '/chat/completions',
    request: 'CreateChatCompletionRequest',
    response: 'CreateChatCompletionResponse',
    valid: [{ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'one' }], max_completion_tokens: 4 }],
    invalid: [{ model: 'gpt-4o-mini' }, { messages: [{ role: 'user', content: 'no model' }] }],
  },
];

describe.each(ENDPOINT_CASES)(
  '$endpoint against the document',
  ({ endpoint, path, request, response, valid, invalid }) => {
    it(`the simulator accepts what ${request} accepts and refuses what it refuses`, async () => {
      for (const body of valid) {
        expect(validator(request)(body), `${request} refuses ${JSON.stringify(body)}`).toBe(true);
        const res = await call('POST', path, body);
        expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(200);
      }
      for (const body of invalid) {
        expect(validator(request)(body), `${request} accepts ${JSON.stringify(body)}`).toBe(false);
        const res = await call('POST', path, body);
        expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(400);
        expectValid('ErrorResponse', res.body);
      }
    });

    it(`realtime answers and batch output lines validate as ${response}`, async () => {
      for (const body of valid) expectValid(response, (await call('POST', path, body)).body);
      const lines = valid.map((body, i) => ({ custom_id: `v-${i}`, method: 'POST', url: endpoint, body }));
      const done = await finished((await createBatch(lines, endpoint)).id);
      expect(done.status).toBe('completed');
      expectValid('Batch', done);
      const content = await fetch(`${sim.url}/files/${String(done.output_file_id)}/content`, {
        headers: { authorization: 'Bearer k' },
      });
      const outputs = (await content.text()).split('\n').filter(Boolean);
      expect(outputs).toHaveLength(valid.length);
      for (const raw of outputs) {
        const line = JSON.parse(raw) as { response: { status_code: number; body: unknown } };
        expect(line.response.status_code).toBe(200);
        expectValid(response, line.response.body);
      }
    });
  },
);
