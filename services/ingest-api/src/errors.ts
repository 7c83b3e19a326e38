/**
 * The one error type of the ingest API and its OpenAI-shaped rendering (`{"error":{"message","type","param","code"}}`).
 * Every refusal is an ApiError with a stable `code`, the `param` it is about and a bounded `reason` for the
 * `batchbridge_requests_rejected_total` metric; anything else that escapes a handler is mapped here too (express's own
 * body-parser errors, Redis outages), so a client never sees an HTML page or a stack trace.
 */
import { BatchbridgeError } from '@batchbridge/errors';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'rate_limit_error'
  | 'service_unavailable'
  | 'server_error';

/** Bounded values of the `reason` label of `batchbridge_requests_rejected_total`. */
export type RejectReason =
  | 'invalid'
  | 'unauthorized'
  | 'model'
  | 'rate_limited'
  | 'quota'
  | 'budget'
  | 'capacity'
  | 'callback_url'
  | 'too_large'
  | 'unsupported_media_type'
  | 'idempotency_conflict'
  | 'unavailable'
  | 'internal';

export interface ApiErrorInit {
  status: number;
  type: ApiErrorType;
  code: string;
  message: string;
  param?: string | null;
  reason?: RejectReason;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Its `code` is the public error code of the HTTP answer (not namespaced: clients branch on it). */
export class ApiError extends BatchbridgeError {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly param: string | null;
  readonly reason: RejectReason;
  readonly headers: Record<string, string>;

  constructor(init: ApiErrorInit) {
    super(init.code, init.message, { cause: init.cause });
    this.status = init.status;
    this.type = init.type;
    this.param = init.param ?? null;
    this.reason = init.reason ?? (init.status >= 500 ? 'unavailable' : 'invalid');
    this.headers = init.headers ?? {};
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidParam(param: string, message: string, code = 'invalid_value'): ApiError {
  return new ApiError({ status: 400, type: 'invalid_request_error', code, param, message });
}

/** 429 for a tenant over its `rate_limit_per_s` (one single request, or one Batch API create). */
export function rateLimited(perSecond: number): ApiError {
  return new ApiError({
    status: 429,
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    message: `Rate limit reached: at most ${perSecond} requests per second for this tenant`,
    reason: 'rate_limited',
    headers: { 'Retry-After': '1' },
  });
}

export function notFound(message: string, param: string | null = null): ApiError {
  return new ApiError({ status: 404, type: 'not_found_error', code: 'not_found', param, message });
}

export function conflict(code: string, message: string, param: string | null = null): ApiError {
  return new ApiError({ status: 409, type: 'conflict_error', code, param, message, reason: 'idempotency_conflict' });
}

/** Redis could not be reached (or answered too slowly): the client should come back shortly. */
export function unavailable(cause?: unknown): ApiError {
  return new ApiError({
    status: 503,
    type: 'service_unavailable',
    code: 'redis_unavailable',
    message: 'batchbridge cannot reach its queue store right now; nothing was stored, please retry shortly',
    reason: 'unavailable',
    headers: { 'Retry-After': '2' },
    cause,
  });
}

/**
 * REDIS_DURABILITY=replica and no replica confirmed the write in time (SPEC §18). Unlike `unavailable`, the request
 * may be stored: a retry with the same Idempotency-Key finds it instead of creating a second one.
 */
export function replicaUnconfirmed(cause?: unknown): ApiError {
  return new ApiError({
    status: 503,
    type: 'service_unavailable',
    code: 'replica_unconfirmed',
    message:
      'the request was written but no Redis replica confirmed it in time, so it is not accepted yet; retry with the same Idempotency-Key (a retry finds it, never duplicates it)',
    reason: 'unavailable',
    headers: { 'Retry-After': '1' },
    cause,
  });
}

/** Replies from Redis that mean "not now" rather than "this command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|MISCONF|READONLY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS)\b/;

/** What ioredis raises when Redis cannot be reached: connection closed or refused, offline queue off, timeouts. */
const UNREACHABLE_MESSAGE =
  /Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries|None of startup nodes is available|Failed to refresh slots cache|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN)\b/;
const UNREACHABLE_NAME = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const UNREACHABLE_CODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** True only for errors that say Redis is unreachable or not serving right now (issue 16.4). */
export function isRedisUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'ReplyError') return TRANSIENT_REPLY.test(String(e.message));
  if (UNREACHABLE_NAME.has(String(e.name))) return true;
  if (typeof e.code === 'string' && UNREACHABLE_CODE.has(e.code)) return true;
  return UNREACHABLE_MESSAGE.test(String(e.message ?? ''));
}

/**
 * Maps whatever escaped a handler to an ApiError. Only an error that says Redis is unreachable is a 503 with
 * `Retry-After`; anything else unexpected is a 500 `internal_error` (a client must not retry bad input forever, and
 * the log must not report a Redis outage that is not one).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: unknown; status?: unknown; name?: unknown; message?: unknown } | null;
  // body-parser (express.json) errors carry a `type` and an HTTP status.
  if (e && typeof e.type === 'string' && typeof e.status === 'number') return fromBodyParser(e.type, e.status, err);
  if ((err as { code?: unknown } | null)?.code === 'redis.replica_unconfirmed') return replicaUnconfirmed(err);
  if (isRedisUnavailable(err)) return unavailable(err);
  return new ApiError({
    status: 500,
    type: 'server_error',
    code: 'internal_error',
    message: 'internal error',
    reason: 'internal',
    cause: err,
  });
}

function fromBodyParser(type: string, status: number, cause: unknown): ApiError {
  switch (type) {
    case 'entity.too.large':
      return new ApiError({
        status: 413,
        type: 'invalid_request_error',
        code: 'request_too_large',
        message: 'request body is larger than MAX_BODY_BYTES allows',
        reason: 'too_large',
        cause,
      });
    case 'entity.parse.failed':
      return new ApiError({
        status: 400,
        type: 'invalid_request_error',
        code: 'invalid_json',
        message: 'request body is not valid JSON (a JSON object is expected)',
        cause,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError({
        status: 415,
        type: 'invalid_request_error',
        code: 'unsupported_media_type',
        message: 'request body must be UTF-8 encoded JSON (identity, gzip, deflate or br content-encoding)',
        reason: 'unsupported_media_type',
        cause,
      });
    default:
      return new ApiError({
        status: status >= 400 && status < 500 ? status : 400,
        type: 'invalid_request_error',
        code: 'invalid_body',
        message: 'the request body could not be read',
        cause,
      });
  }
}
