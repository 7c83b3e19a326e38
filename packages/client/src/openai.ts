/**
 * `batchOpenAI()`: the official `openai` SDK set up for batchbridge's transparent mode (SPEC §8), so that
 * `client.chat.completions.create(...)` (and embeddings, responses, completions, moderations) resolves with the real
 * provider answer at batch prices:
 * - every POST carries `Prefer: wait=<s>` and a per-attempt timeout above it, so the service holds the connection until
 *   the outcome;
 * - every POST carries an `Idempotency-Key`, generated once per call and kept on the SDK's own retries, so a retry after
 *   a dropped connection waits on the same request instead of queueing (and paying for) a second one;
 * - when the service's wait runs out first (a `202` with the request object — `MAX_WAIT_S` caps a wait), the request is
 *   long-polled (`GET /v1/requests/{id}` with `Prefer: wait`) until it is final or `wait` has passed in all, and the
 *   SDK gets the answer the service would have given: the provider body, the provider's 4xx, a 502 or a 409;
 * - a final failure (502, 409 of a cancelled request) is marked `x-should-retry: false`: a retry would only replay it.
 * A wait that runs out altogether surfaces as an `APIError` with status 504 and code `wait_timeout`, naming the request.
 *
 * Import from `@batchbridge/client/openai` (needs the `openai` package, a peer dependency).
 */
import OpenAI, { type ClientOptions } from 'openai';
import { isFinal, normalizeBaseURL } from './client.js';
import type { BatchbridgeRequest } from './types.js';

export interface BatchOpenAIOptions extends Omit<ClientOptions, 'baseURL' | 'apiKey'> {
  /** Where batchbridge listens, e.g. `http://127.0.0.1:8080` (with or without `/v1`). */
  baseURL: string;
  apiKey: string;
  /** How long one call may wait for its outcome in all, in seconds. @defaultValue 3600 */
  wait?: number;
  /** Longest single hold asked of the service, in seconds (it caps this with `MAX_WAIT_S`, 900 by default). @defaultValue 600 */
  holdS?: number;
}

/** The SDK with an Idempotency-Key on every POST (the SDK generates it once per call and reuses it on its retries). */
class BatchbridgeOpenAI extends OpenAI {
  protected override idempotencyHeader = 'Idempotency-Key';
  protected override defaultIdempotencyKey(): string {
    return `bb-openai-${globalThis.crypto.randomUUID()}`;
  }
}

export function batchOpenAI(options: BatchOpenAIOptions): OpenAI {
  const { baseURL, apiKey, wait = 3600, holdS = 600, fetch: userFetch, defaultHeaders, ...rest } = options;
  const root = normalizeBaseURL(baseURL);
  const hold = Math.max(1, Math.min(Math.floor(wait), Math.floor(holdS)));
  const inner: typeof fetch = userFetch ?? ((input, init) => globalThis.fetch(input, init));
  const transparentFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const started = Date.now();
    const res = await inner(input, init);
    if (res.status === 202 && (init?.method ?? 'GET').toUpperCase() === 'POST' && res.headers.has('x-request-id')) {
      const request = (await res.json()) as BatchbridgeRequest;
      return settle(request, started + wait * 1000, init);
    }
    return finalMarked(res);
  };

  /** Long-polls a request whose hold ran out, until it is final or the deadline. */
  const settle = async (first: BatchbridgeRequest, deadline: number, init?: RequestInit): Promise<Response> => {
    let request = first;
    const headers = new Headers(init?.headers);
    const auth = headers.get('authorization') ?? `Bearer ${apiKey}`;
    while (!isFinal(request)) {
      const leftS = Math.floor((deadline - Date.now()) / 1000);
      if (leftS <= 0) {
        return json(
          504,
          {
            error: {
              message: `request ${request.id} is still ${request.status} after waiting ${wait} s; its result will be at GET /v1/requests/${request.id}`,
              type: 'timeout_error',
              param: null,
              code: 'wait_timeout',
            },
          },
          request.id,
        );
      }
      const res = await inner(`${root}/v1/requests/${encodeURIComponent(request.id)}`, {
        method: 'GET',
        headers: { authorization: auth, prefer: `wait=${Math.min(leftS, hold)}` },
        ...(init?.signal ? { signal: init.signal } : {}),
      });
      if (!res.ok) return finalMarked(res);
      request = (await res.json()) as BatchbridgeRequest;
    }
    return answerOf(request);
  };

  return new BatchbridgeOpenAI({
    ...rest,
    baseURL: `${root}/v1`,
    apiKey,
    // The SDK's per-attempt timeout sits above the hold, so the service's answer (200, or 202 when its own cap is
    // lower) arrives before the SDK gives up; the SDK sends it as X-Stainless-Timeout, which the service honours.
    timeout: rest.timeout ?? (hold + 30) * 1000,
    defaultHeaders: { Prefer: `wait=${hold}`, ...defaultHeaders },
    fetch: transparentFetch,
  });
}

/** What the service answers for a final request that waited (see services/ingest-api/src/wait/wait-answer.ts). */
function answerOf(request: BatchbridgeRequest): Response {
  const response = request.response;
  if (request.status === 'completed' && response) return json(200, response.body, request.id);
  if (request.status === 'cancelled') {
    return json(409, errorBody('request_cancelled', `request ${request.id} was cancelled`), request.id);
  }
  if (response && response.status_code >= 400 && response.status_code < 500) {
    return json(response.status_code, response.body, request.id);
  }
  return json(
    502,
    errorBody(request.error?.code ?? 'request_failed', request.error?.message ?? `request ${request.id} failed`),
    request.id,
  );
}

/** A final outcome of batchbridge (it names the request) is not worth an SDK retry: it would be replayed as it is. */
function finalMarked(res: Response): Response {
  if (!res.headers.has('x-request-id') || (res.status !== 502 && res.status !== 409)) return res;
  const headers = new Headers(res.headers);
  headers.set('x-should-retry', 'false');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

function json(status: number, body: unknown, requestId: string): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-should-retry': 'false' },
  });
}

function errorBody(code: string, message: string) {
  return { error: { message, type: 'server_error', param: null, code } };
}
