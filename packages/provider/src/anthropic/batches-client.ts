/**
 * A client of Anthropic's Message Batches API (and realtime Messages), on Node's fetch with headers `x-api-key` and
 * `anthropic-version`, no retries (the queues retry, as with the OpenAI client) and every call counted in the upstream
 * metrics as `messages.batches.create|retrieve|list|cancel|results` and `messages.create`.
 *
 * - `create(requests)` posts inline `requests[{custom_id, params}]` (at most 100 000 requests or 256 MB:
 *   `ANTHROPIC_BATCH_LIMITS`); `writeCreateBody` + `createFromFile` do the same from a temporary file, streamed with an
 *   exact Content-Length over node:http so a 256 MB body is never held in memory (undici buffers request bodies).
 * - `retrieve`, `list` (newest first; `after_id` pages to older batches), `cancel`.
 * - `results(batch)` streams the results JSONL line by line (constant memory) and yields one neutral `AnthropicOutcome`
 *   per line: `succeeded` (with the translated `chat.completion`), `failed` (the request itself is bad:
 *   `invalid_request_error` and other 4xx types) or `retry` (`api_error`, `overloaded_error`, `rate_limit_error`,
 *   `timeout_error`, `canceled`, `expired`: a later batch may answer it). `toOpenAIResultLine` renders an outcome as an
 *   OpenAI batch output/error line, so the poller's existing `judgeLine` and settle path can take it unchanged.
 * - `findBatchForFlush` finds the batch of a flush after a crash between create and recording its id (see there).
 *
 * Errors are `ProviderError`s, retryable as the OpenAI client's are (408, 409, 429, 5xx including Anthropic's 529,
 * connection and stream errors), with `Retry-After` honoured.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '@batchbridge/errors';
import type { MetricsCatalog } from '@batchbridge/metrics';
import type { BatchStatus } from '../batch.js';
import { ProviderError } from '../errors.js';
import {
  type AnthropicMessage,
  type AnthropicMessageParams,
  anthropicErrorToOpenAI,
  fromAnthropicMessage,
  RETRYABLE_ANTHROPIC_ERRORS,
  type TranslatedChatCompletion,
} from './translate.js';

/** The API version this client speaks (the one the official SDKs send). */
export const ANTHROPIC_VERSION = '2023-06-01';

/** Message Batches limits: whichever is reached first. */
export const ANTHROPIC_BATCH_LIMITS = { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 } as const;

/** A `custom_id` Anthropic accepts (batchbridge request ids `breq_…` do). */
export const ANTHROPIC_CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

export interface AnthropicBatchRequest {
  custom_id: string;
  params: AnthropicMessageParams;
}

export interface AnthropicRequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A Message Batch as the API returns it (`MessageBatch` of the official SDK). */
export interface AnthropicMessageBatch {
  id: string;
  type: 'message_batch';
  processing_status: 'in_progress' | 'canceling' | 'ended';
  request_counts: AnthropicRequestCounts;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

export interface AnthropicBatchPage {
  data: AnthropicMessageBatch[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/** One request's outcome, neutral: what the settle path needs, in OpenAI's terms. */
export type AnthropicOutcome =
  | { custom_id: string; kind: 'succeeded'; body: TranslatedChatCompletion }
  | {
      custom_id: string;
      kind: 'failed';
      /** The HTTP status the error type stands for (400 for `invalid_request_error`). */
      status: number;
      body: ReturnType<typeof anthropicErrorToOpenAI>['body'];
      message: string;
    }
  | {
      custom_id: string;
      kind: 'retry';
      /** `batch_expired`, `batch_cancelled`, or `server_error` for a retryable `errored` line. */
      code: 'batch_expired' | 'batch_cancelled' | 'server_error';
      message: string;
    };

export interface AnthropicClientOptions {
  /** As Anthropic's SDK takes it: `https://api.anthropic.com` (a trailing `/v1` is tolerated). */
  baseUrl: string;
  apiKey: string;
  /** @defaultValue `ANTHROPIC_VERSION` */
  anthropicVersion?: string;
  /** Per-call timeout (a results download: until its headers). @defaultValue 60 000 ms */
  timeoutMs?: number;
  metrics?: MetricsCatalog;
}

export interface ResultsOptions {
  /** The `model` each completion should carry (the name the caller sent, e.g. an alias). @defaultValue the message's */
  modelFor?: (customId: string) => string | undefined;
  /** `created` of the completions. @defaultValue now */
  created?: number;
  signal?: AbortSignal;
}

/** What a look for a flush's batch found. `confirmed: false`: matched by time and size only (see findBatchForFlush). */
export type AnthropicFlushLookup =
  | { kind: 'found'; batch: AnthropicMessageBatch; confirmed: boolean; pages: number }
  | { kind: 'absent'; pages: number }
  | { kind: 'undecided'; pages: number; reason: string; candidates: string[] };

export interface FindFlushBatchOptions {
  /** When the flush marked its create as started (unix seconds): older batches cannot be its. */
  notBeforeSec: number;
  /** How many requests the flush's create carried. */
  requestCount: number;
  /** Whether a custom_id is one of the flush's requests. */
  isFlushRequest: (customId: string) => boolean;
  /** Clock difference allowed between us and the provider. @defaultValue 60 s */
  skewSec?: number;
  /** @defaultValue 120 000 ms */
  maxMs?: number;
  /** Pages of 100. @defaultValue 2 000 */
  maxPages?: number;
}

function isoSeconds(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * The neutral batch status of the poller's lifecycle for an Anthropic batch: `in_progress`, `canceling` →
 * `cancelling`, `ended` → `cancelled` when a cancel was initiated, `expired` when any request expired, else
 * `completed`. Whatever the status, the results file decides each request (`results`).
 */
export function neutralBatchStatus(batch: AnthropicMessageBatch): BatchStatus {
  if (batch.processing_status === 'in_progress') return 'in_progress';
  if (batch.processing_status === 'canceling') return 'cancelling';
  if (batch.cancel_initiated_at) return 'cancelled';
  if (batch.request_counts.expired > 0) return 'expired';
  return 'completed';
}

/** Total requests of a batch (the counts always add up to it). */
export function batchRequestTotal(batch: AnthropicMessageBatch): number {
  const c = batch.request_counts;
  return c.processing + c.succeeded + c.errored + c.canceled + c.expired;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decides one results line (`{custom_id, result: {type, message | error}}`). */
export function judgeAnthropicResult(line: unknown, options: Omit<ResultsOptions, 'signal'> = {}): AnthropicOutcome {
  if (!isRecord(line) || typeof line.custom_id !== 'string' || !isRecord(line.result)) {
    throw new ProviderError({
      retryable: true,
      status: undefined,
      retryAfterMs: undefined,
      message: 'Anthropic results line without custom_id or result',
      code: 'malformed_result',
    });
  }
  const customId = line.custom_id;
  const result = line.result;
  switch (result.type) {
    case 'succeeded': {
      const message = result.message as AnthropicMessage;
      try {
        const body = fromAnthropicMessage(message, {
          model: options.modelFor?.(customId),
          created: options.created,
        });
        return { custom_id: customId, kind: 'succeeded', body };
      } catch {
        // Answered (and paid) but unreadable: another batch would be paid again, so it fails instead.
        const message = 'the Anthropic answer could not be read as a message';
        return {
          custom_id: customId,
          kind: 'failed',
          status: 502,
          body: { error: { message, type: 'server_error', param: null, code: 'malformed_result' } },
          message,
        };
      }
    }
    case 'errored': {
      const { status, body } = anthropicErrorToOpenAI(result.error);
      const type = body.error.code ?? 'api_error';
      const message = `${type}: ${body.error.message}`.slice(0, 1_000);
      if (RETRYABLE_ANTHROPIC_ERRORS.has(type))
        return { custom_id: customId, kind: 'retry', code: 'server_error', message };
      return { custom_id: customId, kind: 'failed', status, body, message };
    }
    case 'canceled':
      return { custom_id: customId, kind: 'retry', code: 'batch_cancelled', message: 'the batch was canceled' };
    case 'expired':
      return { custom_id: customId, kind: 'retry', code: 'batch_expired', message: 'the batch expired' };
    default:
      return {
        custom_id: customId,
        kind: 'retry',
        code: 'server_error',
        message: `unknown result type ${String(result.type)}`,
      };
  }
}

/**
 * An outcome as a line of an OpenAI batch output file (`succeeded`, `failed`: `response` with status and body) or
 * error file (`retry`: `error.code` of `RETRYABLE_LINE_CODES`), for the poller's `judgeLine`.
 */
export function toOpenAIResultLine(outcome: AnthropicOutcome): {
  id: null;
  custom_id: string;
  response: { status_code: number; request_id: null; body: unknown } | null;
  error: { code: string; message: string } | null;
} {
  if (outcome.kind === 'succeeded') {
    return {
      id: null,
      custom_id: outcome.custom_id,
      response: { status_code: 200, request_id: null, body: outcome.body },
      error: null,
    };
  }
  if (outcome.kind === 'failed') {
    return {
      id: null,
      custom_id: outcome.custom_id,
      response: { status_code: outcome.status, request_id: null, body: outcome.body },
      error: null,
    };
  }
  return {
    id: null,
    custom_id: outcome.custom_id,
    response: null,
    error: { code: outcome.code, message: outcome.message },
  };
}

/**
 * Writes the create body `{"requests":[…]}` to `path` one request at a time, refusing (before the limit is crossed)
 * more than 100 000 requests or 256 MB. Answers the request count and the exact byte length.
 */
export async function writeCreateBody(
  requests: AsyncIterable<AnthropicBatchRequest> | Iterable<AnthropicBatchRequest>,
  path: string,
): Promise<{ count: number; bytes: number }> {
  const out = createWriteStream(path);
  // Listened to from the start: a write still pending when a refusal destroys the stream must not go unhandled.
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let count = 0;
  let bytes = 0;
  const write = async (text: string) => {
    bytes += Buffer.byteLength(text);
    if (bytes > ANTHROPIC_BATCH_LIMITS.maxBytes) {
      throw new RangeError(`a Message Batch holds at most ${ANTHROPIC_BATCH_LIMITS.maxBytes} bytes`);
    }
    if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
  };
  try {
    await write('{"requests":[');
    for await (const r of requests) {
      if (count >= ANTHROPIC_BATCH_LIMITS.maxRequests) {
        throw new RangeError(`a Message Batch holds at most ${ANTHROPIC_BATCH_LIMITS.maxRequests} requests`);
      }
      if (!ANTHROPIC_CUSTOM_ID.test(r.custom_id)) throw new RangeError(`custom_id ${r.custom_id} is not accepted`);
      await write(`${count === 0 ? '' : ','}${JSON.stringify({ custom_id: r.custom_id, params: r.params })}`);
      count++;
    }
    await write(']}');
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } catch (err) {
    out.destroy();
    throw err;
  }
  return { count, bytes };
}

interface CallInit {
  body?: string;
  signal?: AbortSignal | undefined;
  query?: Record<string, string | number | undefined>;
  /** Clear the timeout once the headers are in (downloads). */
  timeoutUntilHeaders?: boolean;
}

export class AnthropicBatchesClient {
  readonly #origin: string;
  readonly #apiKey: string;
  readonly #version: string;
  readonly #timeoutMs: number;
  readonly #metrics: MetricsCatalog | undefined;
  /** The timeout of each JSON call, cleared once its body is read. */
  readonly #timers = new WeakMap<Response, NodeJS.Timeout>();

  constructor(options: AnthropicClientOptions) {
    this.#origin = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.#apiKey = options.apiKey;
    this.#version = options.anthropicVersion ?? ANTHROPIC_VERSION;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#metrics = options.metrics;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'x-api-key': this.#apiKey, 'anthropic-version': this.#version, accept: 'application/json', ...extra };
  }

  async #call(operation: string, method: string, path: string, init: CallInit = {}): Promise<Response> {
    const url = new URL(`${this.#origin}${path}`);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal;
    const stop = this.#metrics?.upstreamRequestDuration.startTimer({ operation });
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: this.#headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.body === undefined ? {} : { body: init.body }),
        signal,
      });
    } catch (err) {
      clearTimeout(timer);
      this.#metrics?.upstreamRequests.inc({ operation, status: 'error' });
      throw connectionError(err);
    } finally {
      stop?.();
    }
    // A results download may take long: its timeout covers the wait for the headers only.
    if (init.timeoutUntilHeaders || !res.ok) clearTimeout(timer);
    this.#metrics?.upstreamRequests.inc({ operation, status: String(res.status) });
    if (!res.ok) throw await httpError(res);
    if (!init.timeoutUntilHeaders) this.#timers.set(res, timer);
    return res;
  }

  async #json<T>(operation: string, method: string, path: string, init: CallInit = {}): Promise<T> {
    const res = await this.#call(operation, method, path, init);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw connectionError(err);
    } finally {
      clearTimeout(this.#timers.get(res));
      this.#timers.delete(res);
    }
  }

  /** `POST /v1/messages/batches` with the requests inline (small batches; large ones: `createFromFile`). */
  create(requests: readonly AnthropicBatchRequest[], options: { signal?: AbortSignal } = {}) {
    if (requests.length === 0 || requests.length > ANTHROPIC_BATCH_LIMITS.maxRequests) {
      throw new RangeError(`a Message Batch holds 1 to ${ANTHROPIC_BATCH_LIMITS.maxRequests} requests`);
    }
    const body = JSON.stringify({ requests });
    if (Buffer.byteLength(body) > ANTHROPIC_BATCH_LIMITS.maxBytes) {
      throw new RangeError(`a Message Batch holds at most ${ANTHROPIC_BATCH_LIMITS.maxBytes} bytes`);
    }
    return this.#json<AnthropicMessageBatch>('messages.batches.create', 'POST', '/v1/messages/batches', {
      body,
      signal: options.signal,
    });
  }

  /**
   * `POST /v1/messages/batches` with the body of `writeCreateBody`, streamed from disk with its exact length over
   * node:http (constant memory; the timeout covers the whole call).
   */
  async createFromFile(path: string, options: { signal?: AbortSignal } = {}): Promise<AnthropicMessageBatch> {
    const operation = 'messages.batches.create';
    const { size } = await stat(path);
    const url = new URL(`${this.#origin}/v1/messages/batches`);
    const stop = this.#metrics?.upstreamRequestDuration.startTimer({ operation });
    const timeout = AbortSignal.timeout(Math.max(this.#timeoutMs, 600_000));
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const { status, headers, text } = await new Promise<{ status: number; headers: Headers; text: string }>(
        (resolve, reject) => {
          const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
          const req = send(url, {
            method: 'POST',
            headers: this.#headers({ 'content-type': 'application/json', 'content-length': String(size) }),
            signal,
          });
          req.once('error', reject);
          req.once('response', (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.once('error', reject);
            res.once('end', () => {
              const h = new Headers();
              for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
              resolve({ status: res.statusCode ?? 502, headers: h, text: Buffer.concat(chunks).toString('utf8') });
            });
          });
          pipeline(createReadStream(path), req).catch((err: unknown) => {
            req.destroy(err as Error);
            reject(err);
          });
        },
      );
      this.#metrics?.upstreamRequests.inc({ operation, status: String(status) });
      if (status < 200 || status >= 300) throw await httpError(new Response(text, { status, headers }));
      return JSON.parse(text) as AnthropicMessageBatch;
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      this.#metrics?.upstreamRequests.inc({ operation, status: 'error' });
      throw connectionError(err);
    } finally {
      stop?.();
    }
  }

  retrieve(id: string, options: { signal?: AbortSignal } = {}) {
    return this.#json<AnthropicMessageBatch>(
      'messages.batches.retrieve',
      'GET',
      `/v1/messages/batches/${encodeURIComponent(id)}`,
      { signal: options.signal },
    );
  }

  /** One page, newest first; `after_id` = the previous page's `last_id` for older batches. */
  list(params: { limit?: number; after_id?: string; before_id?: string } = {}, options: { signal?: AbortSignal } = {}) {
    return this.#json<AnthropicBatchPage>('messages.batches.list', 'GET', '/v1/messages/batches', {
      query: { limit: params.limit, after_id: params.after_id, before_id: params.before_id },
      signal: options.signal,
    });
  }

  cancel(id: string, options: { signal?: AbortSignal } = {}) {
    return this.#json<AnthropicMessageBatch>(
      'messages.batches.cancel',
      'POST',
      `/v1/messages/batches/${encodeURIComponent(id)}/cancel`,
      { signal: options.signal },
    );
  }

  /** Realtime `POST /v1/messages` (the realtime lane). */
  createMessage(params: AnthropicMessageParams, options: { signal?: AbortSignal } = {}) {
    return this.#json<AnthropicMessage>('messages.create', 'POST', '/v1/messages', {
      body: JSON.stringify(params),
      signal: options.signal,
    });
  }

  /**
   * The results path of a batch: its `results_url` when it is on this client's origin, else the documented
   * `/v1/messages/batches/{id}/results` (the API key is never sent to another host).
   */
  resultsPath(batch: AnthropicMessageBatch | string): string {
    const fallback = `/v1/messages/batches/${encodeURIComponent(typeof batch === 'string' ? batch : batch.id)}/results`;
    if (typeof batch === 'string' || !batch.results_url) return fallback;
    try {
      const url = new URL(batch.results_url);
      return url.origin === new URL(this.#origin).origin ? `${url.pathname}${url.search}` : fallback;
    } catch {
      return fallback;
    }
  }

  /**
   * The raw results JSONL of an ended batch as a byte stream (the adapter's result source: the poller reads it line
   * by line). A batch whose results are gone rejects with a `ProviderError` of status 404.
   */
  async openResults(
    batch: AnthropicMessageBatch | string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array> | null> {
    const res = await this.#call('messages.batches.results', 'GET', this.resultsPath(batch), {
      signal: options.signal,
      timeoutUntilHeaders: true,
    });
    return res.body;
  }

  /** Every model id of `GET /v1/models` (pages of 1 000, `after_id`). */
  async listModels(options: { timeoutMs?: number } = {}): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 100; page++) {
      const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
      const res = await this.#json<{ data: Array<{ id: string }>; has_more?: boolean; last_id?: string | null }>(
        'models.list',
        'GET',
        '/v1/models',
        { query: { limit: 1000, after_id: after }, signal },
      );
      for (const m of res.data ?? []) if (typeof m.id === 'string') ids.push(m.id);
      if (!res.has_more || !res.last_id) break;
      after = res.last_id;
    }
    return ids;
  }

  /**
   * Streams an ended batch's results, one outcome per line, in the order the provider wrote them (not the request
   * order). A broken download throws a retryable `ProviderError` part-way: the caller settles what it took (settling
   * is idempotent) and reads again.
   */
  async *results(
    batch: AnthropicMessageBatch | string,
    options: ResultsOptions = {},
  ): AsyncGenerator<AnthropicOutcome> {
    const res = await this.#call('messages.batches.results', 'GET', this.resultsPath(batch), {
      signal: options.signal,
      timeoutUntilHeaders: true,
    });
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    const judge = (raw: string): AnthropicOutcome | undefined => {
      const text = raw.trim();
      if (text === '') return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new ProviderError(
          {
            retryable: true,
            status: undefined,
            retryAfterMs: undefined,
            message: 'Anthropic results line is not JSON (a truncated download?)',
            code: 'malformed_result',
          },
          { cause: err },
        );
      }
      return judgeAnthropicResult(parsed, options);
    };
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw connectionError(err);
        }
        if (chunk.done) break;
        pending += decoder.decode(chunk.value, { stream: true });
        let nl = pending.indexOf('\n');
        while (nl !== -1) {
          const outcome = judge(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          if (outcome) yield outcome;
          nl = pending.indexOf('\n');
        }
      }
      pending += decoder.decode();
      const last = judge(pending);
      if (last) yield last;
    } finally {
      // An early return or an error: let go of the connection.
      await reader.cancel().catch(() => undefined);
    }
  }

  /**
   * Finds the batch a flush created when the process died between `create` and recording the batch id. Anthropic
   * batches carry no metadata, and the requests of a batch can only be read once it ended, so the walk (newest first,
   * down to `notBeforeSec - skewSec`, bounded in time and pages like `findBatchByFlushId`) takes as candidates the
   * batches created since then with exactly `requestCount` requests, and for each that has ended reads the first
   * results line: its `custom_id` is one of the flush's (request ids are unique) or the batch is another's.
   * - a confirmed candidate → `found`, `confirmed: true`;
   * - no confirmed one, exactly one unconfirmed (still running) → `found`, `confirmed: false`: adopting it is safe for
   *   I2 — if it is in fact another flush's batch, this flush's own batch does not exist (it would be a second
   *   candidate), and its requests come back as missing from the results and are retried, never paid twice;
   * - several unconfirmed → `undecided` (hold the flush and look again; they will end within 24 h);
   * - none → `absent`. Past a bound → `undecided`, never `absent`.
   */
  async findBatchForFlush(options: FindFlushBatchOptions): Promise<AnthropicFlushLookup> {
    const skew = options.skewSec ?? 60;
    const floor = options.notBeforeSec - skew;
    const maxMs = options.maxMs ?? 120_000;
    const maxPages = options.maxPages ?? 2_000;
    const started = Date.now();
    const unconfirmed: AnthropicMessageBatch[] = [];
    let after: string | undefined;
    const decide = (pages: number): AnthropicFlushLookup => {
      if (unconfirmed.length === 0) return { kind: 'absent', pages };
      if (unconfirmed.length === 1) return { kind: 'found', batch: unconfirmed[0]!, confirmed: false, pages };
      return {
        kind: 'undecided',
        pages,
        reason: `${unconfirmed.length} running batches of ${options.requestCount} requests created since the flush started`,
        candidates: unconfirmed.map((b) => b.id),
      };
    };
    for (let page = 1; ; page++) {
      const res = await this.list({ limit: 100, ...(after ? { after_id: after } : {}) });
      let older = false;
      for (const b of res.data) {
        const created = isoSeconds(b.created_at);
        if (created !== undefined && created < floor) {
          older = true;
          continue;
        }
        if (batchRequestTotal(b) !== options.requestCount) continue;
        if (b.processing_status === 'ended') {
          const first = await this.#firstResultCustomId(b);
          if (first !== undefined && options.isFlushRequest(first))
            return { kind: 'found', batch: b, confirmed: true, pages: page };
          if (first === undefined) unconfirmed.push(b); // ended but results unreadable (archived): cannot rule it out
        } else unconfirmed.push(b);
      }
      if (older || !res.has_more || !res.last_id) return decide(page);
      if (page >= maxPages) {
        return { kind: 'undecided', pages: page, reason: `still searching after ${page} pages`, candidates: [] };
      }
      if (Date.now() - started > maxMs) {
        return {
          kind: 'undecided',
          pages: page,
          reason: `still searching after ${Math.round(maxMs / 1000)} s`,
          candidates: [],
        };
      }
      after = res.last_id;
    }
  }

  async #firstResultCustomId(batch: AnthropicMessageBatch): Promise<string | undefined> {
    try {
      for await (const outcome of this.results(batch)) return outcome.custom_id;
      return undefined;
    } catch (err) {
      if (err instanceof ProviderError && !err.retryable) return undefined;
      throw err;
    }
  }
}

export function createAnthropicBatchesClient(options: AnthropicClientOptions): AnthropicBatchesClient {
  return new AnthropicBatchesClient(options);
}

function connectionError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(
    { retryable: true, status: undefined, retryAfterMs: undefined, message, code: 'connection' },
    { cause: err },
  );
}

/** An HTTP error answer → ProviderError (retryable: 408, 409, 429, 5xx and 529), with the Anthropic error type as code. */
async function httpError(res: Response): Promise<ProviderError> {
  let type: string | undefined;
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { type?: string; message?: string } };
    type = body.error?.type;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status
  }
  const status = res.status;
  const retryAfterMs = (() => {
    const ms = res.headers.get('retry-after-ms');
    if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.min(Math.round(Number(ms)), MAX_RETRY_AFTER_MS);
    return parseRetryAfter(res.headers.get('retry-after'));
  })();
  return new ProviderError({
    retryable: status === 408 || status === 409 || status === 429 || status >= 500,
    status,
    retryAfterMs,
    message: message.slice(0, 1_000),
    code: type,
  });
}
