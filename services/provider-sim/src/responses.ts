/**
 * The simulator's Responses "model": a pure, documented function from a `/v1/responses` request to a `response`
 * object, so that a test can recompute the answer a request must have received.
 *
 * Output: one assistant `message` with one `output_text` part, `sim:<hash> <model> re: <excerpt>`, where `<hash>` is
 * `responseInputHash(body)` (16 hex chars of SHA-256 over `[instructions, input]`, keys sorted) and `<excerpt>` the
 * first 80 characters of the input (a string) or of the last `user` item's text (an item list). `output_text`, the
 * aggregated text, is the SDK's convenience and is not sent, as OpenAI does not send it.
 * Usage: `input_tokens = ceil(chars of instructions and input text / 4)`, `output_tokens = ceil(text length / 4)`.
 * A `max_output_tokens` below that cuts the text to 4 characters per token and answers `status: "incomplete"`,
 * `incomplete_details: {reason: "max_output_tokens"}`, as OpenAI does.
 * Structured outputs: with `text: {format: {type: "json_schema", schema}}` the text is instead
 * `JSON.stringify(sampleForSchema(schema, "sim:<hash>"))` (completion.ts), and the response echoes the request's `text`.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { estimateTokens, lastUserText, messagesText, sampleForSchema, stableStringify } from './completion.js';

/**
 * The Responses request body as the simulator checks it: only what the simulated model reads. The document's
 * `CreateResponse` makes `input` optional (a stored prompt or a previous response can stand in); the simulator keeps
 * no prompts or responses, so it needs the input.
 */
export const responsesBodySchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.looseObject({}))]),
  instructions: z.string().nullable().optional(),
  max_output_tokens: z.number().int().min(1).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  background: z.boolean().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  store: z.boolean().nullable().optional(),
  previous_response_id: z.string().nullable().optional(),
  tools: z.array(z.looseObject({ type: z.string() })).optional(),
  tool_choice: z.unknown().optional(),
});

export type ResponsesBody = z.output<typeof responsesBodySchema>;

/** The part of a Responses request the simulator reads (the rest is echoed when present). */
export interface SimResponsesRequest {
  model: string;
  input: string | readonly unknown[];
  instructions?: string | null | undefined;
  max_output_tokens?: number | null | undefined;
  [param: string]: unknown;
}

/** 16 hex characters of SHA-256 over `[instructions, input]` (keys sorted). */
export function responseInputHash(body: Pick<SimResponsesRequest, 'input' | 'instructions'>): string {
  return createHash('sha256')
    .update(stableStringify([body.instructions ?? null, body.input]))
    .digest('hex')
    .slice(0, 16);
}

/** All text of the input: the string, or every item's content text, one line each. */
export function responseInputText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  return messagesText(input);
}

/** The instructions and input text of any body, valid or not: what markers and token estimates read. */
export function responsesPromptText(body: Record<string, unknown>): string {
  const instructions = typeof body.instructions === 'string' ? `${body.instructions}\n` : '';
  return instructions + responseInputText(body.input);
}

function excerptOf(input: string | readonly unknown[]): string {
  const text = typeof input === 'string' ? input : lastUserText(input);
  return text.replace(/\s+/g, ' ').trim().slice(0, 80);
}

const hashOf = (value: unknown, length: number): string =>
  createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, length);

/** A `response` object as OpenAI returns it (the fields the simulator echoes from the request are left open). */
export interface SimResponse {
  id: string;
  object: 'response';
  created_at: number;
  status: 'completed' | 'incomplete';
  model: string;
  output: [
    {
      id: string;
      type: 'message';
      status: 'completed' | 'incomplete';
      role: 'assistant';
      content: [{ type: 'output_text'; text: string; annotations: []; logprobs: [] }];
    },
  ];
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  };
  [field: string]: unknown;
}

export interface SimulatedResponseOptions {
  /** `created_at` of the response (unix seconds). @defaultValue now */
  created?: number;
}

/** The deterministic answer to a Responses request (see the module comment for the exact rules). */
export function simulatedResponse(body: SimResponsesRequest, options: SimulatedResponseOptions = {}): SimResponse {
  const created = options.created ?? Math.floor(Date.now() / 1000);
  const schema = responsesJsonSchema(body);
  let text =
    schema === undefined
      ? `sim:${responseInputHash(body)} ${body.model} re: ${excerptOf(body.input)}`
      : JSON.stringify(sampleForSchema(schema, `sim:${responseInputHash(body)}`));
  let outputTokens = estimateTokens(text);
  const limit = body.max_output_tokens;
  const incomplete = typeof limit === 'number' && limit > 0 && outputTokens > limit;
  if (incomplete) {
    text = text.slice(0, limit * 4);
    outputTokens = limit;
  }
  const inputTokens = estimateTokens(responsesPromptText(body));
  const id = hashOf(body, 24);
  return {
    id: `resp_sim${id}`,
    object: 'response',
    created_at: created,
    status: incomplete ? 'incomplete' : 'completed',
    background: false,
    completed_at: incomplete ? null : created,
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: body.model,
    output: [
      {
        id: `msg_sim${id}`,
        type: 'message',
        status: incomplete ? 'incomplete' : 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
      },
    ],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: isRecord(body.text) ? body.text : { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    },
    metadata: body.metadata ?? {},
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON schema of a Responses request's `text.format` `{type: "json_schema", schema}`, if it has one. */
export function responsesJsonSchema(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const format = isRecord(body.text) ? body.text.format : undefined;
  if (!isRecord(format) || format.type !== 'json_schema') return undefined;
  return isRecord(format.schema) ? format.schema : undefined;
}
