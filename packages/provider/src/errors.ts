/**
 * One place that decides whether a provider error is worth retrying (as openai-node's `shouldRetry`: 408, 409, 429 and
 * 5xx, timeouts and connection errors retry; other 4xx do not) and extracts the provider's Retry-After.
 */
import { BatchbridgeError, MAX_RETRY_AFTER_MS, parseRetryAfter } from '@batchbridge/errors';
import { APIConnectionError, APIError } from 'openai';

export interface ProviderErrorInfo {
  retryable: boolean;
  status: number | undefined;
  retryAfterMs: number | undefined;
  /** The provider's message, short, no secrets. */
  message: string;
  code: string | undefined;
}

export class ProviderError extends BatchbridgeError {
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** The provider's own error code or type (`invalid_request_error`, `connection`), when it gave one. */
  readonly providerCode: string | undefined;
  constructor(info: ProviderErrorInfo, options?: { cause?: unknown }) {
    super('provider.error', info.message, options);
    this.retryable = info.retryable;
    this.status = info.status;
    this.retryAfterMs = info.retryAfterMs;
    this.providerCode = info.code;
  }
}

/** OpenAI's `retry-after-ms` (milliseconds, possibly fractional), preferred over `Retry-After` when valid. */
function parseRetryAfterMs(value: string | null | undefined): number | undefined {
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.min(Math.round(Number(value)), MAX_RETRY_AFTER_MS);
}

export function classifyProviderError(err: unknown): ProviderErrorInfo {
  // Already decided (the Anthropic client's errors, an error rethrown by the packer or the poller): kept as it is.
  if (err instanceof ProviderError) {
    return {
      retryable: err.retryable,
      status: err.status,
      retryAfterMs: err.retryAfterMs,
      message: err.message,
      code: err.providerCode,
    };
  }
  if (err instanceof APIConnectionError) {
    return { retryable: true, status: undefined, retryAfterMs: undefined, message: err.message, code: 'connection' };
  }
  if (err instanceof APIError) {
    const status = err.status;
    const headers = err.headers as Headers | undefined;
    const retryAfterMs =
      parseRetryAfterMs(headers?.get?.('retry-after-ms')) ?? parseRetryAfter(headers?.get?.('retry-after'));
    const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    const body = err.error as { message?: string; code?: string } | undefined;
    return {
      retryable,
      status,
      retryAfterMs,
      message: (body?.message ?? err.message).slice(0, 1_000),
      code: body?.code ?? (err.code as string | undefined) ?? undefined,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  // Stream and socket failures while reading a file (truncated downloads) are worth another try.
  return { retryable: true, status: undefined, retryAfterMs: undefined, message, code: 'unknown' };
}

export function toProviderError(err: unknown): ProviderError {
  return err instanceof ProviderError ? err : new ProviderError(classifyProviderError(err), { cause: err });
}
