/**
 * The simulator's "model": a pure, documented function from a chat request to a chat completion, so that a test can
 * recompute the answer a request must have received and prove that result X belongs to request X.
 *
 * Content: `sim:<hash> <model> re: <excerpt>` where `<hash>` is `messagesHash(body.messages)` (16 hex chars of the
 * SHA-256 of the messages, keys sorted) and `<excerpt>` the first 80 characters of the last user message.
 * Usage: `prompt_tokens = ceil(chars of all message text / 4)`, `completion_tokens = ceil(content length / 4)`.
 * A `max_completion_tokens` (or `max_tokens`) below that cuts the content to 4 characters per token and reports
 * `finish_reason: 'length'`.
 * `[sim:refuse]` in the messages: the model refuses (`content: null`, `refusal: "sim: I can't help with that."`).
 * Structured outputs: with `response_format: {type: "json_schema", json_schema: {schema}}` the content is instead
 * `JSON.stringify(sampleForSchema(schema, "sim:<hash>"))`, a value that follows the schema (its strings are the seed).
 */
import { createHash } from 'node:crypto';

/** The part of a chat-completion request the simulator reads. */
export interface SimChatRequest {
  model: string;
  messages: readonly unknown[];
  max_tokens?: number | null | undefined;
  max_completion_tokens?: number | null | undefined;
  response_format?: unknown;
}

/** A chat.completion object as OpenAI returns it. */
export interface SimChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [
    {
      index: 0;
      message: { role: 'assistant'; content: string | null; refusal: string | null; annotations: [] };
      logprobs: null;
      finish_reason: 'stop' | 'length';
    },
  ];
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
    completion_tokens_details: {
      reasoning_tokens: number;
      audio_tokens: number;
      accepted_prediction_tokens: number;
      rejected_prediction_tokens: number;
    };
  };
  service_tier: 'default';
  system_fingerprint: string;
}

/** JSON with object keys sorted, so that equal requests hash equally whatever their key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => stableStringify(item ?? null)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** 16 hex characters of SHA-256 over the messages (keys sorted): the fingerprint put into every simulated answer. */
export function messagesHash(messages: readonly unknown[]): string {
  return createHash('sha256').update(stableStringify(messages)).digest('hex').slice(0, 16);
}

/** Token estimate used for usage and for the enqueued-token limit: about four characters per token. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The text of one message's `content`: a string, or the `text` of its parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string'
          ? (part as { text: string }).text
          : '',
      )
      .join('');
  }
  return '';
}

/** All message text of a request, messages separated by newlines. */
export function messagesText(messages: readonly unknown[]): string {
  return messages
    .map((m) => (m && typeof m === 'object' ? contentText((m as { content?: unknown }).content) : ''))
    .join('\n');
}

/** The text of the last `user` message (its `content` read as `contentText` does). */
export function lastUserText(messages: readonly unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null | undefined;
    if (m && m.role === 'user') return contentText(m.content);
  }
  return '';
}

export interface SimulatedCompletionOptions {
  /** `created` of the completion (unix seconds). @defaultValue now */
  created?: number;
}

/** The deterministic answer to a chat request (see the module comment for the exact rules). */
export function simulatedCompletion(body: SimChatRequest, options: SimulatedCompletionOptions = {}): SimChatCompletion {
  const hash = messagesHash(body.messages);
  const excerpt = lastUserText(body.messages).replace(/\s+/g, ' ').trim().slice(0, 80);
  const schema = chatJsonSchema(body);
  let content =
    schema === undefined
      ? `sim:${hash} ${body.model} re: ${excerpt}`
      : JSON.stringify(sampleForSchema(schema, `sim:${hash}`));
  let completionTokens = estimateTokens(content);
  let finishReason: 'stop' | 'length' = 'stop';
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (typeof limit === 'number' && limit > 0 && completionTokens > limit) {
    content = content.slice(0, limit * 4);
    completionTokens = limit;
    finishReason = 'length';
  }
  const refused = messagesText(body.messages).includes('[sim:refuse]');
  if (refused) {
    content = "sim: I can't help with that.";
    completionTokens = estimateTokens(content);
    finishReason = 'stop';
  }
  const promptTokens = estimateTokens(messagesText(body.messages));
  return {
    id: `chatcmpl-sim${createHash('sha256').update(stableStringify(body)).digest('hex').slice(0, 24)}`,
    object: 'chat.completion',
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [
      {
        index: 0,
        message: refused
          ? { role: 'assistant', content: null, refusal: content, annotations: [] }
          : { role: 'assistant', content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_sim',
  };
}

/** Markers a prompt can carry to make the simulator misbehave for that one request. */
export interface SimMarkers {
  /** `[sim:error=NNN]`: answer this request with status NNN (400–599). */
  errorStatus: number | null;
  /** `[sim:drop]`: leave this line out of both output and error file. */
  drop: boolean;
}

const ERROR_MARKER = /\[sim:error=(\d{3})\]/;

/** Reads the `[sim:…]` markers from the message text of a request. */
export function simMarkers(messages: readonly unknown[]): SimMarkers {
  return simMarkersInText(messagesText(messages));
}

/** Reads the `[sim:…]` markers from a request's prompt text, whatever its endpoint. */
export function simMarkersInText(text: string): SimMarkers {
  const match = ERROR_MARKER.exec(text);
  const status = match ? Number(match[1]) : null;
  return {
    errorStatus: status !== null && status >= 400 && status <= 599 ? status : null,
    drop: text.includes('[sim:drop]'),
  };
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON schema of a chat request's `response_format: {type: "json_schema"}`, if it has one. */
export function chatJsonSchema(body: { response_format?: unknown }): JsonObject | undefined {
  const format = body.response_format;
  if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.json_schema)) return undefined;
  return isObject(format.json_schema.schema) ? format.json_schema.schema : undefined;
}

/**
 * A deterministic value that follows a JSON schema (the subset structured outputs use: type, properties, required,
 * items, enum, const, anyOf/oneOf/allOf, $ref into $defs/definitions, minItems, minLength, minimum/maximum): every
 * string is `seed` (padded to minLength), numbers their minimum or 1, booleans true, arrays minItems (at least one)
 * items, objects every property.
 */
export function sampleForSchema(schema: unknown, seed: string, root: unknown = schema, depth = 0): unknown {
  if (!isObject(schema) || depth > 12) return seed;
  if (typeof schema.$ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const defs = m && isObject(root) ? root[m[1] as string] : undefined;
    const target = isObject(defs) ? defs[decodeURIComponent((m as RegExpExecArray)[2] as string)] : undefined;
    return sampleForSchema(target, seed, root, depth + 1);
  }
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches) && branches.length > 0) {
      const branch = branches.find((b) => !(isObject(b) && b.type === 'null')) ?? branches[0];
      return sampleForSchema(branch, seed, root, depth + 1);
    }
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type =
    types.find((t) => typeof t === 'string' && t !== 'null') ??
    (types.includes('null') ? 'null' : isObject(schema.properties) ? 'object' : schema.items ? 'array' : 'string');
  switch (type) {
    case 'object': {
      const out: JsonObject = {};
      const properties = isObject(schema.properties) ? schema.properties : {};
      for (const [name, sub] of Object.entries(properties)) out[name] = sampleForSchema(sub, seed, root, depth + 1);
      return out;
    }
    case 'array': {
      const n = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1);
      const max = typeof schema.maxItems === 'number' ? schema.maxItems : n;
      return Array.from({ length: Math.min(n, max) }, () => sampleForSchema(schema.items, seed, root, depth + 1));
    }
    case 'integer':
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : undefined;
      const max = typeof schema.maximum === 'number' ? schema.maximum : undefined;
      const v = min ?? (max !== undefined && max < 1 ? max : 1);
      return type === 'integer' ? Math.ceil(v) : v;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default: {
      const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
      const text = seed.padEnd(minLength, '.');
      return typeof schema.maxLength === 'number' ? text.slice(0, schema.maxLength) : text;
    }
  }
}
