/**
 * Contract (issue 17): every batch line batchbridge itself writes — the JSONL the packer uploads — is what OpenAI's
 * Batch API takes, for every batchable endpoint: the envelope (`custom_id` = request id, `method: POST`, `url` = the
 * batch's endpoint) and a body that validates against that endpoint's request schema in OpenAI's OpenAPI document
 * (vendored at `test/fixtures/openai-openapi/`): `CreateChatCompletionRequest`, `CreateEmbeddingRequest`,
 * `CreateResponse`, `CreateCompletionRequest`, `CreateModerationRequest`. The requests go in through the ingest API
 * with the official openai SDK, with batchbridge's own `custom_id` field in the body (which must not reach a line:
 * the embeddings schema has `additionalProperties: false`), in every input form each endpoint takes.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startPipeline, WAITER_KEY, withWaitingTenant } from '../e2e/helpers.js';

const SPEC_URL = new URL('../fixtures/openai-openapi/openai-openapi.yaml', import.meta.url);

const REQUEST_SCHEMAS = {
  '/v1/chat/completions': 'CreateChatCompletionRequest',
  '/v1/embeddings': 'CreateEmbeddingRequest',
  '/v1/responses': 'CreateResponse',
  '/v1/completions': 'CreateCompletionRequest',
  '/v1/moderations': 'CreateModerationRequest',
} as const;
type Endpoint = keyof typeof REQUEST_SCHEMAS;

/** OpenAPI 3.0 `nullable` in the document: `true` → `anyOf [schema, null]`; `false` says nothing (ajv refuses it). */
function convertNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertNullable);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = convertNullable(v);
  const nullable = out.nullable;
  delete out.nullable;
  return nullable === true ? { anyOf: [out, { type: 'null' }] } : out;
}

function requestValidators(): Record<Endpoint, ValidateFunction> {
  const doc = convertNullable(parse(readFileSync(SPEC_URL, 'utf8'))) as { components: unknown };
  // OpenAPI keywords (`x-…`, `discriminator`, `example`, …) are annotations here: strict mode off.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: 'openai.json', components: doc.components });
  return Object.fromEntries(
    Object.entries(REQUEST_SCHEMAS).map(([endpoint, name]) => [
      endpoint,
      ajv.compile({ $ref: `openai.json#/components/schemas/${name}` }),
    ]),
  ) as Record<Endpoint, ValidateFunction>;
}

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
let pipeline: Pipeline;
let validators: Record<Endpoint, ValidateFunction>;

beforeAll(async () => {
  validators = requestValidators();
  // Provider files are kept, so that the test reads the input files the packer uploaded.
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '300', DELETE_PROVIDER_FILES: 'false' }, withWaitingTenant(120));
});
afterAll(async () => {
  await pipeline?.dispose();
});

/** Bodies as clients send them, in each input form of each endpoint. */
const BODIES: Record<Endpoint, Array<Record<string, unknown>>> = {
  '/v1/chat/completions': [
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Name a colour.' }] },
    {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer in JSON.' },
        { role: 'user', content: [{ type: 'text', text: 'A colour, please.' }] },
      ],
      response_format: { type: 'json_object' },
      max_completion_tokens: 64,
      temperature: 0.2,
    },
  ],
  '/v1/embeddings': [
    { model: 'text-embedding-3-small', input: 'one text', encoding_format: 'float' },
    { model: 'text-embedding-3-small', input: ['first', 'second'], dimensions: 8, encoding_format: 'base64' },
    { model: 'text-embedding-3-small', input: [1212, 318, 257], encoding_format: 'float' },
    { model: 'text-embedding-3-small', input: [[1212, 318], [257]], encoding_format: 'float', user: 'u-1' },
  ],
  '/v1/responses': [
    { model: 'gpt-4o-mini', input: 'Say something about rivers.', instructions: 'Be brief.' },
    {
      model: 'gpt-4o-mini',
      // Content as a string: a part list matches two branches of the document's `InputItem` oneOf (EasyInputMessage
      // and InputMessage), which the document's own schema then refuses.
      input: [{ role: 'user', content: 'A city and its country.' }],
      text: {
        format: {
          type: 'json_schema',
          name: 'place',
          schema: {
            type: 'object',
            properties: { city: { type: 'string' }, country: { type: 'string' } },
            required: ['city', 'country'],
            additionalProperties: false,
          },
          strict: true,
        },
      },
      tools: [
        {
          type: 'function',
          name: 'lookup',
          description: 'Looks a place up.',
          parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          strict: false,
        },
      ],
      max_output_tokens: 100,
    },
  ],
  '/v1/completions': [
    { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 16 },
    { model: 'gpt-3.5-turbo-instruct', prompt: ['First prompt', 'Second prompt'], max_tokens: 8, temperature: 0 },
  ],
  '/v1/moderations': [
    { model: 'omni-moderation-latest', input: 'a calm sentence' },
    { input: ['one', 'two'] },
    { model: 'omni-moderation-latest', input: [{ type: 'text', text: 'a text part' }] },
  ],
};

it('the validators refuse what OpenAI refuses (they can fail)', () => {
  expect(validators['/v1/embeddings']({ model: 'text-embedding-3-small', input: 'x', custom_id: 'mine' })).toBe(false);
  expect(validators['/v1/embeddings']({ model: 'text-embedding-3-small' })).toBe(false);
  expect(validators['/v1/completions']({ model: 'gpt-3.5-turbo-instruct' })).toBe(false);
  expect(validators['/v1/moderations']({ model: 'omni-moderation-latest' })).toBe(false);
  expect(validators['/v1/chat/completions']({ model: 'gpt-4o-mini', messages: 'hi' })).toBe(false);
  expect(validators['/v1/responses']({ model: 'gpt-4o-mini', input: 'x', temperature: 'hot' })).toBe(false);
});

it("every endpoint's batch lines match the envelope and the endpoint's OpenAPI request schema", async () => {
  const client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: WAITER_KEY, maxRetries: 0 });
  // Retries: this process's pooled connections to the simulator (the packer's and poller's) may be closing idle.
  const sim = new OpenAI({ baseURL: pipeline.sim!.url, apiKey: 'sim', maxRetries: 2 });
  const sent = Object.entries(BODIES).flatMap(([endpoint, bodies]) =>
    bodies.map((body, i) => ({ endpoint: endpoint as Endpoint, body: { ...body, custom_id: `ref-${endpoint}-${i}` } })),
  );
  // Every endpoint at once, through the SDK's own method for it (the answers come back in the held responses).
  await Promise.all(
    sent.map(({ endpoint, body }) => {
      const b = body as never;
      if (endpoint === '/v1/chat/completions') return client.chat.completions.create(b);
      if (endpoint === '/v1/embeddings') return client.embeddings.create(b);
      if (endpoint === '/v1/responses') return client.responses.create(b);
      if (endpoint === '/v1/completions') return client.completions.create(b);
      return client.moderations.create(b);
    }),
  );

  const batches = (await sim.batches.list({ limit: 100 })).data;
  const seen = new Map<Endpoint, Array<Record<string, unknown>>>();
  for (const batch of batches) {
    expect(batch.status).toBe('completed');
    const text = await (await sim.files.content(batch.input_file_id)).text();
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    for (const raw of lines) {
      const line = JSON.parse(raw) as {
        custom_id: unknown;
        method: unknown;
        url: unknown;
        body: Record<string, unknown>;
      };
      expect(Object.keys(line).sort()).toEqual(['body', 'custom_id', 'method', 'url']);
      expect(line.custom_id).toMatch(/^breq_/);
      expect(line.method).toBe('POST');
      // One endpoint per provider batch: every line's url is the batch's endpoint.
      expect(line.url).toBe(batch.endpoint);
      const endpoint = line.url as Endpoint;
      const validate = validators[endpoint];
      expect(validate, `no schema for ${String(line.url)}`).toBeDefined();
      expect(validate(line.body), `${endpoint} line: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
      expect(line.body.custom_id).toBeUndefined();
      seen.set(endpoint, [...(seen.get(endpoint) ?? []), line.body]);
    }
  }
  // Every body sent made exactly one line, unchanged but for batchbridge's own field.
  for (const endpoint of Object.keys(BODIES) as Endpoint[]) {
    const expected = BODIES[endpoint].map((b) => JSON.stringify(b)).sort();
    expect((seen.get(endpoint) ?? []).map((b) => JSON.stringify(b)).sort()).toEqual(expected);
  }
});
