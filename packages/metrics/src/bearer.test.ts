// The /metrics token check must not reveal the token's length: whatever is presented, the comparison runs over two
// fixed-length SHA-256 digests. The crypto module is wrapped (not replaced) to see what is compared.
import { afterEach, describe, expect, it, vi } from 'vitest';

const compared: Array<[number, number]> = [];
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { bearerMatches } = await import('./index.js');

afterEach(() => {
  compared.length = 0;
});

describe('bearerMatches', () => {
  it('accepts the token and refuses others', () => {
    expect(bearerMatches('Bearer metrics-token-123', 'metrics-token-123')).toBe(true);
    expect(bearerMatches('Bearer metrics-token-124', 'metrics-token-123')).toBe(false);
    expect(bearerMatches(undefined, 'metrics-token-123')).toBe(false);
  });

  it('compares fixed-length digests even when the lengths differ (no early exit on length)', () => {
    expect(bearerMatches('Bearer x', 'a-much-longer-metrics-token')).toBe(false);
    expect(compared).toEqual([[32, 32]]);
  });
});
