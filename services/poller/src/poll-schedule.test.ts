import { describe, expect, it } from 'vitest';
import { nextPollDelay } from './poll-schedule.js';

describe('nextPollDelay', () => {
  const mid = () => 0.5;
  it('starts at POLL_INTERVAL_MS and grows by 1.5 per poll', () => {
    expect([0, 1, 2, 3].map((n) => nextPollDelay(n, 1_000, 60_000, mid))).toEqual([1_000, 1_500, 2_250, 3_375]);
  });
  it('stops growing at POLL_MAX_INTERVAL_MS', () => {
    expect(nextPollDelay(50, 1_000, 60_000, mid)).toBe(60_000);
  });
  it('jitters within ±10 %', () => {
    expect(nextPollDelay(0, 1_000, 60_000, () => 0)).toBe(900);
    expect(nextPollDelay(0, 1_000, 60_000, () => 1)).toBe(1_100);
  });
});
