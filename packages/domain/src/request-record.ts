/**
 * The request record as stored in Redis (hash `T:req:<id>`) and the public request object built from it (SPEC §3).
 */
import type {
  BatchbridgeRequest,
  RequestStatus as PublicRequestStatus,
  RequestCost,
  RequestUsage,
  WebhookEventType,
} from '@batchbridge/client';
import { endpointOfGroup, groupPart, windowOfGroup } from './endpoints.js';
import type { RequestStatus } from './lifecycle.js';

/** Fields of the record hash. Numbers are stored as decimal strings, objects as JSON. */
export interface RequestRecord {
  id: string;
  tenant: string;
  status: RequestStatus;
  model: string;
  /** Packing group: requests of one group may share a batch file. */
  group: string;
  /** The client's own reference (X-Custom-ID / custom_id), echoed, never sent upstream. */
  client_ref: string | undefined;
  callback_url: string | undefined;
  /** The chat-completion body sent upstream (batchbridge fields stripped), as JSON text. */
  body: string;
  /** Bytes of this request's JSONL line including the newline. */
  bytes: number;
  /** Estimated input tokens. */
  tokens: number;
  /** Inputs it holds (countInputs: embedding strings or token arrays); 0 for a record written before it was kept. */
  inputs: number;
  created_at: number;
  updated_at: number;
  completed_at: number | undefined;
  batch_id: string | undefined;
  flush_id: string | undefined;
  attempts: number;
  /** The answer was cut off (`finish_reason: length`, SPEC §14). */
  truncated?: boolean;
  response: { status_code: number; body: unknown } | undefined;
  error: { code: string; message: string } | undefined;
  last_error: string | undefined;
  delivered_at: number | undefined;
  /** When the receiver answered 410 Gone (delivery stopped for good). */
  gone_at: number | undefined;
  dead: boolean;
  /** Why deliveries stopped at `gone_at`: the receiver answered 410 (`gone`) or `webhook-delivery: abort-message`. */
  stop_reason?: 'gone' | 'aborted' | undefined;
  /** Why the outcome was dead-lettered: exhausted | endpoint_disabled | refused | no_tenant. */
  dead_reason?: string | undefined;
  /** Delivery attempts made for this outcome (its delivery log keeps the last few). */
  delivery_attempts?: number;
  /**
   * The webhook body an earlier version stored on its first delivery attempt: sent as stored. This version stores
   * none (webhook-body.ts rebuilds it); it fixes `webhook_fp` instead.
   */
  webhook_body?: string;
  /** The mark of the webhook body the first attempt sent (`<format>.<sha256 prefix>`, webhook-body.ts), set once. */
  webhook_fp?: string;
  /** The answer's tokens and cost, written by the settle that billed it (includes/bill.lua, SPEC §15). */
  usage?: RequestUsage | undefined;
  cost?: RequestCost | undefined;
  /** The lane it is on (SPEC §10): `batch` unless the scheduler took it to `flex` or `realtime`. */
  lane?: Lane;
  /** Its deadline (ms since the epoch), when it has one. */
  deadline_at?: number | undefined;
  /** Set when it finished: whether that was by its deadline. */
  deadline_met?: boolean | undefined;
}

/** The lanes of SPEC §10 (mirrored from @batchbridge/config's LANES). */
export type Lane = 'batch' | 'flex' | 'realtime';

function laneOf(v: string | undefined): Lane {
  return v === 'flex' || v === 'realtime' ? v : 'batch';
}

/** Parses a record hash (HGETALL reply); undefined for a missing key. */
export function parseRecord(hash: Record<string, string>): RequestRecord | undefined {
  if (!hash.id) return undefined;
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  const json = <T>(v: string | undefined): T | undefined => (v ? (JSON.parse(v) as T) : undefined);
  return {
    id: hash.id,
    tenant: hash.tenant ?? '',
    status: (hash.status ?? 'queued') as RequestStatus,
    model: hash.model ?? '',
    group: hash.group ?? '',
    client_ref: hash.client_ref || undefined,
    callback_url: hash.callback_url || undefined,
    body: hash.body ?? '{}',
    bytes: num(hash.bytes) ?? 0,
    tokens: num(hash.tokens) ?? 0,
    inputs: num(hash.inputs) ?? 0,
    created_at: num(hash.created_at) ?? 0,
    updated_at: num(hash.updated_at) ?? 0,
    completed_at: num(hash.completed_at),
    batch_id: hash.batch_id || undefined,
    flush_id: hash.flush_id || undefined,
    attempts: num(hash.attempts) ?? 0,
    truncated: hash.truncated === '1',
    response: json(hash.response),
    error: json(hash.error),
    last_error: hash.last_error || undefined,
    delivered_at: num(hash.delivered_at),
    gone_at: num(hash.gone_at),
    dead: hash.dead === '1',
    stop_reason: hash.stop_reason === 'gone' || hash.stop_reason === 'aborted' ? hash.stop_reason : undefined,
    dead_reason: hash.dead_reason || undefined,
    delivery_attempts: num(hash.delivery_attempts) ?? 0,
    usage: json(hash.usage),
    cost: json(hash.cost),
    lane: laneOf(hash.lane),
    deadline_at: num(hash.deadline_at),
    deadline_met: hash.deadline_met === undefined ? undefined : hash.deadline_met === '1',
    ...(hash.webhook_body !== undefined ? { webhook_body: hash.webhook_body } : {}),
    ...(hash.webhook_fp !== undefined ? { webhook_fp: hash.webhook_fp } : {}),
  };
}

/** The public request object of SPEC §3 (API answers and webhook `data`): one definition, in `@batchbridge/client`. */
export type RequestObject = BatchbridgeRequest;

/** Type check: the statuses `@batchbridge/client` publishes are exactly the lifecycle's (tsc fails here on drift). */
export const PUBLIC_STATUSES_MATCH: [RequestStatus] extends [PublicRequestStatus]
  ? [PublicRequestStatus] extends [RequestStatus]
    ? true
    : never
  : never = true;

export function toRequestObject(r: RequestRecord): RequestObject {
  return {
    id: r.id,
    object: 'batchbridge.request',
    endpoint: endpointOfGroup(r.group),
    status: r.status,
    model: r.model,
    custom_id: r.client_ref ?? null,
    created_at: Math.floor(r.created_at / 1000),
    completed_at: r.completed_at === undefined ? null : Math.floor(r.completed_at / 1000),
    // A fast lane's run id stands in `batch_id` (lane-claim-1.lua); it is no provider batch.
    batch_id: (r.lane ?? 'batch') === 'batch' ? (r.batch_id ?? null) : null,
    attempts: r.attempts,
    ...(r.truncated ? { truncated: true as const } : {}),
    response: r.response ?? null,
    error: r.error ?? null,
    lane: r.lane ?? 'batch',
    completion_window: (r.lane ?? 'batch') === 'batch' ? (windowOfGroup(r.group) ?? null) : null,
    deadline_at: r.deadline_at === undefined ? null : Math.floor(r.deadline_at / 1000),
    deadline_met: r.deadline_met ?? null,
    usage: r.usage ?? null,
    cost: r.cost ?? null,
  };
}

/** Where the delivery of an outcome stands (delivery log, operator page). */
export type DeliveryState = 'not_finished' | 'pending' | 'delivered' | 'stopped' | 'dead' | 'not_sent';

export function deliveryState(r: RequestRecord): DeliveryState {
  if (r.delivered_at !== undefined) return 'delivered';
  if (r.dead) return 'dead';
  if (r.gone_at !== undefined) return 'stopped';
  if (r.completed_at === undefined) return 'not_finished';
  return 'pending';
}

/** The webhook event type of a terminal status. */
export function outcomeType(status: RequestStatus): WebhookEventType {
  if (status === 'completed') return 'request.completed';
  if (status === 'cancelled') return 'request.cancelled';
  return 'request.failed';
}

/** The packing group of a request: one model per batch file unless the profile and configuration allow mixing. */
export function groupFor(
  endpoint: string,
  model: string,
  mixModels: boolean,
  route?: { provider: string; allowed?: readonly string[] | undefined },
  window?: string,
): string {
  const ep = groupPart(endpoint) + (window === undefined ? '' : `@${window}`);
  const tail = mixModels ? `${ep}|*` : `${ep}|${model}`;
  if (!route || (route.provider === 'default' && !route.allowed)) return tail;
  const allowed = route.allowed ? `~${[...route.allowed].sort().join('+')}` : '';
  return `${route.provider}${allowed}:${tail}`;
}

/**
 * The series of observed turnarounds a group's batches belong to (SPEC §10): its model, and its completion window
 * when the group names one (`<model>@1h`), so each window is predicted from its own batches.
 */
export function turnaroundSeries(group: string): string {
  const window = windowOfGroup(group);
  return window === undefined ? modelOfGroup(group) : `${modelOfGroup(group)}@${window}`;
}

export function modelOfGroup(group: string): string {
  const start = group.indexOf('|') + 1;
  const end = group.indexOf('|', start);
  return end < 0 ? group.slice(start) : group.slice(start, end);
}

/**
 * The group a request of a batch that failed as a whole (naming no line) is moved to, so that the batch's requests go
 * on in two halves and a poison request ends up alone (issue 16): `<endpoint>|<model>|iso:<flushId><half>`. A request
 * split again leaves its earlier isolation group, so the name does not grow.
 */
export function isolationGroup(group: string, flushId: string, half: 'a' | 'b'): string {
  const first = group.indexOf('|');
  const second = first < 0 ? -1 : group.indexOf('|', first + 1);
  const base = second < 0 ? group : group.slice(0, second);
  return `${base}|iso:${flushId}${half}`;
}

/** The JSONL line of a request in a batch input file (with its newline); `body` is JSON text. */
export function batchLine(id: string, body: string, url = '/v1/chat/completions'): string {
  return `{"custom_id":${JSON.stringify(id)},"method":"POST","url":${JSON.stringify(url)},"body":${body}}\n`;
}

/**
 * Estimated input tokens of a chat body, for providers' enqueued-token limits: about 4 characters per token over the
 * message text, plus a few tokens per message. Deliberately simple and a little pessimistic.
 */
export function estimateInputTokens(messages: ReadonlyArray<{ content?: unknown }>): number {
  let chars = 0;
  for (const m of messages) {
    const c = m.content;
    if (typeof c === 'string') chars += c.length;
    else if (Array.isArray(c)) for (const part of c) chars += JSON.stringify(part).length;
    chars += 16;
  }
  return Math.ceil(chars / 4);
}
