/**
 * The boundary check of `POST /v1/chat/completions` (SPEC §3): the OpenAI chat-completion create params that a batch
 * line may carry, validated with zod, plus batchbridge's own fields, which are taken out of the body before it goes
 * upstream. Parameters this schema does not know are passed through untouched (providers add their own); the ones it
 * knows are held to OpenAI's ranges so that a bad request is refused here rather than failing inside a batch hours later.
 */
import { z } from 'zod';
import { invalidParam } from './errors.js';

/** Body fields that belong to batchbridge, never to the provider: stripped from the upstream body. */
export const BATCHBRIDGE_FIELDS = ['callback_url', 'custom_id', 'deadline'] as const;

/** Longest client reference (`X-Custom-ID` / `custom_id`). */
export const MAX_CLIENT_REF_LENGTH = 64;

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const contentPart = z.union(
  [
    textPart,
    z.looseObject({ type: z.literal('image_url'), image_url: z.looseObject({ url: z.string().min(1) }) }),
    z.looseObject({
      type: z.literal('input_audio'),
      input_audio: z.looseObject({ data: z.string(), format: z.string() }),
    }),
    z.looseObject({ type: z.literal('file'), file: z.looseObject({}) }),
    z.looseObject({ type: z.literal('refusal'), refusal: z.string() }),
  ],
  { error: 'expected a content part of type text, image_url, input_audio, file or refusal' },
);

const contentError = { error: 'expected a string or a non-empty array of content parts' };
const textContent = z.union([z.string(), z.array(textPart).min(1)], contentError);
const anyContent = z.union([z.string(), z.array(contentPart).min(1)], contentError);

const message = z.discriminatedUnion(
  'role',
  [
    z.looseObject({ role: z.literal('system'), content: textContent }),
    z.looseObject({ role: z.literal('developer'), content: textContent }),
    z.looseObject({ role: z.literal('user'), content: anyContent }),
    z.looseObject({
      role: z.literal('assistant'),
      content: anyContent.nullable().optional(),
      tool_calls: z.array(z.looseObject({})).optional(),
    }),
    z.looseObject({ role: z.literal('tool'), content: textContent, tool_call_id: z.string().min(1) }),
    z.looseObject({ role: z.literal('function'), content: z.string().nullable(), name: z.string().min(1) }),
  ],
  { error: 'role must be one of system, developer, user, assistant, tool, function' },
);

const num = (min: number, max: number) => z.number().min(min).max(max).nullable().optional();
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max).nullable().optional();

/** A model name as every endpoint takes it. */
export const modelName = z
  .string({ error: 'model is required and must be a string' })
  .regex(/^[\x21-\x7e]{1,256}$/, 'expected a model name of 1–256 visible ASCII characters');

const ChatRequestSchema = z.looseObject({
  model: modelName,
  messages: z.array(message, { error: 'messages is required and must be an array' }).min(1, 'messages is empty'),
  temperature: num(0, 2),
  top_p: num(0, 1),
  max_tokens: int(1),
  max_completion_tokens: int(1),
  n: int(1, 128),
  presence_penalty: num(-2, 2),
  frequency_penalty: num(-2, 2),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: int(0, 20),
  seed: int(Number.MIN_SAFE_INTEGER),
  stream: z.boolean().nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)])
    .nullable()
    .optional(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullable().optional(),
  user: z.string().optional(),
  tools: z.array(z.looseObject({ type: z.string() })).optional(),
  response_format: z.looseObject({ type: z.string() }).optional(),
  parallel_tool_calls: z.boolean().optional(),
  callback_url: z.string().optional(),
  custom_id: z.string().min(1).max(MAX_CLIENT_REF_LENGTH).optional(),
  deadline: z.union([z.number(), z.string()], { error: 'expected seconds, a duration or an RFC 3339 time' }).optional(),
});

export interface ChatRequest {
  model: string;
  messages: ReadonlyArray<{ content?: unknown }>;
  /** The body sent upstream (batchbridge fields stripped), as JSON text: the client's own text when safe, else serialised. */
  upstreamBody: string;
  /**
   * The upstream body serialised from the parsed object: equal for bodies that mean the same whatever their spacing or
   * number spelling (what an Idempotency-Key compares).
   */
  canonicalBody: () => string;
  /** From the body; the header takes precedence (see ingest route). */
  bodyCallbackUrl: string | undefined;
  bodyClientRef: string | undefined;
  /** The `deadline` field (SPEC §10), checked by the route; the `X-Deadline` header wins. */
  bodyDeadline: string | number | undefined;
  /**
   * The client asked for a stream (allowed only for a request that waits, SPEC §8): it is answered as server-sent events
   * re-telling the finished completion; `stream` and `stream_options` are stripped from the upstream body, since a
   * batch line cannot stream.
   */
  stream: { includeUsage: boolean } | undefined;
}

export interface ChatRequestOptions {
  /** Whether `stream: true` is accepted (the request waits for its outcome). @defaultValue false */
  streamAllowed?: boolean;
}

/**
 * Validates a parsed JSON body; throws an ApiError (400) naming the first bad parameter. `rawText`, when given, is the
 * JSON text `raw` was parsed from: it becomes the upstream body as it is when that is safe (see {@link verbatimBody}),
 * which spares re-serialising every body (the largest single CPU cost of intake after HTTP itself).
 */
export function parseChatRequest(raw: unknown, rawText?: string, options: ChatRequestOptions = {}): ChatRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidParam('body', 'request body must be a JSON object with chat-completion parameters', 'invalid_body');
  }
  const parsed = ChatRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue ? paramName(issue.path) : 'body';
    throw invalidParam(param, `Invalid '${param}': ${issue?.message ?? 'invalid value'}`);
  }
  const data = parsed.data;
  const streaming = data.stream === true;
  if (streaming && !options.streamAllowed) {
    throw invalidParam(
      'stream',
      'stream: true needs a wait: send `Prefer: wait=<seconds>` to get the answer as a stream once the batch returns ' +
        '(without a wait, batchbridge answers through the callback webhook)',
      'unsupported_parameter',
    );
  }
  const body = raw as Record<string, unknown>;
  let canonical: string | undefined;
  const canonicalBody = () => {
    if (canonical === undefined) {
      // Strip from the client's own object (not zod's copy), so unknown parameters keep their exact shape and order.
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
  const streamOptions = body.stream_options as { include_usage?: unknown } | null | undefined;
  return {
    model: data.model,
    messages: data.messages as ReadonlyArray<{ content?: unknown }>,
    upstreamBody: verbatim ?? canonicalBody(),
    canonicalBody,
    bodyCallbackUrl: data.callback_url,
    bodyClientRef: data.custom_id,
    bodyDeadline: data.deadline,
    stream: streaming ? { includeUsage: streamOptions?.include_usage === true } : undefined,
  };
}

/** `['messages', 0, 'content']` → `messages[0].content` (OpenAI's style of naming nested params). */
export function paramName(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? 'body' : out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * The integer parameters of the schema above (`int(…)`). JSON.parse reads `1.0` and `1e2` as the integers 1 and 100,
 * which pass the schema; providers that type-check refuse them as decimals. A body spelling one of these that way is
 * re-serialised (as `1`, `100`) rather than sent as written.
 */
const INTEGER_PARAMS = new Set(['max_tokens', 'max_completion_tokens', 'n', 'top_logprobs', 'seed']);

/**
 * The client's JSON text, trimmed, when it can go upstream as it is: it already parsed as a JSON object (the caller's
 * JSON.parse), it holds no line break (a batch input file is one request per line) and its top-level object has exactly
 * `keyCount` members, i.e. no key appears twice. A repeated top-level key is the one way the text could say something
 * other than what was validated: JSON.parse keeps the last `model`, a provider's parser might keep the first. Such a
 * body (and one with line breaks, or an integer parameter written as a decimal, see INTEGER_PARAMS) is re-serialised
 * from the parsed object instead; undefined then.
 *
 * The scan counts the colons outside strings at depth 1 (one per member), jumping from quote to quote inside strings.
 */
export function verbatimBody(rawText: string, keyCount: number): string | undefined {
  const text = rawText.trim();
  if (text.includes('\n') || text.includes('\r')) return undefined;
  let depth = 0;
  let members = 0;
  // The last string seen at depth 1: the key of the member whose value is being read when that value is not a string.
  let keyStart = 0;
  let keyEnd = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // To the closing quote: the next quote not preceded by an odd run of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return undefined;
        let k = j - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      if (depth === 1) {
        keyStart = i + 1;
        keyEnd = j;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === COLON && depth === 1) members++;
    else if (depth === 1 && isDecimalMark(text, i, c)) {
      const key = text.slice(keyStart, keyEnd);
      if (key.includes('\\') || INTEGER_PARAMS.has(key)) return undefined;
    }
  }
  return members === keyCount ? text : undefined;
}

/** A `.` of a number, or an exponent `e`/`E` right after a digit (the `e` of `true`/`false` follows a letter). */
function isDecimalMark(text: string, i: number, c: number): boolean {
  if (c === 0x2e) return true;
  if (c !== 0x65 && c !== 0x45) return false;
  const before = text.charCodeAt(i - 1);
  return before >= 0x30 && before <= 0x39;
}
