/**
 * The wire types of batchbridge (SPEC §3), for applications that talk to it: the request object that
 * `POST /v1/chat/completions` answers with (202) and `GET /v1/requests/{id}` returns, and the webhook event that carries
 * it to the callback URL. Types only — nothing here runs — so importing it costs an application nothing at run time.
 *
 * The server builds its answers from these same types (`@batchbridge/domain` re-exports them), and the OpenAPI
 * document's `Request` and `WebhookEvent` schemas are checked against real answers and real deliveries in the tests.
 *
 * ```ts
 * import type { BatchbridgeRequest } from '@batchbridge/client';
 * const request = (await client.chat.completions.create(body)) as unknown as BatchbridgeRequest;
 * ```
 */

/** The batchable endpoints batchbridge accepts (SPEC §9). */
export type BatchEndpoint =
  | '/v1/chat/completions'
  | '/v1/embeddings'
  | '/v1/responses'
  | '/v1/completions'
  | '/v1/moderations';

/** Where a request is in its life; the last three are final. */
export type RequestStatus = 'queued' | 'batched' | 'submitted' | 'completed' | 'failed' | 'cancelled';

/** The request object: the 202 answer, `GET /v1/requests/{id}`, and a webhook event's `data`. */
export interface BatchbridgeRequest {
  /** `breq_` and 25 lowercase base-36 characters. */
  id: string;
  object: 'batchbridge.request';
  /** The OpenAI endpoint the request is for, e.g. `/v1/chat/completions`, `/v1/embeddings`. */
  endpoint: BatchEndpoint;
  status: RequestStatus;
  model: string;
  /** Your own reference (`X-Custom-ID` or body `custom_id`), echoed; null when none was given. */
  custom_id: string | null;
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds; null until the request is final. */
  completed_at: number | null;
  /** The provider batch of the latest attempt. */
  batch_id: string | null;
  /** Provider batches this request has been part of. */
  attempts: number;
  /** Present when the answer was cut off by the provider's token limit (`finish_reason: length`, SPEC §14). */
  truncated?: true;
  /** The provider's answer, unchanged: for chat an OpenAI `ChatCompletion` in `body` (set when completed). */
  response: { status_code: number; body: unknown } | null;
  /**
   * Why the request failed or was cancelled (set when failed): `provider_rejected` (a 4xx line, its body in
   * `response`), `max_attempts_exceeded`, `schema_validation_failed` (every answer broke the request's JSON schema; the
   * last one is in `response`), …
   */
  error: { code: string; message: string } | null;
  /**
   * The lane it is answered on (SPEC §10): `batch` (the provider's Batch API), `flex` (a synchronous call with
   * `service_tier: "flex"`, batch price) or `realtime` (a synchronous call, full price). Requests without a deadline
   * stay on `batch`.
   */
  lane: RequestLane;
  /**
   * On the `batch` lane of a provider whose completion windows are lanes of their own (Doubleword's `1h` beside its
   * `24h`): the window its batch asks for when the scheduler chose a faster one than the deployment's
   * COMPLETION_WINDOW to meet the deadline; null otherwise (the deployment's window, or a fast lane).
   */
  completion_window: string | null;
  /** Its deadline (`X-Deadline`, `deadline` or the tenant's `default_deadline`), unix seconds; null when none. */
  deadline_at: number | null;
  /** Once final: whether it finished by its deadline; null without a deadline or while it is open. */
  deadline_met: boolean | null;
  /** Tokens of the provider's answer (set when completed with an answer that reports them; SPEC §15). */
  usage: RequestUsage | null;
  /** What the answer cost, from the price table (set with `usage`). */
  cost: RequestCost | null;
}

/** Lanes of SPEC §10: what a request was priced at. */
export type Lane = 'batch' | 'flex' | 'realtime';

/** Tokens as the provider reported them; `input_tokens` includes the cached and cache-written ones. */
export interface RequestUsage {
  input_tokens: number;
  /** Input tokens read from the provider's prompt cache. */
  cached_tokens: number;
  /** Input tokens written to the prompt cache (Anthropic). */
  cache_write_tokens: number;
  output_tokens: number;
}

/** A request's cost in USD (SPEC §15). Unpriced (`priced: false`, the amounts null) is never free. */
export interface RequestCost {
  /** What it cost in its lane; null when the price table does not price the model or the lane. */
  usd: number | null;
  /** What the same tokens cost at realtime prices; null when unpriced. */
  realtime_usd: number | null;
  /** `realtime_usd − usd`; null when unpriced. */
  saved_usd: number | null;
  lane: Lane;
  priced: boolean;
}

/** `GET /v1/usage`: the tenant's ledger over a range of days (SPEC §15). */
export interface UsageReport {
  object: 'usage';
  /** YYYY-MM-DD, inclusive. */
  from: string;
  to: string;
  total: UsageAmounts;
  data: UsageRow[];
}

export interface UsageAmounts {
  usd: number;
  realtime_usd: number;
  saved_usd: number;
  /** Requests billed (answered), unpriced ones included. */
  requests: number;
  /** Of those, requests the price table could not price (no money counted for them). */
  unpriced_requests: number;
}

/** One row per day (or month, for days rolled up) and group; the fields not grouped by are null. */
export interface UsageRow extends UsageAmounts {
  /** YYYY-MM-DD, or YYYY-MM for a month whose days were rolled up (the whole month, when it overlaps the range). */
  date: string;
  provider: string | null;
  model: string | null;
  lane: string | null;
}

/** The lanes a request can be answered on (the same as `Lane`). */
export type RequestLane = Lane;

/** The three outcome events; one is delivered per request, with the same `webhook-id` on every retry. */
export type WebhookEventType = 'request.completed' | 'request.failed' | 'request.cancelled';

/** The JSON body of a webhook (Standard Webhooks: verify the raw bytes before parsing). */
export interface WebhookEvent {
  type: WebhookEventType;
  /** ISO 8601: when the outcome happened (the same on every retry of one event). */
  timestamp: string;
  data: BatchbridgeRequest;
}

/** The terminal events of a Batch API batch (SPEC §12), as OpenAI sends them. */
export type BatchWebhookEventType = 'batch.completed' | 'batch.failed' | 'batch.expired' | 'batch.cancelled';

/** The JSON body of a batch webhook: OpenAI's event shape; `data.id` is the batch (retrieve it for the rest). */
export interface BatchWebhookEvent {
  /** `evt_` + the batch id: the same on every retry. */
  id: string;
  object: 'event';
  type: BatchWebhookEventType;
  /** Unix seconds: when the batch ended. */
  created_at: number;
  data: { id: string };
}
