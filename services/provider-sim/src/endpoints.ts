/**
 * The endpoints the simulator answers, in batches and realtime, each in one place: its body check, the parameters it
 * refuses, the prompt text its `[sim:…]` markers and token estimate read, and its deterministic answer. The batch
 * runner, the batch validation and the realtime router all dispatch through `ENDPOINTS`.
 */
import type { z } from 'zod';
import { chatBodySchema } from './chat-body.js';
import { messagesText, type SimChatRequest, simulatedCompletion } from './completion.js';
import {
  embeddingDimensionsProblem,
  embeddingInputCount,
  embeddingsBodySchema,
  embeddingsPromptTokens,
  simulatedEmbeddingsJson,
} from './embeddings.js';
import type { SimOperation } from './faults.js';
import {
  DEFAULT_MODERATION_MODEL,
  moderationsBodySchema,
  moderationsPromptText,
  simulatedModeration,
} from './moderations.js';
import { responsesBodySchema, responsesPromptText, simulatedResponse } from './responses.js';
import { simulatedTextCompletion, textCompletionBodySchema, textCompletionPromptText } from './text-completion.js';

/** The Batch API endpoints the simulator serves (SPEC §9), as a batch's `endpoint` and a line's `url` name them. */
export const BATCH_ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/completions',
  '/v1/moderations',
] as const;

export type SimEndpoint = (typeof BATCH_ENDPOINTS)[number];

export function isSimEndpoint(value: string): value is SimEndpoint {
  return (BATCH_ENDPOINTS as readonly string[]).includes(value);
}

/** Why a well-formed body is still refused (400 unless said otherwise). */
export interface RequestProblem {
  message: string;
  param: string | null;
}

/** Where a request arrived: parameters such as `stream` are refused with different words in each. */
export type RequestChannel = 'batch' | 'realtime';

/** A deterministic answer: the response body as JSON chunks (concatenated: one JSON document) and its usage. */
export interface SimAnswer {
  json: Iterable<string>;
  inputTokens: number;
  outputTokens: number;
}

/** A request body that passed its endpoint's check. */
export interface CheckedRequest {
  model: string;
  /** The prompt text (`[sim:…]` markers are read from it). */
  text: string;
  /** A parameter the simulator refuses although the body is well-formed, or null. */
  problem(channel: RequestChannel): RequestProblem | null;
  answer(created: number): SimAnswer;
}

export type CheckResult = { ok: true; request: CheckedRequest } | { ok: false; error: z.ZodError };

export interface EndpointHandler {
  readonly endpoint: SimEndpoint;
  /** Realtime path under `/v1`. */
  readonly path: string;
  /** Fault-gate operation of the realtime call. */
  readonly operation: SimOperation;
  /** The model a body may leave out (moderations), or null when `model` is required. */
  readonly defaultModel: string | null;
  /** Checks a body as the endpoint does. */
  check(body: unknown): CheckResult;
  /** The prompt text of any body, checked or not (validation reads markers and estimates tokens from it). */
  promptText(body: Record<string, unknown>): string | null;
  /** Inputs a body holds, for a per-batch input limit (embeddings); 0 where no such limit exists. */
  inputCount(body: Record<string, unknown>): number;
}

interface HandlerDefinition<B> {
  endpoint: SimEndpoint;
  path: string;
  operation: SimOperation;
  defaultModel?: string;
  schema: z.ZodType<B>;
  model(body: B): string;
  text(body: B): string;
  problem(body: B, channel: RequestChannel): RequestProblem | null;
  answer(body: B, created: number): SimAnswer;
  promptText(body: Record<string, unknown>): string | null;
  inputCount?(body: Record<string, unknown>): number;
}

function defineEndpoint<B>(def: HandlerDefinition<B>): EndpointHandler {
  return {
    endpoint: def.endpoint,
    path: def.path,
    operation: def.operation,
    defaultModel: def.defaultModel ?? null,
    check(body) {
      const parsed = def.schema.safeParse(body);
      if (!parsed.success) return { ok: false, error: parsed.error };
      const data = parsed.data;
      return {
        ok: true,
        request: {
          model: def.model(data),
          text: def.text(data),
          problem: (channel) => def.problem(data, channel),
          answer: (created) => def.answer(data, created),
        },
      };
    },
    promptText: def.promptText,
    inputCount: def.inputCount ?? (() => 0),
  };
}

/** `stream: true` is refused everywhere: the simulator does not stream, and batches never do. */
function streamProblem(stream: boolean | null | undefined, channel: RequestChannel): RequestProblem | null {
  if (stream !== true) return null;
  return channel === 'batch'
    ? { message: 'Streaming is not supported in batches.', param: 'stream' }
    : { message: 'Streaming is not supported by the simulator.', param: 'stream' };
}

const json = (value: unknown): string[] => [JSON.stringify(value)];

const chat = defineEndpoint({
  endpoint: '/v1/chat/completions',
  path: '/chat/completions',
  operation: 'chat.completions',
  schema: chatBodySchema,
  model: (body) => body.model,
  text: (body) => messagesText(body.messages),
  problem: (body, channel) => streamProblem(body.stream, channel),
  answer: (body, created) => {
    const completion = simulatedCompletion(body as SimChatRequest, { created });
    return {
      json: json(completion),
      inputTokens: completion.usage.prompt_tokens,
      outputTokens: completion.usage.completion_tokens,
    };
  },
  promptText: (body) => (Array.isArray(body.messages) ? messagesText(body.messages) : null),
});

const embeddings = defineEndpoint({
  endpoint: '/v1/embeddings',
  path: '/embeddings',
  operation: 'embeddings',
  schema: embeddingsBodySchema,
  model: (body) => body.model,
  text: (body) => embeddingsText(body.input),
  problem: (body) => {
    const message = embeddingDimensionsProblem(body);
    return message ? { message, param: 'dimensions' } : null;
  },
  answer: (body) => ({
    json: simulatedEmbeddingsJson(body),
    inputTokens: embeddingsPromptTokens(body),
    outputTokens: 0,
  }),
  promptText: (body) => embeddingsText(body.input),
  inputCount: embeddingInputCount,
});

function embeddingsText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  return input.filter((item): item is string => typeof item === 'string').join('\n');
}

const responses = defineEndpoint({
  endpoint: '/v1/responses',
  path: '/responses',
  operation: 'responses',
  schema: responsesBodySchema,
  model: (body) => body.model,
  text: (body) => responsesPromptText(body),
  problem: (body, channel) => {
    if (body.background === true) {
      return channel === 'batch'
        ? { message: 'Background mode is not supported in batches.', param: 'background' }
        : { message: 'Background mode is not supported by the simulator.', param: 'background' };
    }
    return streamProblem(body.stream, channel);
  },
  answer: (body, created) => {
    const response = simulatedResponse(body, { created });
    return {
      json: json(response),
      inputTokens: response.usage.input_tokens,
      outputTokens: response.usage.output_tokens,
    };
  },
  promptText: responsesPromptText,
});

const completions = defineEndpoint({
  endpoint: '/v1/completions',
  path: '/completions',
  operation: 'completions',
  schema: textCompletionBodySchema,
  model: (body) => body.model,
  text: (body) => textCompletionPromptText(body),
  problem: (body, channel) => streamProblem(body.stream, channel),
  answer: (body, created) => {
    const completion = simulatedTextCompletion(body, { created });
    return {
      json: json(completion),
      inputTokens: completion.usage.prompt_tokens,
      outputTokens: completion.usage.completion_tokens,
    };
  },
  promptText: textCompletionPromptText,
});

const moderations = defineEndpoint({
  endpoint: '/v1/moderations',
  path: '/moderations',
  operation: 'moderations',
  defaultModel: DEFAULT_MODERATION_MODEL,
  schema: moderationsBodySchema,
  model: (body) => body.model ?? DEFAULT_MODERATION_MODEL,
  text: (body) => moderationsPromptText(body),
  problem: () => null,
  answer: (body) => ({ json: json(simulatedModeration(body)), inputTokens: 0, outputTokens: 0 }),
  promptText: moderationsPromptText,
});

/** Every endpoint, by the name a batch's `endpoint` uses. */
export const ENDPOINTS: Readonly<Record<SimEndpoint, EndpointHandler>> = {
  '/v1/chat/completions': chat,
  '/v1/embeddings': embeddings,
  '/v1/responses': responses,
  '/v1/completions': completions,
  '/v1/moderations': moderations,
};
