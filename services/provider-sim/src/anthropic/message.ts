/**
 * The Anthropic mode's "model": a pure function from Messages `params` to a Messages result, derived from the input the
 * way `simulatedCompletion` derives chat answers, so a test can recompute what a request must have received.
 *
 * - Text: `sim:<hash> <model> re: <excerpt>`, `<hash>` = `messagesHash([{system}, ...messages])` (without a `system`:
 *   `messagesHash(messages)`), `<excerpt>` the first 80 characters of the last user turn's text (tool results
 *   included, whitespace collapsed).
 * - Tool use: with `tools` and `tool_choice` `any` or `tool` (or `auto`/absent and `[sim:tool]` in the last user text,
 *   unless that turn carries tool results), the answer is one `tool_use` block: the chosen tool (or the first),
 *   id `toolu_sim<hash>`, input `{"sim": "<hash>"}`, `stop_reason: "tool_use"`.
 * - `stop_sequences`: the text is cut before the first one it contains (`stop_reason: "stop_sequence"`).
 * - `max_tokens` below the answer's tokens (4 characters each) cuts the text (`stop_reason: "max_tokens"`).
 * - Usage: `input_tokens = ceil(chars of system + all text / 4)`, `output_tokens = ceil(chars of the answer / 4)`.
 * - `[sim:error=NNN]` in the text: the request fails with that status (see `simAnthropicError`).
 */
import { createHash } from 'node:crypto';
import { estimateTokens, messagesHash, simMarkersInText, stableStringify } from '../completion.js';

/** The part of `MessageCreateParams` the simulator reads. */
export interface SimMessageParams {
  model: string;
  max_tokens: number;
  messages: ReadonlyArray<{ role: string; content: unknown }>;
  system?: unknown;
  stop_sequences?: readonly string[] | undefined;
  tools?: ReadonlyArray<{ name: string }> | undefined;
  tool_choice?: { type: string; name?: string } | undefined;
  [k: string]: unknown;
}

export interface SimAnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown }>;
  stop_reason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';
  stop_sequence: string | null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
  };
}

/** Text of a content value: a string, or the text of its text blocks and of the tool results inside it. */
export function blocksText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b) => {
      if (!b || typeof b !== 'object') return '';
      const block = b as { type?: unknown; text?: unknown; content?: unknown };
      if (block.type === 'text' && typeof block.text === 'string') return block.text;
      if (block.type === 'tool_result') return blocksText(block.content);
      return '';
    })
    .join('');
}

function hasToolResult(content: unknown): boolean {
  return Array.isArray(content) && content.some((b) => (b as { type?: unknown } | null)?.type === 'tool_result');
}

/** All text of the request: the system prompt then every message. */
export function paramsText(params: SimMessageParams): string {
  return [blocksText(params.system), ...params.messages.map((m) => blocksText(m.content))].join('\n');
}

/** The fingerprint of a request's conversation (system prompt included when there is one). */
export function paramsHash(params: Pick<SimMessageParams, 'system' | 'messages'>): string {
  return messagesHash(params.system === undefined ? params.messages : [{ system: params.system }, ...params.messages]);
}

/** The status a `[sim:error=NNN]` marker in the request's text asks for, or null. */
export function simErrorStatus(params: SimMessageParams): number | null {
  return simMarkersInText(paramsText(params)).errorStatus;
}

/** Why `params` is not a valid Messages request, or null (the checks Anthropic makes of every batch request). */
export function invalidParamsReason(params: unknown, models: readonly string[]): string | null {
  if (!params || typeof params !== 'object' || Array.isArray(params)) return 'params: expected an object';
  const p = params as Record<string, unknown>;
  if (typeof p.model !== 'string') return 'model: Field required';
  if (!models.includes(p.model)) return `model: ${p.model}`;
  if (typeof p.max_tokens !== 'number' || !Number.isInteger(p.max_tokens) || p.max_tokens < 1) {
    return 'max_tokens: Field required';
  }
  if (!Array.isArray(p.messages) || p.messages.length === 0) return 'messages: at least one message is required';
  for (const [i, m] of p.messages.entries()) {
    const role = (m as { role?: unknown } | null)?.role;
    if (role !== 'user' && role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
  }
  if (p.stream === true) return 'stream: streaming is not supported in batches';
  if (typeof p.temperature === 'number' && (p.temperature < 0 || p.temperature > 1)) {
    return 'temperature: Input should be less than or equal to 1';
  }
  return null;
}

/** The deterministic answer to a valid request (see the module comment). */
export function simulatedMessage(params: SimMessageParams): SimAnthropicMessage {
  const hash = paramsHash(params);
  const id = `msg_sim${createHash('sha256').update(stableStringify(params)).digest('hex').slice(0, 24)}`;
  const inputTokens = estimateTokens(paramsText(params));
  const lastUser = [...params.messages].reverse().find((m) => m.role === 'user');
  const lastUserText = lastUser ? blocksText(lastUser.content) : '';
  const usage = (output: number) => ({
    input_tokens: inputTokens,
    output_tokens: output,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  });

  const tools = params.tools ?? [];
  const choice = params.tool_choice?.type;
  const wantsTool =
    tools.length > 0 &&
    choice !== 'none' &&
    (choice === 'any' ||
      choice === 'tool' ||
      (lastUserText.includes('[sim:tool]') && !hasToolResult(lastUser?.content)));
  if (wantsTool) {
    const name = (choice === 'tool' ? params.tool_choice?.name : undefined) ?? tools[0]!.name;
    const input = { sim: hash };
    return {
      id,
      type: 'message',
      role: 'assistant',
      model: params.model,
      content: [{ type: 'tool_use', id: `toolu_sim${hash}`, name, input }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: usage(estimateTokens(JSON.stringify(input))),
    };
  }

  const excerpt = lastUserText.replace(/\s+/g, ' ').trim().slice(0, 80);
  let text = `sim:${hash} ${params.model} re: ${excerpt}`;
  let stopReason: SimAnthropicMessage['stop_reason'] = 'end_turn';
  let stopSequence: string | null = null;
  let cut = -1;
  for (const s of params.stop_sequences ?? []) {
    const at = s === '' ? -1 : text.indexOf(s);
    if (at !== -1 && (cut === -1 || at < cut)) {
      cut = at;
      stopSequence = s;
    }
  }
  if (cut !== -1) {
    text = text.slice(0, cut);
    stopReason = 'stop_sequence';
  }
  let outputTokens = estimateTokens(text);
  if (outputTokens > params.max_tokens) {
    text = text.slice(0, params.max_tokens * 4);
    outputTokens = params.max_tokens;
    stopReason = 'max_tokens';
    stopSequence = null;
  }
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: params.model,
    content: [{ type: 'text', text }],
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    usage: usage(outputTokens),
  };
}

/** Anthropic's error `type` for a status (529 → overloaded_error). */
export function anthropicErrorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 402) return 'billing_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}
