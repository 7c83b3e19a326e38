/**
 * The one `Retry-After` parser (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), shared by the provider client and the
 * webhook sender, whose retryable errors carry the delay as `retryAfterMs` for the queue backoff.
 */

/** The longest `Retry-After` honoured; a server asking for more gets this. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Parses a `Retry-After` header (delay in seconds or an HTTP date) into milliseconds from `now`, capped at
 * {@link MAX_RETRY_AFTER_MS}; a date in the past gives 0; `undefined` when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const header = Array.isArray(value) ? value[0] : value;
  if (typeof header !== 'string') return undefined;
  const trimmed = header.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  // Only a real date, not whatever Date.parse is lenient about ("1.5" would otherwise become the year 2001).
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(at - now, 0), MAX_RETRY_AFTER_MS);
}
