/**
 * The simulator's "model": a pure, documented function from a chat request to a chat completion, so that a test can
 * recompute the answer a request must have received and prove that result X belongs to request X.
 *
 * Content: `sim:<hash> <model> re: <excerpt>` where `<hash>` is `messagesHash(body.messages)` (16 hex chars of the
 * SHA-256 of the messages, keys sorted) and `<excerpt>` the first 80 characters of the last user message.
 * Usage: `prompt_tokens = ceil(chars of all message text / 4)`, `completion_tokens = ceil(content length / 4)`.
 * A `max_completion_tokens` (or `max_tokens`) below that cuts the content to 4 characters per token and reports
 * `finish_reason: 'length'`.
 */
import { createHash } from 'node:crypto';

/** The part of a chat-completion request the simulator reads. */
export interface SimChatRequest {
  model: string;
  messages: readonly unknown[];
  max_tokens?: number | null | undefined;
  max_completion_tokens?: number | null | undefined;
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
      message: { role: 'assistant'; content: string; refusal: null; annotations: [] };
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
  let content = `sim:${hash} ${body.model} re: ${excerpt}`;
  let completionTokens = estimateTokens(content);
  let finishReason: 'stop' | 'length' = 'stop';
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (typeof limit === 'number' && limit > 0 && completionTokens > limit) {
    content = content.slice(0, limit * 4);
    completionTokens = limit;
    finishReason = 'length';
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
        message: { role: 'assistant', content, refusal: null, annotations: [] },
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
