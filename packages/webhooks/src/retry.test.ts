import { describe, expect, it } from 'vitest';
import { backoffWithJitter, MAX_RETRY_AFTER_MS, parseRetryAfter, parseRetrySchedule } from './retry.js';

describe('parseRetrySchedule', () => {
  it('parses ms, s, m and h', () => {
    expect(parseRetrySchedule('5s,5m,30m,2h')).toEqual([5_000, 300_000, 1_800_000, 7_200_000]);
    expect(parseRetrySchedule(' 100ms , 1.5s ')).toEqual([100, 1_500]);
    expect(parseRetrySchedule('')).toEqual([]);
  });

  it('names a bad entry', () => {
    expect(() => parseRetrySchedule('5s,5x,1h')).toThrow(/entry #2 "5x"/);
    expect(() => parseRetrySchedule('5s,,1h')).toThrow(/entry #2 ""/);
    expect(() => parseRetrySchedule('-5s')).toThrow(/entry #1 "-5s"/);
    expect(() => parseRetrySchedule('5')).toThrow(/expected a duration/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('parses delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('parses an HTTP date relative to now, past dates as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('caps absurd values', () => {
    expect(parseRetryAfter('99999999', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', now)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('ignores absent and garbage values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
  });
});

describe('backoffWithJitter', () => {
  const schedule = [5_000, 300_000];

  it('stays within ±10 % of the scheduled delay', () => {
    expect(backoffWithJitter(schedule, 0, undefined, () => 0)).toBe(4_500);
    expect(backoffWithJitter(schedule, 0, undefined, () => 0.5)).toBe(5_000);
    expect(backoffWithJitter(schedule, 1, undefined, () => 0.999_999)).toBe(330_000);
    for (let i = 0; i < 100; i++) {
      const delay = backoffWithJitter(schedule, 1) ?? 0;
      expect(delay).toBeGreaterThanOrEqual(270_000);
      expect(delay).toBeLessThanOrEqual(330_000);
    }
  });

  it('never waits less than Retry-After', () => {
    expect(backoffWithJitter(schedule, 0, 60_000, () => 1)).toBe(60_000);
    expect(backoffWithJitter(schedule, 1, 60_000, () => 0.5)).toBe(300_000);
  });

  it('is undefined once the schedule is exhausted', () => {
    expect(backoffWithJitter(schedule, 2)).toBeUndefined();
    expect(backoffWithJitter([], 0)).toBeUndefined();
  });
});
