/**
 * Chat completions ⇄ Anthropic Messages, both ways, for the `anthropic` adapter (SPEC §11).
 *
 * - `refusedChatFields(body)` lists what a chat-completions body asks for that Messages cannot do (n > 1, logprobs,
 *   penalties, seed, audio, …): the ingest calls it at the door and answers 400 naming every field, so a request
 *   Anthropic would answer differently from OpenAI never reaches a batch.
 * - `toAnthropicParams(body, options)` builds the Messages `params` of a batch request (or a realtime
 *   `POST /v1/messages` body): system and developer messages become the top-level `system`; `max_tokens` (required by
 *   Anthropic) comes from `max_completion_tokens`, `max_tokens` or the profile default; `stop` → `stop_sequences`;
 *   tools, tool choice, assistant tool calls and tool results; image parts (data URL → base64 source, http(s) URL → url
 *   source). It throws `AnthropicTranslationError` (same field list) on anything `refusedChatFields` refuses.
 * - `fromAnthropicMessage(message, options)` turns a Messages result into a `chat.completion` shaped like OpenAI's:
 *   text and tool calls, `finish_reason` (end_turn/stop_sequence → stop, max_tokens → length, tool_use → tool_calls,
 *   refusal → content_filter) and `usage`.
 * - `anthropicErrorToOpenAI(error)` renders an Anthropic error as the status and OpenAI-shaped body a caller expects.
 *
 * Shapes follow the Messages API as the official TypeScript SDK types it (`MessageCreateParamsBase`, `Message`,
 * `ContentBlockParam`, `ToolChoice`, `Usage` in `src/resources/messages/messages.ts`).
 */
import { BatchbridgeError } from '@batchbridge/errors';

// ---------------------------------------------------------------------------------------------------------------
// Anthropic shapes (the subset batchbridge writes and reads)

export type AnthropicImageMediaType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp';
export const ANTHROPIC_IMAGE_MEDIA_TYPES: readonly AnthropicImageMediaType[] = [
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
];

export interface AnthropicTextBlock {
  type: 'text';
  text: string;
}
export interface AnthropicImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: AnthropicImageMediaType; data: string } | { type: 'url'; url: string };
}
export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}
export interface AnthropicToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: string | AnthropicTextBlock[];
}
export type AnthropicContentBlockParam =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicToolUseBlock
  | AnthropicToolResultBlock;

export interface AnthropicMessageParam {
  role: 'user' | 'assistant';
  content: string | AnthropicContentBlockParam[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: { type: 'object'; [k: string]: unknown };
  strict?: boolean;
}

export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

/** `MessageCreateParamsNonStreaming`: the `params` of one Message Batches request. */
export interface AnthropicMessageParams {
  model: string;
  max_tokens: number;
  messages: AnthropicMessageParam[];
  system?: string | AnthropicTextBlock[];
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id?: string };
  output_config?: { format: { type: 'json_schema'; schema: Record<string, unknown> } };
}

export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  [k: string]: unknown;
}

/** A Messages API result (`type: 'message'`). Content blocks other than text and tool_use are ignored. */
export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ReadonlyArray<{ type: string; [k: string]: unknown }>;
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** `ErrorObject.type` of the Anthropic API. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'api_error'
  | 'overloaded_error'
  | 'billing_error';

// ---------------------------------------------------------------------------------------------------------------
// The OpenAI side

/** The chat-completion fields this module reads; everything else is refused (see `refusedChatFields`). */
export interface ChatCompletionBody {
  model: string;
  messages: readonly unknown[];
  [k: string]: unknown;
}

/** A `chat.completion` as OpenAI returns it, built from a Messages result. */
export interface TranslatedChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [
    {
      index: 0;
      message: {
        role: 'assistant';
        content: string | null;
        refusal: null;
        annotations: [];
        tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
      };
      logprobs: null;
      finish_reason: 'stop' | 'length' | 'tool_calls' | 'content_filter';
    },
  ];
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    /** `cache_creation_tokens`: Anthropic's cache writes (priced apart, SPEC §15); only when there were some. */
    prompt_tokens_details: { cached_tokens: number; audio_tokens: number; cache_creation_tokens?: number };
    completion_tokens_details: {
      reasoning_tokens: number;
      audio_tokens: number;
      accepted_prediction_tokens: number;
      rejected_prediction_tokens: number;
    };
  };
  service_tier: 'default';
  system_fingerprint: null;
}

/** One field the translation cannot honour: its path in the body (`n`, `messages[2].content[0]`) and why. */
export interface RefusedField {
  field: string;
  reason: string;
}

/** Thrown by `toAnthropicParams`; the ingest answers 400 with `message` (every field) or `fields`. */
export class AnthropicTranslationError extends BatchbridgeError {
  readonly fields: readonly RefusedField[];
  constructor(fields: readonly RefusedField[]) {
    super('provider.anthropic_unsupported', describeRefusal(fields));
    this.fields = fields;
  }
}

/** `"Anthropic models cannot honour: n (…); logprobs (…)"` — one sentence a 400 can carry. */
export function describeRefusal(fields: readonly RefusedField[]): string {
  return `This request cannot be sent to an Anthropic model: ${fields.map((f) => `${f.field} (${f.reason})`).join('; ')}.`;
}

export interface ToAnthropicOptions {
  /** `max_tokens` when the body has neither `max_completion_tokens` nor `max_tokens` (the provider profile's default). */
  defaultMaxTokens?: number | undefined;
  /** The provider's own model name, when routing resolved an alias; otherwise the body's `model`. */
  model?: string | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Field policy

/** Fields taken over (possibly changed in form). */
const TRANSLATED = new Set([
  'model',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stop',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'user',
  'response_format',
]);

/** Fields accepted only at their neutral value (what OpenAI does without them); the reason names that value. */
const NEUTRAL: Record<string, { ok: (v: unknown) => boolean; reason: string }> = {
  n: { ok: (v) => v === 1, reason: 'Anthropic answers one choice per request; only n: 1 is possible' },
  logprobs: { ok: (v) => v === false, reason: 'Anthropic returns no log probabilities' },
  top_logprobs: { ok: (v) => v === 0, reason: 'Anthropic returns no log probabilities' },
  presence_penalty: { ok: (v) => v === 0, reason: 'Anthropic has no presence penalty' },
  frequency_penalty: { ok: (v) => v === 0, reason: 'Anthropic has no frequency penalty' },
  logit_bias: {
    ok: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0,
    reason: 'Anthropic has no logit bias',
  },
  stream: { ok: (v) => v === false, reason: 'a batch line cannot stream' },
  stream_options: { ok: () => false, reason: 'a batch line cannot stream' },
  store: { ok: (v) => v === false, reason: 'Anthropic does not store completions' },
  metadata: {
    ok: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0,
    reason: 'Anthropic has no stored-completion metadata',
  },
  service_tier: {
    ok: (v) => v === 'auto' || v === 'default',
    reason: 'Anthropic batches have no service tier choice',
  },
  seed: { ok: () => false, reason: 'Anthropic has no seed' },
  modalities: {
    ok: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
    reason: 'Anthropic answers text only',
  },
  audio: { ok: () => false, reason: 'Anthropic answers text only' },
  prediction: { ok: () => false, reason: 'Anthropic has no predicted outputs' },
  reasoning_effort: { ok: () => false, reason: 'no equivalent of OpenAI reasoning effort is translated' },
  web_search_options: { ok: () => false, reason: 'web search is not translated' },
  functions: { ok: () => false, reason: 'deprecated function calling is not translated; use tools' },
  function_call: { ok: () => false, reason: 'deprecated function calling is not translated; use tool_choice' },
  verbosity: { ok: () => false, reason: 'Anthropic has no verbosity setting' },
  prompt_cache_key: { ok: () => false, reason: 'Anthropic caches by cache_control blocks, not keys' },
  safety_identifier: { ok: () => false, reason: 'not translated' },
};

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,(.*)$/is;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What the translation produced, or every field it had to refuse (never both). */
type Translation = { ok: true; params: AnthropicMessageParams } | { ok: false; fields: RefusedField[] };

/**
 * Every field of a chat-completions body that cannot be sent to Anthropic, each with its reason; empty when the body
 * translates. `defaultMaxTokens` matters: without one, a body with no token limit is refused (`max_tokens`). Pass the
 * upstream body, batchbridge's own fields (`callback_url`, `custom_id`, `deadline`) already taken out: any field not
 * known here is refused.
 */
export function refusedChatFields(body: ChatCompletionBody, options: ToAnthropicOptions = {}): RefusedField[] {
  const t = translate(body, options);
  return t.ok ? [] : t.fields;
}

/** The Messages `params` for a chat-completions body; throws `AnthropicTranslationError` listing every refused field. */
export function toAnthropicParams(body: ChatCompletionBody, options: ToAnthropicOptions = {}): AnthropicMessageParams {
  const t = translate(body, options);
  if (!t.ok) throw new AnthropicTranslationError(t.fields);
  return t.params;
}

function translate(body: ChatCompletionBody, options: ToAnthropicOptions): Translation {
  const refused: RefusedField[] = [];
  const refuse = (field: string, reason: string) => refused.push({ field, reason });

  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null || TRANSLATED.has(key)) continue;
    const rule = NEUTRAL[key];
    if (!rule) refuse(key, 'no Anthropic counterpart');
    else if (!rule.ok(value)) refuse(key, rule.reason);
  }

  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? options.defaultMaxTokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    refuse(
      'max_tokens',
      'Anthropic requires a token limit: set max_completion_tokens or max_tokens (no provider default is configured)',
    );
  }

  const temperature = body.temperature;
  if (temperature !== undefined && temperature !== null && (typeof temperature !== 'number' || temperature > 1)) {
    refuse('temperature', 'Anthropic takes a temperature from 0 to 1');
  }

  const { system, messages } = translateMessages(body.messages, refuse);
  const tools = translateTools(body.tools, refuse);
  const toolChoice = translateToolChoice(body.tool_choice, body.parallel_tool_calls, tools !== undefined, refuse);
  const outputConfig = translateResponseFormat(body.response_format, refuse);

  let stop: string[] | undefined;
  if (typeof body.stop === 'string') stop = [body.stop];
  else if (Array.isArray(body.stop)) stop = body.stop.filter((s): s is string => typeof s === 'string');
  else if (body.stop !== undefined && body.stop !== null) refuse('stop', 'expected a string or an array of strings');

  if (refused.length > 0) return { ok: false, fields: refused };

  const params: AnthropicMessageParams = {
    model: options.model ?? body.model,
    max_tokens: maxTokens as number,
    messages,
  };
  if (system !== undefined) params.system = system;
  if (stop && stop.length > 0) params.stop_sequences = stop;
  if (typeof temperature === 'number') params.temperature = temperature;
  if (typeof body.top_p === 'number') params.top_p = body.top_p;
  if (tools) params.tools = tools;
  if (toolChoice) params.tool_choice = toolChoice;
  if (typeof body.user === 'string' && body.user !== '') params.metadata = { user_id: body.user };
  if (outputConfig) params.output_config = outputConfig;
  return { ok: true, params };
}

type Refuse = (field: string, reason: string) => void;

/** Text of a system/developer/tool message: a string, or its text parts joined. */
function textOf(content: unknown, field: string, refuse: Refuse): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part, i) => {
        if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
        refuse(`${field}[${i}]`, 'only text parts are possible here');
        return '';
      })
      .join('');
  }
  refuse(field, 'expected a string or text parts');
  return '';
}

function imageBlock(part: Record<string, unknown>, field: string, refuse: Refuse): AnthropicImageBlock | undefined {
  const imageUrl = part.image_url;
  const url = isRecord(imageUrl) ? imageUrl.url : undefined;
  if (typeof url !== 'string') {
    refuse(field, 'image_url.url is missing');
    return undefined;
  }
  const data = DATA_URL.exec(url);
  if (data) {
    const mediaType = data[1]!.toLowerCase() as AnthropicImageMediaType;
    if (!ANTHROPIC_IMAGE_MEDIA_TYPES.includes(mediaType)) {
      refuse(field, `Anthropic takes images as ${ANTHROPIC_IMAGE_MEDIA_TYPES.join(', ')}, not ${mediaType}`);
      return undefined;
    }
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: data[2]! } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  refuse(field, 'an image must be a base64 data URL or an http(s) URL');
  return undefined;
}

function userBlocks(content: unknown, field: string, refuse: Refuse): AnthropicContentBlockParam[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) {
    refuse(field, 'expected a string or content parts');
    return [];
  }
  const blocks: AnthropicContentBlockParam[] = [];
  for (const [i, part] of content.entries()) {
    const f = `${field}[${i}]`;
    if (!isRecord(part)) refuse(f, 'expected a content part');
    else if (part.type === 'text' && typeof part.text === 'string') blocks.push({ type: 'text', text: part.text });
    else if (part.type === 'image_url') {
      const block = imageBlock(part, f, refuse);
      if (block) blocks.push(block);
    } else refuse(f, `content parts of type ${String(part.type)} are not translated`);
  }
  return blocks;
}

function assistantBlocks(m: Record<string, unknown>, field: string, refuse: Refuse): AnthropicContentBlockParam[] {
  const blocks: AnthropicContentBlockParam[] = [];
  const content = m.content;
  if (typeof content === 'string') {
    if (content !== '') blocks.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, i) => {
      if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') {
        if (part.text !== '') blocks.push({ type: 'text', text: part.text });
      } else refuse(`${field}.content[${i}]`, 'only text parts are possible in an assistant message');
    });
  } else if (content !== undefined && content !== null) refuse(`${field}.content`, 'expected a string or text parts');
  if (m.audio !== undefined && m.audio !== null) refuse(`${field}.audio`, 'Anthropic answers text only');
  if (m.function_call !== undefined && m.function_call !== null) {
    refuse(`${field}.function_call`, 'deprecated function calling is not translated; use tool_calls');
  }
  const toolCalls = m.tool_calls;
  if (Array.isArray(toolCalls)) {
    for (const [i, call] of toolCalls.entries()) {
      const f = `${field}.tool_calls[${i}]`;
      const fn = isRecord(call) ? call.function : undefined;
      if (!isRecord(call) || call.type !== 'function' || !isRecord(fn) || typeof call.id !== 'string') {
        refuse(f, 'expected {id, type: "function", function: {name, arguments}}');
        continue;
      }
      if (typeof fn.name !== 'string') {
        refuse(`${f}.function.name`, 'expected a string');
        continue;
      }
      let input: unknown;
      try {
        input = JSON.parse(typeof fn.arguments === 'string' && fn.arguments !== '' ? fn.arguments : '{}');
      } catch {
        input = undefined;
      }
      if (!isRecord(input)) {
        refuse(`${f}.function.arguments`, 'Anthropic needs the arguments as a JSON object');
        continue;
      }
      blocks.push({ type: 'tool_use', id: call.id, name: fn.name, input });
    }
  }
  return blocks;
}

/**
 * System and developer messages before the conversation become `system`; user, assistant and tool messages become
 * alternating turns (tool results go into the following user turn, before its other blocks, as Anthropic requires).
 */
function translateMessages(
  raw: readonly unknown[],
  refuse: Refuse,
): { system: AnthropicTextBlock[] | undefined; messages: AnthropicMessageParam[] } {
  const system: AnthropicTextBlock[] = [];
  const turns: Array<{ role: 'user' | 'assistant'; blocks: AnthropicContentBlockParam[] }> = [];
  const push = (role: 'user' | 'assistant', blocks: AnthropicContentBlockParam[], toolResults = false) => {
    const last = turns.at(-1);
    if (last && last.role === role) {
      if (toolResults) {
        // tool_result blocks must come first in their user turn
        const firstOther = last.blocks.findIndex((b) => b.type !== 'tool_result');
        if (firstOther === -1) last.blocks.push(...blocks);
        else last.blocks.splice(firstOther, 0, ...blocks);
      } else last.blocks.push(...blocks);
    } else turns.push({ role, blocks: [...blocks] });
  };
  if (!Array.isArray(raw) || raw.length === 0) {
    refuse('messages', 'expected a non-empty array');
    return { system: undefined, messages: [] };
  }
  const take = (m: unknown, i: number) => {
    const field = `messages[${i}]`;
    if (!isRecord(m)) return refuse(field, 'expected a message object');
    switch (m.role) {
      case 'system':
      case 'developer': {
        if (turns.length > 0) {
          return refuse(field, 'Anthropic takes system instructions only before the conversation, not between turns');
        }
        const text = textOf(m.content, `${field}.content`, refuse);
        if (text !== '') system.push({ type: 'text', text });
        return;
      }
      case 'user':
        return push('user', userBlocks(m.content, `${field}.content`, refuse));
      case 'assistant': {
        const blocks = assistantBlocks(m, field, refuse);
        const empty =
          (m.content === undefined || m.content === null || m.content === '') && !Array.isArray(m.tool_calls);
        if (empty) return refuse(field, 'an assistant message needs content or tool_calls');
        if (blocks.length === 0) return;
        return push('assistant', blocks);
      }
      case 'tool': {
        if (typeof m.tool_call_id !== 'string') return refuse(`${field}.tool_call_id`, 'expected a string');
        const text = textOf(m.content, `${field}.content`, refuse);
        return push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: text }], true);
      }
      default:
        return refuse(`${field}.role`, `messages of role ${String(m.role)} are not translated`);
    }
  };
  for (const [i, m] of raw.entries()) take(m, i);
  if (turns.length === 0) refuse('messages', 'Anthropic needs at least one user or assistant message');
  const messages: AnthropicMessageParam[] = turns.map((t) => {
    const only = t.blocks[0];
    return t.blocks.length === 1 && only?.type === 'text'
      ? { role: t.role, content: only.text }
      : { role: t.role, content: t.blocks };
  });
  return { system: system.length > 0 ? system : undefined, messages };
}

function translateTools(raw: unknown, refuse: Refuse): AnthropicTool[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    refuse('tools', 'expected an array');
    return undefined;
  }
  const tools: AnthropicTool[] = [];
  const take = (t: unknown, i: number) => {
    const f = `tools[${i}]`;
    const fn = isRecord(t) ? t.function : undefined;
    if (!isRecord(t) || t.type !== 'function' || !isRecord(fn)) {
      return refuse(f, 'only tools of type function are translated');
    }
    if (typeof fn.name !== 'string') return refuse(`${f}.function.name`, 'expected a string');
    const parameters = fn.parameters ?? { type: 'object', properties: {} };
    if (!isRecord(parameters) || (parameters.type !== undefined && parameters.type !== 'object')) {
      return refuse(`${f}.function.parameters`, 'Anthropic takes a JSON schema of type object');
    }
    const tool: AnthropicTool = { name: fn.name, input_schema: { ...parameters, type: 'object' } };
    if (typeof fn.description === 'string') tool.description = fn.description;
    if (fn.strict === true) tool.strict = true;
    tools.push(tool);
  };
  for (const [i, t] of raw.entries()) take(t, i);
  return tools.length > 0 ? tools : undefined;
}

function translateToolChoice(
  raw: unknown,
  parallel: unknown,
  hasTools: boolean,
  refuse: Refuse,
): AnthropicToolChoice | undefined {
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (parallel !== undefined && parallel !== null && typeof parallel !== 'boolean') {
    refuse('parallel_tool_calls', 'expected a boolean');
  }
  if (raw === undefined || raw === null)
    return hasTools && parallel === false ? { type: 'auto', ...disable } : undefined;
  if (!hasTools) {
    if (raw !== 'none') refuse('tool_choice', 'a tool choice needs tools');
    return undefined;
  }
  if (raw === 'none') return { type: 'none' };
  if (raw === 'auto') return { type: 'auto', ...disable };
  if (raw === 'required') return { type: 'any', ...disable };
  if (isRecord(raw) && raw.type === 'function' && isRecord(raw.function) && typeof raw.function.name === 'string') {
    return { type: 'tool', name: raw.function.name, ...disable };
  }
  refuse('tool_choice', 'expected none, auto, required or {type: "function", function: {name}}');
  return undefined;
}

function translateResponseFormat(raw: unknown, refuse: Refuse): AnthropicMessageParams['output_config'] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    refuse('response_format', 'expected an object');
    return undefined;
  }
  if (raw.type === 'text') return undefined;
  if (raw.type === 'json_schema' && isRecord(raw.json_schema) && isRecord(raw.json_schema.schema)) {
    return { format: { type: 'json_schema', schema: raw.json_schema.schema } };
  }
  if (raw.type === 'json_object') {
    refuse('response_format', 'Anthropic has no free-form JSON mode; send a json_schema instead');
    return undefined;
  }
  refuse('response_format', 'expected type text or json_schema with json_schema.schema');
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Messages result → chat.completion

const FINISH_REASONS: Record<AnthropicStopReason, TranslatedChatCompletion['choices'][0]['finish_reason']> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export interface FromAnthropicOptions {
  /** `created` (unix seconds). @defaultValue now */
  created?: number | undefined;
  /** `model` of the completion: the name the caller sent (an alias). @defaultValue the message's `model` */
  model?: string | undefined;
}

/** `msg_01Abc` → `chatcmpl-01Abc`: stable, so the same message always gives the same completion id. */
export function completionIdFor(messageId: string): string {
  return `chatcmpl-${messageId.replace(/^msg_/, '')}`;
}

export function fromAnthropicMessage(
  message: AnthropicMessage,
  options: FromAnthropicOptions = {},
): TranslatedChatCompletion {
  const texts: string[] = [];
  const toolCalls: NonNullable<TranslatedChatCompletion['choices'][0]['message']['tool_calls']> = [];
  for (const block of message.content) {
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'tool_use') {
      toolCalls.push({
        id: String(block.id),
        type: 'function',
        function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const u = message.usage;
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  const promptTokens = u.input_tokens + cacheWrite + cacheRead;
  const reply: TranslatedChatCompletion['choices'][0]['message'] = {
    role: 'assistant',
    content: texts.length > 0 ? texts.join('') : toolCalls.length > 0 ? null : '',
    refusal: null,
    annotations: [],
  };
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  return {
    id: completionIdFor(message.id),
    object: 'chat.completion',
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: options.model ?? message.model,
    choices: [
      {
        index: 0,
        message: reply,
        logprobs: null,
        finish_reason: message.stop_reason ? (FINISH_REASONS[message.stop_reason] ?? 'stop') : 'stop',
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: u.output_tokens,
      total_tokens: promptTokens + u.output_tokens,
      prompt_tokens_details: {
        cached_tokens: cacheRead,
        audio_tokens: 0,
        ...(cacheWrite > 0 ? { cache_creation_tokens: cacheWrite } : {}),
      },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

const STATUS_OF_ERROR: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The HTTP status Anthropic answers with an error of this type (529 for `overloaded_error`). */
export function statusOfAnthropicError(type: string): number {
  return STATUS_OF_ERROR[type] ?? 500;
}

/** Error types of a batch line that a later batch may answer (the request itself is fine). */
export const RETRYABLE_ANTHROPIC_ERRORS: ReadonlySet<string> = new Set([
  'api_error',
  'overloaded_error',
  'rate_limit_error',
  'timeout_error',
]);

/**
 * An Anthropic error (`{type: 'error', error: {type, message}}`, or the inner `{type, message}`) as the status and
 * OpenAI-shaped body (`{error: {message, type, param, code}}`) an OpenAI client expects. 529 becomes 503, a status
 * OpenAI clients know.
 */
export function anthropicErrorToOpenAI(error: unknown): {
  status: number;
  body: { error: { message: string; type: string; param: null; code: string | null } };
} {
  const inner = isRecord(error) && isRecord(error.error) ? error.error : error;
  const type = isRecord(inner) && typeof inner.type === 'string' ? inner.type : 'api_error';
  const message = isRecord(inner) && typeof inner.message === 'string' ? inner.message : 'Anthropic error';
  const status = statusOfAnthropicError(type);
  const openaiType =
    status === 429
      ? 'rate_limit_error'
      : status >= 500
        ? 'server_error'
        : status === 401
          ? type
          : 'invalid_request_error';
  return {
    status: status === 529 ? 503 : status,
    body: { error: { message, type: openaiType, param: null, code: type } },
  };
}
