/**
 * The typed client of batchbridge's HTTP API (SPEC §3, §8): submit a request to any batchable endpoint, read it, wait
 * for its outcome (long-poll), cancel it, have its webhook sent again. Only `fetch` and Web APIs: it runs in Node 20+,
 * Deno, Bun and edge runtimes alike.
 *
 * Retries: a connection error, a timeout, a 408, 429 or 5xx is retried (after the answer's `Retry-After`, else an
 * exponential back-off with jitter), up to `maxRetries` times. Every submit carries an `Idempotency-Key` — yours, or
 * one generated for it — and keeps that key on all its own retries, so a retry after a lost 202 answers the request
 * the first attempt created (200, `Idempotent-Replayed`) instead of queueing a second one.
 */
import { type BodyOf, type EndpointRef, endpointPath } from './endpoints.js';
import { BatchbridgeError, errorFromResponse } from './errors.js';
import type { BatchbridgeRequest, RequestStatus, UsageReport } from './types.js';

export interface ClientOptions {
  /** Where batchbridge listens, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is accepted too). */
  baseURL: string;
  /** A tenant's API key (`Authorization: Bearer …`). */
  apiKey: string;
  /** Retries of one call after a connection error, a timeout, 408, 429 or 5xx. @defaultValue 4 */
  maxRetries?: number;
  /** Timeout of one attempt of a call that does not wait, in ms. @defaultValue 60 000 */
  timeoutMs?: number;
  /** Longest pause between two retries, in ms (a longer `Retry-After` is cut to this). @defaultValue 30 000 */
  maxRetryDelayMs?: number;
  /** Headers sent with every call. */
  defaultHeaders?: Record<string, string>;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

export interface SubmitOptions {
  /** Where the outcome webhook goes (`X-Callback-URL`). Without one (and without a tenant default) no webhook is sent: read the outcome with `get` or `wait`. */
  callbackUrl?: string;
  /** Your own reference, ≤ 64 characters, echoed as `custom_id` in the request object and its webhook. */
  customId?: string;
  /** The Idempotency-Key (≤ 255 characters). @defaultValue a random UUID, the same on every retry of this call */
  idempotencyKey?: string;
  /**
   * When the outcome is needed (`X-Deadline`, SPEC §10): seconds from now, a duration such as `'15m'`, or a time
   * (`Date` or RFC 3339). A service that knows deadlines picks a faster lane when a batch would be late.
   */
  deadline?: number | string | Date;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** What `replay` sends again: dead-lettered outcomes, every undelivered one, or all in the range. */
export type ReplayStatus = 'dead' | 'failed' | 'all';

export interface ReplayOptions extends CallOptions {
  /** Start of the range of finished outcomes (required). */
  since: Date | string;
  /** End of the range. @defaultValue now */
  until?: Date | string;
  /** @defaultValue 'all' */
  status?: ReplayStatus;
}

/** A replay job (`POST /v1/deliveries/replay`): it runs in the background; read its progress with `replayStatus`. */
export interface ReplayJob {
  id: string;
  object: 'delivery.replay';
  since: string;
  until: string;
  status: ReplayStatus;
  state: 'running' | 'done' | 'failed' | 'interrupted';
  scanned: number;
  queued: number;
  created_at: string | null;
  finished_at: string | null;
  error: string | null;
}

/** A file of the Batch API (SPEC §12), as OpenAI shapes it. */
export interface BatchFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  [field: string]: unknown;
}

/** A batch of the Batch API (SPEC §12), as OpenAI shapes it. */
export interface Batch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  [field: string]: unknown;
}

export interface CreateBatchOptions extends CallOptions {
  inputFileId: string;
  /** @defaultValue '/v1/chat/completions' */
  endpoint?: string;
  /** @defaultValue '24h' */
  completionWindow?: string;
  metadata?: Record<string, string>;
  /** Kept on every retry of this call, so a lost answer never creates a second batch. @defaultValue a random UUID */
  idempotencyKey?: string;
}

export interface WatchBatchOptions extends CallOptions {
  /** Seconds between two reads. @defaultValue 5 */
  intervalS?: number;
  /** Give up after this many seconds and return the batch as it stands. @defaultValue no limit */
  timeoutS?: number;
  /** Called after every read. */
  onProgress?: (batch: Batch) => void;
}

const BATCH_FINAL: ReadonlySet<Batch['status']> = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** Whether a Batch API batch has ended (`completed`, `failed`, `expired` or `cancelled`). */
export function isBatchFinal(batch: Pick<Batch, 'status'>): boolean {
  return BATCH_FINAL.has(batch.status);
}

export interface Submitted {
  request: BatchbridgeRequest;
  /** The service already held a request under this Idempotency-Key (200 `Idempotent-Replayed`): it is that request. */
  replayed: boolean;
  idempotencyKey: string;
}

export interface WaitOptions {
  /** How long to wait in all, in seconds; the request object is returned as it stands when this runs out. @defaultValue 3600 */
  timeoutS?: number;
  /** Longest single long-poll, in seconds (the service caps it with `MAX_WAIT_S` too). @defaultValue 300 */
  pollS?: number;
  signal?: AbortSignal;
}

export interface CallOptions {
  signal?: AbortSignal;
}

const FINAL: ReadonlySet<RequestStatus> = new Set(['completed', 'failed', 'cancelled']);

/** Whether a request has reached its outcome (`completed`, `failed` or `cancelled`). */
export function isFinal(request: Pick<BatchbridgeRequest, 'status'>): boolean {
  return FINAL.has(request.status);
}

/** `http://host:8080/v1/` → `http://host:8080`. */
export function normalizeBaseURL(baseURL: string): string {
  let url = baseURL.trim().replace(/\/+$/, '');
  if (url.endsWith('/v1')) url = url.slice(0, -3);
  return url;
}

interface Attempt {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** A multipart body, built again for every attempt (a FormData body is read once). */
  form?: () => FormData;
  /** Timeout of one attempt. */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

export class BatchbridgeClient {
  readonly baseURL: string;
  readonly #apiKey: string;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    if (!options.baseURL) throw new TypeError('BatchbridgeClient: baseURL is required');
    if (!options.apiKey) throw new TypeError('BatchbridgeClient: apiKey is required');
    this.baseURL = normalizeBaseURL(options.baseURL);
    this.#apiKey = options.apiKey;
    this.#maxRetries = options.maxRetries ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.#headers = options.defaultHeaders ?? {};
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Queues one request for a batch: `endpoint` is a short name (`chat`, `embeddings`, `responses`, `completions`,
   * `moderations`) or its path; `body` is the OpenAI body of that endpoint. Resolves with the request object (`queued`).
   */
  async submit<E extends EndpointRef, B extends BodyOf<E>>(
    endpoint: E,
    body: B,
    options: SubmitOptions = {},
  ): Promise<BatchbridgeRequest> {
    return (await this.submitDetailed(endpoint, body, options)).request;
  }

  /** `submit`, telling also whether the answer was a replay of an earlier submit with the same Idempotency-Key. */
  async submitDetailed<E extends EndpointRef, B extends BodyOf<E>>(
    endpoint: E,
    body: B,
    options: SubmitOptions = {},
  ): Promise<Submitted> {
    const path = endpointPath(endpoint);
    if (!path) throw new TypeError(`unknown endpoint '${endpoint}'`);
    const idempotencyKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
      // The answer is the request object at once, whatever the tenant's default_wait_s; no callback URL is needed
      // (the outcome is read with GET /v1/requests/{id}).
      prefer: 'respond-async',
      ...options.headers,
    };
    if (options.callbackUrl !== undefined) headers['x-callback-url'] = options.callbackUrl;
    if (options.customId !== undefined) headers['x-custom-id'] = options.customId;
    if (options.deadline !== undefined) headers['x-deadline'] = deadlineHeader(options.deadline);
    const { res, attempts } = await this.#send({
      method: 'POST',
      path,
      headers,
      body: JSON.stringify(body),
      signal: options.signal,
    });
    const request = (await res.json()) as BatchbridgeRequest;
    // A 200 replay that answers our own retry is the request our first attempt created.
    const replayed = res.headers.get('idempotent-replayed') === 'true' && attempts === 1;
    return { request, replayed, idempotencyKey };
  }

  /** The request object (`GET /v1/requests/{id}`); a request of another tenant, or an expired one, is a 404 error. */
  async get(id: string, options: CallOptions = {}): Promise<BatchbridgeRequest> {
    const { res } = await this.#send({ method: 'GET', path: requestPath(id), signal: options.signal });
    return (await res.json()) as BatchbridgeRequest;
  }

  /**
   * Long-polls the request (`GET` with `Prefer: wait=<s>`) until it is final or `timeoutS` has passed, and resolves with
   * the request object as it then stands (check `isFinal` when a timeout is possible).
   */
  async wait(id: string, options: WaitOptions = {}): Promise<BatchbridgeRequest> {
    const deadline = Date.now() + (options.timeoutS ?? 3600) * 1000;
    const pollS = Math.max(1, Math.floor(options.pollS ?? 300));
    for (;;) {
      const leftS = Math.floor((deadline - Date.now()) / 1000);
      const waitS = Math.max(0, Math.min(pollS, leftS));
      const { res } = await this.#send({
        method: 'GET',
        path: requestPath(id),
        headers: waitS > 0 ? { prefer: `wait=${waitS}` } : {},
        timeoutMs: waitS * 1000 + this.#timeoutMs,
        signal: options.signal,
      });
      const request = (await res.json()) as BatchbridgeRequest;
      if (isFinal(request) || waitS === 0) return request;
    }
  }

  /** Cancels a request that is still `queued` (else a 409 error, `request_not_cancellable`). */
  async cancel(id: string, options: CallOptions = {}): Promise<BatchbridgeRequest> {
    try {
      const { res } = await this.#send({ method: 'POST', path: `${requestPath(id)}/cancel`, signal: options.signal });
      return (await res.json()) as BatchbridgeRequest;
    } catch (err) {
      // A retry after a lost 200 finds the request cancelled already: that is the answer the first attempt had.
      if (err instanceof BatchbridgeError && err.status === 409 && (err as RetriedError).afterRetry) {
        const request = await this.get(id, options);
        if (request.status === 'cancelled') return request;
      }
      throw err;
    }
  }

  /** Has the final outcome's webhook sent again (same `webhook-id`); at most one per request per 5 s (else 429). */
  async redeliver(id: string, options: CallOptions = {}): Promise<BatchbridgeRequest> {
    try {
      const { res } = await this.#send({
        method: 'POST',
        path: `${requestPath(id)}/redeliver`,
        signal: options.signal,
      });
      return (await res.json()) as BatchbridgeRequest;
    } catch (err) {
      // A retry refused as too soon after a redeliver: the first attempt's was accepted.
      if (
        err instanceof BatchbridgeError &&
        err.code === 'redeliver_rate_limited' &&
        (err as RetriedError).afterRetry
      ) {
        return this.get(id, options);
      }
      throw err;
    }
  }

  /**
   * Sends finished outcomes of a time range again (`POST /v1/deliveries/replay`, same `webhook-id` each): e.g.
   * `{ since, status: 'dead' }` after a receiver outage. At most one replay per tenant a minute (else a 429 error).
   */
  async replay(options: ReplayOptions): Promise<ReplayJob> {
    const body: Record<string, string> = { since: isoTime(options.since), status: options.status ?? 'all' };
    if (options.until !== undefined) body.until = isoTime(options.until);
    // Not retried on an unclear answer: a second replay would only be refused (429) or send the outcomes twice.
    const { res } = await this.#send(
      {
        method: 'POST',
        path: '/v1/deliveries/replay',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: options.signal,
      },
      { retry: false },
    );
    return (await res.json()) as ReplayJob;
  }

  /** A replay job's progress (`GET /v1/deliveries/replay/{id}`). */
  async replayStatus(id: string, options: CallOptions = {}): Promise<ReplayJob> {
    const path = `/v1/deliveries/replay/${encodeURIComponent(id)}`;
    const { res } = await this.#send({ method: 'GET', path, signal: options.signal });
    return (await res.json()) as ReplayJob;
  }

  /**
   * Uploads a JSONL file of provider batch lines for the Batch API (`POST /v1/files`, `purpose=batch`). A retry after
   * a lost answer may leave an unused second file; it is never batched.
   */
  async uploadFile(
    content: Blob | string | Uint8Array,
    options: CallOptions & { filename?: string } = {},
  ): Promise<BatchFile> {
    const blob =
      content instanceof Blob
        ? content
        : new Blob([typeof content === 'string' ? content : new Uint8Array(content)], { type: 'application/jsonl' });
    const { res } = await this.#send({
      method: 'POST',
      path: '/v1/files',
      form: () => {
        const form = new FormData();
        form.set('purpose', 'batch');
        form.set('file', blob, options.filename ?? 'batch.jsonl');
        return form;
      },
      timeoutMs: Math.max(this.#timeoutMs, 600_000),
      signal: options.signal,
    });
    return (await res.json()) as BatchFile;
  }

  /** Creates a batch over an uploaded file (`POST /v1/batches`), with one Idempotency-Key across its retries. */
  async createBatch(options: CreateBatchOptions): Promise<Batch> {
    const body = {
      input_file_id: options.inputFileId,
      endpoint: options.endpoint ?? '/v1/chat/completions',
      completion_window: options.completionWindow ?? '24h',
      ...(options.metadata ? { metadata: options.metadata } : {}),
    };
    const { res } = await this.#send({
      method: 'POST',
      path: '/v1/batches',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': options.idempotencyKey ?? globalThis.crypto.randomUUID(),
      },
      body: JSON.stringify(body),
      signal: options.signal,
    });
    return (await res.json()) as Batch;
  }

  /** A batch as it stands (`GET /v1/batches/{id}`). */
  async getBatch(id: string, options: CallOptions = {}): Promise<Batch> {
    const { res } = await this.#send({ method: 'GET', path: batchPath(id), signal: options.signal });
    return (await res.json()) as Batch;
  }

  /** Cancels a batch (`POST /v1/batches/{id}/cancel`): answered lines stay answered, the rest are cancelled. */
  async cancelBatch(id: string, options: CallOptions = {}): Promise<Batch> {
    const { res } = await this.#send({ method: 'POST', path: `${batchPath(id)}/cancel`, signal: options.signal });
    return (await res.json()) as Batch;
  }

  /** Reads a batch every `intervalS` until it has ended (or `timeoutS` has passed) and resolves with it. */
  async watchBatch(id: string, options: WatchBatchOptions = {}): Promise<Batch> {
    const deadline = options.timeoutS === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutS * 1000;
    const intervalMs = Math.max(0.1, options.intervalS ?? 5) * 1000;
    for (;;) {
      const batch = await this.getBatch(id, options);
      options.onProgress?.(batch);
      if (isBatchFinal(batch) || Date.now() + intervalMs > deadline) return batch;
      await sleep(intervalMs, options.signal);
    }
  }

  /** A file's content as a stream of bytes (`GET /v1/files/{id}/content`): an output or error file, JSONL. */
  async fileContent(id: string, options: CallOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const path = `/v1/files/${encodeURIComponent(id)}/content`;
    const { res } = await this.#send({
      method: 'GET',
      path,
      timeoutMs: Math.max(this.#timeoutMs, 600_000),
      signal: options.signal,
    });
    if (!res.body)
      throw new BatchbridgeError({ status: res.status, code: 'empty_body', message: `GET ${path}: no body` });
    return res.body;
  }

  /**
   * What this key's answered requests cost, what they would have cost at realtime prices and the difference
   * (`GET /v1/usage`): UTC days `YYYY-MM-DD`, both inclusive (default: this month so far), per day and provider, model
   * and lane, or grouped by one of them.
   */
  async usage(
    options: CallOptions & { from?: string; to?: string; groupBy?: 'model' | 'lane' | 'provider' } = {},
  ): Promise<UsageReport> {
    const query = new URLSearchParams();
    if (options.from) query.set('from', options.from);
    if (options.to) query.set('to', options.to);
    if (options.groupBy) query.set('group_by', options.groupBy);
    const qs = query.toString();
    const { res } = await this.#send({ method: 'GET', path: `/v1/usage${qs ? `?${qs}` : ''}`, signal: options.signal });
    return (await res.json()) as UsageReport;
  }

  /** The models this deployment accepts for this key (`GET /v1/models`). */
  async models(options: CallOptions = {}): Promise<string[]> {
    const { res } = await this.#send({ method: 'GET', path: '/v1/models', signal: options.signal });
    const list = (await res.json()) as { data: Array<{ id: string }> };
    return list.data.map((m) => m.id);
  }

  /** One call, retried as the class comment says; resolves with the first 2xx answer. */
  async #send(
    attempt: Attempt,
    policy: { retry: boolean } = { retry: true },
  ): Promise<{ res: Response; attempts: number }> {
    for (let n = 1; ; n++) {
      let error: BatchbridgeError;
      const timeout = AbortSignal.timeout(attempt.timeoutMs ?? this.#timeoutMs);
      const signal = attempt.signal ? AbortSignal.any([attempt.signal, timeout]) : timeout;
      try {
        const res = await this.#fetch(`${this.baseURL}${attempt.path}`, {
          method: attempt.method,
          headers: { ...this.#headers, authorization: `Bearer ${this.#apiKey}`, ...attempt.headers },
          ...(attempt.body !== undefined ? { body: attempt.body } : {}),
          ...(attempt.form ? { body: attempt.form() } : {}),
          signal,
        });
        if (res.ok) return { res, attempts: n };
        error = await errorFromResponse(res);
      } catch (err) {
        if (attempt.signal?.aborted) throw attempt.signal.reason ?? err;
        error = new BatchbridgeError({
          status: 0,
          code: timeout.aborted ? 'timeout' : 'connection_error',
          message: `${attempt.method} ${this.baseURL}${attempt.path}: ${timeout.aborted ? 'timed out' : (err as Error).message}`,
          cause: err,
        });
      }
      if (n > 1) (error as RetriedError).afterRetry = true;
      if (!error.retryable || n > this.#maxRetries || !policy.retry) throw error;
      await sleep(this.#retryDelayMs(n, error.headers['retry-after']), attempt.signal);
    }
  }

  #retryDelayMs(attempt: number, retryAfter: string | undefined): number {
    const seconds = retryAfter === undefined ? Number.NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, this.#maxRetryDelayMs);
    const base = Math.min(500 * 2 ** (attempt - 1), this.#maxRetryDelayMs);
    return base / 2 + Math.random() * (base / 2);
  }
}

type RetriedError = BatchbridgeError & { afterRetry?: boolean };

function batchPath(id: string): string {
  return `/v1/batches/${encodeURIComponent(id)}`;
}

function isoTime(t: Date | string): string {
  return t instanceof Date ? t.toISOString() : t;
}

/** `X-Deadline`: seconds (a number), a duration or RFC 3339 text as given, or a Date as RFC 3339. */
function deadlineHeader(deadline: number | string | Date): string {
  if (deadline instanceof Date) return deadline.toISOString();
  return typeof deadline === 'number' ? String(Math.ceil(deadline)) : deadline;
}

function requestPath(id: string): string {
  return `/v1/requests/${encodeURIComponent(id)}`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
