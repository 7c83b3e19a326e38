import { describe, expect, it } from 'vitest';
import { parseDeadline, parseRelativeDeadlineMs } from './deadline.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');

describe('deadlines (SPEC §10)', () => {
  it('reads seconds, durations and RFC 3339 times', () => {
    expect(parseDeadline('90', NOW)).toEqual({ ok: true, atMs: NOW + 90_000 });
    expect(parseDeadline(1.5, NOW)).toEqual({ ok: true, atMs: NOW + 1_500 });
    expect(parseDeadline('90s', NOW)).toEqual({ ok: true, atMs: NOW + 90_000 });
    expect(parseDeadline('15m', NOW)).toEqual({ ok: true, atMs: NOW + 900_000 });
    expect(parseDeadline(' 1h ', NOW)).toEqual({ ok: true, atMs: NOW + 3_600_000 });
    expect(parseDeadline('2026-12-03T13:00:00Z', NOW)).toEqual({ ok: true, atMs: NOW + 3_600_000 });
    expect(parseDeadline('2026-12-03T14:00:00+01:00', NOW)).toEqual({ ok: true, atMs: NOW + 3_600_000 });
  });

  it('says what is wrong with a bad one', () => {
    for (const bad of ['tomorrow', '', '-5', '0', '10 minutes', '2026-12-03', 0, -1, Number.NaN]) {
      const parsed = parseDeadline(bad, NOW);
      expect(parsed.ok, String(bad)).toBe(false);
    }
    expect(parseDeadline('2026-12-03T11:00:00Z', NOW)).toEqual({
      ok: false,
      message: 'the deadline has already passed',
    });
    expect(parseDeadline('8d', NOW)).toMatchObject({ ok: false, message: /7 days/ });
  });

  it('takes only relative forms for a tenant default', () => {
    expect(parseRelativeDeadlineMs('10m')).toBe(600_000);
    expect(parseRelativeDeadlineMs(30)).toBe(30_000);
    expect(parseRelativeDeadlineMs('2026-12-03T13:00:00Z')).toBeUndefined();
  });
});
