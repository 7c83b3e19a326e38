/**
 * Deadlines (SPEC §10): `X-Deadline` / body `deadline` / tenant `default_deadline`. A deadline is seconds (`90`,
 * `1.5`) or a duration (`90s`, `15m`, `2h`, `500ms`, `1d`) from now, or an RFC 3339 time (`2026-12-03T15:00:00Z`).
 */
import { parseDuration } from './duration.js';

/** Longest deadline accepted: a week (the longest completion window a provider offers). */
export const MAX_DEADLINE_MS = 7 * 86_400_000;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds of a relative deadline (seconds or a duration); undefined when it is not one. */
export function parseRelativeDeadlineMs(raw: string | number): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw > 0 ? Math.round(raw * 1000) : undefined;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Math.round(Number(text) * 1000);
    return ms > 0 ? ms : undefined;
  }
  const ms = parseDuration(text);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

export type DeadlineParse = { ok: true; atMs: number } | { ok: false; message: string };

/** The absolute deadline (ms since the epoch) a value names, seen at `now`; a problem in words otherwise. */
export function parseDeadline(raw: string | number, now: number): DeadlineParse {
  const relative = parseRelativeDeadlineMs(raw);
  let atMs: number | undefined;
  if (relative !== undefined) atMs = now + relative;
  else if (typeof raw === 'string' && RFC3339.test(raw.trim())) {
    const t = Date.parse(raw.trim());
    if (Number.isFinite(t)) atMs = t;
  }
  if (atMs === undefined) {
    return {
      ok: false,
      message: 'expected seconds, a duration such as 90s, 15m or 2h, or an RFC 3339 time such as 2026-12-03T15:00:00Z',
    };
  }
  if (atMs <= now) return { ok: false, message: 'the deadline has already passed' };
  if (atMs - now > MAX_DEADLINE_MS) return { ok: false, message: 'the deadline is more than 7 days away' };
  return { ok: true, atMs };
}
