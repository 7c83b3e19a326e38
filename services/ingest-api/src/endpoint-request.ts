/**
 * The boundary check of the batchable endpoints beyond chat (SPEC §9): `/v1/embeddings`, `/v1/responses`,
 * `/v1/completions`, `/v1/moderations`. As for chat (chat-request.ts), the fields OpenAI defines are held to their
 * shapes so that a bad request is refused here rather than failing inside a batch later, parameters the schema does not
 * know pass through untouched, what the Batch API refuses (`stream`, Responses' `background`) is refused, and
 * batchbridge's own fields are stripped before the body goes upstream.
 */
import type { Endpoint } from '@batchbridge/domain';
import { countInputs, estimateEndpointTokens, estimateInputTokens } from '@batchbridge/domain';
import { z } from 'zod';
import { MAX_CLIENT_REF_LENGTH, modelName, paramName, parseChatRequest, verbatimBody } from './chat-request.js';
import { invalidParam } from './errors.js';

/** A request of any endpoint, as the route needs it. */
export interface EndpointRequest {
  endpoint: Endpoint;
  model: string;
  /** The body sent upstream (batchbridge fields stripped), as JSON text. */
  upstreamBody: string;
  /** The upstream body serialised from the parsed object (what an Idempotency-Key compares). */
  canonicalBody: () => string;
  bodyCallbackUrl: string | undefined;
  bodyClientRef: string | undefined;
  /** The `deadline` field (SPEC §10), checked by the route; the `X-Deadline` header wins. */
  bodyDeadline: string | number | undefined;
  /**
   * The client asked for a stream (chat and Responses, only for a request that waits; see chat-request.ts): answered as
   * that endpoint's streaming events re-telling the finished answer.
   */
  stream: StreamAsk | undefined;
  /** Estimated input tokens (providers' enqueued-token limits). */
  tokens: number;
  /** Inputs it holds (embeddings: strings or token arrays; see countInputs), for per-batch input limits. */
  inputs: number;
}

/** How a streamed answer is told: chat-completion chunks, or the Responses API's events. */
export type StreamAsk = { format: 'chat'; includeUsage: boolean } | { format: 'responses' };

const tokenArray = z.array(z.number().int().min(0)).min(1);
const extension = {
  callback_url: z.string().optional(),
  custom_id: z.string().min(1).max(MAX_CLIENT_REF_LENGTH).optional(),
  deadline: z.union([z.number(), z.string()], { error: 'expected seconds, a duration or an RFC 3339 time' }).optional(),
};
const noStream = z
  .boolean()
  .nullable()
  .optional()
  .refine((v) => v !== true, 'stream: true is not supported for this endpoint in a batch');

const SCHEMAS = {
  '/v1/embeddings': z.looseObject({
    model: modelName,
    input: z.union(
      [
        z.string().min(1, 'input must not be empty'),
        z.array(z.string().min(1, 'input must not be empty')).min(1).max(2048),
        tokenArray,
        z.array(tokenArray).min(1).max(2048),
      ],
      { error: 'input must be a string, an array of strings, an array of tokens or an array of token arrays' },
    ),
    dimensions: z.number().int().min(1).optional(),
    encoding_format: z.enum(['float', 'base64'], { error: 'encoding_format must be float or base64' }).optional(),
    user: z.string().optional(),
    ...extension,
  }),
  '/v1/completions': z.looseObject({
    model: modelName,
    prompt: z.union([z.string(), z.array(z.string()).min(1), tokenArray, z.array(tokenArray).min(1)], {
      error: 'prompt must be a string, an array of strings, an array of tokens or an array of token arrays',
    }),
    max_tokens: z.number().int().min(0).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    n: z.number().int().min(1).max(128).nullable().optional(),
    stream: noStream,
    ...extension,
  }),
  '/v1/responses': z.looseObject({
    model: modelName,
    input: z.union([z.string().min(1), z.array(z.looseObject({})).min(1)], {
      error: 'input is required: a string or an array of input items (stored prompts are not batched)',
    }),
    instructions: z.string().nullable().optional(),
    max_output_tokens: z.number().int().min(1).nullable().optional(),
    text: z.looseObject({ format: z.looseObject({ type: z.string() }).optional() }).optional(),
    tools: z.array(z.looseObject({ type: z.string() })).optional(),
    // Accepted with a wait (checked below): answered as the Responses streaming events, stripped from the batch line.
    stream: z.boolean().nullable().optional(),
    background: z
      .boolean()
      .nullable()
      .optional()
      .refine((v) => v !== true, 'background: true is not supported in a batch'),
    ...extension,
  }),
  '/v1/moderations': z.looseObject({
    model: modelName.optional(),
    input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1), z.array(z.looseObject({})).min(1)], {
      error: 'input must be a string, an array of strings or an array of input parts',
    }),
    ...extension,
  }),
} as const;

/** The moderation model a body without one is grouped under (OpenAI's default). */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

/** Validates a parsed JSON body of `endpoint`; throws an ApiError (400) naming the first bad parameter. */
export function parseEndpointRequest(
  endpoint: Endpoint,
  raw: unknown,
  rawText: string | undefined,
  options: { streamAllowed?: boolean } = {},
): EndpointRequest {
  if (endpoint === '/v1/chat/completions') {
    const chat = parseChatRequest(raw, rawText, options);
    const stream: StreamAsk | undefined = chat.stream && { format: 'chat', includeUsage: chat.stream.includeUsage };
    return { endpoint, ...chat, stream, tokens: estimateInputTokens(chat.messages), inputs: 1 };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidParam('body', `request body must be a JSON object with ${endpoint} parameters`, 'invalid_body');
  }
  const parsed = SCHEMAS[endpoint].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue ? paramName(issue.path) : 'body';
    const code = param === 'stream' || param === 'background' ? 'unsupported_parameter' : 'invalid_value';
    throw invalidParam(param, `Invalid '${param}': ${issue?.message ?? 'invalid value'}`, code);
  }
  const data = parsed.data as { model?: string; callback_url?: string; custom_id?: string; deadline?: string | number };
  const body = raw as Record<string, unknown>;
  // Only the Responses schema lets `stream` through; a batch line cannot stream, so it needs a wait (SPEC §8).
  const streaming = endpoint === '/v1/responses' && body.stream === true;
  if (streaming && !options.streamAllowed) {
    throw invalidParam(
      'stream',
      'stream: true needs a wait: send `Prefer: wait=<seconds>` to get the answer as a stream once the batch returns ' +
        '(without a wait, batchbridge answers through the callback webhook)',
      'unsupported_parameter',
    );
  }
  let canonical: string | undefined;
  const canonicalBody = () => {
    if (canonical === undefined) {
      const { callback_url: _c, custom_id: _i, deadline: _d, ...upstream } = body;
      if (streaming) {
        delete upstream.stream;
        delete upstream.stream_options;
      }
      canonical = JSON.stringify(upstream);
    }
    return canonical;
  };
  const verbatim =
    rawText !== undefined &&
    body.callback_url === undefined &&
    body.custom_id === undefined &&
    body.deadline === undefined &&
    !streaming
      ? verbatimBody(rawText, Object.keys(body).length)
      : undefined;
  return {
    endpoint,
    model: data.model ?? DEFAULT_MODERATION_MODEL,
    upstreamBody: verbatim ?? canonicalBody(),
    canonicalBody,
    bodyCallbackUrl: data.callback_url,
    bodyClientRef: data.custom_id,
    bodyDeadline: data.deadline,
    stream: streaming ? { format: 'responses' } : undefined,
    tokens: estimateEndpointTokens(endpoint, body),
    inputs: countInputs(endpoint, body),
  };
}
