/**
 * The one error base of batchbridge (as bullmq's `bullmq:unrecoverable`): a stable string `code` that logs, metrics and
 * callers branch on instead of a message or a class, and the native `cause`. This package has no dependencies, so every
 * other package can extend it without a cycle.
 *
 * Codes are namespaced by the package or service that throws them (`provider.error`, `redis.unavailable`,
 * `webhooks.address_refused`). The one exception is the ingest API's `ApiError`, whose code is the public error code of
 * the HTTP answer (`invalid_value`, `redis_unavailable`, …): clients already branch on those.
 */

export interface BatchbridgeErrorOptions {
  cause?: unknown;
}

export class BatchbridgeError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options: BatchbridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}
