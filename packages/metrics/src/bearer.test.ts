// The /metrics token check (issue 16.16): it compares SHA-256 digests of fixed length, so a wrong token of another
// length takes the same path as one of the right length (no early exit that would tell the token's length). Timing
// is not asserted in tests; this pins the answers, including for tokens of other lengths.
import { describe, expect, it } from 'vitest';
import { bearerMatches } from './index.js';

describe('bearerMatches', () => {
  it('accepts the token and refuses others, whatever their length', () => {
    expect(bearerMatches('Bearer metrics-token-123', 'metrics-token-123')).toBe(true);
    expect(bearerMatches('Bearer metrics-token-124', 'metrics-token-123')).toBe(false);
    expect(bearerMatches('Bearer x', 'a-much-longer-metrics-token')).toBe(false);
    expect(bearerMatches(`Bearer ${'y'.repeat(10_000)}`, 'metrics-token-123')).toBe(false);
    expect(bearerMatches('Bearer ', 'metrics-token-123')).toBe(false);
    expect(bearerMatches(undefined, 'metrics-token-123')).toBe(false);
  });
});
