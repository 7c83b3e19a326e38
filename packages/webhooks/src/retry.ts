// Owns the timing of webhook retries (SPEC §4): the configured schedule, `Retry-After`, and jitter.

/** The longest `Retry-After` honoured; a receiver asking for more gets this. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses `WEBHOOK_RETRY_SCHEDULE` (`"5s,5m,30m,2h"`, units `ms|s|m|h`) into delays in milliseconds; one delay per
 * retry, so attempts = 1 + entries. An empty string means no retries. Throws an error naming a bad entry.
 */
export function parseRetrySchedule(value: string): number[] {
  if (value.trim() === '') return [];
  return value.split(',').map((rawEntry, index) => {
    const entry = rawEntry.trim();
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(entry);
    if (match === null) {
      throw new Error(
        `invalid retry schedule entry #${index + 1} "${entry}": expected a duration like 500ms, 5s, 5m or 2h`,
      );
    }
    return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  });
}

/**
 * Parses a `Retry-After` header (delay in seconds or an HTTP date) into milliseconds from `now`, capped at
 * {@link MAX_RETRY_AFTER_MS}; a date in the past gives 0; `undefined` when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
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

/**
 * The delay before retry number `attemptIndex` (0 = the retry after the first failed attempt): the schedule's entry
 * ± 10 % jitter, never less than `retryAfterMs`. `undefined` when the schedule is exhausted (dead-letter).
 */
export function backoffWithJitter(
  scheduleMs: readonly number[],
  attemptIndex: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number | undefined {
  const base = scheduleMs[attemptIndex];
  if (base === undefined || attemptIndex < 0) return undefined;
  const jittered = Math.round(base * (0.9 + 0.2 * random()));
  return Math.max(jittered, retryAfterMs ?? 0);
}
