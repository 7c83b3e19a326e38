/**
 * What a request that waited is answered (transparent mode, SPEC §8): the provider's own answer when it finished, so an
 * unchanged OpenAI client reads it as if it had called the provider, else the asynchronous 202.
 */
import type { RequestObject, RequestOutcome } from '@batchbridge/domain';

export interface WaitAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** `body` as JSON text, when the answer was built from stored text: sent as it is, not serialised again. */
  text?: string;
}

/** What an answer to a finished request shows of it. */
export type FinishedRequest = Pick<RequestObject, 'id' | 'status' | 'response' | 'error'>;

/** The outcome's stored JSON parsed (stream answers, failures: the values are needed). */
export function finishedRequestOf(o: RequestOutcome): FinishedRequest {
  return {
    id: o.id,
    status: o.status,
    response: o.response ? (JSON.parse(o.response) as RequestObject['response']) : null,
    error: o.error ? (JSON.parse(o.error) as RequestObject['error']) : null,
  };
}

/**
 * {@link finishedAnswer} of a stored outcome, for a plain (not streamed) answer. A completed request is answered with
 * its stored response's body as the text it is stored as — the provider's own bytes (batch-router.ts stores them
 * verbatim) — rather than parsed and serialised again: the same JSON value, a tenth of the CPU per answer (S7 in
 * docs/benchmarks.md). Anything else, or a response not stored in the `{"status_code":…,"body":…}` form, goes the
 * general way.
 */
export function outcomeAnswer(o: RequestOutcome, waitedS: number): WaitAnswer {
  if (o.status === 'completed' && o.response) {
    const text = responseBodyText(o.response);
    if (text !== undefined) {
      return {
        status: 200,
        headers: { 'Preference-Applied': `wait=${waitedS}`, 'X-Request-ID': o.id },
        body: undefined,
        text,
      };
    }
  }
  return finishedAnswer(finishedRequestOf(o), waitedS);
}

const RESPONSE_PREFIX = '{"status_code":';
const BODY_MEMBER = ',"body":';
const REQUEST_ID_MEMBER = ',"request_id":"';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The text of `body` in a stored response `{"status_code":<digits>,"body":<value>}` — or with a string `request_id`
 * between the two (valid JSON: the settle stored it), or undefined when the text is not exactly of that form — another member, whitespace, a different order. The
 * value is scanned to its end (strings jumped quote to quote), so a member after `body` is seen and refused.
 */
export function responseBodyText(json: string): string | undefined {
  if (!json.startsWith(RESPONSE_PREFIX)) return undefined;
  let i = RESPONSE_PREFIX.length;
  const digitsStart = i;
  while (i < json.length && json.charCodeAt(i) >= 0x30 && json.charCodeAt(i) <= 0x39) i++;
  if (i === digitsStart) return undefined;
  // `request_id` (a provider line's, kept when the settle serialised the whole response), a string.
  if (json.startsWith(REQUEST_ID_MEMBER, i)) {
    const close = stringEnd(json, i + REQUEST_ID_MEMBER.length - 1);
    if (close < 0) return undefined;
    i = close + 1;
  }
  if (!json.startsWith(BODY_MEMBER, i)) return undefined;
  const start = i + BODY_MEMBER.length;
  const end = valueEnd(json, start);
  return end === json.length - 1 && json.charCodeAt(end) === 0x7d ? json.slice(start, end) : undefined;
}

/** Where the JSON value starting at `start` ends (the index after it); -1 when it cannot be told. */
function valueEnd(text: string, start: number): number {
  const c = text.charCodeAt(start);
  if (c === QUOTE) {
    const close = stringEnd(text, start);
    return close < 0 ? -1 : close + 1;
  }
  if (c !== 0x7b && c !== 0x5b) {
    // A scalar: up to the next `,` `}` `]` or whitespace.
    let i = start;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
      i++;
    }
    return i === start ? -1 : i;
  }
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d === QUOTE) {
      const close = stringEnd(text, i);
      if (close < 0) return -1;
      i = close;
    } else if (d === 0x7b || d === 0x5b) depth++;
    else if (d === 0x7d || d === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** The index of the quote closing the string opened at `open`: the next one not escaped by an odd run of `\`. */
function stringEnd(text: string, open: number): number {
  let j = open;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return -1;
    let k = j - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
}

/** The answer for a request that finished while the client waited (`waitedS` is the wait that was applied). */
export function finishedAnswer(request: FinishedRequest, waitedS: number): WaitAnswer {
  const headers = { 'Preference-Applied': `wait=${waitedS}`, 'X-Request-ID': request.id };
  const response = request.response;
  if (request.status === 'completed' && response) {
    return { status: 200, headers, body: response.body };
  }
  if (request.status === 'cancelled') {
    return {
      status: 409,
      headers,
      body: openAiError('request_cancelled', `request ${request.id} was cancelled before it was sent upstream`),
    };
  }
  // A line the provider refused (a 4xx): its status and error body, as a direct call would have answered.
  if (response && response.status_code >= 400 && response.status_code < 500) {
    return { status: response.status_code, headers, body: response.body };
  }
  const code = request.error?.code ?? 'request_failed';
  return {
    status: 502,
    headers,
    body: openAiError(code, request.error?.message ?? `request ${request.id} failed upstream`, 'server_error'),
  };
}

/** The answer when the wait ran out first: the request goes on and can be fetched, or awaited again, at Location. */
export function pendingAnswer(request: RequestObject, waitedS: number): WaitAnswer {
  return {
    status: 202,
    headers: {
      'Preference-Applied': `wait=${waitedS}`,
      'X-Request-ID': request.id,
      Location: `/v1/requests/${request.id}`,
    },
    body: request,
  };
}

function openAiError(code: string, message: string, type = 'invalid_request_error') {
  return { error: { message, type, param: null, code } };
}
