/**
 * One place that decides whether a provider error is worth retrying (as openai-node's `shouldRetry`: 408, 409, 429 and
 * 5xx, timeouts and connection errors retry; other 4xx do not) and extracts the provider's Retry-After.
 */
import { BatchbridgeError } from '@batchbridge/errors';
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
  constructor(info: ProviderErrorInfo, options?: { cause?: unknown }) {
    super('provider.error', info.message, options);
    this.retryable = info.retryable;
    this.status = info.status;
    this.retryAfterMs = info.retryAfterMs;
  }
}

export function parseRetryAfterHeader(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function classifyProviderError(err: unknown): ProviderErrorInfo {
  if (err instanceof APIConnectionError) {
    return { retryable: true, status: undefined, retryAfterMs: undefined, message: err.message, code: 'connection' };
  }
  if (err instanceof APIError) {
    const status = err.status;
    const headers = err.headers as Headers | undefined;
    const retryAfterMs =
      parseRetryAfterHeader(
        headers?.get?.('retry-after-ms') ? String(Number(headers.get('retry-after-ms')) / 1000) : undefined,
      ) ?? parseRetryAfterHeader(headers?.get?.('retry-after'));
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
